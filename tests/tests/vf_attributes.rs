//! What a VF miniport reports about the SR-IOV adapter: SR-IOV capabilities that say VF, and
//! never receive-filter or NIC switch capabilities ("Determining Receive Filtering
//! Capabilities", "Determining NIC Switch Capabilities": only the PF's miniport reports them).
use common::ffi::*;
use sim::{Config, World};

#[test]
fn the_vf_reports_vf_sriov_capabilities_and_no_filters_or_switch() {
    let w = World::boot(Config::default(), 1);
    let vf = w.vf_sim(0).unwrap();
    assert_eq!(
        *vf.sriov_caps.lock().unwrap(),
        Some(NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_VF_MINIPORT)
    );
    assert!(vf.ext.hw_filter_caps.lock().unwrap().is_none());
    assert!(vf.ext.cur_filter_caps.lock().unwrap().is_none());
    assert!(vf.ext.hw_switch_caps.lock().unwrap().is_none());
    w.assert_clean();
}

/// The simulator's check fires: a VF handing NDIS receive-filter, NIC switch or PF SR-IOV
/// capabilities is a violation.
#[test]
fn a_vf_reporting_filter_switch_or_pf_capabilities_is_a_violation() {
    let w = World::boot(Config::default(), 1);
    let h = w.vf_sim(0).unwrap().handle();
    let mut filters = NDIS_RECEIVE_FILTER_CAPABILITIES::default();
    let mut switch = NDIS_NIC_SWITCH_CAPABILITIES::default();
    let mut sriov = NDIS_SRIOV_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_SRIOV_CAPABILITIES_REVISION_1,
            NDIS_SIZEOF_SRIOV_CAPABILITIES_REVISION_1,
        ),
        Flags: 0,
        SriovCapabilities: NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT,
    };
    let mut a = NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
            NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
        ),
        HardwareReceiveFilterCapabilities: (&raw mut filters).cast(),
        HardwareNicSwitchCapabilities: &raw mut switch,
        HardwareSriovCapabilities: &raw mut sriov,
        ..Default::default()
    };
    // SAFETY: the simulator's export with the VF's handle and attributes valid for the call.
    unsafe { sim::exports::NdisMSetMiniportAttributes(h, (&raw mut a).cast()) };
    let v = w.violations().join("\n");
    for what in [
        "receive-filter capabilities",
        "NIC switch capabilities",
        "PF SR-IOV capabilities",
    ] {
        assert!(v.contains(what), "{what} not caught:\n{v}");
    }
}
