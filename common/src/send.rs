//! The NDIS half of send, shared by both drivers (issue 11): MiniportSendNetBufferLists,
//! MiniportCancelSend, and what pause, restart and surprise removal do to sends.
//!
//! The rules, each from its page:
//! - Every NET_BUFFER_LIST NDIS hands the miniport is completed exactly once, through
//!   NdisMSendNetBufferListsComplete, with `NET_BUFFER_LIST.Status` set ("Sending Network
//!   Data", MINIPORT_SEND_NET_BUFFER_LISTS).
//! - While the adapter is pausing or paused, sends fail with NDIS_STATUS_PAUSED
//!   (MINIPORT_SEND_NET_BUFFER_LISTS: "If the miniport adapter is in the Pausing or Paused
//!   state, ... NDIS_STATUS_PAUSED"); MiniportPause completes only when no send is outstanding
//!   ("Pausing a Miniport Adapter").
//! - After surprise removal, sends fail with NDIS_STATUS_NOT_ACCEPTED (issue 11 names it; the
//!   MINIPORT_DEVICE_PNP_EVENT_NOTIFY page says the driver must not touch the hardware).
//! - MiniportCancelSend completes every queued NBL whose cancel id
//!   (`NDIS_GET_NET_BUFFER_LIST_CANCEL_ID`: `NetBufferListInfo[NetBufferListCancelId]`)
//!   matches with NDIS_STATUS_SEND_ABORTED (MINIPORT_CANCEL_SEND).
//! - `NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL` says the current IRQL is DISPATCH_LEVEL
//!   (NdisMSendNetBufferListsComplete); the caller's `NDIS_SEND_FLAGS_DISPATCH_LEVEL` says the
//!   same of the send call.
//!
//! NBLs wait in a FIFO linked through their own `Next` (no allocation) while the transmitter
//! cannot take them (a full TX ring). The transmitter is the hardware layer's TX ring; until
//! it is wired in, [`SendQueue`] has none and fails each send with NDIS_STATUS_FAILURE
//! ("transmitted or failed", never silently dropped as sent), and `hold` stands in for a full
//! ring so that queueing, cancel and pause can be exercised.
use crate::ffi::imports::{KeGetCurrentIrql, NdisMSendNetBufferListsComplete};
use crate::ffi::*;
use crate::sync::SpinLock;
use core::ffi::c_void;

/// `NetBufferListCancelId` of `NDIS_NET_BUFFER_LIST_INFO` (WDK `ndis/nbl.h`: the sixth
/// enumerator, after TcpIpChecksum, IPsecOffloadV1, TcpLargeSend, ClassificationHandle,
/// Ieee8021Q).
pub const NBL_INFO_CANCEL_ID: usize = 5;

/// The status a send gets when nothing can transmit it (no TX ring wired in yet).
pub const NO_TRANSMITTER: NDIS_STATUS = NDIS_STATUS_FAILURE;

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

#[derive(Debug)]
struct Inner {
    /// Sends go to the transmitter (Running); otherwise they fail with `closed_status`.
    open: bool,
    removed: bool,
    /// Stand-in for a full TX ring: queue instead of transmitting.
    hold: bool,
    queue: Fifo,
}

// SAFETY: the raw pointers are NBLs NDIS handed over, owned by this queue until completed;
// they are only touched under the lock.
unsafe impl Send for Inner {}

/// The adapter's send side. All-zero is a valid value (closed as paused, empty), so it can sit
/// in a zeroed adapter context.
pub struct SendQueue {
    inner: SpinLock<Inner>,
}

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

fn at_dispatch_now() -> bool {
    // SAFETY: plain IRQL read.
    let irql = unsafe { KeGetCurrentIrql() };
    irql >= DISPATCH_LEVEL
}

impl SendQueue {
    // Not const: under `cfg(loom)` the lock is loom's, whose constructor is not.
    pub fn new() -> Self {
        Self {
            inner: SpinLock::new(Inner {
                open: false,
                removed: false,
                hold: false,
                queue: Fifo::new(),
            }),
        }
    }

    fn closed_status(st: &Inner) -> NDIS_STATUS {
        if st.removed {
            NDIS_STATUS_NOT_ACCEPTED
        } else {
            NDIS_STATUS_PAUSED
        }
    }

    /// MiniportSendNetBufferLists: takes the chain; every NBL is queued, transmitted or
    /// completed before this returns or later, exactly once. `flags` are the send flags.
    ///
    /// # Safety
    /// `chain` is the NBL chain NDIS passed with this adapter's `handle`.
    pub unsafe fn submit(&self, handle: NDIS_HANDLE, chain: *mut NET_BUFFER_LIST, flags: u32) {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            let mut nbl = chain;
            // SAFETY: NDIS's chain; each NBL is read before it is relinked.
            while let Some(n) = unsafe { nbl.as_mut() } {
                let next = n.Next;
                if !st.open || st.removed {
                    let status = Self::closed_status(&st);
                    // SAFETY: an NBL of the chain, now unlinked into ours.
                    unsafe { done.add(nbl, status) };
                } else if st.hold || st.queue.len > 0 {
                    // SAFETY: as above; FIFO order behind what already waits.
                    unsafe { st.queue.push(nbl) };
                } else {
                    // SAFETY: as above.
                    unsafe { done.add(nbl, NO_TRANSMITTER) };
                }
                nbl = next;
            }
        }
        done.complete(handle, flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0);
    }

    /// MiniportCancelSend: completes every queued NBL whose cancel id is `cancel_id` with
    /// NDIS_STATUS_SEND_ABORTED. `<= DISPATCH_LEVEL`.
    pub fn cancel(&self, handle: NDIS_HANDLE, cancel_id: *mut c_void) {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            let mut keep = Fifo::new();
            while let Some(nbl) = st.queue.pop() {
                // SAFETY: a queued NBL we own; NetBufferListInfo is inside every NBL revision.
                let id = unsafe { (*nbl).NetBufferListInfo.get(NBL_INFO_CANCEL_ID).copied() };
                if id == Some(cancel_id) {
                    // SAFETY: unlinked from the queue above.
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

    /// Closes the gate and completes everything queued with `status`.
    fn close(&self, handle: NDIS_HANDLE, removed: bool) {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            st.open = false;
            st.removed |= removed;
            let status = Self::closed_status(&st);
            while let Some(nbl) = st.queue.pop() {
                // SAFETY: unlinked from the queue.
                unsafe { done.add(nbl, status) };
            }
        }
        done.complete(handle, at_dispatch_now());
    }

    /// MiniportPause: from now on sends fail with NDIS_STATUS_PAUSED, and nothing stays
    /// outstanding when this returns.
    pub fn pause(&self, handle: NDIS_HANDLE) {
        self.close(handle, false);
    }

    /// MiniportRestart succeeded: sends flow again (unless the device was removed).
    pub fn restart(&self) {
        let mut st = self.inner.lock();
        st.open = !st.removed;
    }

    /// Surprise removal: sends fail with NDIS_STATUS_NOT_ACCEPTED from now on.
    pub fn surprise_removed(&self, handle: NDIS_HANDLE) {
        self.close(handle, true);
    }

    /// Stand-in for a full TX ring (until the ring is wired in): `true` queues sends;
    /// `false` lets them through again, failing what waited with [`NO_TRANSMITTER`].
    pub fn hold(&self, handle: NDIS_HANDLE, on: bool) {
        let mut done = Completions::new();
        {
            let mut st = self.inner.lock();
            st.hold = on;
            if !on {
                while let Some(nbl) = st.queue.pop() {
                    // SAFETY: unlinked from the queue.
                    unsafe { done.add(nbl, NO_TRANSMITTER) };
                }
            }
        }
        done.complete(handle, at_dispatch_now());
    }

    /// NBLs held by the miniport and not yet completed.
    pub fn outstanding(&self) -> u32 {
        self.inner.lock().queue.len
    }
}

impl Default for SendQueue {
    fn default() -> Self {
        Self::new()
    }
}
