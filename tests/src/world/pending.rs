//! OID requests a miniport pends, and surprise removal: the parts of NDIS's OID handling that
//! `calls.rs` delegates here (kept apart so that the per-adapter serialization there stays
//! one change of its own).
//!
//! - "MiniportOidRequest": a handler that returns NDIS_STATUS_PENDING "must call the
//!   NdisMOidRequestComplete function" once it has finished; the request (and its buffer)
//!   stays the miniport's until then, and NDIS sends that adapter no other OID request
//!   meanwhile ("OID requests to one adapter are serialized": the issuing thread waits here,
//!   running the system work queue, since the completion often comes from a work item).
//! - "NdisMOidRequestComplete": its final status is never NDIS_STATUS_PENDING (the
//!   NdisOidComplete Driver Verifier rule), and only a request the miniport pended completes.
//! - "MiniportDevicePnPEventNotify" (NdisDevicePnPEventSurpriseRemoved) and "MiniportOidRequest"
//!   (NDIS_STATUS_NOT_ACCEPTED): after a surprise removal, until halt, OID requests complete
//!   at once with NDIS_STATUS_NOT_ACCEPTED. The simulator holds drivers to that for every OID.
use super::{Machine, SimAdapter, lock};
use crate::irql;
use crate::timeline::Event;
use common::ffi::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long NDIS waits here for a pended request before calling it a violation (real time:
/// a completion comes from a work item or another thread within milliseconds).
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(2);

impl Machine {
    /// Called before MiniportOidRequest: the request is in flight, so a completion for it is
    /// legal from now on.
    pub(super) fn oid_in_flight(&self, adapter: &SimAdapter, key: usize) {
        lock(&adapter.in_flight).push(key);
    }

    /// Called with what MiniportOidRequest returned: the final status, waiting for
    /// NdisMOidRequestComplete when it pended.
    pub(super) fn oid_returned(
        &self,
        adapter: &SimAdapter,
        key: usize,
        returned: NDIS_STATUS,
    ) -> NDIS_STATUS {
        let status = if returned == NDIS_STATUS_PENDING {
            self.await_completion(adapter, key)
        } else {
            if take_completion(adapter, key).is_some() {
                self.violation(format!(
                    "{}: NdisMOidRequestComplete for a request MiniportOidRequest did not pend",
                    adapter.name
                ));
            }
            returned
        };
        lock(&adapter.in_flight).retain(|k| *k != key);
        if adapter.surprise_removed.load(Ordering::Acquire) && status != NDIS_STATUS_NOT_ACCEPTED {
            self.violation(format!(
                "{}: OID request after surprise removal completed with {}, not \
                 NDIS_STATUS_NOT_ACCEPTED (MiniportOidRequest)",
                adapter.name,
                crate::timeline::status_text(status)
            ));
        }
        status
    }

    fn await_completion(&self, adapter: &SimAdapter, key: usize) -> NDIS_STATUS {
        let start = Instant::now();
        loop {
            if let Some(s) = take_completion(adapter, key) {
                self.record(Event::Lifecycle {
                    who: adapter.name.clone(),
                    what: format!(
                        "NdisMOidRequestComplete -> {}",
                        crate::timeline::status_text(s)
                    ),
                });
                return s;
            }
            if start.elapsed() > PENDING_TIMEOUT {
                self.violation(format!(
                    "{}: OID pended and never completed (NdisMOidRequestComplete)",
                    adapter.name
                ));
                return NDIS_STATUS_FAILURE;
            }
            // The system worker thread runs meanwhile; NDIS's caller just waits.
            if !self.run_work_items() {
                std::thread::yield_now();
            }
        }
    }

    /// NdisMOidRequestComplete.
    pub fn complete_oid(
        &self,
        adapter: &SimAdapter,
        req: *mut NDIS_OID_REQUEST,
        status: NDIS_STATUS,
    ) {
        let key = req as usize;
        if status == NDIS_STATUS_PENDING {
            self.violation(format!(
                "{}: NdisMOidRequestComplete with NDIS_STATUS_PENDING",
                adapter.name
            ));
            return;
        }
        if !lock(&adapter.in_flight).contains(&key) {
            self.violation(format!(
                "{}: NdisMOidRequestComplete for a request NDIS did not issue or already completed",
                adapter.name
            ));
            return;
        }
        let mut done = lock(&adapter.completions);
        if done.iter().any(|(k, _)| *k == key) {
            drop(done);
            self.violation(format!(
                "{}: NdisMOidRequestComplete twice for one request",
                adapter.name
            ));
            return;
        }
        done.push((key, status));
    }

    /// The device is surprise-removed: NDIS calls MiniportDevicePnPEventNotify with
    /// NdisDevicePnPEventSurpriseRemoved ("MiniportDevicePnPEventNotify"); halt follows.
    pub fn surprise_remove(&self, adapter: &SimAdapter) {
        adapter.surprise_removed.store(true, Ordering::Release);
        // The device is gone before NDIS tells the driver: its registers read all ones.
        self.device_gone(adapter);
        let Some(h) = adapter.chars().DevicePnPEventNotifyHandler else {
            return;
        };
        let mut ev = NET_DEVICE_PNP_EVENT {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 1, 0x30),
            DevicePnPEvent: NdisDevicePnPEventSurpriseRemoved,
            ..Default::default()
        };
        let ctx = adapter.ctx();
        // SAFETY: the driver's registered handler with its own context and a valid event.
        let ((), v) = irql::call_at(PASSIVE_LEVEL, "MiniportDevicePnPEventNotify", || unsafe {
            h(ctx, &mut ev)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: "MiniportDevicePnPEventNotify(SurpriseRemoved)".into(),
        });
    }
}

fn take_completion(adapter: &SimAdapter, key: usize) -> Option<NDIS_STATUS> {
    let mut done = lock(&adapter.completions);
    let i = done.iter().position(|(k, _)| *k == key)?;
    Some(done.swap_remove(i).1)
}

/// MiniportResetEx's completion: "MINIPORT_RESET callback function" (a reset may pend and
/// complete with NdisMResetComplete), "NdisMResetComplete function (NDIS 6.x)".
impl Machine {
    /// NDIS serializes an adapter's resets (a second MiniportResetEx only after the first
    /// completed): waits (bounded) until none is pending for `adapter`, then marks one.
    pub(crate) fn reset_acquire(&self, adapter: &SimAdapter) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let got = self.with_hw(adapter, |e, _| {
                let free = !e.reset_pending;
                if free {
                    e.reset_pending = true;
                    e.reset_result = None;
                }
                free
            });
            if got != Some(false) {
                return;
            }
            // The pending reset's own work item runs on the thread that issued it (`reset_completes`)
            // or another: this one only waits.
            std::thread::sleep(Duration::from_micros(200));
        }
        self.violation(format!("{}: a reset never completed", adapter.name));
    }

    /// MiniportResetEx is about to be called for `adapter` (tests that call the handler
    /// themselves say so first, so that its NdisMResetComplete is expected).
    pub fn reset_starts(&self, adapter: &SimAdapter) {
        self.with_hw(adapter, |e, _| {
            e.reset_pending = true;
            e.reset_result = None;
        });
    }

    /// NdisMResetComplete ("NdisMResetComplete function (NDIS 6.x)": `<= DISPATCH_LEVEL`, once,
    /// for a MiniportResetEx that returned NDIS_STATUS_PENDING; the IRQL is checked by the
    /// export).
    pub fn reset_complete(&self, adapter: &SimAdapter, status: NDIS_STATUS) {
        let was = self.with_hw(adapter, |e, _| {
            let was = e.reset_pending;
            e.reset_pending = false;
            e.reset_result = Some(status);
            was
        });
        if was != Some(true) {
            self.violation(format!(
                "{}: NdisMResetComplete with no MiniportResetEx pending",
                adapter.name
            ));
        }
    }

    /// What MiniportResetEx returned, `s`: if NDIS_STATUS_PENDING, the machine runs (work items
    /// and the device, as the system would) until NdisMResetComplete comes, and its status is
    /// the reset's ("MINIPORT_RESET callback function"); a completion that never comes is
    /// reported. A synchronous return must not have completed it as well.
    /// `mine`: the work item MiniportResetEx queued last (the reset's), the only one run here:
    /// running others from this wait could nest an item under one it waits for.
    pub(crate) fn reset_completes(
        &self,
        adapter: &SimAdapter,
        s: NDIS_STATUS,
        mine: Option<usize>,
    ) -> NDIS_STATUS {
        if s != NDIS_STATUS_PENDING {
            let early = self.with_hw(adapter, |e, _| {
                e.reset_pending = false;
                e.reset_result.take()
            });
            if let Some(Some(_)) = early {
                self.violation(format!(
                    "{}: NdisMResetComplete for a reset that did not pend",
                    adapter.name
                ));
            }
            return s;
        }
        // Another thread's worker may be running the reset's work item: wait for it (bounded in
        // real time, as NDIS's own reset timeout is).
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(Some(r)) = self.with_hw(adapter, |e, _| e.reset_result) {
                return r;
            }
            let ran = mine.is_some_and(|i| self.run_work_item(i));
            let dev = self.service_device();
            if !ran && !dev {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        if let Some(Some(r)) = self.with_hw(adapter, |e, _| e.reset_result) {
            return r;
        }
        self.violation(format!(
            "{}: MiniportResetEx pended and NdisMResetComplete never came",
            adapter.name
        ));
        s
    }
}
