//! The VF adapter: initialization and halt, its state, how a consistent view is applied, and
//! the status it reports to the PF. How blocks get re-read is in `refresh.rs`.

use crate::gate::RefreshGate;
use crate::snapshot::{Applied, Compatibility, View, compatibility};
use crate::{LOG, POOL_TAG_ADAPTER, POOL_TAG_RX};
use common::blocks::*;
use common::ffi::imports::*;
use common::ffi::*;
use common::mem::{PoolBox, Zeroable};
use common::miniport::{self, EthernetInfo, RxSettings};
use common::ndis_log;
use common::state::{AdapterEvent, AdapterState};
use common::sync::SpinLock;
use common::sync::atomic::{AtomicBool, Ordering};

/// Halt logs while it still waits for a refresh work item, every this many milliseconds.
const HALT_LOG_EVERY_MS: u32 = 5_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub invalidations: u32,
    pub blocks_read: u32,
    pub read_errors: u32,
    pub bad_blocks: u32,
    /// Extra reads made because a view was not yet consistent.
    pub consistency_rereads: u32,
    /// Rounds that ended without a consistent view (bits kept pending).
    pub deferred: u32,
    pub applied: u32,
    pub status_writes: u32,
}

pub(crate) struct VfState {
    pub state: AdapterState,
    pub vf_id: u16,
    pub view: View,
    pub applied: Applied,
    pub applied_generation: u32,
    /// `view.digest()` of the applied view, computed once when it is applied.
    pub applied_digest: u32,
    /// Resets so far (MiniportResetEx): a refresh that began before the latest one may apply
    /// what it read, but not make it the base of the next.
    pub resets: u32,
    /// Running on defaults because the backchannel did not answer.
    pub degraded: bool,
    pub info: EthernetInfo,
    pub rx: RxSettings,
    pub counters: Counters,
    /// The VF's own `LINK` (docs/reference-nic.md section 9: the wire and `VF_CTRL.LINK_DOWN`),
    /// once the interrupt DPC has read it (`hw_known`; until then it does not hold the link
    /// down).
    pub hw_known: bool,
    pub hw_up: bool,
    pub hw_speed_bps: u64,
    /// The MTU in force, what the VF reports: the link block's, clamped to what `*JumboPacket`
    /// sized the receive buffers for (`DataPath::set_mtu`); the applied view keeps the PF's.
    pub mtu: u32,
    /// The link last indicated to NDIS (or declared in the general attributes).
    pub indicated: (bool, u64),
}

pub struct Adapter {
    pub(crate) handle: NDIS_HANDLE,
    pub(crate) work_item: NDIS_HANDLE,
    /// Pending blocks, the work-item flags, the retry budget and the staging view (8 KiB, too
    /// large for a kernel stack) whose holder is the refresher (`gate.rs`, `refresh.rs`).
    pub(crate) gate: RefreshGate<View>,
    /// Halt has begun: a running refresh stops before its next read, none is queued.
    pub(crate) halting: AtomicBool,
    /// Surprise-removed (MiniportDevicePnPEventNotify): OIDs are not accepted, no reads.
    pub(crate) removed: AtomicBool,
    /// Status reports, one writer at a time, always of the current status.
    reports: common::coalesce::Coalescer,
    /// Link indications, one at a time, always of the link in force (`VfState::info`).
    link_indications: common::coalesce::Coalescer,
    pub(crate) inner: SpinLock<VfState>,
    /// The send side (common::send): all-zero is closed-as-paused and empty.
    pub(crate) sends: common::send::SendQueue,
    /// The receive side (common::recv): all-zero is closed with nothing allocated.
    pub(crate) rx: common::recv::RecvQueue,
    /// BAR 0, DMA, shared memory, interrupts and rings (`common::hw::resources`): all-zero
    /// holds nothing.
    pub(crate) dp: common::hw::resources::DataPath,
}

// SAFETY: integers, bools, byte arrays, null-able raw pointers, atomics (the refresh gate's
// included) and a repr(u8) enum whose zero discriminant exists (`AdapterState::Initializing`).
// The send queue is a spin lock (0 = free), bools and null NBL pointers; the receive queue
// spin locks, bools, counters, null pointers and `Owner::Driver` (0); the data path null
// handles, zero blocks and empty `Slot`s (MaybeUninit, valid for any bytes).
// Not so under `cfg(loom)`, whose atomics are loom's: the model checks never build an Adapter.
unsafe impl Zeroable for Adapter {}
// SAFETY: handles are opaque NDIS tokens usable from any thread; state is behind the lock.
unsafe impl Sync for Adapter {}
// SAFETY: as above.
unsafe impl Send for Adapter {}

/// What tests and diagnostics see of a VF (host builds only: it is returned by value and holds
/// the whole 8 KiB view, more than a kernel stack should carry).
#[cfg(not(kernel_image))]
#[derive(Clone, Copy)]
pub struct Snapshot {
    pub state: AdapterState,
    pub vf_id: u16,
    pub view: View,
    pub applied: Applied,
    pub applied_generation: u32,
    pub degraded: bool,
    pub pending: BlockMask,
    pub counters: Counters,
}

impl Adapter {
    /// MiniportInitializeEx for the VF ("Initializing a VF Miniport Driver"): registration
    /// attributes, then every block read and checked, then general and hardware-assist
    /// attributes. Leaves it Paused.
    pub(crate) fn initialize(
        handle: NDIS_HANDLE,
        resources: *const CM_PARTIAL_RESOURCE_LIST,
    ) -> Result<*mut Adapter, NDIS_STATUS> {
        // SAFETY: the miniport adapter handle of this initialization.
        let mut adapter =
            unsafe { PoolBox::<Adapter>::adapter_context(handle, POOL_TAG_ADAPTER, LOG) }?;
        adapter.handle = handle;
        let ctx = adapter.as_ptr();
        // SAFETY: the adapter being initialized; ctx lives until halt.
        let status = unsafe { miniport::set_registration_attributes(handle, ctx.cast()) };
        if status != NDIS_STATUS_SUCCESS {
            return Err(status);
        }
        // SAFETY: plain NDIS call with our adapter handle.
        adapter.work_item = unsafe { NdisAllocateIoWorkItem(handle) };
        if adapter.work_item.is_null() {
            ndis_log!(ERROR, LOG, "initialize: no work item");
            return Err(NDIS_STATUS_RESOURCES);
        }

        let vf_id = match adapter.read_version() {
            Ok(v) => v,
            Err(status) => {
                adapter.free_work_item();
                return Err(status);
            }
        };
        {
            let st = adapter.inner.get_mut();
            st.vf_id = vf_id.unwrap_or(NDIS_INVALID_VF_FUNCTION_ID);
            st.applied = Applied::defaults(vf_id.unwrap_or(0));
            st.degraded = vf_id.is_none();
        }
        // `*JumboPacket` sizes the buffers; the MTU of the link block is clamped to it, at
        // the first apply below and at every later change (`DataPath::set_mtu`).
        // SAFETY: the adapter being initialized, PASSIVE_LEVEL.
        let capacity = unsafe { miniport::read_jumbo_packet(handle) };
        let default_mtu = adapter.inner.get_mut().applied.mtu;
        adapter.dp.set_frame_capacity(capacity, default_mtu);
        if vf_id.is_some() {
            // Read every block at start: the view has no base yet, so the refresh first reads
            // the commit block to learn which blocks exist, then all of them.
            adapter.gate.set_pending(BlockMask::of(CommitBlock::id()));
            adapter.refresh_inline();
        }

        let (info, applied) = {
            let mut st = adapter.inner.lock();
            st.mtu = st.applied.mtu.min(adapter.dp.max_mtu());
            let applied = st.applied;
            st.info = st.info_from(&applied);
            st.indicated = (st.info.link_up, st.info.speed_bps);
            (st.info, applied)
        };
        // SAFETY: the adapter being initialized.
        let mut status =
            unsafe { miniport::set_general_attributes(handle, &info, crate::oids::SUPPORTED_OIDS) };
        if status == NDIS_STATUS_SUCCESS {
            // A VF sets VF_MINIPORT | SRIOV_SUPPORTED and no NIC switch (the note on
            // "Initializing a VF Miniport Driver"; its step text says PF_MINIPORT, an erratum).
            let caps = NDIS_SRIOV_CAPS_VF_MINIPORT | NDIS_SRIOV_CAPS_SRIOV_SUPPORTED;
            // SAFETY: as above.
            status = unsafe { miniport::set_sriov_attributes(handle, caps, None, true) };
        }
        if status != NDIS_STATUS_SUCCESS {
            adapter.free_work_item();
            return Err(status);
        }
        // The VF's hardware, as the guest's PnP manager assigned it through VPCI, then the
        // receive NBL pool with an NBL and MDL per RX buffer of its shared memory, every buffer
        // posted; on failure everything it took is released already.
        let a = &mut *adapter;
        // SAFETY: initialize of `handle` at PASSIVE_LEVEL; `ctx` is this adapter, alive until
        // halt, which tears the data path down first.
        if let Err(failed) = unsafe {
            common::handlers::bring_up_with_receive::<Adapter>(
                &mut a.dp,
                (&a.rx, &a.sends),
                handle,
                resources,
                common::hw::FunctionKind::Vf,
                ctx,
                POOL_TAG_RX,
            )
        } {
            adapter.free_work_item();
            return Err(failed.logged(LOG));
        }
        adapter
            .inner
            .get_mut()
            .transition(AdapterEvent::InitializeDone);
        adapter.report_status();
        ndis_log!(
            INFO,
            LOG,
            "VF initialized: mac {:02x?} mtu {} link {}",
            applied.mac,
            applied.mtu,
            applied.link_up
        );
        Ok(adapter.into_raw())
    }

    /// Reads and judges block 0. `Ok(None)`: the backchannel is absent or the block is bad,
    /// so the VF runs on defaults. `Err`: the PF speaks an incompatible protocol.
    fn read_version(&self) -> Result<Option<u16>, NDIS_STATUS> {
        let mut buf = [0u8; VersionBlock::ENCODED_LEN];
        // SAFETY: PASSIVE_LEVEL (MiniportInitializeEx), no lock held; buffer of that length.
        let status = unsafe {
            NdisMReadConfigBlock(
                self.handle,
                VersionBlock::ID as u32,
                buf.as_mut_ptr().cast(),
                buf.len() as u32,
            )
        };
        self.count(|c| c.blocks_read = c.blocks_read.wrapping_add(1));
        if status != NDIS_STATUS_SUCCESS {
            self.count(|c| c.read_errors = c.read_errors.wrapping_add(1));
            ndis_log!(
                WARN,
                LOG,
                "backchannel unavailable (read of block 0: {:#010x}): running on defaults",
                status
            );
            return Ok(None);
        }
        let (version, _) = match VersionBlock::decode(&buf) {
            Ok(v) => v,
            Err(e) => {
                self.count(|c| c.bad_blocks = c.bad_blocks.wrapping_add(1));
                ndis_log!(
                    WARN,
                    LOG,
                    "version block refused ({:?}): running on defaults",
                    e
                );
                return Ok(None);
            }
        };
        match compatibility(&version) {
            Compatibility::Incompatible { major } => {
                ndis_log!(
                    ERROR,
                    LOG,
                    "PF protocol {}.{} is incompatible with this VF ({}.{}): refusing to start",
                    major,
                    version.minor,
                    PROTOCOL_MAJOR,
                    PROTOCOL_MINOR
                );
                // "MINIPORT_INITIALIZE callback function": a failure "for reasons other than"
                // configuration or resources (BAD_VERSION is not among its statuses).
                return Err(NDIS_STATUS_FAILURE);
            }
            Compatibility::NewerOrOlderMinor { minor } => {
                ndis_log!(
                    INFO,
                    LOG,
                    "PF protocol minor {} differs from ours ({}): tolerated",
                    minor,
                    PROTOCOL_MINOR
                );
            }
            Compatibility::Same => {}
        }
        let header = BlockHeader {
            format: VersionBlock::FORMAT,
            id: VersionBlock::id(),
            generation: 0,
            writes: 0,
        };
        let header = validate(VersionBlock::id(), &buf).unwrap_or(header);
        self.inner
            .lock()
            .view
            .put(VersionBlock::id(), &buf, &header);
        Ok(Some(version.vf_id))
    }

    /// MiniportHaltEx: frees everything the adapter owns, always ("MINIPORT_HALT callback
    /// function": it must free all resources allocated in MiniportInitializeEx and in later
    /// operations of the device).
    ///
    /// A refresh work item may still be queued or running, and it points at this adapter. The
    /// item holds no reference past its completion signal (`work_outstanding` dropping to
    /// zero, the last thing `run_queued_refresh` does with the adapter), so halt stops new
    /// work (`halting`: a running refresh returns before its next read, none is queued), waits
    /// for that signal, and only then frees the work item and the adapter. Freeing the item
    /// then is allowed even while its routine is still returning ("IoFreeWorkItem": the system
    /// dequeues an item before it runs the routine, which may itself free it;
    /// "NdisQueueIoWorkItem": the routine may call NdisFreeIoWorkItem). The wait is bounded by
    /// one block read, since a refresh reads one block at a time; it is never cut short,
    /// which would leave the adapter either leaked or freed under the work item.
    ///
    /// # Safety
    /// `this` came from [`initialize`](Self::initialize); NDIS calls nothing else on it.
    pub unsafe fn halt(this: *mut Adapter) {
        // SAFETY: caller contract.
        let Some(adapter) = (unsafe { this.as_ref() }) else {
            return;
        };
        adapter.halting.store(true, Ordering::Release);
        let mut waited_ms = 0u32;
        let idle = adapter.gate.wait_idle(|| {
            // SAFETY: MiniportHaltEx runs at PASSIVE_LEVEL, where NdisMSleep may block.
            unsafe { NdisMSleep(1_000) };
            waited_ms = waited_ms.wrapping_add(1);
            if waited_ms.is_multiple_of(HALT_LOG_EVERY_MS) {
                ndis_log!(
                    WARN,
                    LOG,
                    "halt: waiting for the refresh work item ({} ms)",
                    waited_ms
                );
            }
            true
        });
        // The wait never gives up (see above), so the gate is idle here.
        debug_assert!(idle);
        adapter.inner.lock().transition(AdapterEvent::Halt);
        // The device stops and its interrupt goes first: no ISR or DPC runs after `stop`.
        adapter.dp.stop();
        adapter.free_work_item();
        let handle = adapter.handle;
        // SAFETY: nothing else refers to the adapter now (no work item, no interrupt, NDIS
        // calls nothing else; `adapter` is not used past this point). The receive queue goes
        // before the shared memory its MDLs describe (NDIS holds none of its NBLs: the pause
        // before halt waited for them).
        if let Some(a) = unsafe { this.as_mut() } {
            // SAFETY: halt, as above: no NBL with NDIS, nothing else called on the adapter.
            unsafe { common::handlers::tear_down(&mut a.dp, &a.rx) };
        }
        // SAFETY: allocated by initialize with this handle and tag; nothing refers to it any
        // more (no work item outstanding, NDIS calls nothing else).
        drop(unsafe { PoolBox::from_raw(this, handle, POOL_TAG_ADAPTER) });
    }

    /// Halting or surprise-removed: no more backchannel traffic.
    pub(crate) fn stopping(&self) -> bool {
        self.halting.load(Ordering::Acquire) || self.removed.load(Ordering::Acquire)
    }

    fn free_work_item(&self) {
        if !self.work_item.is_null() {
            // SAFETY: allocated in initialize, not queued (checked by the caller's flow).
            unsafe { NdisFreeIoWorkItem(self.work_item) };
        }
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

    /// RX and TX completions the interrupt DPC handed over so far (diagnostics and tests).
    pub fn hw_completions_seen(&self) -> u32 {
        self.dp.info().completions
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.inner.lock().counters);
    }

    #[cfg(not(kernel_image))]
    pub fn snapshot(&self) -> Snapshot {
        let st = self.inner.lock();
        Snapshot {
            state: st.state,
            vf_id: st.vf_id,
            view: st.view,
            applied: st.applied,
            applied_generation: st.applied_generation,
            degraded: st.degraded,
            pending: self.gate.pending(),
            counters: st.counters,
        }
    }

    /// An IHV extension block (5..=63) from the applied configuration, for IHV code.
    pub fn ihv_block(&self, id: BlockId) -> Option<IhvBlock> {
        self.inner.lock().view.ihv(id)
    }

    /// Commits a consistent view: the new configuration, its indications, the status report.
    pub(crate) fn apply(&self, view: &View, epoch: u32) {
        let new = Applied::from_view(view, self.inner.lock().applied);
        // The link block's MTU, at most what the buffers allocated at initialize hold
        // (`*JumboPacket`): MAX_FRAME follows it. The applied view keeps the PF's value.
        let mtu = self.dp.set_mtu(new.mtu);
        if mtu != new.mtu {
            ndis_log!(
                WARN,
                LOG,
                "MTU {} above what *JumboPacket sized the buffers for: {} in force",
                new.mtu,
                mtu
            );
        }
        let generation = view.generation();
        let digest = view.digest();
        let old = {
            let mut st = self.inner.lock();
            let old = st.applied;
            st.install_view(view, epoch);
            st.applied = new;
            st.applied_generation = generation;
            st.applied_digest = digest;
            st.degraded = false;
            st.mtu = mtu;
            st.info = st.info_from(&new);
            st.counters.applied = st.counters.applied.wrapping_add(1);
            old
        };
        #[cfg(not(kernel_image))]
        crate::observe::applied(self.handle as usize, generation, digest);
        // Progress: the retry budget starts again.
        self.gate.renew_budget();
        let running = self.state() != AdapterState::Initializing;
        if running {
            self.indicate_link();
        }
        if old.mac != new.mac {
            ndis_log!(INFO, LOG, "MAC now {:02x?}", new.mac);
        }
        if (old.vlan_id, old.mtu) != (new.vlan_id, new.mtu) {
            ndis_log!(INFO, LOG, "VLAN {} MTU {}", new.vlan_id, new.mtu);
        }
        ndis_log!(TRACE, LOG, "applied generation {}", generation);
        if running {
            self.report_status();
        }
    }

    /// The VF's hardware link from the interrupt DPC (DISPATCH_LEVEL, when `LINK_SEQ` moved):
    /// what the VF reports follows the rule of [`VfState::info_from`], indicated if it changed.
    pub(crate) fn hardware_link(&self, link: common::hw::LinkState) {
        let running = {
            let mut st = self.inner.lock();
            st.hw_known = true;
            st.hw_up = link.up;
            st.hw_speed_bps = u64::from(link.speed_mbps).saturating_mul(1_000_000);
            let applied = st.applied;
            st.info = st.info_from(&applied);
            st.state != AdapterState::Initializing
        };
        if running {
            self.indicate_link();
        }
    }

    /// NDIS_STATUS_LINK_STATE for the link in force (`VfState::info`) if it is not the one
    /// last indicated: one indicator at a time, each reading the link when it indicates, so
    /// NDIS ends with the current link and never gets the same one twice ("NDIS_STATUS_LINK_STATE":
    /// avoid indicating when nothing changed). `<= DISPATCH_LEVEL`.
    pub(crate) fn indicate_link(&self) {
        let take = || {
            let mut st = self.inner.lock();
            let now = (st.info.link_up, st.info.speed_bps);
            miniport::fresh_link(&mut st.indicated, now)
        };
        // SAFETY: our adapter handle, between initialization and halt.
        unsafe { miniport::indicate_link_changes(self.handle, &self.link_indications, take) };
    }

    /// The status block as of now: the adapter's state, what it applied, its counters.
    /// `None` when there is nobody to report to (no backchannel at initialization).
    fn status_now(&self) -> Option<VfStatusBlock> {
        let st = self.inner.lock();
        if st.degraded && st.vf_id == NDIS_INVALID_VF_FUNCTION_ID {
            return None;
        }
        let state = match st.state {
            _ if st.degraded => VfStatusBlock::STATE_DEGRADED,
            AdapterState::Initializing => VfStatusBlock::STATE_INITIALIZING,
            AdapterState::Running | AdapterState::Restarting => VfStatusBlock::STATE_RUNNING,
            _ => VfStatusBlock::STATE_PAUSED,
        };
        let c = st.counters;
        Some(VfStatusBlock {
            applied_generation: st.applied_generation,
            state,
            invalidations: c.invalidations,
            blocks_read: c.blocks_read,
            read_errors: c.read_errors,
            applied_mac: st.applied.mac,
            applied_digest: st.applied_digest,
        })
    }

    /// Tells the PF what the VF runs (block 4, NdisMWriteConfigBlock). PASSIVE only.
    ///
    /// Pause, restart and a refresh may report at once from different CPUs, and the write
    /// happens outside the lock. So reports are written by one reporter at a time, each built
    /// when it is written: a caller that finds another one writing leaves its request behind,
    /// and that reporter writes once more. The PF never sees an older report after a newer
    /// one, and the last one it sees is the current state.
    pub(crate) fn report_status(&self) {
        // A surprise-removed VF has no backchannel left to write to.
        if self.removed.load(Ordering::Acquire) {
            return;
        }
        self.reports.request(|| {
            if let Some(block) = self.status_now() {
                self.write_status(&block);
            }
        });
    }

    fn write_status(&self, block: &VfStatusBlock) {
        let mut buf = [0u8; VfStatusBlock::ENCODED_LEN];
        if block.encode(0, 0, &mut buf).is_err() {
            return;
        }
        // SAFETY: PASSIVE_LEVEL, no lock held, buffer of the block's length.
        let status = unsafe {
            NdisMWriteConfigBlock(
                self.handle,
                VfStatusBlock::ID as u32,
                buf.as_mut_ptr().cast(),
                buf.len() as u32,
            )
        };
        if status == NDIS_STATUS_SUCCESS {
            self.count(|c| c.status_writes = c.status_writes.wrapping_add(1));
        } else {
            ndis_log!(
                WARN,
                LOG,
                "status report to the PF failed: {:#010x}",
                status
            );
        }
    }
}

impl VfState {
    /// Makes `view`, read by a refresh that began at reset epoch `epoch`, the applied view;
    /// if a reset came since, the next refresh still reads every block.
    pub fn install_view(&mut self, view: &View, epoch: u32) {
        self.view.copy_from(view);
        if self.resets != epoch {
            self.view.forget_base();
        }
    }

    /// MiniportResetEx: nothing cached may be trusted, every block is read again.
    pub fn note_reset(&mut self) {
        self.resets = self.resets.wrapping_add(1);
        self.view.forget_base();
    }

    pub fn transition(&mut self, event: AdapterEvent) -> bool {
        self.state.apply(event, LOG)
    }

    /// What the VF reports for configuration `a`. The link rule (docs/reference-nic.md
    /// section 9): up only when both the PF's link block and the VF's own `LINK.UP` say up
    /// (the PF's block follows the wire and the host; the hardware follows the wire and
    /// `VF_CTRL.LINK_DOWN`), so either one going down takes the VF down at once; the speed is
    /// the block's (the hardware's if the block has none); the MTU is the one in force
    /// ([`mtu`](Self::mtu)), so every recomputation keeps the clamp.
    pub fn info_from(&self, a: &Applied) -> EthernetInfo {
        let up = a.link_up && (!self.hw_known || self.hw_up);
        let speed = match (up, a.speed_bps) {
            (false, _) => 0,
            (true, 0) => self.hw_speed_bps,
            (true, s) => s,
        };
        EthernetInfo {
            permanent_mac: a.mac,
            current_mac: a.mac,
            mtu: self.mtu,
            link_up: up,
            speed_bps: speed,
            max_speed_bps: a.speed_bps.max(100_000_000_000),
        }
    }
}
