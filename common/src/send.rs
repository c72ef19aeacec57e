//! The NDIS half of send, shared by both drivers (issue 11): MiniportSendNetBufferLists,
//! MiniportCancelSend, MiniportProcessSGList, the TX completions of the interrupt DPC, and
//! what pause, restart and surprise removal do to sends.
//!
//! The rules, each from its page:
//! - Every NET_BUFFER_LIST NDIS hands the miniport is completed exactly once, through
//!   NdisMSendNetBufferListsComplete, with `NET_BUFFER_LIST.Status` set ("Sending Network
//!   Data", MINIPORT_SEND_NET_BUFFER_LISTS); an NBL is not touched after it is completed.
//! - While the adapter is pausing or paused, sends fail with NDIS_STATUS_PAUSED
//!   (MINIPORT_SEND_NET_BUFFER_LISTS); MiniportPause completes only when every send NDIS
//!   handed over is completed ("Pausing a Miniport Adapter"): what still waits in the queue is
//!   completed with NDIS_STATUS_PAUSED at once, what the hardware holds when it completes.
//! - After surprise removal, sends fail with NDIS_STATUS_NOT_ACCEPTED (issue 11 names it; the
//!   MINIPORT_DEVICE_PNP_EVENT_NOTIFY page says the driver must not touch the hardware), and
//!   what the hardware held is completed with it (no TX completion will ever come).
//! - MiniportCancelSend completes every queued NBL whose cancel id
//!   (`NDIS_GET_NET_BUFFER_LIST_CANCEL_ID`) matches with NDIS_STATUS_SEND_ABORTED
//!   (MINIPORT_CANCEL_SEND); an NBL already partly handed to the hardware is not cancelled.
//! - Each NET_BUFFER is mapped with NdisMAllocateNetBufferSGList ("NdisMAllocateNetBufferSGList
//!   function": once per NET_BUFFER, from the send path, NDIS_SG_LIST_WRITE_TO_DEVICE, into a
//!   preallocated buffer of the driver's; the list is the driver's only once
//!   MiniportProcessSGList has it, which may run before or after the call returns, at
//!   DISPATCH_LEVEL, and may hand a list that is not in the driver's buffer). The frame's
//!   descriptors are posted in MiniportProcessSGList and the doorbell rung.
//! - The list is freed with NdisMFreeNetBufferSGList once the hardware is done with the
//!   NET_BUFFER ("NdisMFreeNetBufferSGList function": typically from the DPC on the send
//!   completion), before its NBL is completed.
//! - `NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL` says the current IRQL is DISPATCH_LEVEL.
//!
//! No allocation per frame: NBLs wait in a FIFO linked through their own `Next`; each frame in
//! flight takes one of [`TX_CONTEXTS`] contexts, each with its own SG-list buffer inline; an
//! NBL keeps its progress in `MiniportReserved` (the next NET_BUFFER to map, the NET_BUFFERs in
//! flight). A context is taken only while the ring has room for a frame of [`TX_MAX_FRAGS`]
//! beyond what the other mappings in progress may need, so MiniportProcessSGList always finds
//! room; otherwise the NBL waits in the FIFO until a TX completion frees descriptors.
//!
//! What the driver adds to those rules:
//! - **Submission order.** Frames reach the TX ring in the order their NET_BUFFERs were
//!   submitted, whatever the order of the MiniportProcessSGList calls: the
//!   NdisMAllocateNetBufferSGList page says the callback may run before or after the call
//!   returns and is silent on the order across calls, so the harsher reading is any order.
//!   Each mapping takes a sequence number; a list that arrives before its predecessors' waits
//!   in its context (`Mapped`) and is posted as soon as every earlier one is posted or failed.
//! - **Mapping failures.** A NET_BUFFER whose NdisMAllocateNetBufferSGList fails completes
//!   with NDIS_STATUS_RESOURCES and gives up its sequence number at once (however many fail in
//!   a row, a later list waiting for its turn is posted). The queue behind it is mapped again
//!   at the next TX completion, or at once when no frame is on the ring (none would come).
//! - **Frame length.** A NET_BUFFER longer than `MAX_FRAME` in force (the MTU plus the 14-byte
//!   header; an 802.1Q tag inserted from the NBL's info is not counted, section 4) is not
//!   mapped: it fails with NDIS_STATUS_INVALID_LENGTH (logged, counted as dropped), as the
//!   device would fail it with `ERR` (section 5).
//! - **802.1Q.** A nonzero `Ieee8021QNetBufferListInfo` (UserPriority or VlanId) is inserted
//!   by the device: `VLE` with its TCI on the frame's first descriptor (section 5). A VF whose
//!   VPort has a port VLAN gets such a frame back with `ERR` (NDIS_STATUS_FAILURE). VLAN id
//!   4095 (reserved by IEEE 802.1Q) fails with NDIS_STATUS_INVALID_DATA, logged.
//! - **More than [`TX_MAX_FRAGS`] elements.** The frame is copied into its context's bounce
//!   buffer (shared memory allocated at initialize, one per context, no allocation per frame)
//!   and posted as one descriptor; the SG list is still freed on completion. A NET_BUFFER
//!   whose MDLs have no system address (neither `MDL_MAPPED_TO_SYSTEM_VA` nor
//!   `MDL_SOURCE_IS_NONPAGED_POOL`, what `MmGetSystemAddressForMdlSafe` tests) would have to be
//!   mapped (`MmMapLockedPagesSpecifyCache`, which the drivers do not import) and fails with
//!   NDIS_STATUS_RESOURCES, logged.
use crate::ffi::imports::{
    KeGetCurrentIrql, NdisMAllocateNetBufferSGList, NdisMFreeNetBufferSGList,
    NdisMSendNetBufferListsComplete,
};
use crate::ffi::*;
use crate::hw::regs::{TX_MAX_FRAGS, TXD_MAX_LEN};
use crate::hw::{Frag, HwError, TxDone};
use crate::nbl_info::{Ieee8021QInfo, NBL_INFO_IEEE8021Q};
use crate::recv::RxBuffer;
use crate::sync::SpinLock;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU16, Ordering};

/// What MiniportPause found on the send side (as on the receive side).
pub use crate::recv::PauseOutcome;

/// `NetBufferListCancelId` of `NDIS_NET_BUFFER_LIST_INFO` (WDK `ndis/nbl.h`: the sixth
/// enumerator, after TcpIpChecksum, IPsecOffloadV1, TcpLargeSend, ClassificationHandle,
/// Ieee8021Q).
pub const NBL_INFO_CANCEL_ID: usize = 5;
/// Frames one adapter keeps in flight (mapping or on the ring).
pub const TX_CONTEXTS: usize = 64;
/// Bytes of each context's SG-list buffer: a list of up to 20 elements (a 1,514-byte frame
/// needs at most one element per MDL page). NDIS uses its own storage when a list needs more.
pub const SG_BUFFER_BYTES: usize = 512;
/// Ring slots a TX completion can name (the ring's length).
const RING_SLOTS: usize = crate::hw::resources::RING_LEN as usize;
const FRAG_RESERVE: u16 = TX_MAX_FRAGS as u16;

/// What the send queue needs of the hardware: the adapter's SG DMA handle and its TX ring.
/// [`crate::hw::resources::DataPath`] implements it. `<= DISPATCH_LEVEL`.
pub trait Transmitter {
    /// The handle NdisMRegisterScatterGatherDma gave.
    fn dma_handle(&self) -> NDIS_HANDLE;
    /// Descriptors free on the TX ring (0 when the device is gone).
    fn tx_free(&self) -> u16;
    /// Posts one frame (its fragments' bus addresses and lengths, the 802.1Q TCI the device
    /// inserts); returns its ring slot.
    fn tx_post(&self, frags: &[Frag], vlan_tci: Option<u16>) -> Result<u16, HwError>;
    /// Rings the doorbell for what was posted.
    fn tx_flush(&self);
    /// The longest frame the device sends now (`MAX_FRAME`, header included).
    fn tx_max_frame(&self) -> u32;
    /// Context `index`'s bounce buffer (shared memory), if there is one.
    fn tx_bounce(&self, index: usize) -> Option<RxBuffer>;
}

/// What the send side counted, in NET_BUFFERs (packets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxCounters {
    /// Handed to the hardware and reported sent.
    pub sent: u64,
    /// Handed to the hardware and reported failed (`ERR`), or never processed.
    pub hw_failed: u64,
    /// Completed without reaching the hardware: paused, removed, cancelled, mapping failed
    /// or a list the ring cannot take (part of ifOutDiscards).
    pub dropped: u64,
    /// MiniportProcessSGList or a TX completion for no frame of ours.
    pub strays: u64,
    /// Frames longer than `MAX_FRAME` failed with NDIS_STATUS_INVALID_LENGTH (in `dropped`).
    pub too_long: u64,
    /// Frames copied into a bounce buffer (more SG elements than descriptors).
    pub bounced: u64,
    /// TX doorbells rung (one per send call or completion batch, not one per frame).
    pub doorbells: u64,
}

#[derive(Debug)]
struct Fifo {
    head: *mut NET_BUFFER_LIST,
    tail: *mut NET_BUFFER_LIST,
    len: u32,
}

impl Fifo {
    const fn new() -> Self {
        Self {
            head: core::ptr::null_mut(),
            tail: core::ptr::null_mut(),
            len: 0,
        }
    }

    /// # Safety
    /// `nbl` is a valid NBL owned by the miniport, not in any list.
    unsafe fn push(&mut self, nbl: *mut NET_BUFFER_LIST) {
        // SAFETY: caller contract; `tail` is a queued NBL we own.
        unsafe {
            (*nbl).Next = core::ptr::null_mut();
            match self.tail.as_mut() {
                Some(t) => t.Next = nbl,
                None => self.head = nbl,
            }
        }
        self.tail = nbl;
        self.len = self.len.saturating_add(1);
    }

    fn pop(&mut self) -> Option<*mut NET_BUFFER_LIST> {
        let nbl = self.head;
        // SAFETY: queued NBLs are valid and ours until completed.
        let n = unsafe { nbl.as_mut() }?;
        self.head = n.Next;
        if self.head.is_null() {
            self.tail = core::ptr::null_mut();
        }
        n.Next = core::ptr::null_mut();
        self.len = self.len.saturating_sub(1);
        Some(nbl)
    }
}

/// An NBL's progress, in its `MiniportReserved` (the miniport's while it holds the NBL).
/// # Safety (all three)
/// `nbl` is a valid NBL the miniport holds.
unsafe fn cursor(nbl: *mut NET_BUFFER_LIST) -> *mut NET_BUFFER {
    // SAFETY: caller contract.
    unsafe { (*nbl).MiniportReserved.0[0].cast() }
}
unsafe fn in_flight(nbl: *mut NET_BUFFER_LIST) -> usize {
    // SAFETY: caller contract.
    unsafe { (*nbl).MiniportReserved.0[1] as usize }
}
unsafe fn set_progress(nbl: *mut NET_BUFFER_LIST, next: *mut NET_BUFFER, flying: usize) {
    // SAFETY: caller contract.
    unsafe {
        (*nbl).MiniportReserved.0[0] = next.cast();
        (*nbl).MiniportReserved.0[1] = flying as *mut c_void;
    }
}

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxState {
    Free = 0,
    /// NdisMAllocateNetBufferSGList called; MiniportProcessSGList not yet.
    Mapping,
    /// MiniportProcessSGList came; an earlier mapping has not, so it waits its turn.
    Mapped,
    /// On the TX ring.
    Posted,
}

#[derive(Clone, Copy, Debug)]
struct TxCtx {
    state: TxState,
    /// The device went away while mapping: complete when the list arrives.
    abort: bool,
    nbl: *mut NET_BUFFER_LIST,
    nb: *mut NET_BUFFER,
    sgl: *mut SCATTER_GATHER_LIST,
    /// Submission order: frames go to the ring in this order.
    seq: u32,
}

const FREE_CTX: TxCtx = TxCtx {
    state: TxState::Free,
    abort: false,
    nbl: core::ptr::null_mut(),
    nb: core::ptr::null_mut(),
    sgl: core::ptr::null_mut(),
    seq: 0,
};

#[derive(Debug)]
struct Inner {
    /// Sends go to the hardware (Running); otherwise they fail with `closed_status`.
    open: bool,
    removed: bool,
    /// Test hook: take sends but start none (as a full ring would).
    hold: bool,
    /// MiniportPause returned PENDING for this side: the last completion finishes it.
    pause_pending: bool,
    queue: Fifo,
    /// NBLs taken from NDIS and not yet completed (queued or in flight).
    held: u32,
    /// Descriptors kept free for the mappings in progress.
    reserved: u16,
    ctx: [TxCtx; TX_CONTEXTS],
    ctx_of_slot: [u8; RING_SLOTS],
    /// Sequence number of the next mapping started, and of the next frame to post.
    next_seq: u32,
    post_seq: u32,
    /// The context a sequence number was last given to, by `seq % TX_CONTEXTS`: a hint the
    /// post checks (the context must still hold that number), with a scan when it misses.
    ctx_of_seq: [u8; TX_CONTEXTS],
    /// Pumps under way (on any CPU): while one is, frames posted wait for its doorbell.
    pumping: u8,
    /// Frames posted whose doorbell a pump under way rings when it ends.
    unrung: bool,
    counters: TxCounters,
}

// SAFETY: the raw pointers are NBLs, NBs and SG lists NDIS handed over, owned by this queue
// until completed or freed; they are only touched under the lock.
unsafe impl Send for Inner {}

/// The Context of one NdisMAllocateNetBufferSGList: which adapter and which TX context.
pub struct TxTag {
    owner: AtomicPtr<c_void>,
    index: AtomicU16,
}

/// One context's SG-list buffer (8-byte aligned, as a SCATTER_GATHER_LIST must be).
type SgStore = [u64; SG_BUFFER_BYTES / 8];

/// The adapter's send side. All-zero is a valid value (closed as paused, empty, unbound), so it
/// can sit in a zeroed adapter context.
pub struct SendQueue {
    inner: SpinLock<Inner>,
    tags: [TxTag; TX_CONTEXTS],
    /// Written by NDIS between NdisMAllocateNetBufferSGList and NdisMFreeNetBufferSGList of the
    /// context that owns the entry; never read by the driver (it reads the list it is given).
    sg: UnsafeCell<[SgStore; TX_CONTEXTS]>,
}

// SAFETY: `inner` is a spin lock; `tags` are atomics; `sg` entries are only handed to NDIS
// for the context the lock assigned, and the driver never reads or writes them itself.
unsafe impl Sync for SendQueue {}

/// NBLs to complete once the lock is released: NDIS may call back into the miniport from
/// NdisMSendNetBufferListsComplete.
struct Completions {
    head: *mut NET_BUFFER_LIST,
    tail: *mut NET_BUFFER_LIST,
}

impl Completions {
    fn new() -> Self {
        Self {
            head: core::ptr::null_mut(),
            tail: core::ptr::null_mut(),
        }
    }

    /// # Safety
    /// `nbl` is valid, owned by the miniport and in no list.
    unsafe fn add(&mut self, nbl: *mut NET_BUFFER_LIST, status: NDIS_STATUS) {
        // SAFETY: caller contract.
        unsafe {
            (*nbl).Status = status;
            (*nbl).Next = core::ptr::null_mut();
            match self.tail.as_mut() {
                Some(t) => t.Next = nbl,
                None => self.head = nbl,
            }
        }
        self.tail = nbl;
    }

    /// Completes the chain to NDIS; `at_dispatch`: the current IRQL is DISPATCH_LEVEL.
    fn complete(self, handle: NDIS_HANDLE, at_dispatch: bool) {
        if self.head.is_null() {
            return;
        }
        let flags = if at_dispatch {
            NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
        // SAFETY: every NBL of the chain came from NDIS to this adapter and is completed once.
        unsafe { NdisMSendNetBufferListsComplete(handle, self.head, flags) };
    }
}

/// SG lists to free once the lock is released (before the NBLs are completed).
struct Frees {
    list: [(*mut SCATTER_GATHER_LIST, *mut NET_BUFFER); TX_CONTEXTS],
    len: usize,
}

impl Frees {
    fn new() -> Self {
        Self {
            list: [(core::ptr::null_mut(), core::ptr::null_mut()); TX_CONTEXTS],
            len: 0,
        }
    }

    fn push(&mut self, sgl: *mut SCATTER_GATHER_LIST, nb: *mut NET_BUFFER) {
        if let Some(e) = self.list.get_mut(self.len) {
            *e = (sgl, nb);
            self.len += 1;
        }
    }

    fn free(&self, dma: NDIS_HANDLE) {
        for &(sgl, nb) in self.list.iter().take(self.len) {
            // SAFETY: a list MiniportProcessSGList gave for `nb`, freed once, the hardware
            // done with it (or gone).
            unsafe { NdisMFreeNetBufferSGList(dma, sgl, nb) };
        }
    }
}

fn at_dispatch_now() -> bool {
    // SAFETY: plain IRQL read.
    let irql = unsafe { KeGetCurrentIrql() };
    irql >= DISPATCH_LEVEL
}

impl Inner {
    fn closed_status(&self) -> NDIS_STATUS {
        if self.removed {
            NDIS_STATUS_NOT_ACCEPTED
        } else {
            NDIS_STATUS_PAUSED
        }
    }

    /// One NET_BUFFER of `nbl` is finished with `status`; the NBL joins `done` once none of
    /// it is left to map or in flight.
    ///
    /// # Safety
    /// `nbl` is an NBL this queue holds with at least one NET_BUFFER in flight.
    unsafe fn nb_finished(
        &mut self,
        nbl: *mut NET_BUFFER_LIST,
        status: NDIS_STATUS,
        done: &mut Completions,
    ) {
        // SAFETY: caller contract.
        unsafe {
            if status != NDIS_STATUS_SUCCESS {
                (*nbl).Status = status;
            }
            let left = in_flight(nbl).saturating_sub(1);
            let next = cursor(nbl);
            set_progress(nbl, next, left);
            if left == 0 && next.is_null() {
                done.add(nbl, (*nbl).Status);
                self.held = self.held.saturating_sub(1);
            }
        }
    }

    /// Context `i` (holding `c`, its list delivered) fails with `status`: its list is freed
    /// and its NET_BUFFER finished.
    ///
    /// # Safety
    /// `c` is context `i`, `Mapped` or `Posted`, whose NBL holds its NET_BUFFER in flight.
    unsafe fn fail_ctx(
        &mut self,
        i: usize,
        c: TxCtx,
        status: NDIS_STATUS,
        done: &mut Completions,
        frees: &mut Frees,
    ) {
        frees.push(c.sgl, c.nb);
        if let Some(e) = self.ctx.get_mut(i) {
            *e = FREE_CTX;
        }
        self.counters.dropped = self.counters.dropped.wrapping_add(1);
        // SAFETY: caller contract.
        unsafe { self.nb_finished(c.nbl, status, done) };
    }

    /// Posts, in submission order, every frame whose list has come and whose predecessors
    /// are all posted or failed; stops at the first still being mapped. Rings the doorbell
    /// once for what it posted.
    fn post_in_order(&mut self, tx: &dyn Transmitter, done: &mut Completions, frees: &mut Frees) {
        let mut posted = false;
        // Bounded: each turn posts or fails a context (at most TX_CONTEXTS), jumps a run of
        // failed mappings (at most one per such turn and one more), or stops.
        for _ in 0..=(2 * TX_CONTEXTS + 1) {
            if self.post_seq == self.next_seq {
                break;
            }
            let seq = self.post_seq;
            let waiting =
                |c: &TxCtx| matches!(c.state, TxState::Mapping | TxState::Mapped) && c.seq == seq;
            let hint = self
                .ctx_of_seq
                .get(seq as usize % TX_CONTEXTS)
                .map(|&i| usize::from(i))
                .filter(|&i| self.ctx.get(i).is_some_and(waiting));
            let found = hint.or_else(|| self.ctx.iter().position(waiting));
            let Some((i, c)) = found.and_then(|i| self.ctx.get(i).map(|c| (i, *c))) else {
                // Its mapping failed before its list came: nothing to wait for. However many
                // failed in a row, go straight to the oldest mapping still in progress (or to
                // `next_seq`): stepping one number per turn could stop inside the run with a
                // later list waiting and no callback left to resume it.
                let ahead = self.next_seq.wrapping_sub(seq);
                let nearest = self
                    .ctx
                    .iter()
                    .filter(|c| matches!(c.state, TxState::Mapping | TxState::Mapped))
                    .map(|c| c.seq.wrapping_sub(seq))
                    .filter(|d| *d < ahead)
                    .min()
                    .unwrap_or(ahead);
                self.post_seq = seq.wrapping_add(nearest.max(1));
                continue;
            };
            if c.state == TxState::Mapping {
                break;
            }
            self.post_seq = seq.wrapping_add(1);
            self.reserved = self.reserved.saturating_sub(FRAG_RESERVE);
            // SAFETY: context `i` holds a delivered list for a NET_BUFFER its NBL holds.
            match unsafe { post_frame(i, &c, tx) } {
                Ok(slot) => {
                    if let Some(owner) = self.ctx_of_slot.get_mut(usize::from(slot.slot)) {
                        *owner = i as u8;
                    }
                    if let Some(e) = self.ctx.get_mut(i) {
                        e.state = TxState::Posted;
                    }
                    if slot.bounced {
                        self.counters.bounced = self.counters.bounced.wrapping_add(1);
                    }
                    posted = true;
                }
                Err(status) => {
                    // SAFETY: as above.
                    unsafe { self.fail_ctx(i, c, status, done, frees) };
                }
            }
        }
        if posted {
            if self.pumping > 0 {
                // A pump rings once for every frame it maps (an MMIO write per frame is what
                // the doorbell batching saves); it ends after this post, under this lock.
                self.unrung = true;
            } else {
                self.counters.doorbells = self.counters.doorbells.wrapping_add(1);
                tx.tx_flush();
            }
        }
    }

    /// A pending pause is complete (nothing held): true once.
    fn pause_finished(&mut self) -> bool {
        if self.pause_pending && self.held == 0 {
            self.pause_pending = false;
            return true;
        }
        false
    }
}

/// NET_BUFFERs in one NBL (bounded).
///
/// # Safety
/// `nbl` is a valid NBL.
unsafe fn net_buffers(nbl: *mut NET_BUFFER_LIST) -> u64 {
    // SAFETY: caller contract.
    let mut nb = unsafe { (*nbl).FirstNetBuffer };
    let mut n = 0u64;
    while !nb.is_null() && n < 1 << 20 {
        n += 1;
        // SAFETY: a valid NB of the NBL.
        nb = unsafe { (*nb).Next };
    }
    n
}

impl SendQueue {
    // Not const: under `cfg(loom)` the lock is loom's, whose constructor is not.
    pub fn new() -> Self {
        Self {
            inner: SpinLock::new(Inner {
                open: false,
                removed: false,
                hold: false,
                pause_pending: false,
                queue: Fifo::new(),
                held: 0,
                reserved: 0,
                ctx: [FREE_CTX; TX_CONTEXTS],
                ctx_of_slot: [0; RING_SLOTS],
                next_seq: 0,
                post_seq: 0,
                ctx_of_seq: [0; TX_CONTEXTS],
                pumping: 0,
                unrung: false,
                counters: TxCounters {
                    sent: 0,
                    hw_failed: 0,
                    dropped: 0,
                    strays: 0,
                    too_long: 0,
                    bounced: 0,
                    doorbells: 0,
                },
            }),
            tags: [const {
                TxTag {
                    owner: AtomicPtr::new(core::ptr::null_mut()),
                    index: AtomicU16::new(0),
                }
            }; TX_CONTEXTS],
            sg: UnsafeCell::new([[0; SG_BUFFER_BYTES / 8]; TX_CONTEXTS]),
        }
    }

    /// Names the adapter (MiniportAdapterContext) MiniportProcessSGList gets back through each
    /// context's tag. Once, at MiniportInitializeEx, before any send.
    pub fn bind(&self, owner: *const c_void) {
        for (i, t) in self.tags.iter().enumerate() {
            t.owner.store(owner.cast_mut(), Ordering::Release);
            t.index.store(i as u16, Ordering::Release);
        }
    }

    /// MiniportSendNetBufferLists: takes the chain; every NBL is queued, handed to the hardware
    /// or completed before this returns or later, exactly once. `flags` are the send flags.
    /// Returns `true` when this completed a pending pause.
    ///
    /// # Safety
    /// `chain` is the NBL chain NDIS passed with this adapter's `handle`.
    pub unsafe fn submit(
        &self,
        handle: NDIS_HANDLE,
        chain: *mut NET_BUFFER_LIST,
        flags: u32,
        tx: &dyn Transmitter,
    ) -> bool {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            let mut nbl = chain;
            // SAFETY: NDIS's chain; each NBL is read before it is relinked.
            while let Some(n) = unsafe { nbl.as_mut() } {
                let next = n.Next;
                if !st.open || st.removed {
                    let status = st.closed_status();
                    // SAFETY: an NBL of the chain.
                    let packets = unsafe { net_buffers(nbl) };
                    st.counters.dropped = st.counters.dropped.wrapping_add(packets);
                    // SAFETY: an NBL of the chain, now unlinked into ours.
                    unsafe { done.add(nbl, status) };
                } else if n.FirstNetBuffer.is_null() {
                    // Nothing to send.
                    // SAFETY: as above.
                    unsafe { done.add(nbl, NDIS_STATUS_SUCCESS) };
                } else {
                    n.Status = NDIS_STATUS_SUCCESS;
                    // SAFETY: as above; FIFO order behind what already waits.
                    unsafe {
                        set_progress(nbl, n.FirstNetBuffer, 0);
                        st.queue.push(nbl);
                    }
                    st.held = st.held.saturating_add(1);
                }
                nbl = next;
            }
        }
        done.complete(handle, flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0);
        self.pump(handle, tx)
    }

    /// Maps the next NET_BUFFERs of the queue while contexts and ring room last. The lock is
    /// not held across NdisMAllocateNetBufferSGList: MiniportProcessSGList may run inside it.
    /// Returns `true` when this completed a pending pause (a mapping that failed after a
    /// pause began may finish the last NBL held).
    fn pump(&self, handle: NDIS_HANDLE, tx: &dyn Transmitter) -> bool {
        let mut done = Completions::new();
        let mut frees = Frees::new();
        {
            let mut st = self.inner.lock();
            st.pumping = st.pumping.saturating_add(1);
        }
        let paused = self.pump_into(tx, &mut done, &mut frees);
        let ring = {
            let mut st = self.inner.lock();
            st.pumping = st.pumping.saturating_sub(1);
            let ring = st.pumping == 0 && core::mem::take(&mut st.unrung);
            if ring {
                st.counters.doorbells = st.counters.doorbells.wrapping_add(1);
            }
            ring
        };
        if ring {
            // Outside the lock: every post it covers happened before `pumping` fell to 0.
            tx.tx_flush();
        }
        frees.free(tx.dma_handle());
        done.complete(handle, at_dispatch_now());
        paused
    }

    fn pump_into(&self, tx: &dyn Transmitter, done: &mut Completions, frees: &mut Frees) -> bool {
        let mut paused = false;
        loop {
            let (i, nbl, nb) = {
                let mut st = self.inner.lock();
                let st = &mut *st;
                if !st.open || st.hold || st.queue.head.is_null() {
                    return paused;
                }
                let head = st.queue.head;
                // SAFETY: a queued NBL we hold.
                let nb = unsafe { cursor(head) };
                // SAFETY: its cursor is null or a NET_BUFFER of it whose `Next` NDIS set.
                let Some((next, len)) = (unsafe { nb.as_ref() }).map(|b| (b.Next, b.data_length()))
                else {
                    // Not possible for a queued NBL; drop it from the queue rather than spin.
                    let _ = st.queue.pop();
                    continue;
                };
                let max = tx.tx_max_frame();
                let too_long = u64::from(len) > u64::from(max);
                if !too_long && tx.tx_free() < st.reserved.saturating_add(FRAG_RESERVE) {
                    return false;
                }
                let free = st.ctx.iter().position(|c| c.state == TxState::Free);
                if !too_long && free.is_none() {
                    return false;
                }
                // SAFETY: as above.
                unsafe { set_progress(head, next, in_flight(head).saturating_add(1)) };
                if next.is_null() {
                    // Every NET_BUFFER is on its way: the NBL leaves the queue.
                    let _ = st.queue.pop();
                }
                let Some(i) = free.filter(|_| !too_long) else {
                    // Longer than MAX_FRAME: the device would fail it (section 5); not mapped.
                    crate::ndis_log!(
                        WARN,
                        "send",
                        "NET_BUFFER of {} bytes over the {}-byte frame limit: NDIS_STATUS_INVALID_LENGTH",
                        len,
                        max
                    );
                    st.counters.dropped = st.counters.dropped.wrapping_add(1);
                    st.counters.too_long = st.counters.too_long.wrapping_add(1);
                    // SAFETY: the NBL holds this NET_BUFFER in flight (counted above).
                    unsafe { st.nb_finished(head, NDIS_STATUS_INVALID_LENGTH, done) };
                    continue;
                };
                let seq = st.next_seq;
                st.next_seq = seq.wrapping_add(1);
                if let Some(h) = st.ctx_of_seq.get_mut(seq as usize % TX_CONTEXTS) {
                    *h = i as u8;
                }
                if let Some(c) = st.ctx.get_mut(i) {
                    *c = TxCtx {
                        state: TxState::Mapping,
                        abort: false,
                        nbl: head,
                        nb,
                        sgl: core::ptr::null_mut(),
                        seq,
                    };
                }
                st.reserved = st.reserved.saturating_add(FRAG_RESERVE);
                (i, head, nb)
            };
            let tag = self
                .tags
                .get(i)
                .map_or(core::ptr::null_mut(), |t| t as *const TxTag as *mut c_void);
            // SAFETY: entry `i` of the storage array, owned by context `i` until its list is
            // freed; the pointer is formed without a reference (NDIS may write it later).
            let storage = unsafe { self.sg.get().cast::<SgStore>().add(i) }.cast::<c_void>();
            // SAFETY: our DMA handle; a NET_BUFFER of an NBL we hold; a context tag that lives
            // as long as the adapter; our buffer of SG_BUFFER_BYTES.
            let status = unsafe {
                NdisMAllocateNetBufferSGList(
                    tx.dma_handle(),
                    nb,
                    tag,
                    NDIS_SG_LIST_WRITE_TO_DEVICE,
                    storage,
                    SG_BUFFER_BYTES as u32,
                )
            };
            if status != NDIS_STATUS_SUCCESS {
                // No MiniportProcessSGList comes for it: the context is ours again, and the
                // frames mapped after it need not wait for it.
                let mut st = self.inner.lock();
                if let Some(c) = st.ctx.get_mut(i) {
                    *c = FREE_CTX;
                }
                st.reserved = st.reserved.saturating_sub(FRAG_RESERVE);
                st.counters.dropped = st.counters.dropped.wrapping_add(1);
                // SAFETY: the NBL holds this NET_BUFFER in flight.
                unsafe { st.nb_finished(nbl, NDIS_STATUS_RESOURCES, done) };
                st.post_in_order(tx, done, frees);
                paused |= st.pause_finished();
                // Mapping resources are short: try again on the next TX completion, if one
                // will come (a frame on the ring); with none, nothing would pump the queue
                // again until the next send, so go on with the next NET_BUFFER now.
                if st.ctx.iter().any(|c| c.state == TxState::Posted) {
                    return paused;
                }
            }
        }
    }

    /// MiniportProcessSGList for context `index` (DISPATCH_LEVEL): the list is the context's;
    /// the frames whose turn it is (submission order) are posted and the doorbell rung; a list
    /// the ring cannot take (an element too long, or too many that cannot be copied) fails its
    /// NET_BUFFER. Returns `true` when this completed a pending pause.
    ///
    /// # Safety
    /// `sgl` is the list NDIS passed MiniportProcessSGList for the mapping of context `index`.
    pub unsafe fn process_sg(
        &self,
        handle: NDIS_HANDLE,
        index: usize,
        sgl: *mut SCATTER_GATHER_LIST,
        tx: &dyn Transmitter,
    ) -> bool {
        let mut done = Completions::new();
        let mut frees = Frees::new();
        let paused = {
            let mut st = self.inner.lock();
            let st = &mut *st;
            let Some(ctx) = st
                .ctx
                .get_mut(index)
                .filter(|c| c.state == TxState::Mapping)
            else {
                st.counters.strays = st.counters.strays.wrapping_add(1);
                return false;
            };
            ctx.sgl = sgl;
            ctx.state = TxState::Mapped;
            let c = *ctx;
            if c.abort {
                // The device went away meanwhile: nothing waits for it.
                st.reserved = st.reserved.saturating_sub(FRAG_RESERVE);
                // SAFETY: context `index`, just given its list.
                unsafe { st.fail_ctx(index, c, NDIS_STATUS_NOT_ACCEPTED, &mut done, &mut frees) };
            }
            st.post_in_order(tx, &mut done, &mut frees);
            st.pause_finished()
        };
        frees.free(tx.dma_handle());
        done.complete(handle, at_dispatch_now());
        paused
    }

    /// The TX completions of one DPC: each frame's SG list freed, then its NBL completed once
    /// all of its NET_BUFFERs are, with NDIS_STATUS_SUCCESS or NDIS_STATUS_FAILURE; then more
    /// of the queue is mapped. Returns `true` when this completed a pending pause.
    pub fn tx_done(&self, handle: NDIS_HANDLE, done_tx: &[TxDone], tx: &dyn Transmitter) -> bool {
        if done_tx.is_empty() {
            return false;
        }
        let mut done = Completions::new();
        let mut frees = Frees::new();
        let paused = {
            let mut st = self.inner.lock();
            let st = &mut *st;
            for d in done_tx {
                let index = st.ctx_of_slot.get(usize::from(d.slot)).copied();
                let Some(ctx) = index
                    .and_then(|i| st.ctx.get_mut(usize::from(i)))
                    .filter(|c| c.state == TxState::Posted)
                else {
                    st.counters.strays = st.counters.strays.wrapping_add(1);
                    continue;
                };
                let (nbl, nb, sgl) = (ctx.nbl, ctx.nb, ctx.sgl);
                *ctx = FREE_CTX;
                frees.push(sgl, nb);
                let status = if d.sent {
                    st.counters.sent = st.counters.sent.wrapping_add(1);
                    NDIS_STATUS_SUCCESS
                } else {
                    st.counters.hw_failed = st.counters.hw_failed.wrapping_add(1);
                    NDIS_STATUS_FAILURE
                };
                // SAFETY: the NBL holds this NET_BUFFER in flight.
                unsafe { st.nb_finished(nbl, status, &mut done) };
            }
            st.pause_finished()
        };
        frees.free(tx.dma_handle());
        done.complete(handle, at_dispatch_now());
        let pumped = self.pump(handle, tx);
        paused || pumped
    }

    /// MiniportCancelSend: completes every queued NBL with this cancel id, none of whose
    /// NET_BUFFERs has gone to the hardware, with NDIS_STATUS_SEND_ABORTED. `<= DISPATCH_LEVEL`.
    pub fn cancel(&self, handle: NDIS_HANDLE, cancel_id: *mut c_void) {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            let mut keep = Fifo::new();
            while let Some(nbl) = st.queue.pop() {
                // SAFETY: a queued NBL we hold; NetBufferListInfo is inside every NBL revision.
                let (id, untouched) = unsafe {
                    (
                        (*nbl).NetBufferListInfo.get(NBL_INFO_CANCEL_ID).copied(),
                        in_flight(nbl) == 0 && cursor(nbl) == (*nbl).FirstNetBuffer,
                    )
                };
                if id == Some(cancel_id) && untouched {
                    // SAFETY: unlinked from the queue above.
                    let packets = unsafe { net_buffers(nbl) };
                    st.counters.dropped = st.counters.dropped.wrapping_add(packets);
                    st.held = st.held.saturating_sub(1);
                    // SAFETY: as above.
                    unsafe { done.add(nbl, NDIS_STATUS_SEND_ABORTED) };
                } else {
                    // SAFETY: as above.
                    unsafe { keep.push(nbl) };
                }
            }
            st.queue = keep;
        }
        done.complete(handle, at_dispatch_now());
    }

    /// MiniportResetEx ("Miniport Driver Hardware Reset": a deserialized miniport returns
    /// NDIS_STATUS_REQUEST_ABORTED for any queued send request): every queued NBL none of whose
    /// NET_BUFFERs has gone to the hardware completes with it. `<= DISPATCH_LEVEL`.
    pub fn abort_queued(&self, handle: NDIS_HANDLE) {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            let mut keep = Fifo::new();
            while let Some(nbl) = st.queue.pop() {
                // SAFETY: a queued NBL we hold.
                let untouched =
                    unsafe { in_flight(nbl) == 0 && cursor(nbl) == (*nbl).FirstNetBuffer };
                if untouched {
                    // SAFETY: unlinked from the queue above.
                    let packets = unsafe { net_buffers(nbl) };
                    st.counters.dropped = st.counters.dropped.wrapping_add(packets);
                    st.held = st.held.saturating_sub(1);
                    // SAFETY: as above.
                    unsafe { done.add(nbl, NDIS_STATUS_REQUEST_ABORTED) };
                } else {
                    // SAFETY: as above.
                    unsafe { keep.push(nbl) };
                }
            }
            st.queue = keep;
        }
        done.complete(handle, at_dispatch_now());
    }

    /// Closes the gate; what waits in the queue is completed with the closed status (an NBL
    /// partly handed over completes with it once its NET_BUFFERs in flight are done).
    fn close(&self, st: &mut Inner, removed: bool, done: &mut Completions) {
        st.open = false;
        st.removed |= removed;
        let status = st.closed_status();
        while let Some(nbl) = st.queue.pop() {
            // SAFETY: unlinked from the queue; ours until completed.
            unsafe {
                let mut unsent = 0u64;
                let mut nb = cursor(nbl);
                while !nb.is_null() && unsent < 1 << 20 {
                    unsent += 1;
                    nb = (*nb).Next;
                }
                st.counters.dropped = st.counters.dropped.wrapping_add(unsent);
                (*nbl).Status = status;
                let flying = in_flight(nbl);
                set_progress(nbl, core::ptr::null_mut(), flying);
                if flying == 0 {
                    done.add(nbl, status);
                    st.held = st.held.saturating_sub(1);
                }
            }
        }
    }

    /// MiniportPause: from now on sends fail with NDIS_STATUS_PAUSED and queued ones complete
    /// with it; the pause is done now if nothing is in flight, else when the last frame the
    /// hardware holds completes ([`tx_done`](Self::tx_done) returns `true`).
    pub fn pause(&self, handle: NDIS_HANDLE) -> PauseOutcome {
        let mut done = Completions::new();
        let outcome = {
            let mut st = self.inner.lock();
            self.close(&mut st, false, &mut done);
            if st.held == 0 {
                st.pause_pending = false;
                PauseOutcome::Done
            } else {
                st.pause_pending = true;
                PauseOutcome::Pending
            }
        };
        done.complete(handle, at_dispatch_now());
        outcome
    }

    /// MiniportRestart succeeded: sends flow again (unless the device was removed).
    pub fn restart(&self) {
        let mut st = self.inner.lock();
        st.open = !st.removed;
        st.pause_pending = false;
    }

    /// Surprise removal: sends fail with NDIS_STATUS_NOT_ACCEPTED from now on; queued ones and
    /// those on the ring (whose completion will never come) complete with it, their lists
    /// freed; those being mapped complete when their list arrives. Returns `true` when this
    /// completed a pending pause.
    pub fn surprise_removed(&self, handle: NDIS_HANDLE, tx: &dyn Transmitter) -> bool {
        let mut done = Completions::new();
        let mut frees = Frees::new();
        let paused = {
            let mut guard = self.inner.lock();
            let st = &mut *guard;
            self.close(st, true, &mut done);
            for i in 0..TX_CONTEXTS {
                let Some(c) = st.ctx.get(i).copied() else {
                    continue;
                };
                match c.state {
                    TxState::Posted => {
                        frees.push(c.sgl, c.nb);
                        if let Some(e) = st.ctx.get_mut(i) {
                            *e = FREE_CTX;
                        }
                        st.counters.hw_failed = st.counters.hw_failed.wrapping_add(1);
                        // SAFETY: the NBL holds this NET_BUFFER in flight.
                        unsafe { st.nb_finished(c.nbl, NDIS_STATUS_NOT_ACCEPTED, &mut done) };
                    }
                    TxState::Mapped => {
                        // Its list came and it waits for an earlier one: fail it now.
                        st.reserved = st.reserved.saturating_sub(FRAG_RESERVE);
                        // SAFETY: a Mapped context; its NBL holds this NET_BUFFER in flight.
                        unsafe {
                            st.fail_ctx(i, c, NDIS_STATUS_NOT_ACCEPTED, &mut done, &mut frees)
                        };
                    }
                    TxState::Mapping => {
                        if let Some(e) = st.ctx.get_mut(i) {
                            e.abort = true;
                        }
                    }
                    TxState::Free => {}
                }
            }
            st.pause_finished()
        };
        frees.free(tx.dma_handle());
        done.complete(handle, at_dispatch_now());
        paused
    }

    /// Test hook, standing in for a ring that never has room: `true` takes sends but maps
    /// none; `false` lets the queue go to the hardware again.
    pub fn hold(&self, handle: NDIS_HANDLE, on: bool, tx: &dyn Transmitter) {
        self.inner.lock().hold = on;
        if !on {
            // A test hook on a running adapter: no pause to finish here.
            let _ = self.pump(handle, tx);
        }
    }

    /// NBLs held by the miniport and not yet completed (queued or in flight).
    pub fn outstanding(&self) -> u32 {
        self.inner.lock().held
    }

    /// NBLs waiting in the queue (none of them, or not all of their NET_BUFFERs, mapped yet).
    pub fn queued(&self) -> u32 {
        self.inner.lock().queue.len
    }

    /// Frames being mapped or on the ring.
    pub fn in_flight(&self) -> usize {
        let st = self.inner.lock();
        st.ctx.iter().filter(|c| c.state != TxState::Free).count()
    }

    pub fn counters(&self) -> TxCounters {
        self.inner.lock().counters
    }

    /// The adapter and context a MiniportProcessSGList Context names.
    ///
    /// # Safety
    /// `context` is what NDIS passed MiniportProcessSGList: a tag of some bound SendQueue.
    pub unsafe fn tag_target(context: *mut c_void) -> Option<(*const c_void, usize)> {
        // SAFETY: caller contract: a TxTag inside a live adapter.
        let t = unsafe { context.cast::<TxTag>().as_ref() }?;
        let owner = t.owner.load(Ordering::Acquire);
        (!owner.is_null()).then(|| {
            (
                owner.cast_const(),
                usize::from(t.index.load(Ordering::Acquire)),
            )
        })
    }
}

/// The VLAN id IEEE 802.1Q reserves (never carried in a tag).
const VLAN_ID_RESERVED: u16 = 0x0FFF;

/// What [`post_frame`] posted.
struct Posted {
    slot: u16,
    bounced: bool,
}

/// Posts context `i`'s frame: one descriptor per SG element, or, for more elements than a
/// frame may have descriptors, one for its copy in the context's bounce buffer; with `VLE`
/// when the NBL's 802.1Q info asks for a tag. `Err` is the status its NET_BUFFER fails with.
///
/// # Safety
/// `c.sgl` is the list NDIS gave for `c.nb`, a NET_BUFFER of `c.nbl`, both held by the queue.
unsafe fn post_frame(i: usize, c: &TxCtx, tx: &dyn Transmitter) -> Result<Posted, NDIS_STATUS> {
    // SAFETY: caller contract: an NBL the miniport holds; the slot is a value, not a pointer.
    let info = unsafe { (*c.nbl).NetBufferListInfo.get(NBL_INFO_IEEE8021Q).copied() };
    let q = Ieee8021QInfo::from_value(info.map_or(0, |p| p as usize));
    if q.wants_tag() && q.vlan_id == VLAN_ID_RESERVED {
        // IEEE 802.1Q reserves VID 0xFFF: never sent in a tag (the mac-vlan block and the
        // receive filters refuse it too). The NDIS_NET_BUFFER_LIST_8021Q_INFO page is silent.
        crate::ndis_log!(
            WARN,
            "send",
            "802.1Q info asks for reserved VLAN id {}: NDIS_STATUS_INVALID_DATA",
            VLAN_ID_RESERVED
        );
        return Err(NDIS_STATUS_INVALID_DATA);
    }
    // A CanonicalFormatId set against the page ("should be set to zero") is not sent as the
    // tag's DEI bit: the frame is not marked drop-eligible for it.
    let vlan = q.wants_tag().then(|| {
        Ieee8021QInfo {
            canonical_format_id: false,
            ..q
        }
        .tci()
    });
    let mut frags = [Frag { addr: 0, len: 0 }; TX_MAX_FRAGS];
    // SAFETY: caller contract: NDIS's list, valid until we free it.
    let (frags, bounced) = match unsafe { sg_frags(c.sgl, &mut frags) } {
        Ok(n) => (frags.get(..n).unwrap_or(&[]), false),
        Err(SgShape::TooMany) => {
            let buf = tx.tx_bounce(i).ok_or(NDIS_STATUS_RESOURCES)?;
            // SAFETY: caller contract; the bounce buffer is context `i`'s, idle until posted.
            let Some(len) = (unsafe { copy_net_buffer(c.nb, buf) }) else {
                crate::ndis_log!(
                    WARN,
                    "send",
                    "NET_BUFFER of more than {} SG elements not copyable (an MDL without a system address, or longer than the bounce buffer): NDIS_STATUS_RESOURCES",
                    TX_MAX_FRAGS
                );
                return Err(NDIS_STATUS_RESOURCES);
            };
            if let Some(f) = frags.first_mut() {
                *f = Frag { addr: buf.bus, len };
            }
            (frags.get(..1).unwrap_or(&[]), true)
        }
        Err(SgShape::Bad) => {
            crate::ndis_log!(
                WARN,
                "send",
                "SG list with no element, or an element empty or over {} bytes: NDIS_STATUS_FAILURE",
                TXD_MAX_LEN
            );
            return Err(NDIS_STATUS_FAILURE);
        }
    };
    match tx.tx_post(frags, vlan) {
        Ok(slot) => Ok(Posted { slot, bounced }),
        Err(HwError::Gone) => Err(NDIS_STATUS_NOT_ACCEPTED),
        Err(_) => Err(NDIS_STATUS_FAILURE),
    }
}

/// Why a list does not map one to one onto descriptors.
enum SgShape {
    /// More elements than [`TX_MAX_FRAGS`]: copy the frame.
    TooMany,
    /// No element, or one empty or longer than a descriptor takes.
    Bad,
}

/// The list's elements as fragments.
///
/// # Safety
/// `sgl` is null or a valid SCATTER_GATHER_LIST.
unsafe fn sg_frags(
    sgl: *mut SCATTER_GATHER_LIST,
    out: &mut [Frag; TX_MAX_FRAGS],
) -> Result<usize, SgShape> {
    // SAFETY: caller contract.
    let list = unsafe { sgl.as_ref() }.ok_or(SgShape::Bad)?;
    let n = list.NumberOfElements as usize;
    if n == 0 {
        return Err(SgShape::Bad);
    }
    if n > TX_MAX_FRAGS {
        return Err(SgShape::TooMany);
    }
    let first = core::ptr::addr_of!(list.Elements).cast::<SCATTER_GATHER_ELEMENT>();
    for (k, f) in out.iter_mut().enumerate().take(n) {
        // SAFETY: NumberOfElements elements follow the header.
        let e = unsafe { first.add(k).read_unaligned() };
        let len = u16::try_from(e.Length)
            .ok()
            .filter(|l| *l > 0 && *l <= TXD_MAX_LEN)
            .ok_or(SgShape::Bad)?;
        *f = Frag {
            addr: e.Address as u64,
            len,
        };
    }
    Ok(n)
}

/// Copies the bytes `nb` describes (from `CurrentMdl` at `CurrentMdlOffset`, `DataLength`
/// bytes) into `buf`; their length, or `None` if they do not fit, the MDL chain is shorter, or
/// an MDL has no system address to read at DISPATCH_LEVEL (neither `MDL_MAPPED_TO_SYSTEM_VA`
/// nor `MDL_SOURCE_IS_NONPAGED_POOL`: what `MmGetSystemAddressForMdlSafe` would have to map).
///
/// # Safety
/// `nb` is a NET_BUFFER the miniport holds; `buf` is writable for `buf.len` bytes.
unsafe fn copy_net_buffer(nb: *mut NET_BUFFER, buf: RxBuffer) -> Option<u16> {
    // SAFETY: caller contract.
    let nb = unsafe { nb.as_ref() }?;
    let total = nb.data_length();
    if total == 0 || total > buf.len || total > u32::from(TXD_MAX_LEN) {
        return None;
    }
    let mut left = total as usize;
    let mut mdl = nb.CurrentMdl;
    let mut skip = nb.CurrentMdlOffset as usize;
    let mut at = 0usize;
    // Bounded: every MDL but a skipped one gives at least one byte, and at most `total` do.
    for _ in 0..=(total as usize).saturating_add(1) {
        if left == 0 {
            break;
        }
        // SAFETY: the NET_BUFFER's MDL chain, valid while the miniport holds it.
        let m = unsafe { mdl.as_ref() }?;
        if m.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) == 0
            || m.MappedSystemVa.is_null()
        {
            return None;
        }
        let count = (m.ByteCount as usize).checked_sub(skip)?;
        let take = count.min(left);
        // SAFETY: `take` bytes of the MDL's mapped buffer from `skip` (within ByteCount), into
        // the bounce buffer at `at` (`at + take <= total <= buf.len`).
        unsafe {
            core::ptr::copy_nonoverlapping(
                m.MappedSystemVa.cast::<u8>().add(skip),
                buf.va.add(at),
                take,
            )
        };
        at += take;
        left -= take;
        skip = 0;
        mdl = m.Next;
    }
    if left != 0 {
        return None;
    }
    u16::try_from(total).ok()
}

impl Default for SendQueue {
    fn default() -> Self {
        Self::new()
    }
}
