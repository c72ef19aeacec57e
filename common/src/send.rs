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
use crate::ffi::imports::{
    KeGetCurrentIrql, NdisMAllocateNetBufferSGList, NdisMFreeNetBufferSGList,
    NdisMSendNetBufferListsComplete,
};
use crate::ffi::*;
use crate::hw::regs::{TX_MAX_FRAGS, TXD_MAX_LEN};
use crate::hw::{Frag, HwError, TxDone};
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
    /// Posts one frame (its fragments' bus addresses and lengths); returns its ring slot.
    fn tx_post(&self, frags: &[Frag]) -> Result<u16, HwError>;
    /// Rings the doorbell for what was posted.
    fn tx_flush(&self);
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
}

const FREE_CTX: TxCtx = TxCtx {
    state: TxState::Free,
    abort: false,
    nbl: core::ptr::null_mut(),
    nb: core::ptr::null_mut(),
    sgl: core::ptr::null_mut(),
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
                counters: TxCounters {
                    sent: 0,
                    hw_failed: 0,
                    dropped: 0,
                    strays: 0,
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
    ///
    /// # Safety
    /// `chain` is the NBL chain NDIS passed with this adapter's `handle`.
    pub unsafe fn submit(
        &self,
        handle: NDIS_HANDLE,
        chain: *mut NET_BUFFER_LIST,
        flags: u32,
        tx: &dyn Transmitter,
    ) {
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
        self.pump(handle, tx);
    }

    /// Maps the next NET_BUFFERs of the queue while contexts and ring room last. The lock is
    /// not held across NdisMAllocateNetBufferSGList: MiniportProcessSGList may run inside it.
    fn pump(&self, handle: NDIS_HANDLE, tx: &dyn Transmitter) {
        loop {
            let (i, nbl, nb) = {
                let mut st = self.inner.lock();
                let st = &mut *st;
                if !st.open || st.hold || st.queue.head.is_null() {
                    return;
                }
                if tx.tx_free() < st.reserved.saturating_add(FRAG_RESERVE) {
                    return;
                }
                let Some(i) = st.ctx.iter().position(|c| c.state == TxState::Free) else {
                    return;
                };
                let head = st.queue.head;
                // SAFETY: a queued NBL we hold.
                let nb = unsafe { cursor(head) };
                // SAFETY: its cursor is null or a NET_BUFFER of it whose `Next` NDIS set.
                let Some(next) = (unsafe { nb.as_ref() }).map(|b| b.Next) else {
                    // Not possible for a queued NBL; drop it from the queue rather than spin.
                    let _ = st.queue.pop();
                    continue;
                };
                // SAFETY: as above.
                unsafe { set_progress(head, next, in_flight(head).saturating_add(1)) };
                if next.is_null() {
                    // Every NET_BUFFER is on its way: the NBL leaves the queue.
                    let _ = st.queue.pop();
                }
                if let Some(c) = st.ctx.get_mut(i) {
                    *c = TxCtx {
                        state: TxState::Mapping,
                        abort: false,
                        nbl: head,
                        nb,
                        sgl: core::ptr::null_mut(),
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
                // No MiniportProcessSGList comes for it: the context is ours again.
                let mut done = Completions::new();
                {
                    let mut st = self.inner.lock();
                    if let Some(c) = st.ctx.get_mut(i) {
                        *c = FREE_CTX;
                    }
                    st.reserved = st.reserved.saturating_sub(FRAG_RESERVE);
                    st.counters.dropped = st.counters.dropped.wrapping_add(1);
                    // SAFETY: the NBL holds this NET_BUFFER in flight.
                    unsafe { st.nb_finished(nbl, NDIS_STATUS_RESOURCES, &mut done) };
                }
                done.complete(handle, at_dispatch_now());
                // Mapping resources are short: try again on the next completion.
                return;
            }
        }
    }

    /// MiniportProcessSGList for context `index` (DISPATCH_LEVEL): the frame's descriptors
    /// are posted and the doorbell rung; a list the ring cannot take (more than
    /// [`TX_MAX_FRAGS`] elements, an element too long) fails the NET_BUFFER. Returns `true`
    /// when this completed a pending pause.
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
                .get(index)
                .copied()
                .filter(|c| c.state == TxState::Mapping)
            else {
                st.counters.strays = st.counters.strays.wrapping_add(1);
                return false;
            };
            st.reserved = st.reserved.saturating_sub(FRAG_RESERVE);
            let mut frags = [Frag { addr: 0, len: 0 }; TX_MAX_FRAGS];
            // SAFETY: caller contract: NDIS's list, valid until we free it.
            let n = unsafe { sg_frags(sgl, &mut frags) };
            let posted = match n {
                Some(n) if !ctx.abort => tx.tx_post(frags.get(..n).unwrap_or(&[])).ok(),
                _ => None,
            };
            match posted.and_then(|slot| st.ctx_of_slot.get_mut(usize::from(slot))) {
                Some(owner) => {
                    *owner = index as u8;
                    if let Some(c) = st.ctx.get_mut(index) {
                        c.state = TxState::Posted;
                        c.sgl = sgl;
                    }
                    tx.tx_flush();
                }
                None => {
                    frees.push(sgl, ctx.nb);
                    if let Some(c) = st.ctx.get_mut(index) {
                        *c = FREE_CTX;
                    }
                    st.counters.dropped = st.counters.dropped.wrapping_add(1);
                    let status = if ctx.abort {
                        NDIS_STATUS_NOT_ACCEPTED
                    } else {
                        NDIS_STATUS_FAILURE
                    };
                    // SAFETY: the NBL holds this NET_BUFFER in flight.
                    unsafe { st.nb_finished(ctx.nbl, status, &mut done) };
                }
            }
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
        self.pump(handle, tx);
        paused
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
            self.pump(handle, tx);
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

/// The list's elements as fragments; `None` if the ring cannot take it (no element, more than
/// [`TX_MAX_FRAGS`], an element empty or longer than a descriptor).
///
/// # Safety
/// `sgl` is null or a valid SCATTER_GATHER_LIST.
unsafe fn sg_frags(sgl: *mut SCATTER_GATHER_LIST, out: &mut [Frag; TX_MAX_FRAGS]) -> Option<usize> {
    // SAFETY: caller contract.
    let list = unsafe { sgl.as_ref() }?;
    let n = list.NumberOfElements as usize;
    if n == 0 || n > TX_MAX_FRAGS {
        return None;
    }
    let first = core::ptr::addr_of!(list.Elements).cast::<SCATTER_GATHER_ELEMENT>();
    for (k, f) in out.iter_mut().enumerate().take(n) {
        // SAFETY: NumberOfElements elements follow the header.
        let e = unsafe { first.add(k).read_unaligned() };
        let len = u16::try_from(e.Length)
            .ok()
            .filter(|l| *l > 0 && *l <= TXD_MAX_LEN)?;
        *f = Frag {
            addr: e.Address as u64,
            len,
        };
    }
    Some(n)
}

impl Default for SendQueue {
    fn default() -> Self {
        Self::new()
    }
}
