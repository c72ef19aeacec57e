//! The nine defects issue 9 found in the backchannel protocol, one test each (named for the
//! defect's number), plus the check that the simulator's consistency invariant does catch a
//! torn view. Each test drives the interleaving or fault that broke the old protocol.
use common::blocks::*;
use common::ffi::*;
use common::state::AdapterState;
use sim::world::{CallFault, Machine};
use sim::{Config, ReadFault, World};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

fn mac(n: u32) -> [u8; 6] {
    [0x02, 0x15, 0x5D, (n >> 16) as u8, (n >> 8) as u8, n as u8]
}

fn mac_and_policy(m: [u8; 6], rate: u32) -> [pf_miniport::Staged; 2] {
    [
        pf_miniport::Staged::of(&MacVlanBlock {
            mac: m,
            vlan_id: 0,
            priority: 0,
        })
        .unwrap(),
        pf_miniport::Staged::of(&PolicyBlock {
            flags: 0,
            max_tx_rate_mbps: rate,
            queue_pairs: 1,
        })
        .unwrap(),
    ]
}

fn pf_of(m: &Machine) -> &pf_miniport::Adapter {
    // SAFETY: the PF context is live while the test's world is.
    unsafe {
        common::handlers::adapter_from_context::<pf_miniport::Adapter>(
            m.pf_adapter().unwrap().ctx(),
        )
    }
    .unwrap()
}

/// Defect 1: Transaction A writes MAC/VLAN and policy; the VF reads MAC/VLAN; B rewrites both, C
/// policy alone; the VF reads policy. A's MAC with C's policy is a state the PF never had.
#[test]
fn d1_a_view_the_pf_never_had_is_never_applied() {
    let w = World::boot(Config::default(), 1);
    let armed = Arc::new(AtomicBool::new(false));
    let a2 = armed.clone();
    w.machine().set_read_hook(Some(Box::new(move |ctx| {
        // The VF has read MAC/VLAN (block 1) and now reads policy (block 3): B and C land.
        if ctx.block == PolicyBlock::ID as u32 && a2.swap(false, Ordering::AcqRel) {
            ctx.pf
                .set_blocks(ctx.vf, &mac_and_policy(mac(0xB), 0xB))
                .unwrap();
            ctx.pf
                .set_vf_policy(
                    ctx.vf,
                    PolicyBlock {
                        flags: 0,
                        max_tx_rate_mbps: 0xC,
                        queue_pairs: 1,
                    },
                )
                .unwrap();
        }
        ReadFault::Proceed
    })));
    armed.store(true, Ordering::Release);
    w.pf()
        .set_blocks(0, &mac_and_policy(mac(0xA), 0xA))
        .unwrap();
    w.settle();
    assert!(!armed.load(Ordering::Acquire), "B and C landed mid-read");
    let a = w.vf(0).unwrap().snapshot().applied;
    assert_eq!((a.mac, a.max_tx_rate_mbps), (mac(0xB), 0xC));
    assert!(w.machine().invariant_checks() > 0);
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// The invariant itself: a status report naming a view the PF never committed (A's block 1
/// with C's policy, digest and all) is a violation, and so is one that goes back in time.
#[test]
fn d1_the_invariant_catches_a_torn_view_and_a_step_back() {
    let w = World::boot(Config::default(), 1);
    let pf = w.pf();
    pf.set_blocks(0, &mac_and_policy(mac(0xA), 0xA)).unwrap();
    let (a1, n1) = pf.vf_block(0, MacVlanBlock::id()).unwrap();
    let a_mac = a1[..n1].to_vec();
    pf.set_blocks(0, &mac_and_policy(mac(0xB), 0xB)).unwrap();
    pf.set_vf_policy(
        0,
        PolicyBlock {
            flags: 0,
            max_tx_rate_mbps: 0xC,
            queue_pairs: 1,
        },
    )
    .unwrap();
    let (c_gen, _) = pf.vf_committed(0).unwrap();
    // The torn view: every block as at C, except MAC/VLAN as at A.
    let (commit, n) = pf.vf_block(0, CommitBlock::id()).unwrap();
    let present = CommitBlock::decode(&commit[..n]).unwrap().0.present;
    let blocks: Vec<(BlockId, Vec<u8>)> = present
        .iter()
        .map(|id| {
            if id == MacVlanBlock::id() {
                (id, a_mac.clone())
            } else {
                let (b, n) = pf.vf_block(0, id).unwrap();
                (id, b[..n].to_vec())
            }
        })
        .collect();
    let torn = view_digest(blocks.iter().map(|(id, b)| (*id, b.as_slice())));
    let report = |generation: u32, digest: u32| {
        let mut buf = [0u8; MAX_BLOCK_LEN];
        let n = VfStatusBlock {
            applied_generation: generation,
            state: VfStatusBlock::STATE_RUNNING,
            applied_digest: digest,
            ..Default::default()
        }
        .encode(0, 0, &mut buf)
        .unwrap();
        w.machine()
            .write_block(0, VfStatusBlock::ID as u32, &buf[..n])
    };
    assert_eq!(report(c_gen, torn), NDIS_STATUS_SUCCESS);
    let v = w.violations();
    assert!(
        v.iter().any(|m| m.contains("not a state the PF committed")),
        "{v:?}"
    );
    // The real state at C is accepted; then generation 1 afterwards is a step back.
    let (_, c_digest) = pf.vf_committed(0).unwrap();
    let before = w.violations().len();
    report(c_gen, c_digest);
    assert_eq!(w.violations().len(), before, "{:?}", w.violations());
    // Back to generation 1 (the VF's initial state) after C: not allowed.
    let first = w.machine().invariant_checks();
    report(1, 0);
    assert!(w.machine().invariant_checks() > first);
    assert!(
        w.violations().iter().any(|m| m.contains("went back")),
        "{:?}",
        w.violations()
    );
}

/// Defect 2: A block whose reads keep failing must not keep the VF reading forever; later valid
/// changes are applied once the block reads again.
#[test]
fn d2_a_failing_block_does_not_livelock_the_vf() {
    let w = World::boot(Config::default(), 1);
    let failing = Arc::new(AtomicBool::new(true));
    let f = failing.clone();
    w.machine().set_read_hook(Some(Box::new(move |ctx| {
        if ctx.block == PolicyBlock::ID as u32 && f.load(Ordering::Acquire) {
            ReadFault::Fail
        } else {
            ReadFault::Proceed
        }
    })));
    let reads_before = w.reads_of(0, PolicyBlock::ID as u32);
    w.pf().set_blocks(0, &mac_and_policy(mac(2), 2)).unwrap();
    let steps = w.settle();
    let policy_reads = w.reads_of(0, PolicyBlock::ID as u32) - reads_before;
    assert!(
        policy_reads <= 8,
        "the failing block was read {policy_reads} times in {steps} steps"
    );
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    // The block reads again and the PF changes something else: the VF catches up.
    failing.store(false, Ordering::Release);
    w.pf().set_vf_mac_vlan(0, mac(3), 0, 0).unwrap();
    w.settle();
    let a = w.vf(0).unwrap().snapshot().applied;
    assert_eq!((a.mac, a.max_tx_rate_mbps), (mac(3), 2));
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// Defect 2, the other way: one block of a multi-block transaction arrives corrupted on every
/// read (the VF refuses it). Protocol 1 renewed its retry budget on every good read of the
/// other block and read forever (100,001 reads before the simulator gave up); now the VF keeps
/// its last good configuration within its bounds and catches up once the block is good.
#[test]
fn d2_a_refused_block_in_a_transaction_does_not_livelock_the_vf() {
    let w = World::boot(Config::default(), 1);
    let corrupt = Arc::new(AtomicBool::new(true));
    let c = corrupt.clone();
    w.machine().set_read_hook(Some(Box::new(move |ctx| {
        if ctx.block == PolicyBlock::ID as u32 && c.load(Ordering::Acquire) {
            ReadFault::Corrupt
        } else {
            ReadFault::Proceed
        }
    })));
    let applied = w.vf(0).unwrap().snapshot().applied;
    let before = w.reads_of(0, MacVlanBlock::ID as u32);
    w.pf().set_blocks(0, &mac_and_policy(mac(5), 5)).unwrap();
    let steps = w.settle();
    let reads = w.reads_of(0, MacVlanBlock::ID as u32) - before;
    assert!(
        reads <= 8,
        "block 1 was read {reads} times in {steps} steps"
    );
    assert_eq!(
        w.vf(0).unwrap().snapshot().applied,
        applied,
        "nothing of the half-refused transaction was applied"
    );
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    corrupt.store(false, Ordering::Release);
    w.pf().set_vf_mac_vlan(0, mac(6), 0, 0).unwrap();
    w.settle();
    let a = w.vf(0).unwrap().snapshot().applied;
    assert_eq!((a.mac, a.max_tx_rate_mbps), (mac(6), 5));
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// Defect 3: The host API refuses what the VF would refuse, and a refusal changes nothing.
#[test]
fn d3_the_host_api_never_publishes_what_the_vf_refuses() {
    let w = World::boot(Config::default(), 2);
    let pf = w.pf();
    let before: Vec<_> = (0..2).map(|vf| pf.vf_committed(vf).unwrap()).collect();
    let link = pf.link();
    // A speed above the link block's limit (800 Gb/s), an MTU out of range.
    assert_eq!(
        pf.set_link(true, 900_000_000_000, 1500),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        pf.set_link(true, 1_000_000_000, 100),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    assert_eq!(pf.link(), link, "the PF's own link is unchanged too");
    // Unknown policy flags, zero queue pairs.
    for p in [
        PolicyBlock {
            flags: 0x80,
            max_tx_rate_mbps: 0,
            queue_pairs: 1,
        },
        PolicyBlock {
            flags: 0,
            max_tx_rate_mbps: 0,
            queue_pairs: 0,
        },
    ] {
        assert_eq!(pf.set_vf_policy(0, p), Err(NDIS_STATUS_INVALID_PARAMETER));
    }
    // A multicast MAC through set_block; a good block beside a bad one in set_blocks.
    assert_eq!(
        pf.set_block(
            0,
            &MacVlanBlock {
                mac: [1, 0, 0x5E, 0, 0, 1],
                vlan_id: 0,
                priority: 0
            }
        ),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    let good = pf_miniport::Staged::of(&MacVlanBlock {
        mac: mac(9),
        vlan_id: 1,
        priority: 0,
    })
    .unwrap();
    let bad = pf_miniport::Staged::of(&LinkBlock {
        mtu: 1500,
        link_up: true,
        duplex: 7,
        speed_bps: 0,
    })
    .unwrap();
    assert_eq!(
        pf.set_blocks(0, &[good, bad]),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    // The commit block is the store's own: the host cannot write it.
    let commit = pf_miniport::Staged::of(&CommitBlock {
        generation: 9,
        present: BASE_BLOCKS.without(VfStatusBlock::id()),
        counters: [0; BLOCK_COUNT],
    })
    .unwrap();
    assert_eq!(
        pf.set_blocks(0, &[commit]),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    // OID_REF_SET_LINK with a speed the VF refuses.
    let mut buf = pf_miniport::management::SetLink::encode(true, 1500, 900_000_000_000).to_vec();
    let n = buf.len() as u32;
    let o = w.oid(
        w.pf_sim(),
        common::oid::RequestKind::Set,
        pf_miniport::management::OID_REF_SET_LINK,
        &mut buf,
        n,
        n,
    );
    assert_eq!(o.status, NDIS_STATUS_INVALID_PARAMETER);
    let after: Vec<_> = (0..2).map(|vf| pf.vf_committed(vf).unwrap()).collect();
    assert_eq!(before, after, "no refusal changed any VF");
    assert!(
        w.log()
            .iter()
            .any(|l| l.contains("management OID refused: link refused")),
        "the OID refusal is logged for the debugger: {:?}",
        w.log()
    );
    w.assert_clean();
}

/// Defect 4: Two CPUs changing the link at once: every VF ends with the PF's link.
#[test]
fn d4_concurrent_link_changes_lose_no_update() {
    let w = World::boot(Config::default(), 8);
    let links = [
        (true, 10_000_000_000u64, 1500u32),
        (true, 25_000_000_000, 9000),
    ];
    for round in 0..200 {
        std::thread::scope(|s| {
            for (i, l) in links.iter().enumerate() {
                let w = &w;
                s.spawn(move || {
                    w.enter_thread();
                    let (up, speed, mtu) = *l;
                    w.pf()
                        .set_link(up, speed + (round * 2 + i) as u64, mtu)
                        .unwrap();
                });
            }
        });
        let info = w.pf().link();
        for vf in 0..8 {
            let (b, n) = w.pf().vf_block(vf, LinkBlock::id()).unwrap();
            let l = LinkBlock::decode(&b[..n]).unwrap().0;
            assert_eq!(
                (l.speed_bps, l.mtu),
                (info.speed_bps, info.mtu),
                "round {round}: VF {vf} kept a link the PF no longer has"
            );
        }
    }
    w.settle();
    for vf in 0..8 {
        w.check_consistent(vf).unwrap();
    }
    w.assert_clean();
}

/// Defect 5: A link change landing while OID_NIC_SWITCH_ALLOCATE_VF builds the new VF's store: the
/// new VF starts with the link in force when it is linked in, not a stale copy.
#[test]
fn d5_a_link_change_racing_allocate_vf_reaches_the_new_vf() {
    let w = World::new(Config::default());
    w.load_pf().unwrap();
    assert_eq!(w.create_switch(4), NDIS_STATUS_SUCCESS);
    // The allocation of the VF's block store is the moment: the change lands right then.
    let fired = Arc::new(AtomicU32::new(0));
    let f = fired.clone();
    w.machine().set_call_hook(Some(Box::new(move |m, call, _| {
        if call == "NdisAllocateMemoryWithTagPriority" && f.fetch_add(1, Ordering::AcqRel) == 0 {
            pf_of(m).set_link(true, 40_000_000_000, 9000).unwrap();
        }
        CallFault::Proceed
    })));
    let vf = w.allocate_vf().unwrap();
    assert!(
        fired.load(Ordering::Acquire) > 0,
        "the change landed mid-allocation"
    );
    let (b, n) = w.pf().vf_block(vf, LinkBlock::id()).unwrap();
    let l = LinkBlock::decode(&b[..n]).unwrap().0;
    assert_eq!((l.speed_bps, l.mtu), (40_000_000_000, 9000));
    w.machine().set_call_hook(None);
    w.attach_vf(vf).unwrap();
    w.settle();
    w.check_consistent(vf).unwrap();
    w.assert_clean();
}

/// Defect 6a: A reset is not a state: a pause and a restart racing resets on another CPU always
/// succeed, and a reset while paused leaves the VF paused.
#[test]
fn d6_pause_restart_and_reset_race_without_refusals() {
    let w = World::boot(Config::default(), 1);
    let stop = AtomicBool::new(false);
    let refused = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            w.enter_thread();
            while !stop.load(Ordering::Acquire) {
                let st = w.reset_vf_in_guest(0);
                if st != NDIS_STATUS_SUCCESS {
                    refused.lock().unwrap().push(format!("reset {st:#x}"));
                }
            }
        });
        s.spawn(|| {
            w.enter_thread();
            for _ in 0..2000 {
                for (what, st) in [("pause", w.pause_vf(0)), ("restart", w.restart_vf(0))] {
                    if st != NDIS_STATUS_SUCCESS {
                        refused.lock().unwrap().push(format!("{what} {st:#x}"));
                    }
                }
            }
            stop.store(true, Ordering::Release);
        });
    });
    assert_eq!(
        refused.lock().unwrap().len(),
        0,
        "{:?}",
        refused.lock().unwrap()
    );
    assert_eq!(w.pause_vf(0), NDIS_STATUS_SUCCESS);
    assert_eq!(w.reset_vf_in_guest(0), NDIS_STATUS_SUCCESS);
    assert_eq!(w.vf(0).unwrap().state(), AdapterState::Paused);
    assert_eq!(w.restart_vf(0), NDIS_STATUS_SUCCESS);
    w.settle();
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// Defect 6b: A pause racing a refresh on another CPU: once paused, the PF hears "paused", whichever
/// status report reached it first.
#[test]
fn d6_a_pause_racing_a_refresh_leaves_paused_reported() {
    let w = World::boot(Config::default(), 1);
    for round in 0..300u32 {
        std::thread::scope(|s| {
            s.spawn(|| {
                w.enter_thread();
                w.pf().set_vf_mac_vlan(0, mac(round), 0, 0).unwrap();
                w.machine().deliver(0);
            });
            s.spawn(|| {
                w.enter_thread();
                assert_eq!(w.pause_vf(0), NDIS_STATUS_SUCCESS);
            });
        });
        assert_eq!(
            w.pf().vf_status(0).unwrap().state,
            VfStatusBlock::STATE_PAUSED,
            "round {round}: the VF is paused but the PF was last told otherwise"
        );
        assert_eq!(w.restart_vf(0), NDIS_STATUS_SUCCESS);
        w.settle();
    }
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// Defect 7: An extension block written before anything announced it: the first write brings it
/// into existence (block 0 and the commit block name it), an identical second write is no
/// change at all, and the VF catches up with the PF's generation.
#[test]
fn d7_an_unannounced_extension_block_settles() {
    let w = World::boot(Config::default(), 1);
    let id = BlockId::new(20).unwrap();
    let staged = pf_miniport::Staged::ihv(id, &IhvBlock::new(b"early").unwrap()).unwrap();
    let first = w.pf().set_blocks(0, &[staged]).unwrap();
    assert!(
        first.contains(id) && first.contains(VersionBlock::id()),
        "{first:?}"
    );
    let sent = w.pf().invalidations_sent();
    let generation = w.pf().vf_generation(0);
    for _ in 0..5 {
        assert_eq!(w.pf().set_blocks(0, &[staged]).unwrap(), BlockMask::EMPTY);
    }
    assert_eq!(w.pf().invalidations_sent(), sent);
    assert_eq!(w.pf().vf_generation(0), generation);
    w.settle();
    assert_eq!(w.vf(0).unwrap().ihv_block(id).unwrap().bytes(), b"early");
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// Defect 8: Generations wrap at 2^32: the VF keeps applying the newest state across the wrap.
#[test]
fn d8_generations_compare_across_the_wrap() {
    let w = World::new(Config::default());
    w.load_pf().unwrap();
    assert_eq!(w.create_switch(1), NDIS_STATUS_SUCCESS);
    let vf = w.allocate_vf().unwrap();
    assert_eq!(vf, 0);
    // A VF whose PF is four transactions short of the wrap when it comes up.
    w.pf().set_vf_generation_for_tests(0, u32::MAX - 3);
    w.pf().set_vf_mac_vlan(0, mac(100), 0, 0).unwrap();
    w.attach_vf(0).unwrap();
    w.settle();
    w.check_consistent(0).unwrap();
    for i in 0..8u32 {
        w.pf().set_vf_mac_vlan(0, mac(200 + i), 0, 0).unwrap();
        w.settle();
        w.check_consistent(0).unwrap();
        assert_eq!(w.vf(0).unwrap().snapshot().applied.mac, mac(200 + i));
    }
    let g = w.pf().vf_generation(0).unwrap();
    assert!(g < 10, "the generation wrapped (now {g})");
    w.assert_clean();
}

/// Defect 9: The VF's first reads fail, then a later attribute call fails: initialization fails
/// cleanly (no work item left queued on a freed adapter, nothing leaked), and a retry works.
#[test]
fn d9_a_failed_initialization_leaves_no_work_item_behind() {
    let w = World::new(Config::default());
    w.load_pf().unwrap();
    assert_eq!(w.create_switch(2), NDIS_STATUS_SUCCESS);
    let vf = w.allocate_vf().unwrap();
    let base = w.machine().call_counts();
    let attrs_before = base.get("NdisMSetMiniportAttributes").copied().unwrap_or(0);
    let reads_before = base.get("NdisMReadConfigBlock").copied().unwrap_or(0);
    // The VF's reads after block 0 fail; its second attribute call (general) fails.
    w.machine()
        .set_call_hook(Some(Box::new(move |_, call, nth| {
            let fail = (call == "NdisMReadConfigBlock" && nth > reads_before + 1)
                || (call == "NdisMSetMiniportAttributes" && nth == attrs_before + 2);
            if fail {
                CallFault::Fail
            } else {
                CallFault::Proceed
            }
        })));
    assert!(w.attach_vf(vf).is_err());
    w.machine().set_call_hook(None);
    w.settle();
    assert_eq!(
        w.machine().pool_bytes(common::mem::pool_tag(b"VfAd")),
        0,
        "the failed VF freed its adapter"
    );
    w.assert_clean();
    w.attach_vf(vf).unwrap();
    w.settle();
    w.check_consistent(vf).unwrap();
    w.assert_clean();
}

/// Found in review: a MiniportResetEx landing while a refresh reads (here, from inside the VF's
/// read of the policy block) must still make the VF read every block again; the refresh in
/// flight may apply what it read, but not become the base of the next one.
#[test]
fn review_a_reset_racing_a_refresh_still_rereads_every_block() {
    let w = World::boot(Config::default(), 1);
    let m = w.machine() as *const Machine as usize;
    let armed = Arc::new(AtomicBool::new(false));
    let fired = Arc::new(AtomicBool::new(false));
    let (a2, f2) = (armed.clone(), fired.clone());
    w.machine().set_read_hook(Some(Box::new(move |ctx| {
        if ctx.block == PolicyBlock::ID as u32 && a2.swap(false, Ordering::AcqRel) {
            // SAFETY: the machine is boxed and outlives the hook, which the test removes.
            let m = unsafe { &*(m as *const Machine) };
            assert_eq!(m.reset(m.vf_adapter(ctx.vf).unwrap()), NDIS_STATUS_SUCCESS);
            f2.store(true, Ordering::Release);
        }
        ReadFault::Proceed
    })));
    let mac_reads = w.reads_of(0, MacVlanBlock::ID as u32);
    let link_reads = w.reads_of(0, LinkBlock::ID as u32);
    armed.store(true, Ordering::Release);
    w.pf()
        .set_vf_policy(
            0,
            PolicyBlock {
                flags: 0,
                max_tx_rate_mbps: 7,
                queue_pairs: 1,
            },
        )
        .unwrap();
    w.settle();
    w.machine().set_read_hook(None);
    assert!(fired.load(Ordering::Acquire), "the reset landed mid-read");
    assert_eq!(w.vf(0).unwrap().snapshot().applied.max_tx_rate_mbps, 7);
    let mac_after = w.reads_of(0, MacVlanBlock::ID as u32) - mac_reads;
    let link_after = w.reads_of(0, LinkBlock::ID as u32) - link_reads;
    assert!(
        mac_after >= 1 && link_after >= 1,
        "after the reset the VF read MAC/VLAN {mac_after} times and link {link_after} times"
    );
    // And the state it read again became the base: the next change costs its own blocks only.
    let (mac2, link2) = (
        w.reads_of(0, MacVlanBlock::ID as u32),
        w.reads_of(0, LinkBlock::ID as u32),
    );
    w.pf().set_vf_mac_vlan(0, mac(77), 0, 0).unwrap();
    w.settle();
    assert_eq!(w.reads_of(0, MacVlanBlock::ID as u32), mac2 + 1);
    assert_eq!(w.reads_of(0, LinkBlock::ID as u32), link2);
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

/// Found in review: block 0 through the host API. The protocol major and the VF id are not
/// the host's to change, and block 0 always names exactly the blocks that exist.
#[test]
fn review_the_host_api_cannot_publish_an_incompatible_version_block() {
    let w = World::boot(Config::default(), 1);
    let before = w.pf().vf_committed(0).unwrap();
    for v in [
        VersionBlock {
            major: PROTOCOL_MAJOR + 1,
            minor: PROTOCOL_MINOR,
            vf_id: 0,
            features: 0,
            defined: DEFINED_BLOCKS,
        },
        VersionBlock {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
            vf_id: 9,
            features: 0,
            defined: DEFINED_BLOCKS,
        },
    ] {
        assert_eq!(
            w.pf().set_block(0, &v),
            Err(NDIS_STATUS_INVALID_PARAMETER),
            "{v:?}"
        );
    }
    assert_eq!(w.pf().vf_committed(0).unwrap(), before);
    // A minor version and features are the host's: accepted, and `defined` is the store's.
    w.pf()
        .set_block(
            0,
            &VersionBlock {
                major: PROTOCOL_MAJOR,
                minor: PROTOCOL_MINOR + 1,
                vf_id: 0,
                features: 5,
                defined: BlockMask::of(VersionBlock::id()),
            },
        )
        .unwrap();
    w.settle();
    let (b, n) = w.pf().vf_block(0, VersionBlock::id()).unwrap();
    let v = VersionBlock::decode(&b[..n]).unwrap().0;
    let (c, m) = w.pf().vf_block(0, CommitBlock::id()).unwrap();
    let present = CommitBlock::decode(&c[..m]).unwrap().0.present;
    assert_eq!(v.defined, present.union(GUEST_BLOCKS));
    assert!(!w.vf(0).unwrap().snapshot().degraded);
    w.check_consistent(0).unwrap();
    w.assert_clean();
}
