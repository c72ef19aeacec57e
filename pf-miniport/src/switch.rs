//! The NIC switch and its VFs: OID_NIC_SWITCH_CREATE_SWITCH / DELETE_SWITCH,
//! OID_NIC_SWITCH_ALLOCATE_VF / FREE_VF and OID_SRIOV_RESET_VF (pages: "Handling the
//! OID_NIC_SWITCH_CREATE_SWITCH Request", "Deleting a NIC Switch", the OIDs' own pages).
// The crate denies panics; guest-supplied values here may not overflow either.
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::{Adapter, MAX_VFS, VfPtr, default_vf_mac, initial_blocks};
use crate::hwswitch::Entry;
use common::blocks::*;
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_log;
use common::oid::{self, OidError, OidRequest, RequestKind};

impl Adapter {
    /// OID_NIC_SWITCH_CREATE_SWITCH (method): enables virtualization for `NumVFs` VFs.
    #[inline(never)] // its locals stay out of the frame every backchannel OID goes through
    pub(crate) fn create_switch(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_CREATE_SWITCH";
        // A method request only (its page).
        if let Err(e) = crate::params::require_kind(req, RequestKind::Method) {
            return req.refuse(LOG, WHAT, e);
        }
        let (switch_id, num_vfs) = match oid::parse_create_switch(req.input()) {
            Ok(v) => v,
            Err(e) => return req.refuse(LOG, WHAT, e),
        };
        if switch_id != NDIS_DEFAULT_SWITCH_ID {
            return req.refuse(
                LOG,
                WHAT,
                OidError::invalid_parameter("only the default switch is supported"),
            );
        }
        if let Err(e) = crate::vport::check_create_switch(req.input()) {
            return req.refuse(LOG, WHAT, e);
        }
        if num_vfs as usize > MAX_VFS {
            return req.refuse(
                LOG,
                WHAT,
                OidError::invalid_parameter("NumVFs above the hardware's"),
            );
        }
        // NDIS_NIC_SWITCH_PARAMETERS: NumVFs is the number of VFs enabled with
        // NdisMEnableVirtualization. The page is silent on 0; a switch of an SR-IOV PF with
        // no VF to allocate is refused (the harsher reading) rather than enabling none.
        if num_vfs == 0 {
            return req.refuse(LOG, WHAT, OidError::invalid_parameter("NumVFs is 0"));
        }
        if !self.inner.lock().sriov_enabled {
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(NDIS_STATUS_NOT_SUPPORTED, "SR-IOV disabled (*SRIOV = 0)"),
            );
        }
        if self.inner.lock().switch_created {
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(NDIS_STATUS_INVALID_STATE, "switch already created"),
            );
        }
        // PASSIVE_LEVEL call, so no lock is held across it.
        // SAFETY: valid adapter handle.
        let status =
            unsafe { NdisMEnableVirtualization(self.handle, num_vfs as u16, FALSE, FALSE, TRUE) };
        if status != NDIS_STATUS_SUCCESS {
            ndis_log!(
                ERROR,
                LOG,
                "NdisMEnableVirtualization({}) failed: {:#010x}",
                num_vfs,
                status
            );
            return status;
        }
        let mut st = self.inner.lock();
        st.switch_created = true;
        st.num_vfs = num_vfs as u16;
        drop(st);
        self.create_default_vport();
        // The hardware step: the default VPort in force, then the switch out of bypass. If the
        // device does not take it, the switch is not created.
        if let Err(e) = self.program_switch_on() {
            self.clear_switch_objects();
            {
                let mut st = self.inner.lock();
                st.switch_created = false;
                st.num_vfs = 0;
            }
            self.reprogram(&[Entry::VPort(NDIS_DEFAULT_VPORT_ID)]);
            // SAFETY: valid adapter handle; the inverse of the enable above.
            unsafe { NdisMEnableVirtualization(self.handle, 0, FALSE, FALSE, FALSE) };
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(e.status(), "the device did not take the default VPort"),
            );
        }
        req.set_bytes_read(NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1 as u32);
        ndis_log!(INFO, LOG, "NIC switch created with {} VFs", num_vfs);
        NDIS_STATUS_SUCCESS
    }

    /// OID_NIC_SWITCH_DELETE_SWITCH (set).
    #[inline(never)] // its locals stay out of the frame every backchannel OID goes through
    pub(crate) fn delete_switch_oid(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_DELETE_SWITCH";
        // A set request only (its page).
        if let Err(e) = crate::params::require_kind(req, RequestKind::Set) {
            return req.refuse(LOG, WHAT, e);
        }
        if let Err(e) = oid::check_header(
            req.input(),
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1,
        ) {
            return req.refuse(LOG, WHAT, e);
        }
        if let Err(e) = crate::vport::check_delete_switch(req.input()) {
            return req.refuse(LOG, WHAT, e);
        }
        if !self.inner.lock().switch_created {
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(NDIS_STATUS_INVALID_STATE, "no switch to delete"),
            );
        }
        // The hardware step first: bypass and empty tables (section 9's reset state). If the
        // device does not take it, the tables go back and the switch stays as it was.
        if let Err(e) = self.program_switch_off() {
            self.reprogram_switch_on();
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(
                    e.status(),
                    "the device did not take the switch's reset state",
                ),
            );
        }
        self.delete_switch();
        req.set_bytes_read(NDIS_SIZEOF_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1 as u32);
        NDIS_STATUS_SUCCESS
    }

    /// Frees every VF and disables virtualization.
    pub(crate) fn delete_switch(&self) {
        for vf_id in 0..MAX_VFS as u16 {
            let taken = self.take_vf(vf_id);
            if let Some(store) = taken {
                self.free_vf_store(store);
            }
        }
        self.clear_switch_objects();
        self.inner.lock().switch_created = false;
        // SAFETY: valid adapter handle; disabling is the documented inverse ("Deleting a NIC
        // Switch").
        let status = unsafe { NdisMEnableVirtualization(self.handle, 0, FALSE, FALSE, FALSE) };
        if status != NDIS_STATUS_SUCCESS {
            ndis_log!(
                WARN,
                LOG,
                "disabling virtualization returned {:#010x}",
                status
            );
        }
        ndis_log!(INFO, LOG, "NIC switch deleted");
    }

    /// Unlinks a VF's store from the table; the caller frees it outside the lock.
    fn take_vf(&self, vf_id: u16) -> Option<*mut crate::store::VfStore> {
        let mut st = self.inner.lock();
        let slot = st.vfs.get_mut(vf_id as usize)?;
        let ptr = core::mem::replace(slot, VfPtr(core::ptr::null_mut())).0;
        (!ptr.is_null()).then_some(ptr)
    }

    /// OID_NIC_SWITCH_ALLOCATE_VF (method): picks the lowest free VF id, preallocates its
    /// block store and returns VFId and RequestorId in the parameters.
    #[inline(never)] // its locals stay out of the frame every backchannel OID goes through
    pub(crate) fn allocate_vf(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_ALLOCATE_VF";
        if req.kind() != RequestKind::Method {
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(NDIS_STATUS_NOT_SUPPORTED, "not a method request"),
            );
        }
        let size = NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1;
        let params = match oid::parse_allocate_vf(req.input()) {
            Ok(p) => p,
            Err(e) => return req.refuse(LOG, WHAT, e),
        };
        if let Err(e) = crate::vport::check_allocate_vf(req.input()) {
            return req.refuse(LOG, WHAT, e);
        }
        // An address given must be one a VF can own: not multicast or broadcast. (All zeros
        // reads as "none given": the PF assigns one.)
        if let Some(m) = params.mac
            && m[0] & 1 != 0
        {
            return req.refuse(
                LOG,
                WHAT,
                OidError::invalid_parameter("CurrentMacAddress is multicast or broadcast"),
            );
        }
        if req.capacity() < size as usize {
            return req.refuse(
                LOG,
                WHAT,
                OidError::invalid_length(size as u32, "output buffer too short"),
            );
        }
        if params.switch_id != NDIS_DEFAULT_SWITCH_ID {
            return req.refuse(LOG, WHAT, OidError::invalid_parameter("unknown SwitchId"));
        }

        let free_id = {
            let st = self.inner.lock();
            if !st.switch_created {
                drop(st);
                return req.refuse(
                    LOG,
                    WHAT,
                    OidError::status(NDIS_STATUS_INVALID_STATE, "no NIC switch"),
                );
            }
            let limit = (st.num_vfs as usize).min(MAX_VFS);
            st.vfs.iter().take(limit).position(|v| v.0.is_null())
        };
        let Some(vf_index) = free_id else {
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(NDIS_STATUS_RESOURCES, "all VFs allocated"),
            );
        };
        let vf_id = vf_index as u16;
        let mac = match params.mac {
            Some(m) if m != [0; 6] && m[0] & 1 == 0 => m,
            _ => default_vf_mac(vf_id),
        };
        let store = match self.alloc_vf_store(vf_id) {
            Ok(s) => s,
            Err(status) => return status,
        };
        {
            let mut st = self.inner.lock();
            // Filled here, under the lock, from the link in force now: a link change racing
            // this allocation either reached the table before (and this store starts from it)
            // or comes after (and updates this store too).
            let info = st.info;
            let linked = match st.vfs.get_mut(vf_index) {
                Some(slot) if slot.0.is_null() => {
                    let filled = initial_blocks(vf_id, mac, &info).and_then(|initial| {
                        // SAFETY: freshly allocated and not yet shared with anyone.
                        unsafe { &mut *store }.init(vf_id, self.handle as usize, &initial)
                    });
                    if filled.is_ok() {
                        *slot = VfPtr(store);
                    }
                    filled.map_err(|_| NDIS_STATUS_FAILURE)
                }
                _ => Err(NDIS_STATUS_RESOURCES),
            };
            if linked.is_ok()
                && let Some(m) = st.sw.vf_mac.get_mut(vf_index)
            {
                *m = mac;
            }
            if let Err(status) = linked {
                drop(st);
                self.free_vf_store(store);
                return req.refuse(
                    LOG,
                    WHAT,
                    OidError::status(status, "VF taken concurrently or its blocks refused"),
                );
            }
        }

        // The hardware step: the VF's control entry (its MAC; not enabled before its VPort).
        if let Err(e) = self.program(&[Entry::Vf(vf_id)]) {
            if let Some(store) = self.take_vf(vf_id) {
                self.free_vf_store(store);
            }
            if let Some(m) = self.inner.lock().sw.vf_mac.get_mut(vf_index) {
                *m = [0; 6];
            }
            self.reprogram(&[Entry::Vf(vf_id)]);
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(e.status(), "the device refused the VF's control entry"),
            );
        }

        let (mut seg, mut bus, mut func) = (0u16, 0u8, 0u8);
        // SAFETY: valid adapter handle; out-pointers to locals.
        unsafe {
            NdisMGetVirtualFunctionLocation(self.handle, vf_id, &mut seg, &mut bus, &mut func)
        };
        let rid = ((seg as u32) << 16) | ((bus as u32) << 8) | func as u32;
        // Method requests answer in the same buffer: the parameters stay as the caller wrote
        // them, with VFId and RequestorId filled in (capacity checked above).
        oid::answer_allocate_vf(req.buffer(), vf_id, rid);
        req.set_bytes_read(size as u32);
        req.set_bytes_written(size as u32);
        ndis_log!(INFO, LOG, "VF {} allocated, RID {:#x}", vf_id, rid);
        NDIS_STATUS_SUCCESS
    }

    /// OID_NIC_SWITCH_FREE_VF (set): drops the VF's store and everything pending for it.
    #[inline(never)] // its locals stay out of the frame every backchannel OID goes through
    pub(crate) fn free_vf(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_FREE_VF";
        // A set request only (its page).
        if let Err(e) = crate::params::require_kind(req, RequestKind::Set) {
            return req.refuse(LOG, WHAT, e);
        }
        let vf_id = match oid::parse_free_vf(req.input()) {
            Ok(v) => v,
            Err(e) => return req.refuse(LOG, WHAT, e),
        };
        if let Err(e) = crate::vport::check_free_vf(req.input()) {
            return req.refuse(LOG, WHAT, e);
        }
        if self.vf_has_vport(vf_id) {
            let e = OidError::invalid_parameter("a VPort is still attached to the VF");
            return req.refuse(LOG, WHAT, e);
        }
        let Some(store) = self.take_vf(vf_id) else {
            return req.refuse(LOG, WHAT, OidError::invalid_parameter("VFId not allocated"));
        };
        let mac = self
            .inner
            .lock()
            .sw
            .vf_mac
            .get_mut(vf_id as usize)
            .map(core::mem::take);
        // The hardware step: the VF's control entry back at its reset values. Refused, the VF
        // stays allocated as it was.
        if let Err(e) = self.program(&[Entry::Vf(vf_id)]) {
            {
                let mut st = self.inner.lock();
                if let Some(slot) = st.vfs.get_mut(vf_id as usize) {
                    *slot = VfPtr(store);
                }
                if let (Some(m), Some(old)) = (st.sw.vf_mac.get_mut(vf_id as usize), mac) {
                    *m = old;
                }
            }
            self.reprogram(&[Entry::Vf(vf_id)]);
            return req.refuse(
                LOG,
                WHAT,
                OidError::status(e.status(), "the device refused the VF's control entry"),
            );
        }
        self.free_vf_store(store);
        self.forget_vf_power(vf_id);
        req.set_bytes_read(NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1 as u32);
        ndis_log!(INFO, LOG, "VF {} freed", vf_id);
        NDIS_STATUS_SUCCESS
    }

    /// OID_SRIOV_RESET_VF (set): a function-level reset. Host-owned blocks survive it (they are
    /// the host's policy); the VF's status block is cleared, and every host block is
    /// re-announced so the VF re-reads all of them when it comes back.
    #[inline(never)] // its locals stay out of the frame every backchannel OID goes through
    pub(crate) fn reset_vf(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_RESET_VF";
        // A set request only (its page).
        if let Err(e) = crate::params::require_kind(req, RequestKind::Set) {
            return req.refuse(LOG, WHAT, e);
        }
        let vf_id = match oid::parse_reset_vf(req.input()) {
            Ok(v) => v,
            Err(e) => return req.refuse(LOG, WHAT, e),
        };
        // The OID's page: a PCIe Function Level Reset of the VF. The VF must be ready and
        // capable of it; the reset waits for the hardware, so it finishes in the work item
        // (`deferred.rs`) and the request pends.
        if let Err(e) = self.inner.lock().ready_vf_mut(vf_id).map(|_| ()) {
            return req.refuse(LOG, WHAT, e);
        }
        let cap = match self.vf_flr_capability(vf_id) {
            Ok(cap) => cap,
            Err(e) => return req.refuse(LOG, WHAT, e),
        };
        self.defer(
            req,
            crate::deferred::Deferred {
                op: crate::deferred::Op::Reset,
                vf: vf_id,
                cap,
                bytes_read: NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1 as u32,
                ..Default::default()
            },
        )
    }

    /// After the function-level reset: the PF's power record follows the function (D0, wake
    /// off), host-owned blocks survive (they are the host's policy), the VF's status block is
    /// cleared, and every host block is re-announced so the VF re-reads all of them.
    pub(crate) fn reset_vf_state(&self, vf_id: u16) -> Result<(), OidError> {
        let mut cleared = [0u8; MAX_BLOCK_LEN];
        let len = VfStatusBlock::default()
            .encode(0, 0, &mut cleared)
            .map_err(|_| OidError::status(NDIS_STATUS_FAILURE, "status block encoding"))?;
        self.forget_vf_power(vf_id);
        let present = {
            let mut st = self.inner.lock();
            let vf = st.ready_vf_mut(vf_id)?;
            vf.store_guest_block(VfStatusBlock::id(), cleared.get(..len).unwrap_or(&[]));
            vf.reads = 0;
            vf.guest_writes = 0;
            vf.present
        };
        self.invalidate(vf_id, present);
        ndis_log!(INFO, LOG, "VF {} reset", vf_id);
        Ok(())
    }
}
