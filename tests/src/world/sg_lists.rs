//! The scatter-gather lists NDIS builds for a bus-master miniport's sends, and the
//! Verifier-style checks on them (the exports are `exports/sg.rs`):
//! - "NdisMAllocateNetBufferSGList function": HAL calls MiniportProcessSGList "before or after
//!   NDIS returns from NdisMAllocateNetBufferSGList" (MINIPORT_PROCESS_SG_LIST: "it can be
//!   invoked asynchronously", at DISPATCH_LEVEL). The simulator does both, by the seed or as a
//!   test sets it ([`SgTiming`]); a deferred call runs at the next device step. The page is
//!   silent on the order of the callbacks of several calls; the harsher reading is any order,
//!   so [`SgTiming::Reversed`] defers every call and makes them last-mapped first.
//! - The same page: NDIS "might allocate a buffer even if the miniport driver specifies" one
//!   (when it is too small); the harsher reading: NDIS may use its own storage at any time, so
//!   the simulator sometimes does, and the driver must use the list MiniportProcessSGList gets.
//! - "NdisMFreeNetBufferSGList function": every list is freed, once, with the NET_BUFFER it
//!   was built for; not while the hardware may still access the NET_BUFFER. That the list is
//!   freed before the NBL is completed is the NET_BUFFER's ownership rule ("Sending Network
//!   Data": once completed, the NBL and its NET_BUFFERs are NDIS's again); checked at
//!   NdisMSendNetBufferListsComplete. A list still held at MiniportHaltEx is reported with
//!   the adapter's other resources.
//! - After NdisMSendNetBufferListsComplete the NBL is NDIS's: the simulator writes a poison
//!   into the NBL's `MiniportReserved` and reports, when the NBL is sent again or a test asks
//!   ([`Machine::check_completed_untouched`]), a driver that wrote it afterwards (the pages say
//!   the miniport gives up the NBL; that NDIS may reuse the field at once is the harsher
//!   reading).
use super::{Machine, SimAdapter, lock};
use common::ffi::*;
use std::ffi::c_void;

/// When MiniportProcessSGList runs relative to NdisMAllocateNetBufferSGList.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SgTiming {
    /// Each call picks by the seed.
    #[default]
    Random,
    /// Always before the call returns.
    Inline,
    /// Always at the next device step, after the call returned.
    Deferred,
    /// At the next device step, the calls deferred since the last step in reverse order
    /// (the page does not say the callbacks of several mappings run in the order mapped).
    Reversed,
}

/// One list NDIS built.
pub struct SgRecord {
    pub sgl: usize,
    pub nb: usize,
    /// MiniportProcessSGList has it.
    pub delivered: bool,
    /// NDIS's own storage (when not in the driver's buffer).
    pub own: Option<Vec<u64>>,
}

/// A MiniportProcessSGList call still to make.
pub struct DeferredSg {
    pub adapter: usize,
    pub handler: MINIPORT_PROCESS_SG_LIST,
    pub sgl: usize,
    pub context: usize,
}

/// The poison written into a completed NBL's miniport fields.
pub const NBL_POISON: usize = 0xDEAD_0BB1_0000_0000;

impl Machine {
    pub fn set_sg_timing(&self, t: SgTiming) {
        self.hw().sg_timing = t;
    }

    /// Whether this mapping's MiniportProcessSGList runs inline.
    pub(crate) fn sg_inline(&self) -> bool {
        match self.hw().sg_timing {
            SgTiming::Inline => true,
            SgTiming::Deferred | SgTiming::Reversed => false,
            SgTiming::Random => lock(&self.rng).chance(0.5),
        }
    }

    /// Runs `f` on the ledger entry whose SG DMA handle is `dma`, with that adapter's key.
    pub(crate) fn with_dma<R>(
        &self,
        dma: NDIS_HANDLE,
        f: impl FnOnce(usize, &mut super::resources::AdapterHw) -> R,
    ) -> Option<R> {
        let mut hw = self.hw();
        let owner = *hw.dma_owner.get(&(dma as usize))?;
        hw.adapters
            .get_mut(&owner)
            .filter(|e| {
                e.sg_dma
                    .as_ref()
                    .is_some_and(|t| std::ptr::eq(&**t, dma as *const u8))
            })
            .map(|e| f(owner, e))
    }

    /// The SG lists `a` holds (their addresses), oldest first.
    pub fn sg_lists_of(&self, a: &SimAdapter) -> Vec<usize> {
        self.with_hw(a, |e, _| e.sg_lists.iter().map(|r| r.sgl).collect())
            .unwrap_or_default()
    }

    /// Makes every deferred MiniportProcessSGList call, at DISPATCH_LEVEL. Returns whether any
    /// ran.
    pub fn deliver_deferred_sg(&self) -> bool {
        let (mut calls, timing) = {
            let mut hw = self.hw();
            (std::mem::take(&mut hw.deferred_sg), hw.sg_timing)
        };
        if timing == SgTiming::Reversed {
            calls.reverse();
        }
        let any = !calls.is_empty();
        for c in calls {
            self.process_sg_now(c.adapter, c.handler, c.sgl, c.context);
        }
        any
    }

    /// One MiniportProcessSGList call, at DISPATCH_LEVEL; the list counts as delivered.
    pub(crate) fn process_sg_now(
        &self,
        adapter: usize,
        handler: MINIPORT_PROCESS_SG_LIST,
        sgl: usize,
        context: usize,
    ) {
        {
            let mut hw = self.hw();
            if let Some(r) = hw
                .adapters
                .get_mut(&adapter)
                .and_then(|e| e.sg_lists.iter_mut().find(|r| r.sgl == sgl))
            {
                r.delivered = true;
            }
        }
        let ((), v) = crate::irql::call_at(DISPATCH_LEVEL, "MiniportProcessSGList", || {
            // SAFETY: the handler the driver registered, the list NDIS built, its context.
            unsafe {
                handler(
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    sgl as *mut SCATTER_GATHER_LIST,
                    context as *mut c_void,
                )
            }
        });
        if let Some(v) = v {
            self.violation(v);
        }
    }

    /// NdisMSendNetBufferListsComplete of `nbl` by `a`: no NET_BUFFER of it may still hold an
    /// SG list; then the NBL's miniport fields are poisoned and remembered.
    pub(crate) fn sends_completed_check(&self, a: &SimAdapter, nbl: *mut NET_BUFFER_LIST) {
        // SAFETY: an NBL the test sent to this adapter, alive (the test owns it).
        let mut nb = unsafe { (*nbl).FirstNetBuffer };
        let mut nbs = Vec::new();
        while !nb.is_null() && nbs.len() < 1 << 16 {
            nbs.push(nb as usize);
            // SAFETY: as above.
            nb = unsafe { (*nb).Next };
        }
        let held = self
            .with_hw(a, |e, _| {
                e.sg_lists.iter().filter(|r| nbs.contains(&r.nb)).count()
            })
            .unwrap_or(0);
        if held > 0 {
            self.violation(format!(
                "{}: NBL {:#x} completed with {held} NET_BUFFER SG list(s) not freed (\"NdisMFreeNetBufferSGList function\": free it before giving the NET_BUFFER back)",
                a.name, nbl as usize
            ));
        }
        // SAFETY: as above; NDIS owns the NBL again and may write its fields.
        unsafe {
            (*nbl).MiniportReserved.0 = [NBL_POISON as *mut c_void; 2];
        }
        lock(&a.sends_after).insert(nbl as usize);
    }

    /// Reports (and forgets) completed NBLs of `a` whose miniport fields changed after their
    /// completion; `only`: just that NBL (it is being sent again).
    pub fn check_completed_untouched(&self, a: &SimAdapter, only: Option<usize>) {
        let keys: Vec<usize> = {
            let mut after = lock(&a.sends_after);
            match only {
                Some(k) => after.take(&k).into_iter().collect(),
                None => std::mem::take(&mut *after).into_iter().collect(),
            }
        };
        for k in keys {
            let nbl = k as *const NET_BUFFER_LIST;
            // SAFETY: a test NBL the caller keeps alive (it is sending it again, or asked).
            let r = unsafe { (*nbl).MiniportReserved.0 };
            if r.iter().any(|p| *p as usize != NBL_POISON) {
                self.violation(format!(
                    "{}: NBL {k:#x} written after NdisMSendNetBufferListsComplete (\"Sending Network Data\": the NBL is NDIS's again)",
                    a.name
                ));
            }
        }
    }
}
