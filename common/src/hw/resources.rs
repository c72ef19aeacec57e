//! The hardware resources one adapter owns, acquired in MiniportInitializeEx and released in
//! reverse order on halt and on every failure path of initialize (issue 11, "Resources"):
//!
//! 1. BAR 0, mapped from the memory resource of `AllocatedResources` ([`map_bar`],
//!    "NdisMMapIoSpace function"), and the [`RefNic`] on it, identified and reset;
//! 2. scatter-gather DMA ("NdisMRegisterScatterGatherDma function"; the adapter declared
//!    `NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER` in its registration attributes first);
//! 3. shared memory for the TX ring, the RX ring and the RX buffers ("NdisMAllocateSharedMemory
//!    function": only while MiniportInitializeEx runs, after the DMA registration);
//! 4. the message-signalled interrupts ("NdisMRegisterInterruptEx function"; the reference NIC
//!    is MSI-X only);
//! 5. queue pair 0 started, its causes and the link cause routed to message 0, the vector and
//!    the function's DMA enabled.
//!
//! The NDIS side talks to the device only through the [`NicHw`] trait; [`RefNic`] is named only
//! where it is created. The interrupt path: the ISR ([`DataPath::isr`], DIRQL) holds the
//! signalled vector (`VEC_EN[v]` = 0: the reference NIC's "acknowledge", section 6: causes
//! clear as the device signals, and the vector stays quiet) and asks for the DPC; the DPC
//! ([`DataPath::dpc`], DISPATCH_LEVEL) reclaims what the rings completed, hands it to the
//! adapter ([`Completions`], the seam the receive and send paths plug into), posts the RX
//! buffers again and re-enables the vector.
use super::ring::{RxRing, TxRing};
use super::{
    Counters, DmaRegion, FunctionKind, HwError, LinkState, MappedBar, NicHw, RxDone, RxQueue,
    TxDone, TxQueue, map_bar, refnic::RefNic, regs, unmap_bar,
};
use crate::ffi::imports::*;
use crate::ffi::*;
use crate::recv::{RxBuffer, RxPoster, RxRegion};
use crate::sync::SpinLock;
use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, Ordering};

/// Descriptors per ring (TX and RX of queue pair 0).
pub const RING_LEN: u16 = 64;
/// Bytes of one RX buffer at the smallest frame capacity: at least `MAX_FRAME` (1514 after
/// reset), section 5. Larger capacities get larger buffers ([`rx_buffer_bytes`]).
pub const RX_BUF_BYTES: u32 = 2048;
/// The Ethernet header `MAX_FRAME` includes and an MTU does not.
pub const ETH_HEADER: u32 = 14;
/// An 802.1Q tag a frame may carry in its bytes (delivered as it is, without a port VLAN).
const VLAN_TAG: u32 = 4;
/// The frame capacities the drivers take (`*JumboPacket`, "Keywords That Can Be Edited": the
/// largest frame, header included; the range is the IHV's): the reference NIC's `MAX_FRAME`
/// range above the standard frame, section 4.
pub const FRAME_CAPACITY_MIN: u32 = regs::MAX_FRAME_RESET;
pub const FRAME_CAPACITY_MAX: u32 = regs::MAX_FRAME_MAX;

/// Bytes of each RX buffer for frames of up to `capacity` bytes (a tag kept in the frame
/// included): section 5 wants buffers of at least `MAX_FRAME`. 2 KiB for 1514, 9 KiB for 9014.
pub fn rx_buffer_bytes(capacity: u32) -> u32 {
    let need = capacity.clamp(FRAME_CAPACITY_MIN, FRAME_CAPACITY_MAX) + VLAN_TAG;
    need.div_ceil(1024).saturating_mul(1024).max(RX_BUF_BYTES)
}

/// Bytes of each TX bounce buffer for frames of up to `capacity` bytes (128-byte multiples).
pub fn bounce_bytes(capacity: u32) -> u32 {
    capacity
        .clamp(FRAME_CAPACITY_MIN, FRAME_CAPACITY_MAX)
        .div_ceil(128)
        .saturating_mul(128)
}
/// RX buffers: one per descriptor the ring can hold posted (`LEN - 1`).
pub const RX_BUFFERS: u16 = RING_LEN - 1;
/// `NDIS_SG_DMA_DESCRIPTION.MaximumPhysicalMapping`: the longest buffer the NIC maps.
pub const MAX_PHYSICAL_MAPPING: u32 = 0x1_0000;
/// The message queue pair 0 and the link cause are routed to.
pub const QUEUE_MESSAGE: u8 = 0;
/// Most completions one DPC hands over per ring.
pub const DPC_BUDGET: usize = 64;
/// How long halt waits for a stopped queue to go idle (the spec's bound is 1 ms).
const STOP_WAIT_US: u32 = 10_000;
const POLL_US: u32 = 100;

/// A value that is there or not, valid when all-zero (an adapter context is zeroed pool).
pub struct Slot<T> {
    value: MaybeUninit<T>,
    full: bool,
}

impl<T> Slot<T> {
    pub fn put(&mut self, v: T) {
        self.value = MaybeUninit::new(v);
        self.full = true;
    }

    pub fn get(&self) -> Option<&T> {
        // SAFETY: `full` is set only by `put`, which initialized the value.
        self.full.then(|| unsafe { self.value.assume_init_ref() })
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        // SAFETY: as for `get`.
        self.full.then(|| unsafe { self.value.assume_init_mut() })
    }

    pub fn take(&mut self) -> Option<T> {
        if !core::mem::replace(&mut self.full, false) {
            return None;
        }
        // SAFETY: it was full; `full` is now false, so the value is read out once.
        Some(unsafe { self.value.assume_init_read() })
    }

    pub fn is_full(&self) -> bool {
        self.full
    }
}

/// One NdisMAllocateSharedMemory block (all zero: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedBlock {
    pub va: usize,
    pub pa: i64,
    pub len: u32,
}

/// Which block is which.
const TX_RING: usize = 0;
const RX_RING: usize = 1;
const RX_BUFS: usize = 2;
/// One bounce buffer per send context ([`crate::send::TX_CONTEXTS`]): a frame whose SG list has
/// more elements than a TX frame may have descriptors is copied into its context's buffer.
const TX_BOUNCE: usize = 3;
const BLOCKS: usize = 4;

/// The rings of queue pair 0 and which RX buffer each posted RX slot holds.
pub struct Queues {
    pub tx: Slot<TxRing>,
    pub rx: Slot<RxRing>,
    rx_buf_of_slot: [u16; RING_LEN as usize],
}

/// What one DPC read from the rings: the seam where the receive and send paths take over.
pub trait Completions {
    /// Frames the device wrote (`RxDone::slot` is the receive queue's buffer slot, not the
    /// ring's; the buffers are the receive queue's again, to repost through
    /// [`DataPath`] as its [`RxPoster`]) and sends it finished.
    fn completions(&self, rx: &[RxDone], tx: &[TxDone]);
    /// The function's link as the hardware reports it, when `LINK_SEQ` moved since the last
    /// DPC looked (and at the first DPC): docs/reference-nic.md section 9.
    fn link(&self, _link: LinkState) {}
}

/// The counters the driver reports, kept monotonic across function resets (section 9: a
/// reset clears the hardware's counters). `base` holds what earlier hardware epochs counted;
/// `last` is the raw value last read. A reset the driver makes folds the raw values into
/// `base` first ([`DataPath::fold_counters`]); one it does not see (a function-level reset
/// from the PF, `OID_SRIOV_RESET_VF`) shows as a raw counter below the last read, and that
/// counter's last value is folded in then. All-zero is a valid (empty) book.
#[derive(Clone, Copy, Debug, Default)]
pub struct CounterBook {
    base: Counters,
    last: Counters,
}

impl CounterBook {
    /// A raw reading of the hardware's counters.
    pub fn observe(&mut self, raw: &Counters) {
        let dropped = raw.zip_with(&self.last, |r, l| if r < l { l } else { 0 });
        self.base = self.base.zip_with(&dropped, u64::saturating_add);
        self.last = *raw;
    }

    /// The hardware is about to be reset: everything read so far (`raw`, read now) moves
    /// into the base, and the next epoch starts from zero.
    pub fn fold(&mut self, raw: &Counters) {
        self.observe(raw);
        self.base = self.base.zip_with(&self.last, u64::saturating_add);
        self.last = Counters::ZERO;
    }

    /// The hardware was reset since the last reading (the driver saw it afterwards): what was
    /// last read joins the base, and the next reading starts the new epoch.
    pub fn new_epoch(&mut self) {
        self.base = self.base.zip_with(&self.last, u64::saturating_add);
        self.last = Counters::ZERO;
    }

    /// What the driver reports: every epoch's counts.
    pub fn total(&self) -> Counters {
        self.base.zip_with(&self.last, u64::saturating_add)
    }
}

/// `rx_buf_of_slot` entry of a ring slot holding no buffer.
const NOT_POSTED: u16 = u16::MAX;

/// How far bring-up got, for the tests and the debugger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataPathInfo {
    pub mapped: bool,
    pub sg_dma: bool,
    pub shared_blocks: u8,
    pub interrupt: bool,
    pub messages: u32,
    pub isrs: u32,
    pub dpcs: u32,
    /// RX and TX completions the DPC handed over (diagnostics and tests).
    pub completions: u32,
}

/// Everything above, for one adapter; part of its (zeroed) context.
pub struct DataPath {
    handle: NDIS_HANDLE,
    bar: Slot<MappedBar>,
    nic: Slot<RefNic>,
    sg_dma: NDIS_HANDLE,
    interrupt: AtomicPtr<c_void>,
    messages: u32,
    blocks: [SharedBlock; BLOCKS],
    /// The largest frame the buffers were sized for (`*JumboPacket`, set before bring-up; 0:
    /// [`FRAME_CAPACITY_MIN`]). Fixed until halt: the buffers are allocated at initialize.
    frame_capacity: u32,
    /// `MAX_FRAME` as programmed (0 before bring-up): the MTU in force plus the header.
    max_frame: AtomicU32,
    queues: SpinLock<Queues>,
    /// Surprise removal: no register is touched from then on.
    removed: AtomicBool,
    /// `stop` ran: the device is reset and the interrupt gone (release does not redo it).
    stopped: AtomicBool,
    /// Halt's `stop` or MiniportShutdownEx is quiescing the device: the DPC re-enables no
    /// vector and nothing is posted or rung. `stop` sets it under `queues` (which the DPC and
    /// the posters hold through their checks and writes); shutdown, which may not take a lock,
    /// sets it atomically before its register writes and the DPC re-checks after its re-enable.
    stopping: AtomicBool,
    /// `stop` could not bring the device to rest (its queues never went idle and the reset
    /// failed while it is still present): the shared memory is not freed (section 5).
    may_dma: AtomicBool,
    isrs: AtomicU32,
    dpcs: AtomicU32,
    completions: AtomicU32,
    /// The hardware counters as last read and what earlier resets cleared (reported once the
    /// device is gone).
    last_counters: SpinLock<CounterBook>,
    /// MiniportResetEx's work item (allocated at bring-up) and whether a reset is under way
    /// (the data path is quiet meanwhile, as while stopping).
    reset_item: NDIS_HANDLE,
    resetting: AtomicBool,
    /// A MiniportResetEx is between its call and its work item's end. Cleared whatever the
    /// outcome (a failed reset leaves the data path quiet, `resetting`, but a later reset may
    /// try again: NDIS_STATUS_RESET_IN_PROGRESS only while one really is in progress).
    reset_pending: AtomicBool,
    /// The function is a VF (its MiniportResetEx resets the function; the PF's restarts its
    /// queues only, since a PF function reset resets the switch and every VF, section 9).
    is_vf: bool,
    /// `LINK_SEQ` as the DPC last read it, and whether it has read it yet (section 9).
    link_seen: AtomicU32,
    link_known: AtomicBool,
    /// MiniportPause's join: the send side, the receive side and the MiniportPause call
    /// itself, each counted off once; whoever counts off last completes the pause.
    pause_waiting: AtomicU8,
}

fn block_len(which: usize, capacity: u32) -> u32 {
    let ring = u32::from(RING_LEN) * regs::DESC_BYTES as u32;
    let bytes = match which {
        RX_BUFS => u32::from(RX_BUFFERS) * rx_buffer_bytes(capacity),
        TX_BOUNCE => crate::send::TX_CONTEXTS as u32 * bounce_bytes(capacity),
        _ => ring,
    };
    // Room to align the start: the NdisMAllocateSharedMemory page promises no alignment.
    bytes + regs::RING_ALIGN as u32
}

/// The `RING_ALIGN`-aligned region inside a block.
fn aligned(b: &SharedBlock) -> Option<DmaRegion> {
    let align = regs::RING_ALIGN;
    let pa = u64::try_from(b.pa).ok()?;
    let skip = pa.wrapping_neg() & (align - 1);
    let len = b.len.checked_sub(skip as u32)?;
    // SAFETY: the block NdisMAllocateSharedMemory gave stays allocated while this region
    // is used (freed only in `release`, after the device stopped); `skip < len`.
    unsafe {
        DmaRegion::new(
            (b.va as *mut u8).wrapping_add(skip as usize),
            pa + skip,
            len,
        )
    }
}

impl DataPath {
    pub fn info(&self) -> DataPathInfo {
        DataPathInfo {
            mapped: self.bar.is_full(),
            sg_dma: !self.sg_dma.is_null(),
            shared_blocks: self.blocks.iter().filter(|b| b.len != 0).count() as u8,
            interrupt: !self.interrupt.load(Ordering::Acquire).is_null(),
            messages: self.messages,
            isrs: self.isrs.load(Ordering::Relaxed),
            dpcs: self.dpcs.load(Ordering::Relaxed),
            completions: self.completions.load(Ordering::Relaxed),
        }
    }

    /// The NIC, while mapped and not surprise-removed.
    pub fn nic(&self) -> Option<&RefNic> {
        if self.removed.load(Ordering::Acquire) {
            return None;
        }
        self.nic.get()
    }

    /// MiniportInitializeEx's part: every resource in order, `Err` with all of them released.
    ///
    /// # Safety
    /// PASSIVE_LEVEL inside MiniportInitializeEx of `handle`, after the registration
    /// attributes (with `NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER`); `resources` is its
    /// `AllocatedResources`; `ctx` is the adapter context the handlers in `interrupt` expect,
    /// alive until [`release`](Self::release).
    pub unsafe fn bring_up(
        &mut self,
        handle: NDIS_HANDLE,
        resources: *const CM_PARTIAL_RESOURCE_LIST,
        kind: FunctionKind,
        ctx: *mut c_void,
        interrupt: &mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
        sg: &mut NDIS_SG_DMA_DESCRIPTION,
    ) -> Result<(), NDIS_STATUS> {
        self.handle = handle;
        // SAFETY: forwarded caller contract.
        let r = unsafe { self.acquire(resources, kind, ctx, interrupt, sg) };
        if r.is_err() {
            self.release();
        }
        r
    }

    /// # Safety
    /// As [`bring_up`](Self::bring_up).
    unsafe fn acquire(
        &mut self,
        resources: *const CM_PARTIAL_RESOURCE_LIST,
        kind: FunctionKind,
        ctx: *mut c_void,
        interrupt: &mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
        sg: &mut NDIS_SG_DMA_DESCRIPTION,
    ) -> Result<(), NDIS_STATUS> {
        let handle = self.handle;
        self.is_vf = kind == FunctionKind::Vf;
        // SAFETY: initialize of `handle` (NdisAllocateIoWorkItem: `<= DISPATCH_LEVEL`).
        self.reset_item = unsafe { NdisAllocateIoWorkItem(handle) };
        if self.reset_item.is_null() {
            return Err(NDIS_STATUS_RESOURCES);
        }
        let bar_len = match kind {
            FunctionKind::Pf => regs::PF_BAR0_LEN,
            FunctionKind::Vf => regs::VF_BAR0_LEN,
        };
        // SAFETY: caller contract (initialize of `handle`, its AllocatedResources).
        let bar = unsafe { map_bar(handle, resources, bar_len) }?;
        let mmio = bar.mmio;
        self.bar.put(bar);
        let nic = RefNic::new(mmio, kind).map_err(HwError::status)?;
        nic.identify(kind).map_err(HwError::status)?;
        // SAFETY: PASSIVE_LEVEL (initialize), where NdisMSleep may block.
        nic.reset(&mut |us| unsafe { NdisMSleep(us) })
            .map_err(HwError::status)?;
        self.nic.put(nic);

        // SAFETY: initialize of `handle`; `sg` and the out-handle are valid for the call.
        let status = unsafe { NdisMRegisterScatterGatherDma(handle, sg, &mut self.sg_dma) };
        if status != NDIS_STATUS_SUCCESS {
            self.sg_dma = core::ptr::null_mut();
            return Err(status);
        }
        for which in [TX_RING, RX_RING, RX_BUFS, TX_BOUNCE] {
            let len = block_len(which, self.capacity());
            let (mut va, mut pa) = (core::ptr::null_mut::<c_void>(), 0i64);
            // SAFETY: initialize of `handle`, after the SG DMA registration; out-pointers valid.
            unsafe { NdisMAllocateSharedMemory(handle, len, FALSE, &mut va, &mut pa) };
            if va.is_null() {
                return Err(NDIS_STATUS_RESOURCES);
            }
            if let Some(b) = self.blocks.get_mut(which) {
                *b = SharedBlock {
                    va: va as usize,
                    pa,
                    len,
                };
            }
        }

        let mut h: NDIS_HANDLE = core::ptr::null_mut();
        // SAFETY: initialize of `handle`; `ctx` outlives the registration (caller contract).
        let status = unsafe { NdisMRegisterInterruptEx(handle, ctx, interrupt, &mut h) };
        // Any failure here is an interrupt the function was not given (or could not get):
        // NDIS_STATUS_RESOURCES, the "MINIPORT_INITIALIZE callback function" status for
        // resources (interrupt vectors among them) MiniportInitializeEx could not obtain.
        if status != NDIS_STATUS_SUCCESS {
            crate::ndis_log!(
                ERROR,
                "hw",
                "initialize: NdisMRegisterInterruptEx failed, status {:#010x} (no message-signalled interrupt in AllocatedResources?)",
                status
            );
            return Err(NDIS_STATUS_RESOURCES);
        }
        self.interrupt.store(h, Ordering::Release);
        // The NIC signals messages only: NDIS must have connected them as such, message 0
        // (QUEUE_MESSAGE) among them.
        let table = interrupt
            .MessageInfoTable
            .cast::<IO_INTERRUPT_MESSAGE_INFO>();
        // SAFETY: NDIS fills MessageInfoTable for a message-based connection; it stays valid
        // until NdisMDeregisterInterruptEx.
        let count = unsafe { table.as_ref() }.map_or(0, |t| t.MessageCount);
        if interrupt.InterruptType != NDIS_CONNECT_MESSAGE_BASED
            || count <= u32::from(QUEUE_MESSAGE)
        {
            crate::ndis_log!(
                ERROR,
                "hw",
                "initialize: interrupt type {} with {} message(s): message {} is needed",
                interrupt.InterruptType,
                count,
                QUEUE_MESSAGE
            );
            return Err(NDIS_STATUS_RESOURCES);
        }
        self.messages = count;
        self.start_queues()
    }

    /// Queue pair 0 on the shared blocks, the vector and DMA enabled. The RX ring starts empty:
    /// the receive queue posts the buffers ([`rx_buffers`](Self::rx_buffers), through this
    /// data path as its [`RxPoster`]) once it has an NBL for each.
    fn start_queues(&mut self) -> Result<(), NDIS_STATUS> {
        let regions: [Option<DmaRegion>; BLOCKS] = [
            self.blocks.first().and_then(aligned),
            self.blocks.get(RX_RING).and_then(aligned),
            self.blocks.get(RX_BUFS).and_then(aligned),
            self.blocks.get(TX_BOUNCE).and_then(aligned),
        ];
        let [Some(txm), Some(rxm), Some(_buffers), Some(_bounce)] = regions else {
            return Err(NDIS_STATUS_RESOURCES);
        };
        let Some(nic) = self.nic.get() else {
            return Err(NDIS_STATUS_FAILURE);
        };
        // Section 4: MAX_FRAME bounds what the function sends and receives; the MTU in force
        // (set before bring-up, at most the capacity the buffers were sized for) plus the header.
        let frame = self.max_frame.load(Ordering::Acquire);
        let frame = if frame == 0 { self.capacity() } else { frame };
        nic.set_max_frame(frame).map_err(HwError::status)?;
        self.max_frame.store(frame, Ordering::Release);
        let v = Some(QUEUE_MESSAGE);
        let tx = nic.start_tx(0, txm, RING_LEN, v).map_err(HwError::status)?;
        let rx = match nic.start_rx(0, rxm, RING_LEN, v) {
            Ok(rx) => rx,
            Err(e) => {
                nic.stop_tx(0);
                return Err(e.status());
            }
        };
        let q = self.queues.get_mut();
        q.tx.put(tx);
        q.rx.put(rx);
        nic.route_link(v);
        nic.set_vector(QUEUE_MESSAGE, true);
        nic.set_dma(true);
        Ok(())
    }

    /// The function's hardware counters (section 4), or the last values read once the device
    /// is gone or stopped. `<= DISPATCH_LEVEL`.
    pub fn counters(&self) -> Counters {
        let mut book = self.last_counters.lock();
        // While a reset is under way the hardware's counts may be folded into the base already
        // but not yet cleared (the function reset is still running, or never completed): a
        // reading now would count them twice. The book's total stands until the reset is done.
        if let Some(nic) = self.nic()
            && !self.stopped.load(Ordering::Acquire)
            && !self.resetting.load(Ordering::SeqCst)
        {
            // Section 9: a function reset the driver did not make (OID_SRIOV_RESET_VF's FLR,
            // the PF's function reset) clears MISC_IVAR, which the driver set at start, along
            // with the counters. Read first, so that counters read after it are the new epoch's:
            // everything last read then belongs to the old one, even if a counter now reads
            // higher than it did (more traffic after the reset than before). The marker is set
            // again (the vector stays held, VEC_EN being 0 after the reset) for the next one.
            let reset_unseen = !nic.link_routed();
            let raw = nic.counters();
            // All ones: the device went away under us; keep the last good reading.
            if nic.present() {
                if reset_unseen {
                    crate::ndis_log!(WARN, "hw", "the function was reset: counters folded");
                    book.new_epoch();
                    nic.route_link(Some(QUEUE_MESSAGE));
                }
                book.observe(&raw);
            }
        }
        book.total()
    }

    /// Before a function reset the driver makes: the hardware's counts so far move into the
    /// base, so that what the driver reports never goes back (section 9 clears the counters).
    pub fn fold_counters(&self) {
        let mut book = self.last_counters.lock();
        if let Some(nic) = self.nic()
            && nic.present()
        {
            book.fold(&nic.counters());
        }
    }

    /// MiniportPause begins: three parties to count off (send side, receive side, the call).
    pub fn pause_join_start(&self) {
        self.pause_waiting.store(3, Ordering::Release);
    }

    /// One party is done; `true` for the last (who completes the pause). Never below zero.
    pub fn pause_join_done(&self) -> bool {
        self.pause_waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok_and(|was| was == 1)
    }

    /// The RX-buffer block of shared memory as the receive queue's buffer source
    /// ([`RX_BUFFERS`] buffers of [`rx_buffer_bytes`] of the frame capacity);
    /// [`RxRegion::NONE`] before bring-up.
    pub fn rx_buffers(&self) -> RxRegion {
        match self.blocks.get(RX_BUFS).and_then(aligned) {
            Some(r) => RxRegion {
                va: r.va(),
                bus: r.pa(),
                slot_bytes: rx_buffer_bytes(self.capacity()),
                slots: RX_BUFFERS,
            },
            None => RxRegion::NONE,
        }
    }

    /// MiniportInitializeEx, before [`bring_up`](Self::bring_up): the largest frame the
    /// adapter will ever take (`*JumboPacket`, header included), which sizes the RX and bounce
    /// buffers, and the frame of the MTU in force at start (clamped to the capacity). Values
    /// outside [`FRAME_CAPACITY_MIN`]..=[`FRAME_CAPACITY_MAX`] are clamped into it.
    pub fn set_frame_capacity(&mut self, capacity: u32, mtu: u32) {
        self.frame_capacity = capacity.clamp(FRAME_CAPACITY_MIN, FRAME_CAPACITY_MAX);
        let frame = mtu.saturating_add(ETH_HEADER);
        self.max_frame.store(
            frame.clamp(regs::MAX_FRAME_MIN, self.frame_capacity),
            Ordering::Release,
        );
    }

    /// The largest frame the buffers hold (header included).
    pub fn capacity(&self) -> u32 {
        if self.frame_capacity == 0 {
            FRAME_CAPACITY_MIN
        } else {
            self.frame_capacity
        }
    }

    /// The largest MTU the adapter can take (its capacity less the header).
    pub fn max_mtu(&self) -> u32 {
        self.capacity() - ETH_HEADER
    }

    /// `MAX_FRAME` in force (header included): what a send may be at most.
    pub fn max_frame(&self) -> u32 {
        match self.max_frame.load(Ordering::Acquire) {
            0 => self.capacity(),
            f => f,
        }
    }

    /// An MTU change (the PF's link, the VF's link block): the MTU clamped to what the buffers
    /// allocated at initialize hold ([`max_mtu`](Self::max_mtu)) and to the spec's minimum
    /// frame, `MAX_FRAME` rewritten (nothing is touched once the device is gone or stopping).
    /// Returns the MTU now in force. `<= DISPATCH_LEVEL`.
    pub fn set_mtu(&self, mtu: u32) -> u32 {
        let frame = mtu
            .saturating_add(ETH_HEADER)
            .clamp(regs::MAX_FRAME_MIN, self.capacity());
        let _q = self.queues.lock();
        self.max_frame.store(frame, Ordering::Release);
        if !self.quiet()
            && let Some(nic) = self.nic()
            && nic.set_max_frame(frame).is_err()
        {
            crate::ndis_log!(ERROR, "hw", "MAX_FRAME {} refused", frame);
        }
        frame - ETH_HEADER
    }

    /// Context `index`'s TX bounce buffer (CPU address, bus address, bytes); `None` before
    /// bring-up or past [`crate::send::TX_CONTEXTS`].
    pub fn bounce(&self, index: usize) -> Option<crate::recv::RxBuffer> {
        let r = self.blocks.get(TX_BOUNCE).and_then(aligned)?;
        RxRegion {
            va: r.va(),
            bus: r.pa(),
            slot_bytes: bounce_bytes(self.capacity()),
            slots: crate::send::TX_CONTEXTS as u16,
        }
        .buffer(u16::try_from(index).ok()?)
    }

    /// MiniportShutdownEx: DMA and every vector off. Register writes only: no lock, no wait,
    /// no allocation, safe at HIGH_LEVEL.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(nic) = self.nic() {
            nic.quiesce();
        }
    }

    /// MiniportDevicePnPEventNotify(SurpriseRemoved): the device is gone; never touch it again.
    pub fn surprise_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }

    /// The device stopped (queues idle, function reset) and the interrupt deregistered: after
    /// this no ISR or DPC runs. PASSIVE_LEVEL (halt, or initialize failing).
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            // Under the lock the DPC holds through its re-enable and the posters through their
            // writes: once it is set, none of them touches the device again (the reset below
            // clears every VEC_EN, and nothing turns one back on before the deregistration).
            let _q = self.queues.lock();
            self.stopping.store(true, Ordering::SeqCst);
        }
        if let Some(nic) = self.nic() {
            nic.stop_tx(0);
            nic.stop_rx(0);
            let mut waited = 0;
            while !(nic.tx_idle(0) && nic.rx_idle(0)) && waited < STOP_WAIT_US {
                // SAFETY: PASSIVE_LEVEL (caller contract).
                unsafe { NdisMSleep(POLL_US) };
                waited += POLL_US;
            }
            let idle = nic.tx_idle(0) && nic.rx_idle(0);
            // The function reset stops every DMA and clears every VEC_EN (section 9).
            // SAFETY: as above.
            let reset = nic.reset(&mut |us| unsafe { NdisMSleep(us) }).is_ok();
            if !idle && !reset && nic.present() {
                // Section 5: the driver must see ACTIVE = 0 before it frees a ring's memory or
                // a buffer the ring pointed at. A leak is better than DMA into freed memory.
                crate::ndis_log!(
                    ERROR,
                    "hw",
                    "halt: queues still active and the reset failed; shared memory not freed"
                );
                self.may_dma.store(true, Ordering::Release);
            }
        }
        let h = self.interrupt.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !h.is_null() {
            // SAFETY: the handle NdisMRegisterInterruptEx gave, deregistered once.
            unsafe { NdisMDeregisterInterruptEx(h) };
        }
    }

    /// Releases everything still held, in reverse order of [`bring_up`](Self::bring_up).
    /// Idempotent. PASSIVE_LEVEL.
    pub fn release(&mut self) {
        self.stop();
        let q = self.queues.get_mut();
        let _ = q.tx.take();
        let _ = q.rx.take();
        let handle = self.handle;
        let leak = self.may_dma.swap(false, Ordering::AcqRel);
        for b in self.blocks.iter_mut().rev() {
            if b.len != 0 && leak {
                crate::ndis_log!(
                    ERROR,
                    "hw",
                    "shared memory left allocated (the device may still write it): va {:#x} pa {:#x} len {:#x}",
                    b.va,
                    b.pa,
                    b.len
                );
                *b = SharedBlock::default();
            } else if b.len != 0 {
                // SAFETY: exactly what NdisMAllocateSharedMemory returned; the device is stopped
                // (or gone) and no ring points at it any more.
                unsafe { NdisMFreeSharedMemory(handle, b.len, FALSE, b.va as *mut c_void, b.pa) };
                *b = SharedBlock::default();
            }
        }
        if !self.reset_item.is_null() {
            // SAFETY: allocated at bring-up; not queued (NDIS halts no adapter whose reset is
            // pending, and the reset's routine has returned by then).
            unsafe { NdisFreeIoWorkItem(self.reset_item) };
            self.reset_item = core::ptr::null_mut();
        }
        if !self.sg_dma.is_null() {
            // SAFETY: the handle NdisMRegisterScatterGatherDma gave; nothing is mapped with it.
            unsafe { NdisMDeregisterScatterGatherDma(self.sg_dma) };
            self.sg_dma = core::ptr::null_mut();
        }
        let _ = self.nic.take();
        if let Some(bar) = self.bar.take() {
            // SAFETY: mapped by `map_bar` with this handle; nothing uses the registers now.
            unsafe { unmap_bar(handle, bar) };
        }
        self.messages = 0;
        self.stopped.store(false, Ordering::Release);
        self.stopping.store(false, Ordering::Release);
    }

    /// MiniportMessageInterrupt (DIRQL): whether the interrupt is the NIC's
    /// ("MINIPORT_MESSAGE_INTERRUPT callback function": TRUE if the NIC generated it, else
    /// FALSE); if it is, holds vector `message` and wants the DPC. No lock, no NDIS call.
    ///
    /// `INT_CAUSE` cannot tell (section 6: the device clears a cause's bit as it signals), so a
    /// message is the NIC's when the device could have sent it: the device is present, the
    /// message is one NDIS connected and a cause is routed to it (only [`QUEUE_MESSAGE`]), and
    /// its `VEC_EN` is 1 (the device never signals a held vector; only this ISR, shutdown and
    /// reset clear it).
    pub fn isr(&self, message: u32) -> bool {
        self.isrs.fetch_add(1, Ordering::Relaxed);
        let (Some(nic), Ok(v)) = (self.nic(), u8::try_from(message)) else {
            return false;
        };
        if message >= self.messages || v != QUEUE_MESSAGE || !nic.vector_enabled(v) {
            return false;
        }
        nic.set_vector(v, false);
        true
    }

    /// MiniportMessageInterruptDpc (DISPATCH_LEVEL): a link change first (section 9: `LINK_SEQ`
    /// against the last value seen), then reclaims completions (at most `max_rx` receives:
    /// `NDIS_RECEIVE_THROTTLE_PARAMETERS.MaxNblsToIndicate`, "Receive Side Throttle"), hands
    /// them to `sink`, posts the RX buffers again. Returns whether receives may remain
    /// (`MoreNblsPending`: NDIS runs the DPC again, so the vector stays held); otherwise
    /// re-enables the vector.
    pub fn dpc(&self, message: u32, sink: &dyn Completions, max_rx: u32) -> bool {
        self.dpcs.fetch_add(1, Ordering::Relaxed);
        let Ok(v) = u8::try_from(message) else {
            return false;
        };
        let Some(nic) = self.nic() else {
            return false;
        };
        if v == QUEUE_MESSAGE {
            // The LINK cause is routed to this message (`start_queues`).
            let link = nic.link();
            let known = self.link_known.swap(true, Ordering::AcqRel);
            if !known || self.link_seen.swap(link.seq, Ordering::AcqRel) != link.seq {
                self.link_seen.store(link.seq, Ordering::Release);
                sink.link(link);
            }
        }
        let limit = usize::try_from(max_rx).map_or(DPC_BUDGET, |m| m.min(DPC_BUDGET));
        let mut rx = [None::<RxDone>; DPC_BUDGET];
        let mut tx = [None::<TxDone>; DPC_BUDGET];
        let (mut nrx, mut ntx) = (0usize, 0usize);
        if v == QUEUE_MESSAGE {
            let mut q = self.queues.lock();
            if let Some(ring) = q.rx.get_mut() {
                while nrx < limit
                    && let Some(slot) = rx.get_mut(nrx)
                {
                    let Some(done) = ring.complete() else { break };
                    *slot = Some(done);
                    nrx += 1;
                }
            }
            if let Some(ring) = q.tx.get_mut() {
                while let Some(slot) = tx.get_mut(ntx) {
                    let Some(done) = ring.complete() else { break };
                    *slot = Some(done);
                    ntx += 1;
                }
            }
        }
        // The ring slot becomes the buffer slot the receive queue posted there.
        let mut rx_done = [RxDone::EMPTY; DPC_BUDGET];
        {
            let q = self.queues.lock();
            for (d, s) in rx_done.iter_mut().zip(rx.iter().flatten()) {
                *d = *s;
                match q.rx_buf_of_slot.get(usize::from(s.slot)) {
                    Some(&buf) if buf != NOT_POSTED => d.slot = buf,
                    _ => {
                        d.slot = NOT_POSTED;
                        d.valid = false;
                    }
                }
            }
        }
        let mut tx_done = [TxDone {
            slot: 0,
            sent: false,
        }; DPC_BUDGET];
        for (d, s) in tx_done.iter_mut().zip(tx.iter().flatten()) {
            *d = *s;
        }
        self.completions
            .fetch_add((nrx + ntx) as u32, Ordering::Relaxed);
        sink.completions(
            rx_done.get(..nrx).unwrap_or(&[]),
            tx_done.get(..ntx).unwrap_or(&[]),
        );
        // The throttle cut the receives short: there may be more (a full budget is taken as
        // "more"; a DPC that then finds none says so). The vector stays held for that DPC.
        if limit < DPC_BUDGET && nrx == limit {
            return true;
        }
        // Under the lock `stop` sets `stopping` under and `reset_begin` sets `resetting` under:
        // either this re-enable lands before halt's reset or MiniportResetEx's vector hold
        // (each clears it), or it is skipped; a reset's work item lets the vector fire again.
        let _q = self.queues.lock();
        if let Some(nic) = self.nic()
            && !self.quiet()
        {
            nic.set_vector(v, true);
            // MiniportShutdownEx takes no lock: it sets `stopping` before its register writes,
            // so if it ran between the check and the write, this sees it and undoes the write.
            if self.stopping.load(Ordering::SeqCst) {
                nic.set_vector(v, false);
            }
        }
        false
    }

    /// Halt or shutdown is quiescing the device, or a reset is under way (read under `queues`).
    fn quiet(&self) -> bool {
        self.nic().is_none()
            || self.stopping.load(Ordering::SeqCst)
            || self.resetting.load(Ordering::SeqCst)
    }

    /// `f` on the rings under their lock, unless the data path is [`quiet`](Self::quiet)
    /// (`stop` and `reset_begin` set it under the same lock, so nothing is posted or rung
    /// after either): the posters' and doorbells' one gate.
    fn with_rings<R>(&self, f: impl FnOnce(&mut Queues) -> R) -> Option<R> {
        let mut q = self.queues.lock();
        if self.quiet() {
            return None;
        }
        Some(f(&mut q))
    }

    /// MiniportResetEx's first half (`<= DISPATCH_LEVEL`, no wait, "Miniport Driver Hardware
    /// Reset": interrupts off first): nothing is posted or rung and the vector stays held from
    /// here on, both queues are asked to stop, and the rest ([`reset_finish`](Self::reset_finish))
    /// goes to the reset work item at PASSIVE_LEVEL, where waiting for the device is allowed.
    /// `Ok(true)`: the work item is queued (MiniportResetEx returns NDIS_STATUS_PENDING);
    /// `Ok(false)`: nothing to reset (the device is gone).
    ///
    /// # Safety
    /// `routine` called with `ctx` finishes the reset (it calls `reset_finish` and then
    /// NdisMResetComplete); `ctx` stays valid until it has.
    pub unsafe fn reset_begin(
        &self,
        routine: NDIS_IO_WORKITEM_ROUTINE,
        ctx: *mut c_void,
    ) -> Result<bool, NDIS_STATUS> {
        let Some(nic) = self.nic() else {
            return Ok(false);
        };
        if self.reset_item.is_null() || self.stopped.load(Ordering::Acquire) {
            return Err(NDIS_STATUS_FAILURE);
        }
        {
            let _q = self.queues.lock();
            if self.reset_pending.swap(true, Ordering::SeqCst) {
                return Err(NDIS_STATUS_RESET_IN_PROGRESS);
            }
            self.resetting.store(true, Ordering::SeqCst);
        }
        nic.set_vector(QUEUE_MESSAGE, false);
        nic.stop_tx(0);
        nic.stop_rx(0);
        // SAFETY: our work item, not queued (one reset at a time: `resetting`); caller contract
        // for the routine and context.
        unsafe { NdisQueueIoWorkItem(self.reset_item, routine, ctx) };
        Ok(true)
    }

    /// MiniportResetEx's second half, from its work item (PASSIVE_LEVEL): waits (bounded) for
    /// both queues to stop; for a VF, folds the counters and resets the function (section 9,
    /// waited for with NdisMSleep); then starts queue pair 0 again on the same shared memory,
    /// posts again every RX buffer the old ring held, and lets the vector fire. Returns the
    /// status for NdisMResetComplete and the TX frames the old ring held (not sent), which the
    /// caller completes through the send queue.
    pub fn reset_finish(&self, unsent: &mut [TxDone; DPC_BUDGET]) -> (NDIS_STATUS, usize) {
        let out = self.reset_finish_inner(unsent);
        self.reset_pending.store(false, Ordering::SeqCst);
        out
    }

    fn reset_finish_inner(&self, unsent: &mut [TxDone; DPC_BUDGET]) -> (NDIS_STATUS, usize) {
        let Some(nic) = self.nic() else {
            self.resetting.store(false, Ordering::SeqCst);
            return (NDIS_STATUS_SUCCESS, 0);
        };
        let mut waited = 0;
        while !(nic.tx_idle(0) && nic.rx_idle(0)) && waited < STOP_WAIT_US {
            // SAFETY: PASSIVE_LEVEL (a work item).
            unsafe { NdisMSleep(POLL_US) };
            waited += POLL_US;
        }
        let idle = nic.tx_idle(0) && nic.rx_idle(0);
        let mut status = NDIS_STATUS_SUCCESS;
        if self.is_vf {
            let before = *self.last_counters.lock();
            self.fold_counters();
            // SAFETY: as above.
            if let Err(e) = nic.reset(&mut |us| unsafe { NdisMSleep(us) }) {
                // The counters may not be cleared: the fold is undone, so that the next reset's
                // fold (or a reading once the device has cleared them) counts them once.
                *self.last_counters.lock() = before;
                status = e.status();
            }
        } else if !idle {
            status = NDIS_STATUS_DEVICE_FAILED;
        }
        if status != NDIS_STATUS_SUCCESS {
            // The rings may still be the device's (section 5): nothing is reclaimed or
            // restarted, the data path stays quiet, and NDIS hears of the failure.
            crate::ndis_log!(
                ERROR,
                "hw",
                "reset: the device did not stop ({:#010x})",
                status
            );
            return (status, 0);
        }
        let regions = (
            self.blocks.first().and_then(aligned),
            self.blocks.get(RX_RING).and_then(aligned),
        );
        let (Some(txm), Some(rxm)) = regions else {
            return (NDIS_STATUS_FAILURE, 0);
        };
        let mut repost = [NOT_POSTED; RING_LEN as usize];
        let mut n_unsent = 0usize;
        {
            let mut q = self.queues.lock();
            let q = &mut *q;
            if let Some(mut ring) = q.tx.take() {
                while let Some(d) = ring.drain() {
                    if let Some(u) = unsent.get_mut(n_unsent) {
                        *u = d;
                        n_unsent += 1;
                    }
                }
            }
            if let Some(mut ring) = q.rx.take() {
                let mut i = 0usize;
                while let Some(slot) = ring.drain() {
                    if let (Some(r), Some(&buf)) =
                        (repost.get_mut(i), q.rx_buf_of_slot.get(usize::from(slot)))
                    {
                        *r = buf;
                        i += 1;
                    }
                }
            }
            q.rx_buf_of_slot = [NOT_POSTED; RING_LEN as usize];
            // A function reset put MAX_FRAME back to 1514 (section 9) and an MTU change made
            // meanwhile only stored it: the MTU in force again ("NdisMResetComplete
            // function": with AddressingReset FALSE the driver restores every setting).
            let frame = self.max_frame();
            if nic.set_max_frame(frame).is_err() {
                crate::ndis_log!(ERROR, "hw", "reset: MAX_FRAME {} refused", frame);
            }
            let v = Some(QUEUE_MESSAGE);
            match (
                nic.start_tx(0, txm, RING_LEN, v),
                nic.start_rx(0, rxm, RING_LEN, v),
            ) {
                (Ok(tx), Ok(rx)) => {
                    q.tx.put(tx);
                    q.rx.put(rx);
                }
                _ => {
                    nic.stop_tx(0);
                    nic.stop_rx(0);
                    return (NDIS_STATUS_DEVICE_FAILED, n_unsent);
                }
            }
            nic.route_link(v);
            // The next DPC reads the link again (the reset cleared LINK_SEQ's history).
            self.link_known.store(false, Ordering::Release);
            self.resetting.store(false, Ordering::SeqCst);
        }
        let region = self.rx_buffers();
        for &buf in repost.iter().filter(|&&b| b != NOT_POSTED) {
            if let Some(b) = region.buffer(buf) {
                RxPoster::post(self, buf, b);
            }
        }
        RxPoster::flush(self);
        let _q = self.queues.lock();
        if !self.quiet() {
            nic.set_dma(true);
            nic.set_vector(QUEUE_MESSAGE, true);
        }
        (status, n_unsent)
    }
}

/// The RX ring of queue pair 0 as the receive queue's [`RxPoster`]: a descriptor per buffer,
/// which ring slot holds which buffer, and the doorbell on [`flush`](RxPoster::flush). Nothing
/// is touched once the device is surprise-removed or stopped. `<= DISPATCH_LEVEL`.
impl RxPoster for DataPath {
    fn post(&self, slot: u16, buf: RxBuffer) {
        self.post_many(&[(slot, buf)]);
    }

    fn post_many(&self, bufs: &[(u16, RxBuffer)]) {
        self.with_rings(|q| {
            let Some(ring) = q.rx.get_mut() else { return };
            for &(slot, buf) in bufs {
                let Ok(len) = u16::try_from(buf.len) else {
                    continue;
                };
                if let Ok(at) = ring.post(buf.bus, len)
                    && let Some(s) = q.rx_buf_of_slot.get_mut(usize::from(at))
                {
                    *s = slot;
                }
            }
        });
    }

    fn flush(&self) {
        self.with_rings(|q| q.rx.get_mut().map(RxRing::flush));
    }
}

/// The TX ring of queue pair 0 and the SG DMA handle as the send queue's
/// [`Transmitter`](crate::send::Transmitter). Nothing is touched once the device is
/// surprise-removed or stopped. `<= DISPATCH_LEVEL`.
impl crate::send::Transmitter for DataPath {
    fn dma_handle(&self) -> NDIS_HANDLE {
        self.sg_dma
    }

    fn tx_free(&self) -> u16 {
        if self.nic().is_none() || self.stopped.load(Ordering::Acquire) {
            return 0;
        }
        self.queues.lock().tx.get().map_or(0, |r| r.free())
    }

    fn tx_post(&self, frags: &[super::Frag], vlan_tci: Option<u16>) -> Result<u16, HwError> {
        self.with_rings(|q| q.tx.get_mut().map(|ring| ring.post(frags, vlan_tci)))
            .flatten()
            .unwrap_or(Err(HwError::Gone))
    }

    fn tx_max_frame(&self) -> u32 {
        self.max_frame()
    }

    fn tx_bounce(&self, index: usize) -> Option<crate::recv::RxBuffer> {
        self.bounce(index)
    }

    fn tx_flush(&self) {
        self.with_rings(|q| q.tx.get_mut().map(TxRing::flush));
    }
}
