//! Issue 11, end to end at the device: "After the host moves a VF to a new MAC/VLAN, frames to
//! the new address reach the guest, frames to the old one do not." The host flow brings VMs
//! up through the PF's OIDs; frames injected at the device model's wire port go where the
//! switch the PF programmed sends them (docs/reference-nic.md section 7): to the VF function
//! whose VPort holds the matching filter, into its RX ring (its RX counters, its interrupt and
//! DPC, and for the host-linked VF driver `hw_completions_seen`), and to no other function.
//! Unicast that no filter claims goes to the promiscuous default VPort, the PF's.
//! Run with the host-linked drivers and with the cross-built `.sys` images.
use common::hw::regs::*;
use sim::device::Func;
use sim::host_flow::{HostFlow, VmVf};
use sim::{Config, World};

const NEW_MAC: [u8; 6] = [0x00, 0x15, 0x5D, 0x07, 0x00, 0x07];
const NEW_VLAN: u16 = 300;

/// A 64-byte frame to `dst`, 802.1Q-tagged with `vlan` when given.
fn frame(dst: [u8; 6], vlan: Option<u16>) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00, 0x99]);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(64, 0x5A);
    f
}

/// Frames each function received (its RX_UCAST_PKTS): the PF's, then each VM's VF's.
fn received(w: &World, vms: &[VmVf]) -> Vec<u64> {
    std::iter::once(Func::Pf)
        .chain(vms.iter().map(|vm| Func::Vf(vm.vf)))
        .map(|f| {
            w.machine()
                .nic(|m| m.function(f).map_or(0, |func| func.bar.r64(RX_UCAST_PKTS)))
        })
        .collect()
}

/// What the guests' VF drivers saw: DPCs run per VF adapter, and for host-linked drivers
/// the completions each DPC handed to the adapter.
fn guest_side(w: &World, vms: &[VmVf]) -> Vec<(u64, Option<u32>)> {
    vms.iter()
        .map(|vm| {
            let dpcs = w
                .vf_sim(vm.vf)
                .map_or(0, |a| w.machine().interrupts_run(a).1);
            (dpcs, w.vf(vm.vf).map(|a| a.hw_completions_seen()))
        })
        .collect()
}

/// Injects one frame at the wire and lets the interrupts run; returns which functions got
/// it (by `received` index) and whether the receiving VM's driver saw it.
fn inject(w: &World, vms: &[VmVf], dst: [u8; 6], vlan: Option<u16>) -> Vec<usize> {
    let before = received(w, vms);
    let guests = guest_side(w, vms);
    w.machine().nic(|m| m.from_wire(&frame(dst, vlan)));
    w.settle();
    let after = received(w, vms);
    let got: Vec<usize> = (0..after.len())
        .filter(|&i| after[i] != before[i])
        .collect();
    for i in &got {
        assert_eq!(after[*i], before[*i] + 1, "one frame, received once");
    }
    let guests_after = guest_side(w, vms);
    for (k, (g0, g1)) in guests.iter().zip(&guests_after).enumerate() {
        let hit = got.contains(&(k + 1));
        assert_eq!(
            g1.0 > g0.0,
            hit,
            "VM {k}: its DPC ran exactly when it received"
        );
        if let (Some(c0), Some(c1)) = (g0.1, g1.1) {
            assert_eq!(c1 > c0, hit, "VM {k}: completions handed to the VF adapter");
        }
    }
    got
}

fn run(w: &World) {
    let mut flow = HostFlow::new(w);
    let mut vms = flow.start(2).unwrap();
    for (k, vm) in vms.clone().iter().enumerate() {
        assert_eq!(
            inject(w, &vms, vm.mac, vm.vlan),
            [k + 1],
            "VM {k}'s MAC and VLAN reach its VF only"
        );
    }
    // VM 0's MAC with VM 1's VLAN matches no filter: the default VPort (the PF) takes it.
    assert_eq!(inject(w, &vms, vms[0].mac, vms[1].vlan), [0]);
    let (old_mac, old_vlan) = (vms[0].mac, vms[0].vlan);
    flow.change_vm_address(&mut vms[0], NEW_MAC, Some(NEW_VLAN))
        .unwrap();
    // The invalidation reaches the guest; the VF re-reads its MAC/VLAN block.
    w.settle();
    assert_eq!(
        w.vf_mac_via_oid(vms[0].vf).unwrap(),
        NEW_MAC,
        "the VF reports its new address (OID_802_3_CURRENT_ADDRESS)"
    );
    assert_eq!(
        inject(w, &vms, NEW_MAC, Some(NEW_VLAN)),
        [1],
        "the new address reaches VM 0's VF"
    );
    assert_eq!(
        inject(w, &vms, old_mac, old_vlan),
        [0],
        "the old address no longer reaches the VF: the default VPort takes it"
    );
    assert_eq!(
        inject(w, &vms, vms[1].mac, vms[1].vlan),
        [2],
        "VM 1 as before"
    );
    for vm in vms {
        flow.remove_vm(vm).unwrap();
    }
    flow.delete_switch().unwrap();
}

#[test]
fn frames_follow_the_vms_address_with_the_host_linked_drivers() {
    let w = World::new(Config::default());
    w.load_pf().expect("PF initializes");
    run(&w);
    w.halt_pf();
    w.assert_clean();
}

/// The same with the cross-built images (x86_64 Linux only).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn frames_follow_the_vms_address_with_the_images() {
    let w = World::pf_image_host(Config::default()).unwrap_or_else(|e| panic!("{e}"));
    run(&w);
    w.halt_pf();
    w.assert_clean();
}

/// docs/reference-nic.md section 7, forwarding step 3: the default VPort is PROMISC and so a
/// member of every VLAN: broadcast and multicast from the wire reach the PF even when no filter
/// is set on the default VPort.
#[test]
fn broadcast_and_multicast_reach_the_promiscuous_default_vport() {
    let w = sim::World::boot(sim::Config::default(), 1);
    let a = w.pf_sim();
    let before = a.recv.seen().len();
    let mut bcast = vec![0u8; 64];
    bcast[..6].copy_from_slice(&[0xFF; 6]);
    let mut mcast = vec![0u8; 64];
    mcast[..6].copy_from_slice(&[0x01, 0x00, 0x5E, 0x00, 0x00, 0x01]);
    w.machine().from_wire(&[&bcast, &mcast]);
    assert_eq!(a.recv.seen().len() - before, 2);
    w.assert_clean();
}
