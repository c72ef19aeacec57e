//! The PF adapter: its state machine, its VF table and the lifecycle handlers' logic.

use crate::store::{Staged, VfStore};
use crate::{LOG, POOL_TAG_ADAPTER, POOL_TAG_RX, POOL_TAG_VF};
use common::blocks::*;
use common::ffi::imports::*;
use common::ffi::*;
use common::mem::{PoolBox, Zeroable};
use common::miniport::{self, EthernetInfo, RxSettings};
use common::ndis_log;
use common::oid::OidError;
use common::state::{AdapterEvent, AdapterState};
use common::sync::SpinLock;

/// VFs one PF can expose (the NIC switch capabilities advertise this).
pub const MAX_VFS: usize = 256;

/// An owned VF store in the table; null when the VF is free.
#[derive(Clone, Copy)]
pub(crate) struct VfPtr(pub *mut VfStore);

// SAFETY: the pointee is only reached with the adapter lock held.
unsafe impl Send for VfPtr {}

impl VfPtr {
    pub fn get(&self) -> Option<&VfStore> {
        // SAFETY: non-null entries point to a live store owned by the table.
        unsafe { self.0.as_ref() }
    }

    pub fn get_mut(&mut self) -> Option<&mut VfStore> {
        // SAFETY: as above, and the table is borrowed mutably under the lock.
        unsafe { self.0.as_mut() }
    }
}

pub(crate) struct PfState {
    pub state: AdapterState,
    /// The `*SRIOV` keyword: SR-IOV enabled on this adapter.
    pub sriov_enabled: bool,
    pub switch_created: bool,
    pub num_vfs: u16,
    pub vfs: [VfPtr; MAX_VFS],
    pub info: EthernetInfo,
    /// The link last indicated to NDIS (up, speed): what the host stack believes.
    pub indicated: (bool, u64),
    pub rx: RxSettings,
    pub surprise_removed: bool,
    pub oids: u32,
    pub invalidations: u32,
    /// VPorts, receive filters and VF power states of the NIC switch (`vport.rs`).
    pub sw: crate::vport::SwitchState,
}

impl PfState {
    /// The store of an allocated VF, in whatever state the adapter is (the host's read-only
    /// diagnostics): SR-IOV enabled, a NIC switch, the VF allocated. `INVALID_PARAMETER` for a
    /// VF that is not (the "OID_SRIOV_READ_VF_CONFIG_BLOCK" and
    /// "OID_SRIOV_WRITE_VF_CONFIG_BLOCK" pages: a request for a VF whose resources were not
    /// allocated must fail).
    pub fn allocated_vf(&self, vf_id: u16) -> Result<&VfStore, OidError> {
        if !self.sriov_enabled {
            return Err(OidError::status(
                NDIS_STATUS_NOT_SUPPORTED,
                "SR-IOV disabled (*SRIOV = 0)",
            ));
        }
        if !self.switch_created {
            return Err(OidError::status(NDIS_STATUS_NOT_SUPPORTED, "no NIC switch"));
        }
        self.vfs
            .get(vf_id as usize)
            .and_then(VfPtr::get)
            .ok_or(OidError::invalid_parameter("VFId not allocated"))
    }

    /// The store of an allocated VF while the adapter serves requests (not halting, not
    /// initializing): what the backchannel and the host's updates use.
    pub fn ready_vf_mut(&mut self, vf_id: u16) -> Result<&mut VfStore, OidError> {
        if !self.state.accepts_oids() {
            return Err(OidError::status(
                NDIS_STATUS_ADAPTER_NOT_READY,
                "adapter not ready",
            ));
        }
        if !self.switch_created {
            return Err(OidError::status(NDIS_STATUS_NOT_SUPPORTED, "no NIC switch"));
        }
        self.vfs
            .get_mut(vf_id as usize)
            .and_then(VfPtr::get_mut)
            .ok_or(OidError::invalid_parameter("VFId not allocated"))
    }

    pub fn transition(&mut self, event: AdapterEvent) -> bool {
        self.state.apply(event, LOG)
    }
}

/// The MiniportAdapterContext NDIS hands back to every handler.
pub struct Adapter {
    pub(crate) handle: NDIS_HANDLE,
    /// Set by MiniportDevicePnPEventNotify(NdisDevicePnPEventSurpriseRemoved): from then until
    /// halt every OID completes with NDIS_STATUS_NOT_ACCEPTED ("MiniportOidRequest").
    pub(crate) removed: core::sync::atomic::AtomicBool,
    pub(crate) inner: SpinLock<PfState>,
    /// Link indications to the host stack, one at a time, always of the committed link.
    pub(crate) link_indications: common::coalesce::Coalescer,
    /// The send side (common::send): all-zero is closed-as-paused and empty.
    pub(crate) sends: common::send::SendQueue,
    /// The receive side (common::recv): all-zero is closed with nothing allocated.
    pub(crate) rx: common::recv::RecvQueue,
    /// The work item that finishes a deferred request (`deferred.rs`), and that request.
    pub(crate) work_item: NDIS_HANDLE,
    pub(crate) deferred: SpinLock<crate::deferred::Deferred>,
    pub(crate) deferred_running: core::sync::atomic::AtomicBool,
    /// Test builds (feature `mutants`): the OID a test took the handler of; 0 for none.
    #[cfg(feature = "mutants")]
    pub(crate) mutant_unsupported: core::sync::atomic::AtomicU32,
    #[cfg(feature = "mutants")]
    pub(crate) mutant_no_bytes_written: core::sync::atomic::AtomicU32,
    /// Host builds: a wrong switch programming a test asked for (`mutants.rs`); 0 for none.
    #[cfg(feature = "mutants")]
    pub(crate) mutant_switch: core::sync::atomic::AtomicU32,
    /// BAR 0, DMA, shared memory, interrupts and rings (`common::hw::resources`): all-zero
    /// holds nothing.
    pub(crate) dp: common::hw::resources::DataPath,
}

// SAFETY: every field is an integer, bool, atomic, byte array, null-able raw pointer or a
// repr(u8) enum whose zero discriminant (`AdapterState::Initializing`) exists.
// The send queue is a spin lock (0 = free), bools and null NBL pointers; the receive queue
// spin locks, bools, counters, null pointers and `Owner::Driver` (0); the data path null
// handles, zero blocks and empty `Slot`s (MaybeUninit, valid for any bytes).
unsafe impl Zeroable for Adapter {}
// SAFETY: the handle is an opaque NDIS token usable from any thread; state is behind the lock.
unsafe impl Sync for Adapter {}
// SAFETY: as above.
unsafe impl Send for Adapter {}

/// Defaults of the simulated hardware until the host says otherwise.
pub const DEFAULT_MTU: u32 = 1500;
pub const DEFAULT_SPEED: u64 = 10_000_000_000;
pub const PF_MAC: [u8; 6] = [0x02, 0x15, 0x5D, 0x00, 0x00, 0x01];

impl Adapter {
    /// MiniportInitializeEx: allocates the adapter in nonpaged pool, sets registration,
    /// general and hardware-assist attributes. Leaves the adapter Paused.
    pub(crate) fn initialize(
        handle: NDIS_HANDLE,
        resources: *const CM_PARTIAL_RESOURCE_LIST,
    ) -> Result<*mut Adapter, NDIS_STATUS> {
        // SAFETY: the miniport adapter handle of this initialization.
        let mut adapter =
            unsafe { PoolBox::<Adapter>::adapter_context(handle, POOL_TAG_ADAPTER, LOG) }?;
        adapter.handle = handle;
        let info = EthernetInfo {
            permanent_mac: PF_MAC,
            current_mac: PF_MAC,
            mtu: DEFAULT_MTU,
            link_up: true,
            speed_bps: DEFAULT_SPEED,
            max_speed_bps: DEFAULT_SPEED,
        };
        {
            let st = adapter.inner.get_mut();
            st.info = info;
            st.indicated = (info.link_up, info.speed_bps);
            st.rx = RxSettings::new();
        }
        let ctx = adapter.as_ptr();
        // SAFETY: `handle` is the adapter being initialized; ctx lives until halt.
        let mut status = unsafe { miniport::set_registration_attributes(handle, ctx.cast()) };
        // The standardized keywords, in the documented order, once registration is done.
        // SAFETY: as above, at PASSIVE_LEVEL.
        let kw = unsafe { crate::keywords::read(handle) };
        adapter.inner.get_mut().sriov_enabled = kw.sriov;
        adapter.inner.get_mut().sw.vlan_filtering = kw.vlan_filtering;
        // `*JumboPacket`: the largest frame, which sizes the buffers and starts the link MTU
        // (the host may change the MTU later, clamped to it; see `DataPath::set_mtu`).
        // SAFETY: as above.
        let capacity = unsafe { miniport::read_jumbo_packet(handle) };
        let info = EthernetInfo {
            mtu: capacity - common::hw::resources::ETH_HEADER,
            ..info
        };
        adapter.inner.get_mut().info = info;
        adapter.dp.set_frame_capacity(capacity, info.mtu);
        if status == NDIS_STATUS_SUCCESS {
            // SAFETY: as above.
            status = unsafe {
                miniport::set_general_attributes(handle, &info, crate::oids::SUPPORTED_OIDS)
            };
        }
        if status == NDIS_STATUS_SUCCESS {
            // Hardware capabilities always; current ones only as the keywords allow.
            // SAFETY: as above.
            status = unsafe { crate::keywords::set_hardware_assist_attributes(handle, &kw) };
        }
        if status != NDIS_STATUS_SUCCESS {
            ndis_log!(
                ERROR,
                LOG,
                "initialize: attributes refused, status {:#010x}",
                status
            );
            return Err(status);
        }
        // The work item of deferred requests (a VF's reset or power change waits for it).
        // SAFETY: the adapter being initialized; halt frees it.
        adapter.work_item = unsafe { NdisAllocateIoWorkItem(handle) };
        if adapter.work_item.is_null() {
            ndis_log!(ERROR, LOG, "initialize: no work item");
            return Err(NDIS_STATUS_RESOURCES);
        }
        // The hardware, once the attributes (bus master among them) are set, then the receive
        // NBL pool with an NBL and MDL per RX buffer of its shared memory, every buffer posted;
        // on failure everything it took is released already.
        let a = &mut *adapter;
        // SAFETY: initialize of `handle` at PASSIVE_LEVEL; `ctx` is this adapter, alive until
        // halt, which tears the data path down first.
        if let Err(failed) = unsafe {
            common::handlers::bring_up_with_receive::<Adapter>(
                &mut a.dp,
                (&a.rx, &a.sends),
                handle,
                resources,
                common::hw::FunctionKind::Pf,
                ctx,
                POOL_TAG_RX,
            )
        } {
            // SAFETY: allocated above, never queued.
            unsafe { NdisFreeIoWorkItem(adapter.work_item) };
            return Err(failed.logged(LOG));
        }
        adapter
            .inner
            .get_mut()
            .transition(AdapterEvent::InitializeDone);
        ndis_log!(INFO, LOG, "initialized: up to {} VFs", MAX_VFS);
        Ok(adapter.into_raw())
    }

    /// MiniportHaltEx: frees every VF, disables virtualization, frees the adapter.
    ///
    /// # Safety
    /// `this` came from [`initialize`](Self::initialize) and NDIS calls nothing else on it.
    pub unsafe fn halt(this: *mut Adapter) {
        // SAFETY: `this` is the context from initialize (caller contract).
        let Some(adapter) = (unsafe { this.as_ref() }) else {
            return;
        };
        let handle = adapter.handle;
        let had_switch = adapter.inner.lock().switch_created;
        // The device quiet first: the switch in bypass (one register write: the VFs' frames are
        // no longer forwarded), then its queues stopped, the function reset and the interrupt
        // deregistered (`DataPath::stop`; nothing is touched after surprise removal). The PF's
        // function reset puts SW_CTRL, every VPort, filter and VF-control entry back to its
        // reset value (docs/reference-nic.md section 9), so halt does not rewrite the ~3,600
        // table registers one by one under the adapter lock.
        if had_switch {
            adapter.switch_bypass();
        }
        adapter.dp.stop();
        if had_switch {
            adapter.delete_switch();
        }
        adapter.inner.lock().transition(AdapterEvent::Halt);
        // NDIS halts with no request outstanding, but the work item that completed the last
        // deferred one may still be returning.
        adapter.wait_for_deferred();
        if !adapter.work_item.is_null() {
            // SAFETY: allocated at initialize, not queued (nothing is deferred any more).
            unsafe { NdisFreeIoWorkItem(adapter.work_item) };
        }
        // SAFETY: nothing else refers to the adapter now (NDIS calls nothing else on it); the
        // device stops and its interrupt goes first, then the receive queue (NDIS holds none of
        // its NBLs: the pause before halt waited for them), then the hardware resources.
        if let Some(a) = unsafe { this.as_mut() } {
            // SAFETY: halt, as above: no NBL with NDIS, nothing else called on the adapter.
            unsafe { common::handlers::tear_down(&mut a.dp, &a.rx) };
        }
        ndis_log!(INFO, LOG, "halted");
        // SAFETY: the adapter was allocated by initialize with this handle and tag.
        drop(unsafe { PoolBox::from_raw(this, handle, POOL_TAG_ADAPTER) });
    }

    pub fn event(&self, event: AdapterEvent) -> bool {
        self.inner.lock().transition(event)
    }

    /// Several events under one hold of the lock, all or nothing.
    pub fn events(&self, events: &[AdapterEvent]) -> bool {
        self.inner.lock().state.apply_all(events, LOG)
    }

    pub fn state(&self) -> AdapterState {
        self.inner.lock().state
    }

    pub fn handle(&self) -> NDIS_HANDLE {
        self.handle
    }

    /// RX and TX completions the interrupt DPC handed over so far (diagnostics and tests).
    pub fn hw_completions_seen(&self) -> u32 {
        self.dp.info().completions
    }

    /// Allocates a zeroed VF store; called with no lock held (pool allocation). The caller
    /// fills it ([`VfStore::init`]) under the lock, from the state in force then.
    pub(crate) fn alloc_vf_store(&self, vf_id: u16) -> Result<*mut VfStore, NDIS_STATUS> {
        // SAFETY: our adapter handle, valid until halt (which frees every store first).
        let Some(store) = (unsafe { PoolBox::<VfStore>::new_zeroed(self.handle, POOL_TAG_VF) })
        else {
            ndis_log!(ERROR, LOG, "VF {}: no memory for its block store", vf_id);
            return Err(NDIS_STATUS_RESOURCES);
        };
        Ok(store.into_raw())
    }

    /// Returns a VF store to the pool.
    pub(crate) fn free_vf_store(&self, store: *mut VfStore) {
        // SAFETY: `store` came from `new_vf_store` and has just been unlinked from the table.
        drop(unsafe { PoolBox::from_raw(store, self.handle, POOL_TAG_VF) });
    }

    /// Tells the virtualization stack which blocks of a VF changed. `<= DISPATCH_LEVEL`;
    /// never called with an empty mask or with the adapter lock held.
    #[inline(never)] // a breakpoint target in docs/windbg.md
    pub(crate) fn invalidate(&self, vf_id: u16, mask: BlockMask) {
        if mask.is_empty() {
            return;
        }
        {
            let mut st = self.inner.lock();
            st.invalidations = st.invalidations.wrapping_add(1);
        }
        ndis_log!(
            TRACE,
            LOG,
            "invalidate VF {} mask {:#x}",
            vf_id,
            mask.bits()
        );
        // SAFETY: valid adapter handle; VF id from our own table.
        unsafe { NdisMInvalidateConfigBlock(self.handle, vf_id, mask.bits()) };
    }
}

/// The blocks a VF starts with.
pub(crate) fn initial_blocks(
    vf_id: u16,
    mac: [u8; 6],
    link: &EthernetInfo,
) -> Result<[Staged; 4], BlockError> {
    Ok([
        Staged::of(&VersionBlock {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
            vf_id,
            features: 0,
            defined: BASE_BLOCKS,
        })?,
        Staged::of(&MacVlanBlock {
            mac,
            vlan_id: 0,
            priority: 0,
        })?,
        Staged::of(&link_block(link))?,
        Staged::of(&PolicyBlock {
            flags: PolicyBlock::SPOOF_CHECK,
            max_tx_rate_mbps: 0,
            queue_pairs: 1,
        })?,
    ])
}

pub(crate) fn link_block(info: &EthernetInfo) -> LinkBlock {
    LinkBlock {
        mtu: info.mtu,
        link_up: info.link_up,
        duplex: if info.link_up { 2 } else { 0 },
        speed_bps: if info.link_up { info.speed_bps } else { 0 },
    }
}

/// A locally administered MAC for a VF the switch gave none: 02:15:5D:VF:VF:02.
pub(crate) fn default_vf_mac(vf_id: u16) -> [u8; 6] {
    let [hi, lo] = vf_id.to_be_bytes();
    [0x02, 0x15, 0x5D, hi, lo, 0x02]
}
