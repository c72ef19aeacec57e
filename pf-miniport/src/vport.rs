//! VPorts on the NIC switch: the default VPort the switch is created with, and
//! OID_NIC_SWITCH_CREATE_VPORT (method), OID_NIC_SWITCH_DELETE_VPORT (set), the set form of
//! OID_NIC_SWITCH_VPORT_PARAMETERS and of OID_NIC_SWITCH_PARAMETERS, plus the parameter
//! checks OID_NIC_SWITCH_CREATE_SWITCH adds to the existing handler in `switch.rs`.
//!
//! Sources: the OID pages of the same names, "Creating a Virtual Port", "Handling the
//! OID_NIC_SWITCH_CREATE_SWITCH Request" (learn.microsoft.com, windows-hardware/drivers/
//! network) and mingw-w64 `ntddndis.h` for the flag and enum values. Every refusal leaves the
//! switch as it was.
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::{Adapter, MAX_VFS, PfState};
use crate::hwswitch::Entry;
use crate::params::*;
use common::blocks::PolicyBlock;
use common::ffi::*;
use common::ndis_log;
use common::oid::{OidError, OidRequest, RequestKind};
use core::mem::offset_of;

/// VPorts the NIC switch has: the default one and one per VF (`MaxNumVPorts`).
pub const MAX_VPORTS: usize = MAX_VFS + 1;
/// Queue pairs of the whole switch (`MaxNumQueuePairs`) and of one nondefault VPort
/// (`MaxNumQueuePairsPerNonDefaultVPort`); the default VPort takes one.
pub const MAX_QUEUE_PAIRS: u32 = 512;
pub const MAX_QUEUE_PAIRS_PER_NONDEFAULT_VPORT: u32 = 4;
pub const DEFAULT_VPORT_QUEUE_PAIRS: u32 = 1;
/// Receive filters (MAC, optionally with a VLAN id) of the switch and of one VPort.
pub const MAX_FILTERS: usize = 512;
pub const MAX_FILTERS_PER_VPORT: usize = 32;

/// One VPort; `in_use` false for a free slot. Indexed by its VPortId.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VPort {
    pub in_use: bool,
    /// `AttachedFunctionId`: `NDIS_PF_FUNCTION_ID` or a VF id.
    pub function: u16,
    pub queue_pairs: u32,
    pub state: u32,
    pub interrupt_moderation: u32,
    pub affinity_mask: u64,
    pub name_len: u16,
}

/// One receive filter on a VPort (see `filters.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Filter {
    pub in_use: bool,
    pub id: u32,
    pub vport: u32,
    pub mac: [u8; 6],
    pub has_vlan: bool,
    pub vlan: u16,
    pub untagged_or_zero: bool,
    /// Order of setting, so the VF's address is the one set last.
    pub seq: u32,
}

/// Power state of a VF as OID_SRIOV_SET_VF_POWER_STATE left it (0: never set, i.e. D0).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VfPower {
    pub state: u32,
    pub wake: bool,
}

/// The NIC switch's objects, inside the adapter state (behind its lock). All-zero is the
/// empty switch.
pub(crate) struct SwitchState {
    pub vports: [VPort; MAX_VPORTS],
    pub filters: [Filter; MAX_FILTERS],
    pub power: [VfPower; MAX_VFS],
    pub filter_seq: u32,
    /// Each allocated VF's current MAC: what its VF-control entry's `VF_MAC` holds
    /// (`hwswitch.rs`).
    pub vf_mac: [[u8; 6]; MAX_VFS],
    /// `*VMQVlanFiltering`: VLAN id fields are accepted in filters.
    pub vlan_filtering: bool,
}

impl SwitchState {
    pub fn vport(&self, id: u32) -> Option<&VPort> {
        self.vports.get(id as usize).filter(|v| v.in_use)
    }

    pub fn vport_of_vf(&self, vf_id: u16) -> Option<u32> {
        self.vports
            .iter()
            .position(|v| v.in_use && v.function == vf_id && vf_id != NDIS_PF_FUNCTION_ID)
            .map(|i| i as u32)
    }

    pub fn queue_pairs_in_use(&self) -> u32 {
        self.vports
            .iter()
            .filter(|v| v.in_use)
            .fold(0u32, |n, v| n.saturating_add(v.queue_pairs))
    }

    pub fn filters_on(&self, vport: u32) -> usize {
        self.filters
            .iter()
            .filter(|f| f.in_use && f.vport == vport)
            .count()
    }

    /// Empties the switch (deleting it, or halting).
    pub fn clear(&mut self) {
        for v in self.vports.iter_mut() {
            *v = VPort::default();
        }
        for f in self.filters.iter_mut() {
            *f = Filter::default();
        }
        for p in self.power.iter_mut() {
            *p = VfPower::default();
        }
        self.vf_mac = [[0; 6]; MAX_VFS];
    }
}

/// The SR-IOV preconditions every switch OID shares: NOT_SUPPORTED when SR-IOV is off or no
/// switch exists ("does not support the SR-IOV interface or is not enabled to use it").
pub(crate) fn switch_ready(st: &PfState) -> Result<(), OidError> {
    if !st.sriov_enabled {
        return Err(OidError::status(
            NDIS_STATUS_NOT_SUPPORTED,
            "SR-IOV not enabled (keywords)",
        ));
    }
    if !st.switch_created {
        return Err(OidError::status(NDIS_STATUS_NOT_SUPPORTED, "no NIC switch"));
    }
    Ok(())
}

type SwitchParams = NDIS_NIC_SWITCH_PARAMETERS;
type VPortParams = NDIS_NIC_SWITCH_VPORT_PARAMETERS;

/// What OID_NIC_SWITCH_CREATE_SWITCH must verify beyond the header, SwitchId and NumVFs that
/// `switch.rs` checks ("the driver must validate the configuration values"): an external
/// switch (the only type Windows supports, "Handling the OID_NIC_SWITCH_CREATE_SWITCH
/// Request"), no flags, a well-formed name and zero reserved fields.
pub(crate) fn check_create_switch(input: &[u8]) -> Result<(), OidError> {
    if le32(input, offset_of!(SwitchParams, SwitchType)) != NdisNicSwitchTypeExternal {
        return Err(OidError::invalid_parameter(
            "SwitchType is not NdisNicSwitchTypeExternal",
        ));
    }
    if le32(input, offset_of!(SwitchParams, Flags)) != 0 {
        return Err(OidError::invalid_parameter("Flags not zero"));
    }
    if !counted_string_ok(input, offset_of!(SwitchParams, SwitchFriendlyName)) {
        return Err(OidError::invalid_parameter("SwitchFriendlyName.Length"));
    }
    for at in [
        offset_of!(SwitchParams, NdisReserved1),
        offset_of!(SwitchParams, NdisReserved2),
        offset_of!(SwitchParams, NdisReserved3),
    ] {
        if le32(input, at) != 0 {
            return Err(OidError::invalid_parameter("NdisReserved not zero"));
        }
    }
    Ok(())
}

type VfParams = NDIS_NIC_SWITCH_VF_PARAMETERS;

/// The members of OID_NIC_SWITCH_ALLOCATE_VF's NDIS_NIC_SWITCH_VF_PARAMETERS beyond SwitchId
/// and the MAC that `switch.rs` reads: no flags, well-formed names, a MacAddressLength of 0
/// (none given) or 6 (Ethernet).
pub(crate) fn check_allocate_vf(input: &[u8]) -> Result<(), OidError> {
    if le32(input, offset_of!(VfParams, Flags)) != 0 {
        return Err(OidError::invalid_parameter("Flags not zero"));
    }
    for at in [
        offset_of!(VfParams, VMName),
        offset_of!(VfParams, VMFriendlyName),
        offset_of!(VfParams, NicName),
    ] {
        if !counted_string_ok(input, at) {
            return Err(OidError::invalid_parameter("a name's Length"));
        }
    }
    if !matches!(le16(input, offset_of!(VfParams, MacAddressLength)), 0 | 6) {
        return Err(OidError::invalid_parameter(
            "MacAddressLength neither 0 nor 6",
        ));
    }
    Ok(())
}

/// NDIS_NIC_SWITCH_FREE_VF_PARAMETERS.Flags must be zero.
pub(crate) fn check_free_vf(input: &[u8]) -> Result<(), OidError> {
    if le32(input, offset_of!(NDIS_NIC_SWITCH_FREE_VF_PARAMETERS, Flags)) != 0 {
        return Err(OidError::invalid_parameter("Flags not zero"));
    }
    Ok(())
}

/// NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS: no flags, the default switch.
pub(crate) fn check_delete_switch(input: &[u8]) -> Result<(), OidError> {
    type P = NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS;
    if le32(input, offset_of!(P, Flags)) != 0 {
        return Err(OidError::invalid_parameter("Flags not zero"));
    }
    if le32(input, offset_of!(P, SwitchId)) != NDIS_DEFAULT_SWITCH_ID {
        return Err(OidError::invalid_parameter(
            "SwitchId is not the default switch",
        ));
    }
    Ok(())
}

fn interrupt_moderation_ok(v: u32) -> bool {
    matches!(
        v,
        NdisNicSwitchVPortInterruptModerationUndefined
            | NdisNicSwitchVPortInterruptModerationAdaptive
            | NdisNicSwitchVPortInterruptModerationOff
            | NdisNicSwitchVPortInterruptModerationLow
            | NdisNicSwitchVPortInterruptModerationMedium
            | NdisNicSwitchVPortInterruptModerationHigh
    )
}

/// `GROUP_AFFINITY.Reserved` must be zero (winnt.h); one processor group is assumed.
fn affinity_ok(input: &[u8]) -> bool {
    let at = offset_of!(VPortParams, ProcessorAffinity);
    let group = le16(input, at.saturating_add(8));
    let reserved = le64(input, at.saturating_add(8)) >> 16;
    group == 0 && reserved == 0
}

impl Adapter {
    /// The default VPort, created with the switch and attached to the PF, always activated
    /// ("Creating a Virtual Port"; OID_NIC_SWITCH_CREATE_SWITCH step 3).
    pub(crate) fn create_default_vport(&self) {
        let mut st = self.inner.lock();
        st.sw.clear();
        if let Some(v) = st.sw.vports.get_mut(NDIS_DEFAULT_VPORT_ID as usize) {
            *v = VPort {
                in_use: true,
                function: NDIS_PF_FUNCTION_ID,
                queue_pairs: DEFAULT_VPORT_QUEUE_PAIRS,
                state: NdisNicSwitchVPortStateActivated,
                ..VPort::default()
            };
        }
        drop(st);
        ndis_log!(INFO, LOG, "default VPort created");
    }

    /// Deleting the switch deletes the default VPort and everything on the switch.
    pub(crate) fn clear_switch_objects(&self) {
        self.inner.lock().sw.clear();
    }

    /// A freed VF's power state is gone with it (the next VF with its id starts unset).
    pub(crate) fn forget_vf_power(&self, vf_id: u16) {
        if let Some(p) = self.inner.lock().sw.power.get_mut(vf_id as usize) {
            *p = VfPower::default();
        }
    }

    /// Whether a nondefault VPort is still attached to `vf_id` (the teardown sequence deletes
    /// it before OID_NIC_SWITCH_FREE_VF).
    pub(crate) fn vf_has_vport(&self, vf_id: u16) -> bool {
        self.inner.lock().sw.vport_of_vf(vf_id).is_some()
    }

    /// OID_NIC_SWITCH_CREATE_VPORT (method): a nondefault VPort with the id NDIS assigned
    /// (1 ..= NumVPorts - 1), attached to the PF or to an allocated VF.
    #[inline(never)]
    pub(crate) fn create_vport(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_CREATE_VPORT";
        match self.create_vport_checked(req) {
            Ok(id) => {
                let size = NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1 as u32;
                req.set_bytes_read(size);
                req.set_bytes_written(size);
                ndis_log!(INFO, LOG, "VPort {} created", id);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// Writes a VPort's queue pairs into its VF's policy block (the rest of the policy kept,
    /// in one hold of the lock) and invalidates it: the VF starts that many queue pairs.
    fn set_vf_queue_pairs(&self, vf: u16, queue_pairs: u32) -> Result<(), NDIS_STATUS> {
        let queue_pairs = u16::try_from(queue_pairs).map_err(|_| NDIS_STATUS_INVALID_PARAMETER)?;
        self.modify_block(vf, |p: PolicyBlock| PolicyBlock { queue_pairs, ..p })
            .map(|_| ())
    }

    fn create_vport_checked(&self, req: &mut OidRequest<'_>) -> Result<u32, OidError> {
        require_kind(req, RequestKind::Method)?;
        let size = NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1;
        let input = req.input();
        check_header(input, NDIS_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1, size)?;
        let flags = le32(input, offset_of!(VPortParams, Flags));
        let switch_id = le32(input, offset_of!(VPortParams, SwitchId));
        let id = le32(input, offset_of!(VPortParams, VPortId));
        let function = le16(input, offset_of!(VPortParams, AttachedFunctionId));
        let queue_pairs = le32(input, offset_of!(VPortParams, NumQueuePairs));
        let moderation = le32(input, offset_of!(VPortParams, InterruptModeration));
        let state = le32(input, offset_of!(VPortParams, VPortState));
        let lookahead = le32(input, offset_of!(VPortParams, LookaheadSize));
        let name_ok = counted_string_ok(input, offset_of!(VPortParams, VPortName));
        let name_len = le16(input, offset_of!(VPortParams, VPortName));
        let affinity_at = offset_of!(VPortParams, ProcessorAffinity);
        let affinity_mask = le64(input, affinity_at);
        let affinity_ok = affinity_ok(input);
        require_output(req, size as u32)?;
        if switch_id != NDIS_DEFAULT_SWITCH_ID {
            return Err(OidError::invalid_parameter(
                "SwitchId is not the default switch",
            ));
        }
        // No lookahead split is reported in the receive-filter capabilities.
        if flags != 0 {
            return Err(OidError::invalid_parameter(
                "Flags not zero (no lookahead split)",
            ));
        }
        if lookahead != 0 {
            return Err(OidError::invalid_parameter(
                "LookaheadSize without lookahead split",
            ));
        }
        if !name_ok {
            return Err(OidError::invalid_parameter("VPortName.Length"));
        }
        if !affinity_ok {
            return Err(OidError::invalid_parameter(
                "ProcessorAffinity group/reserved",
            ));
        }
        if !interrupt_moderation_ok(moderation) {
            return Err(OidError::invalid_parameter("InterruptModeration"));
        }
        if queue_pairs == 0 || queue_pairs > MAX_QUEUE_PAIRS_PER_NONDEFAULT_VPORT {
            return Err(OidError::invalid_parameter(
                "NumQueuePairs outside 1..=MaxNumQueuePairsPerNonDefaultVPort",
            ));
        }
        // A VF's VPort starts activated and cannot be deactivated; a PF's starts deactivated
        // ("Creating a Virtual Port").
        let to_vf = function != NDIS_PF_FUNCTION_ID;
        let initial = match (to_vf, state) {
            (true, NdisNicSwitchVPortStateUndefined | NdisNicSwitchVPortStateActivated) => {
                NdisNicSwitchVPortStateActivated
            }
            (false, NdisNicSwitchVPortStateUndefined | NdisNicSwitchVPortStateDeactivated) => {
                NdisNicSwitchVPortStateDeactivated
            }
            _ => return Err(OidError::invalid_parameter("VPortState for this function")),
        };
        let mut st = self.inner.lock();
        switch_ready(&st)?;
        if id == NDIS_DEFAULT_VPORT_ID || id as usize >= MAX_VPORTS {
            return Err(OidError::invalid_parameter(
                "VPortId outside 1..NumVPorts (0 is the default VPort)",
            ));
        }
        if st.sw.vport(id).is_some() {
            return Err(OidError::invalid_parameter("VPortId already in use"));
        }
        if to_vf {
            let allocated = st
                .vfs
                .get(function as usize)
                .is_some_and(|v| !v.0.is_null());
            if !allocated {
                return Err(OidError::invalid_parameter(
                    "AttachedFunctionId is not an allocated VF",
                ));
            }
            if st.sw.vport_of_vf(function).is_some() {
                return Err(OidError::invalid_parameter("the VF already has a VPort"));
            }
        }
        let used = st.sw.queue_pairs_in_use();
        if used.saturating_add(queue_pairs) > MAX_QUEUE_PAIRS {
            return Err(OidError::status(
                NDIS_STATUS_FAILURE,
                "no queue pairs left on the switch",
            ));
        }
        let slot = st
            .sw
            .vports
            .get_mut(id as usize)
            .ok_or(OidError::invalid_parameter("VPortId"))?;
        *slot = VPort {
            in_use: true,
            function,
            queue_pairs,
            state: initial,
            interrupt_moderation: moderation,
            affinity_mask,
            name_len,
        };
        drop(st);
        // The hardware step: the VPort's entry (and, for a VF, its control entry: enabled,
        // its queue pairs). Refused, the VPort goes again and nothing has changed.
        let both = [Entry::VPort(id), Entry::Vf(function)];
        let entries = if to_vf {
            &both[..]
        } else {
            both.get(..1).unwrap_or(&[])
        };
        let undo = || {
            if let Some(v) = self.inner.lock().sw.vports.get_mut(id as usize) {
                *v = VPort::default();
            }
            self.reprogram(entries);
        };
        if let Err(e) = self.program(entries) {
            undo();
            return Err(OidError::status(
                e.status(),
                "the device did not take the VPort",
            ));
        }
        // The VF learns its queue pairs through its policy block; if that is refused, the
        // VPort goes again and nothing has changed.
        if function != NDIS_PF_FUNCTION_ID
            && let Err(status) = self.set_vf_queue_pairs(function, queue_pairs)
        {
            undo();
            return Err(OidError::status(
                status,
                "the VF's policy block refused the queue pairs",
            ));
        }
        // The method answer is the structure as sent (NDIS already wrote the VPortId).
        let answer_state = initial.to_le_bytes();
        put(
            req.buffer(),
            offset_of!(VPortParams, VPortState),
            &answer_state,
        );
        Ok(id)
    }

    /// OID_NIC_SWITCH_DELETE_VPORT (set): a nondefault VPort with no filters left on it.
    #[inline(never)]
    pub(crate) fn delete_vport(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_DELETE_VPORT";
        let r = (|| {
            require_kind(req, RequestKind::Set)?;
            let input = req.input();
            check_header(
                input,
                NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1,
            )?;
            type P = NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS;
            let flags = le32(input, offset_of!(P, Flags));
            let id = le32(input, offset_of!(P, VPortId));
            if flags != 0 {
                return Err(OidError::invalid_parameter("Flags not zero"));
            }
            let mut st = self.inner.lock();
            switch_ready(&st)?;
            if id == NDIS_DEFAULT_VPORT_ID {
                return Err(OidError::invalid_parameter(
                    "the default VPort goes only with the switch",
                ));
            }
            if st.sw.vport(id).is_none() {
                return Err(OidError::invalid_parameter("VPortId does not exist"));
            }
            // "An overlying driver must clear all the filters that it set on a SR-IOV VPort
            // before it frees the VPort" (OID_RECEIVE_FILTER_CLEAR_FILTER).
            if st.sw.filters_on(id) != 0 {
                return Err(OidError::invalid_parameter(
                    "filters still set on the VPort",
                ));
            }
            let old = st
                .sw
                .vports
                .get_mut(id as usize)
                .map(core::mem::take)
                .unwrap_or_default();
            drop(st);
            // The hardware step: the entry disabled (and a VF's control entry disabled).
            let both = [Entry::VPort(id), Entry::Vf(old.function)];
            let to_vf = old.function != NDIS_PF_FUNCTION_ID;
            let entries = if to_vf {
                &both[..]
            } else {
                both.get(..1).unwrap_or(&[])
            };
            if let Err(e) = self.program(entries) {
                if let Some(v) = self.inner.lock().sw.vports.get_mut(id as usize) {
                    *v = old;
                }
                self.reprogram(entries);
                return Err(OidError::status(
                    e.status(),
                    "the device did not take the VPort's removal",
                ));
            }
            Ok(id)
        })();
        match r {
            Ok(id) => {
                req.set_bytes_read(
                    NDIS_SIZEOF_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1 as u32,
                );
                ndis_log!(INFO, LOG, "VPort {} deleted", id);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// OID_NIC_SWITCH_VPORT_PARAMETERS, set form: only the members whose
    /// `NDIS_NIC_SWITCH_VPORT_PARAMS_*_CHANGED` flag is set change; all are checked first.
    /// (The method form is answered by NDIS, per the OID's page.)
    #[inline(never)]
    pub(crate) fn set_vport_parameters(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_VPORT_PARAMETERS";
        match self.set_vport_parameters_checked(req) {
            Ok(id) => {
                req.set_bytes_read(NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1 as u32);
                ndis_log!(INFO, LOG, "VPort {} parameters set", id);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    fn set_vport_parameters_checked(&self, req: &mut OidRequest<'_>) -> Result<u32, OidError> {
        require_kind(req, RequestKind::Set)?;
        let input = req.input();
        check_header(
            input,
            NDIS_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1,
        )?;
        let flags = le32(input, offset_of!(VPortParams, Flags));
        let switch_id = le32(input, offset_of!(VPortParams, SwitchId));
        let id = le32(input, offset_of!(VPortParams, VPortId));
        let moderation = le32(input, offset_of!(VPortParams, InterruptModeration));
        let state = le32(input, offset_of!(VPortParams, VPortState));
        let name_ok = counted_string_ok(input, offset_of!(VPortParams, VPortName));
        let name_len = le16(input, offset_of!(VPortParams, VPortName));
        let affinity_mask = le64(input, offset_of!(VPortParams, ProcessorAffinity));
        let affinity_ok = affinity_ok(input);
        const KNOWN: u32 = NDIS_NIC_SWITCH_VPORT_PARAMS_FLAGS_CHANGED
            | NDIS_NIC_SWITCH_VPORT_PARAMS_NAME_CHANGED
            | NDIS_NIC_SWITCH_VPORT_PARAMS_INT_MOD_CHANGED
            | NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED
            | NDIS_NIC_SWITCH_VPORT_PARAMS_PROCESSOR_AFFINITY_CHANGED;
        let changed = flags & NDIS_NIC_SWITCH_VPORT_PARAMS_CHANGE_MASK;
        if changed == 0 {
            return Err(OidError::invalid_parameter("no *_CHANGED flag set"));
        }
        if changed & !KNOWN != 0 {
            return Err(OidError::invalid_parameter("undefined *_CHANGED flag"));
        }
        if flags & !NDIS_NIC_SWITCH_VPORT_PARAMS_CHANGE_MASK != 0 {
            return Err(OidError::invalid_parameter(
                "VPort flags (lookahead split is not supported)",
            ));
        }
        if switch_id != NDIS_DEFAULT_SWITCH_ID {
            return Err(OidError::invalid_parameter(
                "SwitchId is not the default switch",
            ));
        }
        let has = |f: u32| changed & f != 0;
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_NAME_CHANGED) && !name_ok {
            return Err(OidError::invalid_parameter("VPortName.Length"));
        }
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_INT_MOD_CHANGED) && !interrupt_moderation_ok(moderation)
        {
            return Err(OidError::invalid_parameter("InterruptModeration"));
        }
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_PROCESSOR_AFFINITY_CHANGED) && !affinity_ok {
            return Err(OidError::invalid_parameter(
                "ProcessorAffinity group/reserved",
            ));
        }
        let mut st = self.inner.lock();
        switch_ready(&st)?;
        let vport = *st
            .sw
            .vport(id)
            .ok_or(OidError::invalid_parameter("VPortId does not exist"))?;
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED) {
            // Only activation is a change: the default VPort and a VF's VPort are always
            // activated, and an activated VPort is deactivated only by its deletion.
            let ok = state == NdisNicSwitchVPortStateActivated
                || (state == NdisNicSwitchVPortStateDeactivated
                    && vport.state == NdisNicSwitchVPortStateDeactivated);
            if !ok {
                return Err(OidError::invalid_parameter(
                    "VPortState: an activated VPort cannot be deactivated",
                ));
            }
        }
        let v = st
            .sw
            .vports
            .get_mut(id as usize)
            .ok_or(OidError::invalid_parameter("VPortId"))?;
        let old = *v;
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED) {
            v.state = state;
        }
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_INT_MOD_CHANGED) {
            v.interrupt_moderation = moderation;
        }
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_NAME_CHANGED) {
            v.name_len = name_len;
        }
        if has(NDIS_NIC_SWITCH_VPORT_PARAMS_PROCESSOR_AFFINITY_CHANGED) {
            v.affinity_mask = affinity_mask;
        }
        let activated = v.state != old.state;
        drop(st);
        // The hardware step: an activated VPort's entry is enabled. (Moderation, name and
        // affinity have no register.)
        if activated && let Err(e) = self.program(&[Entry::VPort(id)]) {
            if let Some(v) = self.inner.lock().sw.vports.get_mut(id as usize) {
                *v = old;
            }
            self.reprogram(&[Entry::VPort(id)]);
            return Err(OidError::status(
                e.status(),
                "the device did not take the VPort's activation",
            ));
        }
        Ok(id)
    }

    /// OID_NIC_SWITCH_PARAMETERS, set form: only the switch name may change
    /// (`NDIS_NIC_SWITCH_PARAMETERS_SWITCH_NAME_CHANGED`, the one flag `ntddndis.h` defines).
    /// The method form is answered by NDIS (the OID's page).
    #[inline(never)]
    pub(crate) fn set_switch_parameters(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "NIC_SWITCH_PARAMETERS";
        let r = (|| {
            require_kind(req, RequestKind::Set)?;
            let input = req.input();
            check_header(
                input,
                NDIS_NIC_SWITCH_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1,
            )?;
            let flags = le32(input, offset_of!(SwitchParams, Flags));
            let switch_id = le32(input, offset_of!(SwitchParams, SwitchId));
            let name_ok = counted_string_ok(input, offset_of!(SwitchParams, SwitchFriendlyName));
            if flags != NDIS_NIC_SWITCH_PARAMETERS_SWITCH_NAME_CHANGED {
                return Err(OidError::invalid_parameter(
                    "Flags: only SWITCH_NAME_CHANGED can be set",
                ));
            }
            if !name_ok {
                return Err(OidError::invalid_parameter("SwitchFriendlyName.Length"));
            }
            if switch_id != NDIS_DEFAULT_SWITCH_ID {
                return Err(OidError::invalid_parameter(
                    "SwitchId is not the default switch",
                ));
            }
            switch_ready(&self.inner.lock())
        })();
        match r {
            Ok(()) => {
                req.set_bytes_read(NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1 as u32);
                ndis_log!(INFO, LOG, "NIC switch name changed");
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }
}

impl Adapter {
    /// Dispatch of the VPort, receive-filter and PCI-virtualization OIDs; `None` for others.
    /// Each handler checks its request type against its OID's page.
    pub(crate) fn sriov_oid(&self, req: &mut OidRequest<'_>) -> Option<NDIS_STATUS> {
        Some(match req.oid() {
            OID_NIC_SWITCH_PARAMETERS => self.set_switch_parameters(req),
            OID_NIC_SWITCH_CREATE_VPORT => self.create_vport(req),
            OID_NIC_SWITCH_VPORT_PARAMETERS => self.set_vport_parameters(req),
            OID_NIC_SWITCH_DELETE_VPORT => self.delete_vport(req),
            OID_RECEIVE_FILTER_SET_FILTER => self.set_filter(req),
            OID_RECEIVE_FILTER_CLEAR_FILTER => self.clear_filter(req),
            OID_RECEIVE_FILTER_MOVE_FILTER => self.move_filter(req),
            OID_SRIOV_READ_VF_CONFIG_SPACE => self.read_vf_config_space(req),
            OID_SRIOV_WRITE_VF_CONFIG_SPACE => self.write_vf_config_space(req),
            OID_SRIOV_PROBED_BARS => self.probed_bars(req),
            OID_SRIOV_VF_VENDOR_DEVICE_ID => self.vf_vendor_device_id(req),
            OID_SRIOV_SET_VF_POWER_STATE => self.set_vf_power_state(req),
            OID_SRIOV_BAR_RESOURCES => self.bar_resources(req),
            _ => return None,
        })
    }
}

/// A VPort as the host API reports it (tests and management tools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VPortInfo {
    pub function: u16,
    pub queue_pairs: u32,
    pub state: u32,
    pub interrupt_moderation: u32,
}

/// A receive filter as the host API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterInfo {
    pub vport: u32,
    pub mac: [u8; 6],
    pub vlan: Option<u16>,
    pub untagged_or_zero: bool,
}

impl Adapter {
    pub fn vport_info(&self, id: u32) -> Option<VPortInfo> {
        let st = self.inner.lock();
        st.sw.vport(id).map(|v| VPortInfo {
            function: v.function,
            queue_pairs: v.queue_pairs,
            state: v.state,
            interrupt_moderation: v.interrupt_moderation,
        })
    }

    pub fn filter_info(&self, id: u32) -> Option<FilterInfo> {
        let st = self.inner.lock();
        st.sw
            .filters
            .iter()
            .find(|f| f.in_use && f.id == id)
            .map(|f| FilterInfo {
                vport: f.vport,
                mac: f.mac,
                vlan: f.has_vlan.then_some(f.vlan),
                untagged_or_zero: f.untagged_or_zero,
            })
    }

    /// VPorts in use, the default one included.
    pub fn vport_count(&self) -> usize {
        self.inner
            .lock()
            .sw
            .vports
            .iter()
            .filter(|v| v.in_use)
            .count()
    }

    pub fn filter_count(&self) -> usize {
        self.inner
            .lock()
            .sw
            .filters
            .iter()
            .filter(|f| f.in_use)
            .count()
    }

    /// (power state, wake enabled) last set for a VF; `None` when never set.
    pub fn vf_power_state(&self, vf_id: u16) -> Option<(u32, bool)> {
        let st = self.inner.lock();
        st.sw
            .power
            .get(vf_id as usize)
            .filter(|p| p.state != 0)
            .map(|p| (p.state, p.wake))
    }

    /// Whether SR-IOV is the current interface (the keywords' decision).
    pub fn sriov_enabled(&self) -> bool {
        self.inner.lock().sriov_enabled
    }

    pub fn vlan_filtering(&self) -> bool {
        self.inner.lock().sw.vlan_filtering
    }
}
