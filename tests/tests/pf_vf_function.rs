//! The VF's PCI function as the PF drives it (issue 10, second review): power states through
//! the PCI Power Management capability as its PMC allows, the function-level reset of
//! OID_SRIOV_RESET_VF through the PCI Express capability, the capability-list walk against a
//! hostile list, and the registers a VF hardwires (docs/reference-nic.md section 1).
use common::ffi::*;
use common::oid::RequestKind::{Method, Set};
use sim::World;
use sim::hyperv::*;
use sim::pci::{VF_PCIE_CAP_AT, VF_PM_CAP_AT};

const PMCSR: usize = VF_PM_CAP_AT + 4;

/// Switch with 4 VFs, VFs 0 and 1 allocated.
fn host() -> World {
    pf_with_vfs(2)
}

fn power(w: &World, vf: u16, state: u32, wake: u8) -> NDIS_STATUS {
    let mut b = power_params(vf, state, wake);
    pf_oid(w, Set, OID_SRIOV_SET_VF_POWER_STATE, &mut b).status
}

fn reset(w: &World, vf: u16) -> NDIS_STATUS {
    let mut b = sim::payloads::reset_vf_parameters(vf);
    pf_oid(w, Set, OID_SRIOV_RESET_VF, &mut b).status
}

fn config16(w: &World, vf: u16, at: usize) -> u16 {
    let c = w.pf_sim().ext.pci().vf_config(vf);
    u16::from_le_bytes([c[at], c[at + 1]])
}

#[test]
fn reset_vf_is_a_function_level_reset_of_that_vf() {
    let w = host();
    assert_eq!(power(&w, 0, NdisDeviceStateD3, 1), NDIS_STATUS_SUCCESS);
    w.pf_sim().ext.pci().write_vf(0, 4, &[0x04, 0]);
    assert_eq!(w.pf_sim().ext.pci().vf_power(0), (3, true));
    assert_eq!(reset(&w, 0), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf_sim().ext.pci().vf_resets, vec![0]);
    assert_eq!(w.pf_sim().ext.pci().vf_power(0), (0, false), "D0, wake off");
    assert_eq!(config16(&w, 0, 4), 0, "bus mastering off after the FLR");
    assert_eq!(w.pf().vf_power_state(0), None, "the PF's record follows");
    w.assert_clean();
}

#[test]
fn reset_of_a_vf_without_flr_capability_fails_and_changes_nothing() {
    let w = host();
    w.pf_sim()
        .ext
        .pci()
        .poke_vf(1, VF_PCIE_CAP_AT + 4, &0u32.to_le_bytes());
    let mut b = sim::payloads::reset_vf_parameters(1);
    expect_refused(
        &w,
        "VF without FLR",
        Set,
        OID_SRIOV_RESET_VF,
        &mut b,
        NDIS_STATUS_FAILURE,
        None,
    );
    assert!(w.pf_sim().ext.pci().vf_resets.is_empty());
}

/// The VF's PMC (no D1, no D2, PME from D3hot only) decides what the PF accepts; D0 with
/// wake is an invalid parameter (pcivirt's SRIOV_SET_POWER_STATE: Wake must be FALSE for D0).
#[test]
fn power_states_follow_the_vfs_pmc() {
    let w = host();
    for (what, state, wake, status) in [
        ("D1 unsupported", NdisDeviceStateD1, 0, NDIS_STATUS_FAILURE),
        ("D2 unsupported", NdisDeviceStateD2, 0, NDIS_STATUS_FAILURE),
        (
            "D0 with wake",
            NdisDeviceStateD0,
            1,
            NDIS_STATUS_INVALID_PARAMETER,
        ),
    ] {
        let mut b = power_params(1, state, wake);
        expect_refused(
            &w,
            what,
            Set,
            OID_SRIOV_SET_VF_POWER_STATE,
            &mut b,
            status,
            None,
        );
    }
    assert_eq!(power(&w, 1, NdisDeviceStateD3, 1), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf_sim().ext.pci().vf_power(1), (3, true));
    // A VF that cannot signal PME at all: wake from D3 refused, D3 without wake taken.
    let pmc = VF_PM_CAP_AT + 2;
    w.pf_sim()
        .ext
        .pci()
        .poke_vf(0, pmc, &0x0003u16.to_le_bytes());
    let mut b = power_params(0, NdisDeviceStateD3, 1);
    expect_refused(
        &w,
        "wake without PME support",
        Set,
        OID_SRIOV_SET_VF_POWER_STATE,
        &mut b,
        NDIS_STATUS_FAILURE,
        None,
    );
    assert_eq!(power(&w, 0, NdisDeviceStateD3, 0), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf_sim().ext.pci().vf_power(0), (3, false));
    w.assert_clean();
}

#[test]
fn arming_wake_clears_a_stale_pme_status() {
    let w = host();
    w.pf_sim()
        .ext
        .pci()
        .poke_vf(1, PMCSR, &0x8000u16.to_le_bytes());
    assert_eq!(power(&w, 1, NdisDeviceStateD3, 1), NDIS_STATUS_SUCCESS);
    assert_eq!(
        config16(&w, 1, PMCSR),
        0x0103,
        "D3hot, PME_En, PME_Status cleared"
    );
}

/// A capability list that puts the PM capability where it does not fit before the extended
/// space, or that loops, is refused without a write.
#[test]
fn a_hostile_capability_list_is_refused_without_a_write() {
    let w = host();
    {
        let mut pci = w.pf_sim().ext.pci();
        pci.poke_vf(0, 0x34, &[0xFC]);
        pci.poke_vf(0, 0xFC, &[0x01, 0x00]);
    }
    let mut b = power_params(0, NdisDeviceStateD3, 0);
    expect_refused(
        &w,
        "PM capability at FCh",
        Set,
        OID_SRIOV_SET_VF_POWER_STATE,
        &mut b,
        NDIS_STATUS_FAILURE,
        None,
    );
    {
        let mut pci = w.pf_sim().ext.pci();
        pci.poke_vf(0, 0x34, &[0x80]);
        pci.poke_vf(0, 0x80, &[0x09, 0x80]);
    }
    expect_refused(
        &w,
        "capability list that loops",
        Set,
        OID_SRIOV_SET_VF_POWER_STATE,
        &mut b,
        NDIS_STATUS_FAILURE,
        None,
    );
    assert!(w.pf_sim().ext.pci().vf_writes.is_empty(), "nothing written");
}

/// SR-IOV 1.1: a VF's I/O and Memory Space Enable read 0 and its BARs read 0, whatever is
/// written; Bus Master Enable is its own.
#[test]
fn a_vf_hardwires_memory_space_enable_and_its_bars() {
    let w = host();
    let mut b = config_space_params(0, 4, 2);
    b[20..22].copy_from_slice(&0x0007u16.to_le_bytes());
    assert_eq!(
        pf_oid(&w, Set, OID_SRIOV_WRITE_VF_CONFIG_SPACE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(config16(&w, 0, 4), 0x0004);
    let mut b = config_space_params(0, 0x10, 4);
    b[20..24].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    assert_eq!(
        pf_oid(&w, Set, OID_SRIOV_WRITE_VF_CONFIG_SPACE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    let mut b = config_space_params(0, 0x10, 4);
    assert_eq!(
        pf_oid(&w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(&b[20..24], &[0; 4], "a VF's BAR reads 0");
}

/// "MiniportOidRequest": no waiting for the hardware inside the call. RESET_VF pends, its work
/// item waits the 100 ms, and NdisMOidRequestComplete ends it.
#[test]
fn reset_vf_pends_and_completes_from_its_work_item() {
    let w = host();
    let before = w.machine().slept_us();
    assert_eq!(reset(&w, 0), NDIS_STATUS_SUCCESS);
    assert!(
        w.machine().slept_us() - before >= 100_000,
        "the FLR's 100 ms"
    );
    assert!(w.timeline().iter().any(|(_, e)| matches!(e,
        sim::timeline::Event::Lifecycle { what, .. } if what == "NdisMOidRequestComplete -> SUCCESS")));
    assert_eq!(power(&w, 1, NdisDeviceStateD3, 0), NDIS_STATUS_SUCCESS);
    assert!(
        w.machine().slept_us() - before >= 110_000,
        "and D3hot's 10 ms"
    );
    w.assert_clean();
}

/// The simulator's check fires: a PF that touches a VF within the 100 ms after an FLR.
#[test]
fn touching_a_vf_during_its_flr_recovery_is_a_violation() {
    let w = host();
    let h = w.pf_sim().handle();
    let mut devctl = 0x8000u16.to_le_bytes();
    let at = (VF_PCIE_CAP_AT + 8) as u32;
    // SAFETY: the simulator's exports with the PF's handle and 2-byte buffers.
    unsafe {
        sim::exports::NdisMSetVirtualFunctionBusData(h, 0, devctl.as_mut_ptr().cast(), at, 2);
        assert_eq!(
            sim::exports::NdisMGetVirtualFunctionBusData(h, 0, devctl.as_mut_ptr().cast(), at, 2),
            0
        );
    }
    assert!(
        w.violations().iter().any(|v| v.contains("recovery time")),
        "{:?}",
        w.violations()
    );
}

/// The guest's configuration writes cannot reset the function or change its power state
/// behind the PF's back: those go through OID_SRIOV_RESET_VF and OID_SRIOV_SET_VF_POWER_STATE.
#[test]
fn guest_config_writes_cannot_reset_or_change_power() {
    let w = host();
    for (what, at, bytes) in [
        ("Initiate FLR", VF_PCIE_CAP_AT + 8, vec![0x00, 0x80]),
        (
            "Initiate FLR, high byte only",
            VF_PCIE_CAP_AT + 9,
            vec![0x80],
        ),
        ("PMCSR", PMCSR, vec![0x03, 0x00]),
        ("a span over PMCSR", PMCSR - 2, vec![0; 6]),
    ] {
        let mut b = config_space_params(0, at as u32, bytes.len() as u32);
        b[20..].copy_from_slice(&bytes);
        expect_refused(
            &w,
            what,
            Set,
            OID_SRIOV_WRITE_VF_CONFIG_SPACE,
            &mut b,
            NDIS_STATUS_INVALID_PARAMETER,
            None,
        );
    }
    assert!(w.pf_sim().ext.pci().vf_resets.is_empty());
    // Device Control without the FLR bit is the guest's.
    let mut b = config_space_params(0, (VF_PCIE_CAP_AT + 8) as u32, 2);
    b[20..22].copy_from_slice(&0x0010u16.to_le_bytes());
    assert_eq!(
        pf_oid(&w, Set, OID_SRIOV_WRITE_VF_CONFIG_SPACE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
}

/// PCI PM 1.2's state machine, on a VF whose PMC offers D1 and D2: D3hot goes only to D0, D2
/// never to D1.
#[test]
fn power_transitions_follow_the_pci_pm_state_machine() {
    let w = host();
    w.pf_sim().ext.pci().poke_vf(
        0,
        VF_PM_CAP_AT + 2,
        &(0x0003u16 | 1 << 9 | 1 << 10).to_le_bytes(),
    );
    assert_eq!(power(&w, 0, NdisDeviceStateD3, 0), NDIS_STATUS_SUCCESS);
    for (what, state) in [
        ("D3hot to D1", NdisDeviceStateD1),
        ("D3hot to D2", NdisDeviceStateD2),
    ] {
        let mut b = power_params(0, state, 0);
        expect_refused(
            &w,
            what,
            Set,
            OID_SRIOV_SET_VF_POWER_STATE,
            &mut b,
            NDIS_STATUS_FAILURE,
            None,
        );
    }
    assert_eq!(power(&w, 0, NdisDeviceStateD0, 0), NDIS_STATUS_SUCCESS);
    assert_eq!(power(&w, 0, NdisDeviceStateD2, 0), NDIS_STATUS_SUCCESS);
    let mut b = power_params(0, NdisDeviceStateD1, 0);
    expect_refused(
        &w,
        "D2 to D1",
        Set,
        OID_SRIOV_SET_VF_POWER_STATE,
        &mut b,
        NDIS_STATUS_FAILURE,
        None,
    );
    assert_eq!(power(&w, 0, NdisDeviceStateD0, 0), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf().vf_power_state(0), Some((NdisDeviceStateD0, false)));
    w.assert_clean();
}

/// A surprise removal while the reset waits for the hardware: the request completes with
/// NDIS_STATUS_NOT_ACCEPTED, as every request after the removal does.
#[test]
fn surprise_removal_during_a_reset_completes_it_not_accepted() {
    let w = host();
    w.machine().set_call_hook(Some(Box::new(|m, call, _| {
        if call == "NdisMSetVirtualFunctionBusData"
            && let Some(pf) = m.pf_adapter()
        {
            m.surprise_remove(pf);
        }
        sim::world::CallFault::Proceed
    })));
    assert_eq!(reset(&w, 0), NDIS_STATUS_NOT_ACCEPTED);
    w.machine().set_call_hook(None);
    w.assert_clean();
}
