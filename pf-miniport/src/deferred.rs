//! PF requests that wait for the hardware, finished in a work item: a VF's function-level
//! reset (the PCI Express Base Specification gives a function 100 ms after Initiate FLR, and
//! software waits for Transactions Pending to clear first) and a VF power transition
//! (PCI Bus Power Management Interface 1.2: 10 ms to or from D3hot, 200 us to or from D2).
//! "MiniportOidRequest": a driver should not wait for hardware operations to complete inside
//! the call, but return NDIS_STATUS_PENDING, finish in a work item, and complete the request
//! with NdisMOidRequestComplete. NDIS sends a miniport one OID request at a time, so at most
//! one is deferred; its information buffer stays valid until completion.
use crate::LOG;
use crate::adapter::Adapter;
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_log;
use common::oid::{OidError, OidRequest};
use core::ffi::c_void;
use core::sync::atomic::Ordering;

/// What the work item does; `Idle` (0) when nothing is deferred.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    #[default]
    Idle = 0,
    /// FLR of `vf` through the PCI Express capability at `cap`.
    Reset,
    /// Write `pmcsr` at `cap` (the PMCSR's offset), wait `wait_us`, read it back, record
    /// `state`/`wake` for `vf`.
    Power,
}

/// The deferred request; all-zero is "none".
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Deferred {
    pub req: usize,
    pub op: Op,
    pub vf: u16,
    pub cap: u32,
    pub pmcsr: u16,
    pub state: u32,
    pub wake: bool,
    pub wait_us: u32,
    pub bytes_read: u32,
}

impl Adapter {
    /// Keeps `d` and the request, queues the work item: the handler returns what this does.
    pub(crate) fn defer(&self, req: &mut OidRequest<'_>, mut d: Deferred) -> NDIS_STATUS {
        if self.work_item.is_null() {
            return NDIS_STATUS_FAILURE;
        }
        d.req = req.raw() as usize;
        *self.deferred.lock() = d;
        self.deferred_running.store(true, Ordering::Release);
        let ctx: *const Adapter = self;
        // SAFETY: the work item was allocated at initialize and is not queued (one OID at a
        // time); halt waits for `deferred_running` before it frees the adapter.
        unsafe { NdisQueueIoWorkItem(self.work_item, Some(deferred_work), ctx.cast_mut().cast()) };
        NDIS_STATUS_PENDING
    }

    fn run_deferred(&self) {
        let d = core::mem::take(&mut *self.deferred.lock());
        let status = match d.op {
            Op::Idle => return,
            Op::Reset => self.finish_reset(&d),
            Op::Power => self.finish_power(&d),
        };
        // Surprise removal while the hardware was waited for: the request ends as every
        // request after the removal does ("MiniportOidRequest").
        let status = if self.removed.load(Ordering::Acquire) {
            NDIS_STATUS_NOT_ACCEPTED
        } else {
            status
        };
        let raw = d.req as *mut NDIS_OID_REQUEST;
        // SAFETY: the request NDIS handed MiniportOidRequest, pended and not yet completed.
        if let Some(mut r) = unsafe { OidRequest::from_raw(raw) } {
            r.set_bytes_read(if status == NDIS_STATUS_SUCCESS {
                d.bytes_read
            } else {
                0
            });
        }
        // SAFETY: as above; the request is NDIS's again after this call.
        unsafe { NdisMOidRequestComplete(self.handle, raw, status) };
    }

    fn finish_reset(&self, d: &Deferred) -> NDIS_STATUS {
        let r = (|| {
            self.vf_function_level_reset(d.vf, d.cap)?;
            // docs/reference-nic.md section 8: the reset is also `VF_CTRL.RESET` of the VF's
            // control entry (the device resets the function's window; the entry stays).
            self.reset_vf_hw(d.vf)
                .map_err(|e| OidError::status(e.status(), "the device did not reset the VF"))?;
            self.reset_vf_state(d.vf)
        })();
        match r {
            Ok(()) => NDIS_STATUS_SUCCESS,
            Err(e) => refused(e, "SRIOV_RESET_VF"),
        }
    }

    fn finish_power(&self, d: &Deferred) -> NDIS_STATUS {
        let r = (|| {
            self.vf_bus_write(d.vf, d.cap, &mut d.pmcsr.to_le_bytes())?;
            if d.wait_us > 0 {
                // SAFETY: PASSIVE_LEVEL (a work item), no lock held.
                unsafe { NdisMSleep(d.wait_us) };
            }
            let mut back = [0u8; 2];
            self.vf_bus_read(d.vf, d.cap, &mut back)?;
            if u16::from_le_bytes(back) & 0b11 != d.pmcsr & 0b11 {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "the VF's PMCSR did not take the new power state",
                ));
            }
            self.record_vf_power(d.vf, d.state, d.wake)
        })();
        match r {
            Ok(()) => {
                ndis_log!(
                    INFO,
                    LOG,
                    "VF {} power state D{}",
                    d.vf,
                    d.state.saturating_sub(1)
                );
                NDIS_STATUS_SUCCESS
            }
            Err(e) => refused(e, "SRIOV_SET_VF_POWER_STATE"),
        }
    }

    /// Halt: a deferred request's work item may still be finishing.
    pub(crate) fn wait_for_deferred(&self) {
        while self.deferred_running.load(Ordering::Acquire) {
            // SAFETY: PASSIVE_LEVEL (MiniportHaltEx), no lock held.
            unsafe { NdisMSleep(1_000) };
        }
    }
}

/// A deferred request's refusal: its debugger line, then its status for the completion.
fn refused(e: OidError, what: &str) -> NDIS_STATUS {
    e.log(LOG, what);
    e.status
}

common::ndis_fn! {
    /// NDIS_IO_WORKITEM_ROUTINE (PASSIVE_LEVEL): finishes the deferred request.
    pub unsafe fn deferred_work(ctx: *mut c_void, _item: NDIS_HANDLE) {
        // SAFETY: the adapter that queued the item; halt waits for `deferred_running`.
        if let Some(a) = unsafe { ctx.cast::<Adapter>().as_ref() } {
            a.run_deferred();
            // The last touch of the adapter: halt may free it from here on.
            a.deferred_running.store(false, Ordering::Release);
        }
    }
}
