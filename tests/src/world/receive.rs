//! The receive side of NDIS as a miniport sees it: NdisMIndicateReceiveNetBufferLists, the
//! overlying drivers holding indicated NBLs and handing them back through
//! MiniportReturnNetBufferLists, and the pause that waits for them. The Verifier-style checks,
//! each from its page:
//! - "NdisMIndicateReceiveNetBufferLists function": `<= DISPATCH_LEVEL`;
//!   NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL means the IRQL is DISPATCH_LEVEL (that it must be set
//!   whenever it is, the page leaves open: the harsher reading, as for sends); the NBLs are ones
//!   "that the miniport driver allocated" (here: from its own pool); NumberOfNetBufferLists is
//!   the length of the chain; PortNumber 0 unless the driver allocated ports (ours allocate none).
//! - "NET_BUFFER_LIST Structure": a miniport's `SourceHandle` is the adapter handle NDIS gave
//!   MiniportInitializeEx.
//! - "Indicating Received Data from a Miniport Driver": without NDIS_RECEIVE_FLAGS_RESOURCES the
//!   driver relinquishes the NBLs until MiniportReturnNetBufferLists: an NBL NDIS still holds
//!   is never indicated again, and nothing of it (header, NET_BUFFER, MDL, data) changes until
//!   it is returned (checked with a digest taken at the indication and again at the return).
//!   With it the NBLs are the driver's again when the call returns: the data is recorded before.
//! - "Pausing an Adapter" and MINIPORT_PAUSE: no indication while pausing or paused (nor before
//!   the first restart); the pause completes (synchronously, or by NdisMPauseComplete after
//!   NDIS_STATUS_PENDING) only once NDIS holds none of the adapter's NBLs. The pages also say
//!   the driver "waits for all calls to NdisMIndicateReceiveNetBufferLists to return", which
//!   admits an indication already under way on another CPU when MiniportPause begins; the
//!   simulator cannot tell when a driver's indication began, so it takes the harsher reading and
//!   reports any indication that reaches NDIS after MiniportPause was called (single-threaded
//!   runs never race there; the threaded runs do not receive yet).
//! - MINIPORT_RETURN_NET_BUFFER_LISTS: NDIS returns at `<= DISPATCH_LEVEL`, here at DISPATCH_LEVEL
//!   with NDIS_RETURN_FLAGS_DISPATCH_LEVEL, several NBLs (of several indications) chained, in
//!   whatever order the overlying drivers finish: the tests pick it.
use super::{Machine, SimAdapter, lock};
use crate::digest::Digest;
use crate::irql;
use common::ffi::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One NBL the overlying drivers hold, with the digest taken when it was indicated.
#[derive(Clone, Copy, Debug)]
struct Held {
    nbl: usize,
    digest: u64,
}

/// A frame as the overlying drivers saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub nbl: usize,
    pub data: Vec<u8>,
    /// Indicated with NDIS_RECEIVE_FLAGS_RESOURCES.
    pub resources: bool,
    /// Its `Ieee8021QNetBufferListInfo` ("NDIS_NET_BUFFER_LIST_8021Q_INFO structure"), when
    /// the slot is not zero.
    pub vlan: Option<common::nbl_info::Ieee8021QInfo>,
}

/// Where a pause stands (NDIS's view).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PauseState {
    #[default]
    None,
    /// MiniportPause is running.
    InCall,
    /// MiniportPause returned NDIS_STATUS_PENDING; NdisMPauseComplete not yet called.
    Pending,
    /// NdisMPauseComplete came before MiniportPause returned (another CPU took the last NBL).
    CompletedInCall,
}

/// Which held NBLs NDIS hands back, and in what order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnOrder {
    /// The oldest first, as indicated.
    Fifo,
    /// The newest first.
    Reverse,
    /// Chosen by the machine's seeded random generator.
    Shuffled,
}

/// An adapter's receive ledger.
#[derive(Default)]
pub struct RecvLedger {
    held: Mutex<Vec<Held>>,
    pub seen: Mutex<Vec<Seen>>,
    pub pause: Mutex<PauseState>,
    pub indications: AtomicU64,
    pub pause_completions: AtomicU64,
}

impl RecvLedger {
    pub fn holds(&self, nbl: usize) -> bool {
        lock(&self.held).iter().any(|h| h.nbl == nbl)
    }

    /// NBLs the overlying drivers hold.
    pub fn held(&self) -> usize {
        lock(&self.held).len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }

    pub fn pause_state(&self) -> PauseState {
        *lock(&self.pause)
    }
}

/// The bytes an NBL's NET_BUFFERs describe, and a digest of everything a driver could change.
///
/// # Safety
/// `nbl` is a live NBL of the simulator's pools.
/// `keep`: also return the bytes (the digest is the same either way).
unsafe fn inspect(nbl: *const NET_BUFFER_LIST, keep: bool) -> Result<(Vec<u8>, u64), String> {
    // SAFETY: caller contract.
    let n = unsafe { &*nbl };
    let mut h = Digest::new();
    for v in [
        n.FirstNetBuffer as usize,
        n.Context as usize,
        n.ParentNetBufferList as usize,
    ] {
        h.word(v as u64);
    }
    for v in n.MiniportReserved.0.iter().chain(&n.NetBufferListInfo) {
        h.word(*v as usize as u64);
    }
    h.word(n.SourceHandle as usize as u64);
    h.word(n.NblFlags as u64);
    h.word(n.Flags as u64);
    h.word(n.Status as u64);
    let mut data = Vec::new();
    let mut nb = n.FirstNetBuffer;
    if nb.is_null() {
        return Err("an NBL without a NET_BUFFER".into());
    }
    // SAFETY: the NET_BUFFERs of a live simulator NBL (its own, or ones the driver linked).
    while let Some(b) = unsafe { nb.as_ref() } {
        let len = b.data_length() as usize;
        h.word(b.CurrentMdl as usize as u64);
        h.word(b.MdlChain as usize as u64);
        h.word(b.CurrentMdlOffset as u64);
        h.word(b.DataOffset as u64);
        h.word(len as u64);
        for v in b.MiniportReserved.0 {
            h.word(v as usize as u64);
        }
        if len == 0 {
            return Err("a NET_BUFFER with DataLength 0".into());
        }
        let mut mdl = b.CurrentMdl;
        let mut off = b.CurrentMdlOffset as usize;
        let mut left = len;
        while left > 0 {
            // SAFETY: MDLs of the chain describe mapped memory the driver owns.
            let Some(m) = (unsafe { mdl.as_ref() }) else {
                return Err(format!(
                    "the MDL chain ends {left} bytes short of DataLength {len}"
                ));
            };
            h.word(m.MappedSystemVa as usize as u64);
            h.word(m.ByteCount as u64);
            // The rest of the MDL the driver built: a write to any of it is a write to what
            // NDIS holds (its Next even past DataLength: the chain is the NET_BUFFER's).
            h.word(m.Next as usize as u64);
            h.word(m.StartVa as usize as u64);
            h.word((u64::from(m.MdlFlags as u16) << 32) | u64::from(m.ByteOffset));
            let avail = (m.ByteCount as usize).saturating_sub(off);
            let take = avail.min(left);
            if take > 0 {
                // SAFETY: `take` bytes inside the MDL's mapped range.
                let bytes = unsafe {
                    std::slice::from_raw_parts(m.MappedSystemVa.cast::<u8>().add(off), take)
                };
                h.bytes(bytes);
                if keep {
                    data.extend_from_slice(bytes);
                }
            }
            left -= take;
            off = 0;
            mdl = m.Next;
        }
        nb = b.Next;
    }
    Ok((data, h.finish()))
}

impl Machine {
    /// NdisMIndicateReceiveNetBufferLists for adapter `a` (the export checked the IRQL).
    pub fn indicate_receive(
        &self,
        a: &SimAdapter,
        head: *mut NET_BUFFER_LIST,
        port: u32,
        count: u32,
        flags: u32,
    ) {
        let name = &a.name;
        let at_dispatch = irql::current() == DISPATCH_LEVEL;
        if (flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0) != at_dispatch {
            self.violation(format!(
                "{name}: NdisMIndicateReceiveNetBufferLists flags {flags:#x} at {}",
                irql::name(irql::current())
            ));
        }
        let paused = !a.running.load(Ordering::Acquire) || a.recv.pause_state() != PauseState::None;
        if paused || a.halted.load(Ordering::Acquire) {
            self.violation(format!("{name}: receive indication while the adapter is not running (pausing, paused, or before restart)"));
        }
        if port != NDIS_DEFAULT_PORT_NUMBER {
            self.violation(format!(
                "{name}: receive indication on port {port}, which it never allocated"
            ));
        }
        // The receive throttle's ledger (`interrupts.rs`): NBLs indicated, whatever the DPC.
        self.with_hw(a, |e, _| e.nbls_indicated += u64::from(count));
        let resources = flags & NDIS_RECEIVE_FLAGS_RESOURCES != 0;
        let mut nbl = head;
        let mut n = 0u32;
        let mut taken = Vec::new();
        while !nbl.is_null() {
            n += 1;
            if n > 100_000 {
                self.violation(format!("{name}: indicated NBL chain does not end"));
                break;
            }
            let key = nbl as usize;
            match self.nbl_owner(nbl) {
                Some(owner) if std::ptr::eq(owner, a) => {}
                _ => {
                    self.violation(format!(
                        "{name}: indicated NBL {key:#x} is not from the adapter's own pool"
                    ));
                    break;
                }
            }
            if a.recv.holds(key) || taken.iter().any(|h: &Held| h.nbl == key) {
                self.violation(format!(
                    "{name}: NBL {key:#x} indicated while NDIS still holds it"
                ));
                break;
            }
            // SAFETY: a live NBL of this adapter's pool.
            let (source, next) = unsafe { ((*nbl).SourceHandle, (*nbl).Next) };
            if source != a.handle() {
                self.violation(format!("{name}: NBL {key:#x} indicated with SourceHandle {source:p}, not the adapter handle"));
            }
            // SAFETY: as above; the 802.1Q slot holds a value ("NDIS_NET_BUFFER_LIST_8021Q_INFO
            // structure": the union's `Value`, not a pointer).
            let q =
                unsafe { (*nbl).NetBufferListInfo[common::nbl_info::NBL_INFO_IEEE8021Q] } as usize;
            if q >> 16 != 0 {
                // The TagHeader's Reserved bits are "set to 0 for ethernet" (WDK header).
                self.violation(format!(
                    "{name}: NBL {key:#x} indicated with 802.1Q info {q:#x}: Reserved bits set"
                ));
            }
            let vlan = (q != 0).then(|| common::nbl_info::Ieee8021QInfo::from_value(q));
            // SAFETY: as above.
            match unsafe { inspect(nbl, true) } {
                Ok((data, digest)) => {
                    lock(&a.recv.seen).push(Seen {
                        nbl: key,
                        data,
                        resources,
                        vlan,
                    });
                    taken.push(Held { nbl: key, digest });
                }
                Err(e) => self.violation(format!("{name}: indicated NBL {key:#x}: {e}")),
            }
            nbl = next;
        }
        if n != count {
            self.violation(format!(
                "{name}: NumberOfNetBufferLists {count} but the chain holds {n}"
            ));
        }
        if n == 0 {
            self.violation(format!("{name}: receive indication without an NBL"));
        }
        a.recv.indications.fetch_add(1, Ordering::Relaxed);
        if !resources {
            lock(&a.recv.held).extend(taken);
        }
    }

    /// The overlying drivers return up to `max` held NBLs of `a`, chained in `order`, through
    /// MiniportReturnNetBufferLists at DISPATCH_LEVEL. Returns how many.
    pub fn return_received(&self, a: &SimAdapter, max: usize, order: ReturnOrder) -> usize {
        let batch: Vec<Held> = {
            let mut held = lock(&a.recv.held);
            let n = max.min(held.len());
            match order {
                ReturnOrder::Fifo => held.drain(..n).collect(),
                ReturnOrder::Reverse => {
                    let at = held.len() - n;
                    held.drain(at..).rev().collect()
                }
                ReturnOrder::Shuffled => {
                    let mut out = Vec::with_capacity(n);
                    let mut rng = lock(&self.rng);
                    for _ in 0..n {
                        let i = rng.below(held.len() as u64) as usize;
                        out.push(held.remove(i));
                    }
                    out
                }
            }
        };
        if batch.is_empty() {
            return 0;
        }
        for h in &batch {
            // SAFETY: NBLs NDIS held stay allocated (freeing one is refused while held).
            match unsafe { inspect(h.nbl as *const NET_BUFFER_LIST, false) } {
                Ok((_, digest)) if digest == h.digest => {}
                _ => self.violation(format!("{}: NBL {:#x} changed while NDIS held it (touched between indication and return)", a.name, h.nbl)),
            }
        }
        for (i, h) in batch.iter().enumerate() {
            let next = batch
                .get(i + 1)
                .map_or(std::ptr::null_mut(), |n| n.nbl as *mut NET_BUFFER_LIST);
            // SAFETY: NDIS owns these NBLs until the call below; it links them as it likes.
            unsafe { (*(h.nbl as *mut NET_BUFFER_LIST)).Next = next };
        }
        let Some(handler) = a.chars().ReturnNetBufferListsHandler else {
            self.violation(format!("{}: no MiniportReturnNetBufferLists", a.name));
            return 0;
        };
        let ctx = a.ctx();
        let head = batch[0].nbl as *mut NET_BUFFER_LIST;
        // SAFETY: the driver's registered handler, its context, NBLs it indicated.
        let ((), v) = irql::call_at(DISPATCH_LEVEL, "MiniportReturnNetBufferLists", || unsafe {
            handler(ctx, head, NDIS_RETURN_FLAGS_DISPATCH_LEVEL)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        batch.len()
    }

    /// Every held NBL back, three at a time in a seeded order (what the overlying drivers do
    /// when the stack pauses).
    pub fn return_all_received(&self, a: &SimAdapter) -> usize {
        let mut total = 0;
        loop {
            let n = self.return_received(a, 3, ReturnOrder::Shuffled);
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// NdisMPauseComplete for `a` (the export checked the IRQL).
    pub fn pause_complete(&self, a: &SimAdapter) {
        let mut p = lock(&a.recv.pause);
        *p = match *p {
            PauseState::InCall => PauseState::CompletedInCall,
            PauseState::Pending => PauseState::None,
            other => {
                drop(p);
                self.violation(format!(
                    "{}: NdisMPauseComplete without a pending pause ({other:?})",
                    a.name
                ));
                return;
            }
        };
        drop(p);
        a.recv.pause_completions.fetch_add(1, Ordering::Relaxed);
        self.check_pause_completed(a);
    }

    /// A pause completes (MiniportPause returning NDIS_STATUS_SUCCESS, or NdisMPauseComplete)
    /// only when no send is outstanding and NDIS holds none of the adapter's NBLs.
    pub(super) fn check_pause_completed(&self, a: &SimAdapter) {
        let out = lock(&a.sends_out).len();
        if out > 0 {
            self.violation(format!(
                "{}: MiniportPause completed with {out} sends outstanding",
                a.name
            ));
        }
        let held = a.recv.held();
        if held > 0 {
            self.violation(format!(
                "{}: MiniportPause completed with {held} received NBLs not yet returned",
                a.name
            ));
        }
    }
}
