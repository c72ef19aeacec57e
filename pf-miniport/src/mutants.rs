//! Host builds only: a test can take one OID handler out of the PF, which then answers that
//! OID as a PF without the handler does (NDIS_STATUS_NOT_SUPPORTED, through the same path as
//! any unknown OID). The simulator's mutation checks use it to show that the documented host
//! flow needs each OID it sends. Never in the .sys image.
use crate::adapter::Adapter;
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
}
