//! The cross-built `.sys` images themselves, loaded into the simulator (`sim::loader`): the
//! bytes shipped to Windows register with NDIS, initialize, answer OIDs, and carry the
//! backchannel end to end. Driven only through NDIS (OIDs, the custom management OIDs, the
//! simulated virtualization stack), as Windows would drive them.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use pf_miniport::management::{OID_REF_SET_LINK, OID_REF_SET_VF_MAC_VLAN, SetLink, SetVfMacVlan};
use sim::loader::LoadedImage;
use sim::{Config, World};

fn boot(vfs: u16) -> World {
    World::boot_images(Config::default(), vfs).unwrap_or_else(|e| panic!("{e}"))
}

fn pf_block(w: &World, vf: u16, id: u8) -> Vec<u8> {
    w.pf_block_via_oid(vf, BlockId::masked(id)).unwrap()
}

fn vf_mac(w: &World, vf: u16) -> [u8; 6] {
    w.vf_mac_via_oid(vf).unwrap()
}

fn set(w: &World, oid: NDIS_OID, payload: &[u8]) -> sim::OidOutcome {
    let mut buf = payload.to_vec();
    let n = buf.len() as u32;
    w.oid(w.pf_sim(), RequestKind::Set, oid, &mut buf, n, n)
}

fn assert_consistent(w: &World, vfs: u16) {
    for vf in 0..vfs {
        w.check_consistent_via_oids(vf).unwrap();
    }
}

#[test]
fn the_shipped_images_run_the_backchannel_end_to_end() {
    let w = boot(4);
    assert!(w.is_image(true) && w.is_image(false));
    // NDIS calls into the images' own code, not the host-linked crates.
    let pf_oid = w.pf_sim().chars().OidRequestHandler.unwrap() as *const () as usize;
    let vf_oid = w.vf_sim(0).unwrap().chars().OidRequestHandler.unwrap() as *const () as usize;
    assert!(w.image_contains(true, pf_oid) && w.image_contains(false, vf_oid));
    assert!(!w.image_contains(
        true,
        pf_miniport::characteristics().OidRequestHandler.unwrap() as *const () as usize
    ));
    // The attributes came from the images' own code.
    assert_eq!(
        *w.pf_sim().sriov_caps.lock().unwrap(),
        Some(NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT)
    );
    assert_eq!(
        *w.vf_sim(0).unwrap().sriov_caps.lock().unwrap(),
        Some(NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_VF_MINIPORT)
    );
    assert_consistent(&w, 4);

    // The host's management tool sets VF 2's MAC and VLAN through the PF image.
    let mac = [0x02, 0x15, 0x5D, 0xEE, 0x00, 0x02];
    assert_eq!(
        set(
            &w,
            OID_REF_SET_VF_MAC_VLAN,
            &SetVfMacVlan::encode(2, mac, 300, 5)
        )
        .status,
        NDIS_STATUS_SUCCESS
    );
    w.settle();
    assert_eq!(vf_mac(&w, 2), mac);
    let block = MacVlanBlock::decode(&pf_block(&w, 2, 1)).unwrap().0;
    assert_eq!((block.vlan_id, block.priority), (300, 5));

    // A link change reaches every VF image as NDIS_STATUS_LINK_STATE.
    assert_eq!(
        set(&w, OID_REF_SET_LINK, &SetLink::encode(false, 9000, 0)).status,
        NDIS_STATUS_SUCCESS
    );
    w.settle();
    for vf in 0..4 {
        assert_eq!(
            w.vf_sim(vf).unwrap().link.lock().unwrap().last(),
            Some(&(false, 0)),
            "VF {vf}"
        );
    }
    assert_consistent(&w, 4);
    w.assert_clean();
}

#[test]
fn the_shipped_pf_refuses_hostile_input() {
    let w = boot(2);
    let mut buf = vec![0u8; 64];
    sim::payloads::write_config_block_params(&mut buf, 9, 1, 30, 20);
    let o = w.oid(
        w.pf_sim(),
        RequestKind::Method,
        OID_SRIOV_READ_VF_CONFIG_BLOCK,
        &mut buf,
        20,
        64,
    );
    assert_eq!(o.status, NDIS_STATUS_INVALID_PARAMETER, "unallocated VF");
    let o = w.oid(
        w.pf_sim(),
        RequestKind::Method,
        OID_SRIOV_READ_VF_CONFIG_BLOCK,
        &mut buf,
        10,
        64,
    );
    assert_eq!(
        (o.status, o.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 20),
        "truncated header"
    );
    sim::payloads::write_config_block_params(&mut buf, 0, 1, 30, 50);
    let o = w.oid(
        w.pf_sim(),
        RequestKind::Method,
        OID_SRIOV_READ_VF_CONFIG_BLOCK,
        &mut buf,
        20,
        64,
    );
    assert_eq!(
        (o.status, o.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 80),
        "data past the buffer"
    );
    let o = set(
        &w,
        OID_REF_SET_VF_MAC_VLAN,
        &SetVfMacVlan::encode(0, [1, 0, 0, 0, 0, 1], 1, 0),
    );
    assert_eq!(o.status, NDIS_STATUS_INVALID_PARAMETER, "multicast MAC");
    let o = set(&w, OID_REF_SET_VF_MAC_VLAN, &[0; 5]);
    assert_eq!(
        (o.status, o.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, SetVfMacVlan::LEN as u32)
    );
    assert!(
        w.log()
            .iter()
            .any(|l| l.starts_with("[WARN] sriov-pf:") && l.contains("refused")),
        "refusals logged by the image"
    );
    assert_consistent(&w, 2);
    w.assert_clean();
}

#[test]
fn the_shipped_images_recover_from_a_vf_reset_and_leave_nothing_behind() {
    let w = boot(3);
    assert_eq!(w.machine().host_reset_vf(1), NDIS_STATUS_SUCCESS);
    w.reset_vf_in_guest(1);
    w.settle();
    assert_consistent(&w, 3);
    w.halt_pf();
    w.unload_driver(true);
    w.unload_driver(false);
    assert!(w.driver_deregistered(true) && w.driver_deregistered(false));
    assert_eq!(
        w.machine().pool_blocks(),
        0,
        "every pool block the images took was returned"
    );
    w.assert_clean();
}

/// The seeded randomized run, on the shipped bytes: host changes through the management OIDs,
/// delayed deliveries, pauses, restarts and resets in the guests. Every seed must end with each
/// VF image running what the PF image serves. Reproduce a failing seed with `IMAGE_SEED=n`.
#[test]
fn randomized_runs_on_the_shipped_images() {
    let seeds: Vec<u64> = match std::env::var("IMAGE_SEED") {
        Ok(s) => vec![s.parse().expect("IMAGE_SEED is a number")],
        Err(_) => (0..1000).collect(),
    };
    let pf = sim::tools::image_bytes("pf_miniport");
    let vf = sim::tools::image_bytes("vf_miniport");
    let mut deliveries = 0;
    let runs = seeds.len() as u64;
    for seed in seeds {
        let mut rng = sim::rng::Rng::new(seed);
        let cfg = Config {
            seed,
            delivery_delay: rng.below(50) as f64 / 100.0,
            ..Config::default()
        };
        let images = (
            LoadedImage::load(&pf, sim::exports::resolve).unwrap(),
            LoadedImage::load(&vf, sim::exports::resolve).unwrap(),
        );
        let w = World::with_images(cfg, Some(images.0), Some(images.1));
        w.load_pf().unwrap();
        w.create_switch(3);
        for _ in 0..3 {
            let v = w.allocate_vf().unwrap();
            w.attach_vf(v).unwrap();
        }
        let mut paused = [false; 3];
        for i in 0..40u32 {
            let vf = rng.below(3) as u16;
            match rng.below(6) {
                0 | 1 => {
                    let mac = [
                        2,
                        0x66,
                        (i >> 8) as u8,
                        i as u8,
                        vf as u8,
                        rng.below(256) as u8,
                    ];
                    set(
                        &w,
                        OID_REF_SET_VF_MAC_VLAN,
                        &SetVfMacVlan::encode(vf, mac, rng.below(4095) as u16, 0),
                    );
                }
                2 => {
                    let up = rng.chance(0.6);
                    set(
                        &w,
                        OID_REF_SET_LINK,
                        &SetLink::encode(
                            up,
                            [1500, 9000][rng.below(2) as usize],
                            if up { 40_000_000_000 } else { 0 },
                        ),
                    );
                }
                3 => {
                    if paused[vf as usize] {
                        w.restart_vf(vf);
                    } else {
                        w.pause_vf(vf);
                    }
                    paused[vf as usize] = !paused[vf as usize];
                }
                4 if !paused[vf as usize] => {
                    w.reset_vf_in_guest(vf);
                }
                _ => {
                    for _ in 0..=rng.below(3) {
                        w.step();
                    }
                }
            }
        }
        for (vf, p) in paused.iter().enumerate() {
            if *p {
                w.restart_vf(vf as u16);
            }
        }
        w.settle();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_consistent(&w, 3);
            w.assert_clean();
        }));
        assert!(
            result.is_ok(),
            "seed {seed} failed; reproduce with IMAGE_SEED={seed}"
        );
        deliveries += (0..3).map(|v| w.deliveries(v)).sum::<u64>();
    }
    println!("{runs} seeds on the images: {deliveries} invalidations delivered");
    assert!(
        deliveries > runs * 5,
        "the runs exercised the backchannel ({deliveries} deliveries)"
    );
}

/// Issue 11, resources: the shipped images map BAR 0 from AllocatedResources, register SG DMA
/// and MSI-X interrupts, allocate their rings in shared memory, run their ISR and DPC for a
/// frame from the wire (indicated, its buffer posted again when NDIS returns it) and a link
/// change, and release everything at halt (no leak).
#[test]
fn the_images_map_register_interrupt_and_release_their_hardware() {
    use common::hw::regs::*;
    use sim::device::Func;
    let w = boot(1);
    let reg = |f: Func, off: u32| {
        w.machine()
            .nic(|m| m.function(f).map_or(0, |func| func.bar.r32(off)))
    };
    for (a, f) in [(w.pf_sim(), Func::Pf), (w.vf_sim(0).unwrap(), Func::Vf(0))] {
        let held = w.machine().held_by(a);
        assert_eq!(held.len(), 4, "{}: {held:?}", a.name);
        assert_eq!(reg(f, CTRL), CTRL_DMA_EN);
        assert_eq!(reg(f, VEC_EN), VEC_ENABLE);
        assert_eq!(reg(f, queue_reg(0, RXQ + TXQ_STATUS)), Q_ACTIVE);
    }
    let tail = reg(Func::Pf, queue_reg(0, RXQ + TXQ_TAIL));
    w.machine().nic(|m| m.from_wire(&[0x02; 60]));
    w.settle();
    assert_eq!(w.machine().interrupts_run(w.pf_sim()), (1, 1));
    assert_eq!(
        reg(Func::Pf, VEC_EN),
        VEC_ENABLE,
        "the image's DPC re-enabled it"
    );
    let seen = w.pf_sim().recv.seen();
    assert_eq!(seen.len(), 1, "the image's DPC indicated the frame");
    assert_eq!(seen[0].data, vec![0x02; 60]);
    assert_eq!(
        reg(Func::Pf, queue_reg(0, RXQ + TXQ_TAIL)),
        tail,
        "held by NDIS"
    );
    w.machine().return_all_received(w.pf_sim());
    assert_ne!(
        reg(Func::Pf, queue_reg(0, RXQ + TXQ_TAIL)),
        tail,
        "the returned buffer was posted again"
    );
    w.machine().nic(|m| m.set_link(false));
    w.settle();
    assert_eq!(w.machine().interrupts_run(w.vf_sim(0).unwrap()), (1, 1));
    w.halt_pf();
    w.unload_driver(true);
    w.unload_driver(false);
    assert_eq!(w.machine().resources_outstanding(), 0);
    assert_eq!(w.machine().pool_blocks(), 0);
    w.assert_clean();
}
