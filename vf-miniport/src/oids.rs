//! MiniportOidRequest for the VF: OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK and the general OIDs.
use crate::adapter::Adapter;
use crate::{DRIVER_VERSION, LOG, VENDOR};
use common::blocks::{BlockMask, HOST_BLOCKS};
use common::ffi::*;
use common::miniport;
use common::ndis_log;
use common::oid::{self, OidRequest, RequestKind};
use core::sync::atomic::Ordering;

/// The VF must list OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK ("SR-IOV OIDs" page).
pub static SUPPORTED_OIDS: &[NDIS_OID] =
    &miniport::oid_list::<1, 28>([OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK]);

impl Adapter {
    pub(crate) fn oid_request(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        let oid = req.oid();
        // After a surprise removal, until halt ("MiniportOidRequest", NDIS_STATUS_NOT_ACCEPTED).
        if self.removed.load(Ordering::Acquire) {
            ndis_log!(
                TRACE,
                LOG,
                "OID {:#x} after surprise removal: not accepted",
                oid
            );
            return NDIS_STATUS_NOT_ACCEPTED;
        }
        let (state, info, mut rx) = {
            let st = self.inner.lock();
            (st.state, st.info, st.rx)
        };
        if !state.accepts_oids() {
            ndis_log!(WARN, LOG, "OID {:#x} in state {:?}", oid, state);
            return NDIS_STATUS_ADAPTER_NOT_READY;
        }
        if matches!(oid, OID_GEN_STATISTICS | OID_GEN_XMIT_OK | OID_GEN_RCV_OK) {
            rx.stats = common::handlers::traffic_counters(self);
        }
        if oid == OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK {
            return self.invalidate_config_block(req);
        }
        match miniport::general_oid(req, &info, &mut rx, SUPPORTED_OIDS, VENDOR, DRIVER_VERSION) {
            Some(status) => {
                self.inner.lock().rx.update_from(&rx);
                status
            }
            None => NDIS_STATUS_NOT_SUPPORTED,
        }
    }

    /// OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK. Documented as a method request, but the
    /// structure's page ("NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO structure") says set: both
    /// are accepted.
    #[inline(never)] // a breakpoint target in docs/windbg.md
    fn invalidate_config_block(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        if req.kind() == RequestKind::Query {
            ndis_log!(WARN, LOG, "VF_INVALIDATE_CONFIG_BLOCK as a query: refused");
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        let mask = match oid::parse_invalidate_info(req.input()) {
            Ok(m) => m,
            Err(e) => return req.refuse(LOG, "VF_INVALIDATE_CONFIG_BLOCK", e),
        };
        req.set_bytes_read(NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1 as u32);
        let known = mask.intersection(HOST_BLOCKS);
        let unknown = mask.difference(HOST_BLOCKS);
        if !unknown.is_empty() {
            ndis_log!(
                TRACE,
                LOG,
                "ignoring invalidated blocks outside the schema: {:#x}",
                unknown.bits()
            );
        }
        {
            let mut st = self.inner.lock();
            st.counters.invalidations = st.counters.invalidations.wrapping_add(1);
        }
        if known != BlockMask::EMPTY {
            self.mark_pending(known);
            self.refresh_if_running();
        }
        NDIS_STATUS_SUCCESS
    }
}
