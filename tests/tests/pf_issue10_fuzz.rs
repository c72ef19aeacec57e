//! Mutation fuzzing of the issue-10 OIDs: valid payloads with random bytes changed, lengths cut
//! or grown, and random request types, thrown at the PF between the steps of the documented
//! flow. Whatever the PF answers, it must not crash or break a Verifier-style rule, and the
//! documented flow must still run afterwards. Runs against the host-linked PF and the
//! cross-built image (`FUZZ_SEED=n` reproduces a run).
use common::ffi::*;
use common::oid::RequestKind::{self, Method, Query, Set};
use sim::host_flow::HostFlow;
use sim::hyperv::*;
use sim::rng::Rng;
use sim::{Config, World};

fn payloads() -> Vec<(NDIS_OID, Vec<u8>)> {
    let mac = [0x02, 0x15, 0x5D, 0x77, 0, 1];
    vec![
        (OID_NIC_SWITCH_CREATE_VPORT, vport_params(3, 0, 1, 0, 0)),
        (
            OID_NIC_SWITCH_CREATE_VPORT,
            vport_params(4, NDIS_PF_FUNCTION_ID, 2, 0, 0),
        ),
        (OID_NIC_SWITCH_DELETE_VPORT, delete_vport_params(3)),
        (
            OID_NIC_SWITCH_VPORT_PARAMETERS,
            vport_params(
                1,
                0,
                1,
                NdisNicSwitchVPortStateActivated,
                NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED,
            ),
        ),
        (
            OID_NIC_SWITCH_PARAMETERS,
            switch_params(4, NDIS_NIC_SWITCH_PARAMETERS_SWITCH_NAME_CHANGED),
        ),
        (
            OID_RECEIVE_FILTER_SET_FILTER,
            filter_params(90, 1, mac, Some(3)),
        ),
        (
            OID_RECEIVE_FILTER_SET_FILTER,
            filter_params(91, 0, mac, None),
        ),
        (OID_RECEIVE_FILTER_CLEAR_FILTER, clear_filter_params(90)),
        (OID_RECEIVE_FILTER_MOVE_FILTER, move_filter_params(91, 0, 1)),
        (
            OID_SRIOV_READ_VF_CONFIG_SPACE,
            config_space_params(0, 0, 64),
        ),
        (
            OID_SRIOV_WRITE_VF_CONFIG_SPACE,
            config_space_params(0, 0x40, 8),
        ),
        (OID_SRIOV_PROBED_BARS, probed_bars_params()),
        (OID_SRIOV_VF_VENDOR_DEVICE_ID, vendor_device_params(0)),
        (
            OID_SRIOV_SET_VF_POWER_STATE,
            power_params(0, NdisDeviceStateD0, 0),
        ),
        (OID_SRIOV_BAR_RESOURCES, bar_resources_params(0, 0)),
    ]
}

fn mutate(rng: &mut Rng, mut b: Vec<u8>) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let n = rng.below(b.len() as u64 + 1) as usize;
            b.truncate(n);
        }
        1 => b.resize(b.len() + rng.below(64) as usize, rng.below(256) as u8),
        _ => {}
    }
    for _ in 0..=rng.below(6) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len() as u64) as usize;
        b[at] = match rng.below(4) {
            0 => 0,
            1 => 0xFF,
            _ => rng.below(256) as u8,
        };
    }
    b
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// What the host knows of the switch it drives: the filters (id -> VPort) and the VPorts its
/// requests created, from the requests the PF accepted (as NDIS tracks them).
#[derive(Default)]
struct HostView {
    filters: std::collections::BTreeMap<u32, u32>,
    vports: std::collections::BTreeSet<u32>,
}

impl HostView {
    fn accepted(&mut self, oid: NDIS_OID, b: &[u8]) {
        type V = NDIS_NIC_SWITCH_VPORT_PARAMETERS;
        match oid {
            OID_RECEIVE_FILTER_SET_FILTER => {
                self.filters.insert(le32(b, 16), le32(b, 40));
            }
            OID_RECEIVE_FILTER_CLEAR_FILTER => {
                self.filters.remove(&le32(b, 12));
            }
            OID_RECEIVE_FILTER_MOVE_FILTER => {
                self.filters.insert(le32(b, 4), le32(b, 20));
            }
            OID_NIC_SWITCH_CREATE_VPORT => {
                self.vports
                    .insert(le32(b, std::mem::offset_of!(V, VPortId)));
            }
            OID_NIC_SWITCH_DELETE_VPORT => {
                self.vports.remove(&le32(b, 8));
            }
            _ => {}
        }
    }
}

fn must(w: &World, seed: u64, kind: RequestKind, oid: NDIS_OID, mut b: Vec<u8>) {
    let o = pf_oid(w, kind, oid, &mut b);
    assert_eq!(
        o.status,
        NDIS_STATUS_SUCCESS,
        "seed {seed}: {}\n{}",
        sim::host_flow::oid_name(oid),
        w.log()[w.log().len().saturating_sub(6)..].join("\n")
    );
}

fn fuzz(w: &World, seed: u64, rounds: u32) {
    let mut flow = HostFlow::new(w);
    let vms = flow.start(2).expect("the flow starts");
    let mut host = HostView::default();
    for vm in &vms {
        host.filters.insert(vm.filter, vm.vport);
    }
    let mut rng = Rng::new(seed);
    let cases = payloads();
    for _ in 0..rounds {
        let (oid, valid) = &cases[rng.below(cases.len() as u64) as usize];
        let mut b = mutate(&mut rng, valid.clone());
        let kind: RequestKind = [Method, Set, Query][rng.below(3) as usize];
        let n = b.len() as u32;
        let (input, output) = match rng.below(3) {
            0 => (n, n),
            1 => (n, rng.below(u64::from(n) + 1) as u32),
            _ => (rng.below(u64::from(n) + 1) as u32, n),
        };
        if w.oid(w.pf_sim(), kind, *oid, &mut b, input, output).status == NDIS_STATUS_SUCCESS {
            host.accepted(*oid, &b);
        }
        w.settle();
        assert!(
            w.violations().is_empty(),
            "seed {seed}: {:?}",
            w.violations()
        );
    }
    // The PF still serves the flow: every VF is consistent.
    for vm in &vms {
        w.check_consistent_via_oids(vm.vf)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
    // The documented teardown of each VM, with every filter the host has on its VPort moved
    // back first; every step must succeed.
    for vm in vms {
        w.detach_vf(vm.vf);
        let on_vport: Vec<u32> = host
            .filters
            .iter()
            .filter(|(_, v)| **v == vm.vport)
            .map(|(id, _)| *id)
            .collect();
        for id in on_vport {
            must(
                w,
                seed,
                Set,
                OID_RECEIVE_FILTER_MOVE_FILTER,
                move_filter_params(id, vm.vport, NDIS_DEFAULT_VPORT_ID),
            );
            host.filters.insert(id, NDIS_DEFAULT_VPORT_ID);
        }
        flow.release_vf(&vm)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
    // What the fuzz left: its filters cleared, then its VPorts deleted.
    for id in std::mem::take(&mut host.filters).into_keys() {
        must(
            w,
            seed,
            Set,
            OID_RECEIVE_FILTER_CLEAR_FILTER,
            clear_filter_params(id),
        );
    }
    for vport in std::mem::take(&mut host.vports) {
        must(
            w,
            seed,
            Set,
            OID_NIC_SWITCH_DELETE_VPORT,
            delete_vport_params(vport),
        );
    }
    // A new VM still gets a working VF, and the switch still goes.
    let vm = flow
        .add_vm([0x00, 0x15, 0x5D, 0x0A, 0, 1], Some(42))
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    flow.check_vm(&vm)
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    flow.remove_vm(vm)
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    flow.delete_switch()
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    w.assert_clean();
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x10)
}

#[test]
fn issue10_oids_survive_mutated_payloads() {
    let w = World::new(Config::default());
    w.load_pf().expect("PF initializes");
    fuzz(&w, seed(), 3000);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_pf_image_survives_mutated_payloads() {
    let w = World::pf_image_host(Config::default()).unwrap_or_else(|e| panic!("{e}"));
    fuzz(&w, seed() ^ 0x5A5A, 3000);
}
