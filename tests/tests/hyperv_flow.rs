//! The documented Hyper-V host sequences end to end (`sim::host_flow`), with the host-linked
//! PF and with the cross-built images, and a mutation check per OID the flow needs: a PF that
//! answers it with NOT_SUPPORTED stops the flow, and the error names the OID.
use common::ffi::*;
use common::oid::RequestKind;
use sim::host_flow::{GUEST_REQUIRED, HostFlow, REQUIRED, oid_name};
use sim::{Config, World};

fn pf_host() -> World {
    let w = World::new(Config::default());
    w.load_pf().expect("PF initializes");
    w
}

#[test]
fn the_documented_flow_runs_with_the_host_linked_drivers() {
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    flow.run(3).unwrap();
    // Every required OID was sent, with the request type its page gives.
    for (oid, kind) in REQUIRED {
        assert!(
            flow.steps.iter().any(|s| s.oid == *oid && s.kind == *kind),
            "{} ({kind:?}) never sent",
            oid_name(*oid)
        );
    }
    assert_eq!(w.pf().vport_count(), 0);
    assert_eq!(w.pf().filter_count(), 0);
    assert_eq!(w.pf().allocated_vfs(), 0);
    w.assert_clean();
}

/// "Virtual Function Teardown Sequence": filters back, VPort deleted, FLR, VF freed, in order.
#[test]
fn teardown_runs_in_the_documented_order() {
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    flow.check_pf_capabilities().unwrap();
    flow.create_switch(2).unwrap();
    let vm = flow
        .add_vm([0x00, 0x15, 0x5D, 0x02, 0x00, 0x01], None)
        .unwrap();
    assert_eq!(
        w.vf_mac_via_oid(vm.vf).unwrap(),
        vm.mac,
        "the VF took the switch's MAC"
    );
    let from = flow.steps.len();
    flow.remove_vm(vm).unwrap();
    let order: Vec<NDIS_OID> = flow.steps[from..].iter().map(|s| s.oid).collect();
    assert_eq!(
        order,
        [
            OID_RECEIVE_FILTER_MOVE_FILTER,
            OID_NIC_SWITCH_DELETE_VPORT,
            OID_SRIOV_RESET_VF,
            OID_NIC_SWITCH_FREE_VF,
            OID_RECEIVE_FILTER_CLEAR_FILTER
        ]
    );
    flow.delete_switch().unwrap();
    w.assert_clean();
}

#[test]
fn no_switch_without_current_sriov_capabilities() {
    let w = World::new(Config {
        keywords: vec![("*SRIOV".into(), 0)],
        ..Config::default()
    });
    w.load_pf().expect("PF initializes");
    let err = HostFlow::new(&w).run(1).unwrap_err();
    assert!(err.contains("Determining SR-IOV Capabilities"), "{err}");
}

#[test]
fn each_required_oid_is_needed() {
    for (oid, _) in REQUIRED.iter().chain(GUEST_REQUIRED) {
        let w = pf_host();
        w.pf().without_handler(Some(*oid));
        let err = HostFlow::new(&w)
            .run(1)
            .expect_err(&format!("the flow ran without {}", oid_name(*oid)));
        assert!(
            err.contains(oid_name(*oid)) && err.contains("NOT_SUPPORTED"),
            "{}: {err}",
            oid_name(*oid)
        );
        // The PF itself answered: its own debugger line for the unsupported OID.
        let line = format!("OID {oid:#x} not supported");
        assert!(
            w.log().iter().any(|l| l.contains(&line)),
            "{}: the PF never saw the request",
            oid_name(*oid)
        );
    }
}

/// The same flow against the cross-built `.sys` images (x86_64 Linux only).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_documented_flow_runs_with_the_images() {
    let w = World::pf_image_host(Config::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut flow = HostFlow::new(&w);
    flow.run(2).unwrap();
    assert!(flow.steps.iter().all(|s| s.status == NDIS_STATUS_SUCCESS));
    assert!(flow.steps.iter().any(|s| s.kind == RequestKind::Query));
    w.assert_clean();
}

/// docs/hyperv-conformance.md: every row names a test, and every test it names exists
/// (`file.rs::name` is a `fn name` in tests/tests/file.rs; a bare `file.rs` is a test file).
#[test]
fn every_conformance_row_names_an_existing_test() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let doc = std::fs::read_to_string(format!("{root}/docs/hyperv-conformance.md")).unwrap();
    let mut rows = 0;
    for line in doc
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| Step"))
    {
        rows += 1;
        let test_cell = line.trim_end_matches('|').rsplit('|').next().unwrap();
        let mut named = 0;
        for part in test_cell.split('`').skip(1).step_by(2) {
            let (file, names) = part.split_once("::").unwrap_or((part, ""));
            if !file.ends_with(".rs") {
                continue;
            }
            let src = std::fs::read_to_string(format!("{root}/tests/tests/{file}"))
                .unwrap_or_else(|_| panic!("{file} (row: {line})"));
            for name in names.split(", ").filter(|n| !n.is_empty()) {
                assert!(
                    src.contains(&format!("fn {name}(")),
                    "{file}::{name} does not exist"
                );
            }
            named += 1;
        }
        // Names after a comma inside one backtick pair are not used; others are separate pairs.
        for part in test_cell
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|p| !p.contains(".rs") && !p.contains('('))
        {
            let exists = [
                "pf_nic_switch_oids.rs",
                "pf_receive_filter_oids.rs",
                "pf_pci_oids.rs",
                "pf_keywords.rs",
                "hyperv_flow.rs",
                "pf_issue10_review.rs",
                "pf_vf_function.rs",
                "switch_programming.rs",
                "switch_traffic.rs",
                "resources.rs",
            ]
            .iter()
            .any(|f| {
                std::fs::read_to_string(format!("{root}/tests/tests/{f}"))
                    .unwrap()
                    .contains(&format!("fn {part}("))
            });
            assert!(exists, "{part} does not exist");
        }
        assert!(named > 0, "row without a test: {line}");
    }
    assert!(rows >= 25, "{rows} rows");
}

/// The flow's effect checks can fail: a VLAN the switch did not give, a VF left out of D0, a
/// command register the guest's write did not reach, each named.
#[test]
fn the_flows_effect_checks_see_a_wrong_vlan_power_state_or_command() {
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    let vms = flow.start(2).unwrap();
    assert_eq!(vms[1].vlan, Some(101));
    flow.check_vm(&vms[1]).unwrap();
    // The VF's VLAN changed behind the switch's back.
    w.pf().set_vf_mac_vlan(1, vms[1].mac, 7, 0).unwrap();
    w.settle();
    let err = flow.check_vm(&vms[1]).unwrap_err();
    assert!(err.contains("VLAN 7"), "{err}");
    // The VF's function left D0.
    let pmcsr = (sim::pci::VF_PM_CAP_AT + 4) as u32;
    w.pf_sim().ext.pci().poke_vf(0, pmcsr as usize, &[3, 0]);
    let err = flow.check_vm(&vms[0]).unwrap_err();
    assert!(err.contains("D0") && err.contains("D3"), "{err}");
    w.pf_sim().ext.pci().poke_vf(0, pmcsr as usize, &[0, 0]);
    flow.check_vm(&vms[0]).unwrap();
    // Bus mastering off again (Memory Space Enable reads 0 on a VF whatever is written).
    w.pf_sim().ext.pci().write_vf(0, 4, &[0x02, 0]);
    let err = flow.check_vm(&vms[0]).unwrap_err();
    assert!(err.contains("command register 0x0000"), "{err}");
}

/// A PF whose current receive-filter capabilities lack the queue properties SR-IOV needs gets
/// no switch.
#[test]
fn no_switch_without_msi_x_and_vm_queue_properties() {
    let w = pf_host();
    HostFlow::new(&w).check_pf_capabilities().unwrap();
    for flag in [
        NDIS_RECEIVE_FILTER_MSI_X_SUPPORTED,
        NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED,
    ] {
        let w = pf_host();
        if let Some(c) = w.pf_sim().ext.cur_filter_caps.lock().unwrap().as_mut() {
            c.SupportedQueueProperties &= !flag;
        }
        let err = HostFlow::new(&w).run(1).unwrap_err();
        assert!(err.contains("SupportedQueueProperties"), "{err}");
    }
}

/// Step 1 takes the switch from the INF's `NicSwitches\0` values: the VFs enabled are the INF's
/// `*NumVFs`, whatever number of VMs the host runs.
#[test]
fn the_switch_is_created_from_the_infs_nic_switch_values() {
    let r = sim::hyperv::nic_switch_registry();
    assert_eq!(
        (r.flags, r.switch_type, r.switch_id),
        (0, NdisNicSwitchTypeExternal, NDIS_DEFAULT_SWITCH_ID)
    );
    assert_eq!(r.num_vfs as usize, pf_miniport::MAX_VFS);
    let w = pf_host();
    let mut flow = HostFlow::new(&w);
    let vms = flow.start(1).unwrap();
    assert_eq!(w.machine().virtualization(), Some(r.num_vfs as u16));
    for vm in vms {
        flow.remove_vm(vm).unwrap();
    }
    flow.delete_switch().unwrap();
    w.assert_clean();
}
