//! Fault injection and interleaving at the NDIS and kernel calls that can fail: Driver
//! Verifier's low-resources simulation, done systematically. Every fallible call site counts
//! its calls and asks the hook whether this one fails; the hook may also run code at that
//! moment (another thread's change landing in the middle of a driver's operation), with the
//! machine, since it runs outside every lock of the machine.
//!
//! What a failed call returns is what its page documents for failure; where the page names no
//! particular failure status, the harsher generic one (NDIS_STATUS_FAILURE, or NULL).
use super::{Machine, lock};
use crate::timeline::Event;
use std::collections::BTreeMap;

/// Whether the call the hook is asked about goes through or fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFault {
    Proceed,
    Fail,
}

/// Asked at each fallible call: (the machine, the function's name, its 1-based call count).
pub type CallHook = Box<dyn FnMut(&Machine, &'static str, u64) -> CallFault + Send>;

/// The fallible calls the simulator can fail, by name.
pub const FALLIBLE: &[&str] = &[
    "NdisMRegisterMiniportDriver",
    "IoAllocateDriverObjectExtension",
    "NdisMSetMiniportAttributes",
    "NdisAllocateMemoryWithTagPriority",
    "ExAllocatePoolWithTag",
    "NdisAllocateIoWorkItem",
    "NdisOpenConfigurationEx",
    "NdisReadConfiguration",
    "NdisMEnableVirtualization",
    "NdisMReadConfigBlock",
    "NdisMWriteConfigBlock",
    "NdisMGetVirtualFunctionBusData",
    "NdisMSetVirtualFunctionBusData",
    "NdisMGetBusData",
    "NdisMQueryProbedBars",
    "NdisAllocateNetBufferListPool",
    "NdisAllocateNetBufferAndNetBufferList",
    "NdisAllocateMdl",
    "NdisMMapIoSpace",
    "NdisMRegisterInterruptEx",
    "NdisMRegisterScatterGatherDma",
    "NdisMAllocateSharedMemory",
    "NdisMAllocateNetBufferSGList",
];

/// Run before NDIS calls a DPC again on MoreNblsPending: (the machine, the re-run's number).
/// Another CPU's call landing between two runs of the same DPC (a MiniportResetEx from NDIS's
/// timer, say): "Receive Side Throttle" leaves the vector held, not NDIS stopped meanwhile.
pub type DpcRerunHook = Box<dyn FnMut(&Machine, u32) + Send>;

#[derive(Default)]
pub(super) struct Faults {
    hook: Option<CallHook>,
    dpc_rerun_hook: Option<DpcRerunHook>,
    counts: BTreeMap<&'static str, u64>,
}

impl Machine {
    /// Counts a call to `call` and asks the hook: `true` when this call must fail.
    pub fn fails(&self, call: &'static str) -> bool {
        debug_assert!(FALLIBLE.contains(&call), "{call} is not listed as fallible");
        let nth = {
            let mut f = lock(&self.faults);
            let n = f.counts.entry(call).or_default();
            *n += 1;
            *n
        };
        // Taken out while it runs: the hook may call back into drivers, which call back here.
        let Some(mut hook) = lock(&self.faults).hook.take() else {
            return false;
        };
        let fault = hook(self, call, nth);
        {
            let mut f = lock(&self.faults);
            if f.hook.is_none() {
                f.hook = Some(hook);
            }
        }
        if fault == CallFault::Fail {
            self.record(Event::Fault {
                what: format!("{call} call {nth} fails"),
            });
        }
        fault == CallFault::Fail
    }

    pub fn set_call_hook(&self, hook: Option<CallHook>) {
        lock(&self.faults).hook = hook;
    }

    pub fn set_dpc_rerun_hook(&self, hook: Option<DpcRerunHook>) {
        lock(&self.faults).dpc_rerun_hook = hook;
    }

    /// Runs the DPC re-run hook, if any, outside every lock of the machine.
    pub(super) fn dpc_rerun(&self, run: u32) {
        let Some(mut hook) = lock(&self.faults).dpc_rerun_hook.take() else {
            return;
        };
        hook(self, run);
        let mut f = lock(&self.faults);
        if f.dpc_rerun_hook.is_none() {
            f.dpc_rerun_hook = Some(hook);
        }
    }

    /// Calls made so far to each fallible function.
    pub fn call_counts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.faults).counts.clone()
    }

    /// Calls made so far to `call` (one of [`FALLIBLE`]).
    pub fn calls_to(&self, call: &str) -> u64 {
        lock(&self.faults).counts.get(call).copied().unwrap_or(0)
    }
}
