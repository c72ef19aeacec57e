//! MiniportOidRequest for the PF: general OIDs, the NIC switch, and the backchannel.
use crate::adapter::Adapter;
use crate::backchannel;
use crate::{DRIVER_VERSION, LOG, VENDOR};
use common::ffi::*;
use common::miniport;
use common::ndis_log;
use common::oid::OidRequest;

/// Listed in the general attributes' SupportedOidList ("SR-IOV OIDs" page: a PF must list
/// the SR-IOV and NIC switch OIDs it handles).
pub static SUPPORTED_OIDS: &[NDIS_OID] = &miniport::oid_list::<22, 49>([
    // Issue 10: VPorts, receive filters, PCI virtualization ("SR-IOV OIDs", "P" rows).
    OID_NIC_SWITCH_PARAMETERS,
    OID_NIC_SWITCH_CREATE_VPORT,
    OID_NIC_SWITCH_VPORT_PARAMETERS,
    OID_NIC_SWITCH_DELETE_VPORT,
    OID_RECEIVE_FILTER_SET_FILTER,
    OID_RECEIVE_FILTER_CLEAR_FILTER,
    OID_RECEIVE_FILTER_MOVE_FILTER,
    OID_SRIOV_READ_VF_CONFIG_SPACE,
    OID_SRIOV_WRITE_VF_CONFIG_SPACE,
    OID_SRIOV_PROBED_BARS,
    OID_SRIOV_VF_VENDOR_DEVICE_ID,
    OID_SRIOV_SET_VF_POWER_STATE,
    OID_SRIOV_BAR_RESOURCES,
    OID_NIC_SWITCH_CREATE_SWITCH,
    OID_NIC_SWITCH_DELETE_SWITCH,
    OID_NIC_SWITCH_ALLOCATE_VF,
    OID_NIC_SWITCH_FREE_VF,
    OID_SRIOV_RESET_VF,
    OID_SRIOV_READ_VF_CONFIG_BLOCK,
    OID_SRIOV_WRITE_VF_CONFIG_BLOCK,
    crate::management::OID_REF_SET_VF_MAC_VLAN,
    crate::management::OID_REF_SET_LINK,
]);

impl Adapter {
    pub(crate) fn oid_request(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        let oid = req.oid();
        // After a surprise removal, until halt ("MiniportOidRequest", NDIS_STATUS_NOT_ACCEPTED:
        // such requests complete at once with this status).
        if self.removed.load(core::sync::atomic::Ordering::Acquire) {
            ndis_log!(
                TRACE,
                LOG,
                "OID {:#x} after surprise removal: not accepted",
                oid
            );
            return NDIS_STATUS_NOT_ACCEPTED;
        }
        #[cfg(feature = "mutants")]
        if self.handler_removed(oid) {
            ndis_log!(TRACE, LOG, "OID {:#x} not supported", oid);
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        // The backchannel is the hot path: it checks the adapter state under the one lock it
        // takes anyway, and touches nothing else of the adapter.
        match oid {
            OID_SRIOV_READ_VF_CONFIG_BLOCK => return backchannel::read_config_block(self, req),
            OID_SRIOV_WRITE_VF_CONFIG_BLOCK => return backchannel::write_config_block(self, req),
            _ => {}
        }
        let (state, mut info, mut rx) = {
            let mut st = self.inner.lock();
            st.oids = st.oids.wrapping_add(1);
            (st.state, st.info, st.rx)
        };
        // The PF's own MTU: the link's, at most what its buffers were sized for (*JumboPacket).
        info.mtu = info.mtu.min(self.dp.max_mtu());
        if !state.accepts_oids() {
            ndis_log!(WARN, LOG, "OID {:#x} in state {:?}", oid, state);
            return NDIS_STATUS_ADAPTER_NOT_READY;
        }
        if matches!(oid, OID_GEN_STATISTICS | OID_GEN_XMIT_OK | OID_GEN_RCV_OK) {
            rx.stats = common::handlers::traffic_counters(self);
        }
        let status = match oid {
            OID_NIC_SWITCH_CREATE_SWITCH => self.create_switch(req),
            OID_NIC_SWITCH_DELETE_SWITCH => self.delete_switch_oid(req),
            OID_NIC_SWITCH_ALLOCATE_VF => self.allocate_vf(req),
            OID_NIC_SWITCH_FREE_VF => self.free_vf(req),
            OID_SRIOV_RESET_VF => self.reset_vf(req),
            _ if let Some(status) = self.sriov_oid(req) => status,
            _ if let Some(status) = self.management_oid(req) => status,
            _ => match miniport::general_oid(
                req,
                &info,
                &mut rx,
                SUPPORTED_OIDS,
                VENDOR,
                DRIVER_VERSION,
            ) {
                Some(status) => {
                    self.inner.lock().rx.update_from(&rx);
                    status
                }
                None => {
                    ndis_log!(TRACE, LOG, "OID {:#x} not supported", oid);
                    NDIS_STATUS_NOT_SUPPORTED
                }
            },
        };
        #[cfg(feature = "mutants")]
        if self.bytes_written_forgotten(oid) {
            req.set_bytes_written(0);
        }
        if status != NDIS_STATUS_SUCCESS {
            ndis_log!(
                TRACE,
                LOG,
                "OID {:#x} -> {:#010x} ({})",
                oid,
                status,
                status_name(status)
            );
        }
        status
    }
}
