//! Issue 11, "Filters belong to the PF": the PF programs the reference NIC's embedded switch
//! (docs/reference-nic.md sections 7 and 8) from the NIC switch and receive-filter OIDs. Each
//! test reads the device model's tables back and compares them with what the OIDs said:
//! - after every step of the documented host flow, and for a PF VPort's activation;
//! - a device that does not acknowledge a commit (a hardware fault) fails the OID with
//!   NDIS_STATUS_DEVICE_FAILED and leaves the driver's tables and the device's registers as
//!   they were, for each OID that changes the switch;
//! - refused OIDs leave the registers unchanged (`expect_refused` compares them for every
//!   hostile case of pf_receive_filter_oids.rs and pf_nic_switch_oids.rs; one here too).
use common::ffi::*;
use common::oid::RequestKind::{Method, Set};
use sim::device::{FilterRow, Func, VPortRow, VfRow};
use sim::host_flow::HostFlow;
use sim::hyperv::*;
use sim::{Config, World};

fn pf_host() -> World {
    let w = World::new(Config::default());
    w.load_pf().expect("PF initializes");
    w
}

const DEFAULT_ROW: VPortRow = VPortRow {
    function: Func::Pf,
    rx_queue: 0,
    promiscuous: true,
    accept_broadcast: true,
    accept_multicast: true,
    port_vlan: None,
};

fn vf_vport_row(vf: u16) -> VPortRow {
    VPortRow {
        function: Func::Vf(vf),
        promiscuous: false,
        ..DEFAULT_ROW
    }
}

fn vports(w: &World) -> Vec<(u16, VPortRow)> {
    w.machine().nic(|m| m.vport_rows())
}

fn filters(w: &World) -> Vec<FilterRow> {
    w.machine().nic(|m| m.filter_rows())
}

fn vf_row(w: &World, vf: u16) -> VfRow {
    w.machine().nic(|m| m.vf_row(vf))
}

fn settled(w: &World) -> bool {
    w.machine().nic(|m| m.commit_acknowledged())
}

const HOST: [u8; 6] = [0x00, 0x15, 0x5D, 0x00, 0x00, 0xF0];
const VM: [u8; 6] = [0x00, 0x15, 0x5D, 0x01, 0x00, 0x01];
const MOVED: [u8; 6] = [0x00, 0x15, 0x5D, 0x01, 0x00, 0x42];

#[test]
fn the_tables_follow_every_oid_of_the_documented_flow() {
    let w = pf_host();
    tables_follow_the_flow(&w);
    w.halt_pf();
    w.assert_clean();
}

/// The same with the cross-built images (x86_64 Linux only).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_images_tables_follow_every_oid_of_the_documented_flow() {
    let w = World::pf_image_host(Config::default()).unwrap_or_else(|e| panic!("{e}"));
    tables_follow_the_flow(&w);
    w.halt_pf();
    w.assert_clean();
}

fn tables_follow_the_flow(w: &World) {
    // Before the switch: bypass, empty tables.
    assert!(!w.machine().nic(|m| m.switch_enabled()));
    assert!(vports(w).is_empty() && filters(w).is_empty());
    let mut flow = HostFlow::new(w);
    flow.check_pf_capabilities().unwrap();
    flow.create_switch(4).unwrap();
    assert!(w.machine().nic(|m| m.switch_enabled()), "out of bypass");
    assert_eq!(vports(w), [(0, DEFAULT_ROW)]);
    assert!(filters(w).is_empty());
    flow.host_vnic(HOST).unwrap();
    let host_row = FilterRow {
        index: 0,
        mac: HOST,
        vlan: None,
        vport: 0,
    };
    assert_eq!(filters(w), [host_row]);
    let mut vm = flow.add_vm(VM, Some(100)).unwrap();
    let p = vm.vport as u16;
    assert_eq!(vports(w), [(0, DEFAULT_ROW), (p, vf_vport_row(vm.vf))]);
    assert_eq!(
        filters(w),
        [
            host_row,
            FilterRow {
                index: 1,
                mac: VM,
                vlan: Some(100),
                vport: p
            }
        ],
        "the VM's filter moved to its VF's VPort"
    );
    assert_eq!(
        vf_row(w, vm.vf),
        VfRow {
            enabled: true,
            link_down: false,
            mac: VM,
            queue_pairs: 1
        }
    );
    assert!(settled(w));
    // The host moves the VM: the new filter in the next free entry, the old one gone.
    flow.change_vm_address(&mut vm, MOVED, Some(200)).unwrap();
    assert_eq!(
        filters(w),
        [
            host_row,
            FilterRow {
                index: 2,
                mac: MOVED,
                vlan: Some(200),
                vport: p
            }
        ]
    );
    assert_eq!(vf_row(w, vm.vf).mac, MOVED, "VF_MAC follows the VF");
    flow.remove_vm(vm).unwrap();
    assert_eq!(vports(w), [(0, DEFAULT_ROW)]);
    assert_eq!(filters(w), [host_row]);
    assert_eq!(
        vf_row(w, vm.vf),
        VfRow::RESET,
        "a freed VF's entry is reset"
    );
    flow.delete_switch().unwrap();
    // Section 9's reset state: bypass, every entry 0, every VF-control entry at reset values.
    assert!(!w.machine().nic(|m| m.switch_enabled()));
    assert!(vports(w).is_empty() && filters(w).is_empty());
    let regs = w.machine().nic(|m| m.switch_registers());
    let vf_table_words = 256 * 4;
    let (tables, vf_words) = regs.split_at(regs.len() - vf_table_words);
    assert!(
        tables.iter().all(|r| *r == 0),
        "SW_CTRL, filter and VPort tables all 0"
    );
    for (i, word) in vf_words.iter().enumerate() {
        assert_eq!(*word, u32::from(i % 4 == 3), "VF-control word {i}");
    }
    assert!(settled(w));
}

#[test]
fn a_pf_vport_is_enabled_in_the_device_when_activated() {
    let w = pf_host();
    assert_eq!(w.create_switch(4), NDIS_STATUS_SUCCESS);
    let mut b = vport_params(2, NDIS_PF_FUNCTION_ID, 1, 0, 0);
    assert_eq!(
        pf_oid(&w, Method, OID_NIC_SWITCH_CREATE_VPORT, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(vports(&w), [(0, DEFAULT_ROW)], "deactivated: not enabled");
    let mut b = vport_params(
        2,
        0,
        0,
        NdisNicSwitchVPortStateActivated,
        NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED,
    );
    assert_eq!(
        pf_oid(&w, Set, OID_NIC_SWITCH_VPORT_PARAMETERS, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    let pf_nondefault = VPortRow {
        promiscuous: false,
        ..DEFAULT_ROW
    };
    assert_eq!(vports(&w), [(0, DEFAULT_ROW), (2, pf_nondefault)]);
    let mut b = delete_vport_params(2);
    assert_eq!(
        pf_oid(&w, Set, OID_NIC_SWITCH_DELETE_VPORT, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(vports(&w), [(0, DEFAULT_ROW)]);
    w.halt_pf();
    w.assert_clean();
}

/// Issues `buf` with the device refusing commits: the OID fails with DEVICE_FAILED, and the
/// driver's tables (its snapshot) and the device's registers are what they were.
fn fails_with_the_device_stalled(
    w: &World,
    what: &str,
    kind: common::oid::RequestKind,
    oid: NDIS_OID,
    mut buf: Vec<u8>,
) {
    let before = pf_snapshot(w);
    let regs = w.machine().nic(|m| m.switch_registers());
    w.machine().nic(|m| m.stall_commits = true);
    let o = pf_oid(w, kind, oid, &mut buf);
    w.machine().nic(|m| m.stall_commits = false);
    assert_eq!(o.status, NDIS_STATUS_DEVICE_FAILED, "{what}");
    assert_eq!(
        pf_snapshot(w),
        before,
        "{what}: the driver's tables changed"
    );
    assert!(
        w.machine().nic(|m| m.switch_registers()) == regs,
        "{what}: the device's registers changed"
    );
    // The registers written back are what the device takes once it acknowledges again.
    w.machine().poll_device();
    assert!(settled(w), "{what}");
}

#[test]
fn a_device_that_does_not_acknowledge_fails_the_oid_and_nothing_changes() {
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    flow.check_pf_capabilities().unwrap();
    // CREATE_SWITCH: no switch, still bypass.
    fails_with_the_device_stalled(
        &w,
        "create switch",
        Method,
        OID_NIC_SWITCH_CREATE_SWITCH,
        switch_params(4, 0),
    );
    assert!(!w.machine().nic(|m| m.switch_enabled()));
    flow.create_switch(4).unwrap();
    flow.host_vnic(HOST).unwrap();
    let vm = flow.add_vm(VM, Some(100)).unwrap();
    let (rows, table) = (vports(&w), filters(&w));
    let p = vm.vport;
    fails_with_the_device_stalled(
        &w,
        "set filter",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        filter_params(90, p, MOVED, Some(200)),
    );
    assert_eq!(
        w.vf_mac_via_oid(vm.vf).unwrap(),
        VM,
        "the VF was not told an address the device refused"
    );
    fails_with_the_device_stalled(
        &w,
        "move filter",
        Set,
        OID_RECEIVE_FILTER_MOVE_FILTER,
        move_filter_params(vm.filter, p, 0),
    );
    fails_with_the_device_stalled(
        &w,
        "clear filter",
        Set,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        clear_filter_params(vm.filter),
    );
    assert_eq!(w.vf_mac_via_oid(vm.vf).unwrap(), VM);
    fails_with_the_device_stalled(
        &w,
        "create a PF VPort (deactivated: written disabled, committed)",
        Method,
        OID_NIC_SWITCH_CREATE_VPORT,
        vport_params(7, NDIS_PF_FUNCTION_ID, 1, 0, 0),
    );
    fails_with_the_device_stalled(&w, "delete switch", Set, OID_NIC_SWITCH_DELETE_SWITCH, {
        let mut b = vec![0u8; 12];
        b[0] = NDIS_OBJECT_TYPE_DEFAULT;
        b[1] = NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1;
        b[2..4].copy_from_slice(
            &NDIS_SIZEOF_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1.to_le_bytes(),
        );
        b
    });
    assert!(w.machine().nic(|m| m.switch_enabled()));
    assert_eq!((vports(&w), filters(&w)), (rows, table));
    // The device answers again: the documented teardown runs, and the tables follow it.
    flow.remove_vm(vm).unwrap();
    flow.delete_switch().unwrap();
    assert!(vports(&w).is_empty() && filters(&w).is_empty());
    w.halt_pf();
    w.assert_clean();
}

#[test]
fn a_stalled_device_fails_a_vports_creation_and_deletion() {
    let w = pf_host();
    assert_eq!(w.create_switch(4), NDIS_STATUS_SUCCESS);
    assert_eq!(w.allocate_vf(), Ok(0));
    fails_with_the_device_stalled(
        &w,
        "create the VF's VPort",
        Method,
        OID_NIC_SWITCH_CREATE_VPORT,
        vport_params(1, 0, 2, 0, 0),
    );
    assert!(!vf_row(&w, 0).enabled, "not enabled without its VPort");
    let mut b = vport_params(1, 0, 2, 0, 0);
    assert_eq!(
        pf_oid(&w, Method, OID_NIC_SWITCH_CREATE_VPORT, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(vports(&w), [(0, DEFAULT_ROW), (1, vf_vport_row(0))]);
    let row = vf_row(&w, 0);
    assert!(row.enabled && row.queue_pairs == 2, "{row:?}");
    fails_with_the_device_stalled(
        &w,
        "delete the VF's VPort",
        Set,
        OID_NIC_SWITCH_DELETE_VPORT,
        delete_vport_params(1),
    );
    assert_eq!(vports(&w), [(0, DEFAULT_ROW), (1, vf_vport_row(0))]);
    w.halt_pf();
    w.assert_clean();
}

#[test]
fn a_refused_filter_leaves_the_device_as_it_was() {
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    flow.check_pf_capabilities().unwrap();
    flow.create_switch(4).unwrap();
    let vm = flow.add_vm(VM, None).unwrap();
    let table = filters(&w);
    // A second filter with the VM's FilterId: refused before any register is written.
    let mut b = filter_params(vm.filter, 0, MOVED, None);
    expect_refused(
        &w,
        "FilterId in use",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    assert_eq!(filters(&w), table);
    w.halt_pf();
    w.assert_clean();
}

/// The checks above fail on a PF that leaves the NIC's switch alone: its tables stay empty
/// and bypass stays on, so the readback differs from what the OIDs said.
#[test]
fn mutation_a_pf_that_does_not_program_the_switch_is_caught() {
    use pf_miniport::hwswitch::SwitchMutant;
    let w = pf_host();
    w.pf()
        .mutant_switch_programming(Some(SwitchMutant::WritesNothing));
    let mut flow = HostFlow::new(&w);
    flow.check_pf_capabilities().unwrap();
    flow.create_switch(4).unwrap();
    flow.host_vnic(HOST).unwrap();
    let vm = flow.add_vm(VM, Some(100)).unwrap();
    assert_ne!(
        vports(&w),
        [(0, DEFAULT_ROW), (vm.vport as u16, vf_vport_row(vm.vf))]
    );
    assert!(filters(&w).is_empty(), "no filter reached the device");
    assert_ne!(vf_row(&w, vm.vf).mac, VM);
    assert!(vports(&w).is_empty(), "not even the default VPort");
    w.pf().mutant_switch_programming(None);
    w.halt_pf();
    w.assert_clean();
}

/// A PF that does not wait for the device's acknowledgement reports success for a change the
/// device never took: the stalled-device check sees the OID succeed and the tables differ.
#[test]
fn mutation_a_pf_that_ignores_the_devices_answer_is_caught() {
    use pf_miniport::hwswitch::SwitchMutant;
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    flow.check_pf_capabilities().unwrap();
    flow.create_switch(4).unwrap();
    let vm = flow.add_vm(VM, Some(100)).unwrap();
    let before = pf_snapshot(&w);
    w.pf()
        .mutant_switch_programming(Some(SwitchMutant::IgnoresTheDevice));
    w.machine().nic(|m| m.stall_commits = true);
    let mut b = filter_params(90, vm.vport, MOVED, Some(200));
    let o = pf_oid(&w, Method, OID_RECEIVE_FILTER_SET_FILTER, &mut b);
    w.machine().nic(|m| m.stall_commits = false);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS, "the mutant claims success");
    assert_ne!(pf_snapshot(&w), before, "and its tables changed");
    assert!(!settled(&w), "while the device never took the change");
    w.pf().mutant_switch_programming(None);
    w.halt_pf();
    w.assert_clean();
}

/// After surprise removal the PF writes no switch register: OIDs are not accepted, and halt
/// (which otherwise puts the switch back in its reset state) leaves the vanished BAR alone
/// (the simulator's check, shown to fire in resources.rs).
#[test]
fn after_surprise_removal_the_switch_is_left_alone() {
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    flow.check_pf_capabilities().unwrap();
    flow.create_switch(4).unwrap();
    let vm = flow.add_vm(VM, Some(100)).unwrap();
    w.detach_vf(vm.vf);
    let pf = w.pf_sim();
    w.machine().surprise_remove(pf);
    assert!(w.machine().nic(|m| m.is_gone(Func::Pf)));
    let mut b = clear_filter_params(vm.filter);
    assert_eq!(
        pf_oid(&w, Set, OID_RECEIVE_FILTER_CLEAR_FILTER, &mut b).status,
        NDIS_STATUS_NOT_ACCEPTED
    );
    w.machine().halt(pf, NdisHaltDeviceSurpriseRemoved);
    assert!(w.machine().nic(|m| m.untouched_since_removal(Func::Pf)));
    let v = w.violations();
    assert!(v.is_empty(), "{v:?}");
}
