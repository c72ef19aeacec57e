//! HLK-style scenarios with the real trigger (issue 10): the host brings VFs up through the
//! documented flow and changes a VM's MAC/VLAN with receive filters on its VF's VPort; the
//! VF must end with exactly what the switch set last.
use sim::host_flow::HostFlow;
use sim::{Config, World};

fn world(delay: f64, seed: u64) -> World {
    let w = World::new(Config {
        seed,
        delivery_delay: delay,
        ..Config::default()
    });
    w.load_pf().expect("PF initializes");
    w
}

#[test]
fn a_burst_of_filter_changes_coalesces_and_ends_on_the_last() {
    let w = world(0.5, 11);
    let mut flow = HostFlow::new(&w);
    let mut vms = flow.start(1).unwrap();
    let vm = &mut vms[0];
    let mut last = vm.mac;
    for i in 0..20u8 {
        last = [0x02, 0x15, 0x5D, 0x40, 0x00, i];
        flow.change_vm_address(vm, last, Some(200 + u16::from(i)))
            .unwrap();
        if i % 7 == 0 {
            w.step();
        }
    }
    w.settle();
    assert_eq!(w.vf_mac_via_oid(vm.vf).unwrap(), last);
    w.check_consistent(vm.vf).unwrap();
    assert!(
        w.reads_of(vm.vf, 1) < 20,
        "changes coalesced: {} reads",
        w.reads_of(vm.vf, 1)
    );
    w.assert_clean();
}

#[test]
fn a_filter_change_while_the_vf_is_paused_applies_after_restart() {
    let w = world(0.0, 3);
    let mut flow = HostFlow::new(&w);
    let mut vms = flow.start(2).unwrap();
    assert_eq!(w.pause_vf(1), common::ffi::NDIS_STATUS_SUCCESS);
    let mac = [0x02, 0x15, 0x5D, 0x41, 0x00, 0x01];
    flow.change_vm_address(&mut vms[1], mac, Some(9)).unwrap();
    w.settle();
    assert_eq!(w.restart_vf(1), common::ffi::NDIS_STATUS_SUCCESS);
    w.settle();
    assert_eq!(w.vf_mac_via_oid(1).unwrap(), mac);
    w.check_consistent(0).unwrap();
    w.check_consistent(1).unwrap();
    w.assert_clean();
}

#[test]
fn eight_vms_each_take_their_own_addresses() {
    let w = world(0.25, 8);
    let mut flow = HostFlow::new(&w);
    let mut vms = flow.start(8).unwrap();
    for (i, vm) in vms.iter_mut().enumerate() {
        let mac = [0x02, 0x15, 0x5D, 0x42, 0x00, i as u8];
        flow.change_vm_address(vm, mac, Some(300 + i as u16))
            .unwrap();
    }
    w.settle();
    for vm in &vms {
        assert_eq!(w.vf_mac_via_oid(vm.vf).unwrap(), vm.mac);
        w.check_consistent(vm.vf).unwrap();
    }
    for vm in vms {
        flow.remove_vm(vm).unwrap();
    }
    flow.delete_switch().unwrap();
    w.assert_clean();
}
