//! Host builds only: a test can take one OID handler out of the PF, which then answers that
//! OID as a PF without the handler does (NDIS_STATUS_NOT_SUPPORTED, through the same path as
//! any unknown OID), or make one handler forget its `BytesWritten`. The simulator's mutation
//! checks use them to show that the documented host flow needs each OID it sends and that the
//! simulator believes only what the PF reports. Only with the `mutants` feature, which the
//! simulator's tests turn on: never in the .sys image, the main job or the benchmark.
use crate::adapter::Adapter;
use crate::hwswitch::SwitchMutant;
use common::ffi::NDIS_OID;
use core::sync::atomic::Ordering;

impl Adapter {
    /// From now on this adapter handles `oid` as unsupported; `None` restores every handler.
    pub fn without_handler(&self, oid: Option<NDIS_OID>) {
        self.mutant_unsupported
            .store(oid.unwrap_or(0), Ordering::Release);
    }

    pub(crate) fn handler_removed(&self, oid: NDIS_OID) -> bool {
        oid != 0 && self.mutant_unsupported.load(Ordering::Acquire) == oid
    }

    /// From now on this adapter answers `oid` with `BytesWritten` 0; `None` restores it.
    pub fn forgetting_bytes_written(&self, oid: Option<NDIS_OID>) {
        self.mutant_no_bytes_written
            .store(oid.unwrap_or(0), Ordering::Release);
    }

    pub(crate) fn bytes_written_forgotten(&self, oid: NDIS_OID) -> bool {
        oid != 0 && self.mutant_no_bytes_written.load(Ordering::Acquire) == oid
    }

    /// From now on this adapter programs the NIC's switch wrongly in the way given (`None`:
    /// correctly again).
    pub fn mutant_switch_programming(&self, m: Option<SwitchMutant>) {
        self.mutant_switch
            .store(m.map_or(0, |m| m as u32), Ordering::Release);
    }

    pub(crate) fn switch_mutant(&self) -> Option<SwitchMutant> {
        match self.mutant_switch.load(Ordering::Acquire) {
            1 => Some(SwitchMutant::WritesNothing),
            2 => Some(SwitchMutant::IgnoresTheDevice),
            _ => None,
        }
    }
}
