//! Frame-level rules of the data path (docs/reference-nic.md sections 4 and 5), end to end
//! through both drivers and the device model: jumbo frames and `MAX_FRAME` (`*JumboPacket`,
//! "Keywords That Can Be Edited"), the 802.1Q tag in both directions
//! ("NDIS_NET_BUFFER_LIST_8021Q_INFO structure"), submission order under MiniportProcessSGList
//! callbacks that come in any order ("NdisMAllocateNetBufferSGList function"), and a
//! NET_BUFFER of more SG elements than a TX frame may have descriptors.
use common::ffi::*;
use common::handlers::Miniport;
use common::hw::regs::{MAX_FRAME, RX_ERRORS, TX_ERRORS};
use common::nbl_info::Ieee8021QInfo;
use common::oid::RequestKind;
use sim::fixture::{MAC, WIRE_MAC, frame, jumbo_config, plan, switched};
use sim::frames::TestNbl;
use sim::world::sg_lists::SgTiming;
use sim::{SimAdapter, World};

/// Two VFs on the switch (VF 1 with `vf1_vlan` as its port VLAN), every adapter with
/// `*JumboPacket` = `jumbo` (absent: `None`).
fn boot(jumbo: Option<u32>, vf1_vlan: Option<u16>, seed: u64) -> World {
    switched(jumbo_config(jumbo, seed), 2, &[None, vf1_vlan])
}

fn seen(a: &SimAdapter) -> Vec<Vec<u8>> {
    a.recv.seen().into_iter().map(|s| s.data).collect()
}

/// The same frames in the same order, reported by count and first difference (no bytes).
#[track_caller]
fn same(got: Vec<Vec<u8>>, want: &[Vec<u8>], what: &str) {
    let lens = |v: &[Vec<u8>]| v.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(lens(&got), lens(want), "{what}: frame lengths");
    let bad = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(bad.is_none(), "{what}: frame {bad:?} differs");
}

fn query_u32(w: &World, a: &SimAdapter, oid: NDIS_OID) -> u32 {
    let mut buf = [0u8; 4];
    let o = w.oid(a, RequestKind::Query, oid, &mut buf, 0, 4);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS, "query {oid:#x}");
    u32::from_le_bytes(buf)
}

fn stats(w: &World, a: &SimAdapter) -> NDIS_STATISTICS_INFO {
    w.machine().query_statistics(a).expect("OID_GEN_STATISTICS")
}

/// A link block for one VF (its MTU), as the host's MTU change sends it.
fn set_vf_mtu(w: &World, vf: u16, mtu: u32) {
    let link = common::blocks::LinkBlock {
        mtu,
        link_up: true,
        duplex: 2,
        speed_bps: 10_000_000_000,
    };
    w.pf()
        .set_blocks(vf, &[pf_miniport::Staged::of(&link).unwrap()])
        .expect("link block");
    w.settle();
}

/// `*JumboPacket` 9014 on every adapter, the link MTU 9000: both VFs program `MAX_FRAME` 9014,
/// report 9000 (OID_GEN_MAXIMUM_FRAME_SIZE, no header) and 9014 (OID_GEN_MAXIMUM_TOTAL_SIZE),
/// and a 9014-byte frame goes from VF 0 to VF 1 and arrives intact.
#[test]
fn jumbo_frame_vf_to_vf_with_mtu_9000() {
    let w = boot(Some(9014), None, 11);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    w.pf().set_link(true, 25_000_000_000, 9000).unwrap();
    w.settle();
    for v in [v0, v1, w.pf_sim()] {
        // The general attributes' MtuSize at initialize: the MTU in force then (the PF's
        // *JumboPacket less the header, which its link block gave the VFs).
        let attrs = v.general.lock().unwrap().as_ref().map(|g| g.mtu);
        assert_eq!(attrs, Some(9000), "{}", v.name);
    }
    for v in [v0, v1] {
        assert_eq!(w.machine().register(v, MAX_FRAME), 9014, "{}", v.name);
        assert_eq!(query_u32(&w, v, OID_GEN_MAXIMUM_FRAME_SIZE), 9000);
        assert_eq!(query_u32(&w, v, OID_GEN_MAXIMUM_TOTAL_SIZE), 9014);
    }
    assert_eq!(query_u32(&w, w.pf_sim(), OID_GEN_MAXIMUM_FRAME_SIZE), 9000);
    let jumbo = frame(MAC[1], MAC[0], 1, 9014);
    let mut n = vec![TestNbl::new(&[&jumbo], 4096, 1)];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert_eq!(n[0].status(), NDIS_STATUS_SUCCESS);
    same(seen(v1), &[jumbo], "delivered intact");
    assert_eq!(stats(&w, v1).ifInErrors, 0);
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// VF 1's MTU goes back to 1500 through its link block: its `MAX_FRAME` follows (1514), so a
/// 9014-byte frame VF 0 (still at 9000) sends to it is dropped by the device and counted
/// (`RX_ERRORS`, reported as ifInErrors), and VF 1's own send of a 9014-byte NET_BUFFER fails
/// with NDIS_STATUS_INVALID_LENGTH without reaching the device.
#[test]
fn mtu_1500_drops_a_jumbo_frame_and_refuses_to_send_one() {
    let w = boot(Some(9014), None, 12);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    w.pf().set_link(true, 25_000_000_000, 9000).unwrap();
    w.settle();
    set_vf_mtu(&w, 1, 1500);
    assert_eq!(w.machine().register(v1, MAX_FRAME), 1514);
    assert_eq!(query_u32(&w, v1, OID_GEN_MAXIMUM_FRAME_SIZE), 1500);
    let jumbo = frame(MAC[1], MAC[0], 2, 9014);
    let small = frame(MAC[1], MAC[0], 3, 1514);
    let mut n = vec![
        TestNbl::new(&[&jumbo], 4096, 1),
        TestNbl::new(&[&small], 4096, 2),
    ];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS), "sent");
    same(seen(v1), &[small], "the jumbo frame was dropped");
    assert_eq!(w.machine().counter(v1, RX_ERRORS), 1);
    assert_eq!(stats(&w, v1).ifInErrors, 1);

    let back = frame(MAC[0], MAC[1], 4, 9014);
    let mut n = vec![TestNbl::new(&[&back], 4096, 3)];
    w.machine().send(v1, &mut n, false);
    w.machine().run_device();
    assert_eq!(n[0].status(), NDIS_STATUS_INVALID_LENGTH);
    assert!(seen(v0).is_empty());
    assert_eq!(
        w.machine().counter(v1, TX_ERRORS),
        0,
        "never reached the device"
    );
    let c = w.vf(1).unwrap().sends().counters();
    assert_eq!((c.too_long, c.dropped, c.sent), (1, 1, 0));
    for v in [v0, v1] {
        w.machine().return_all_received(v);
    }
    w.halt_pf();
    w.assert_clean();
}

/// Without `*JumboPacket` the buffers hold 1514-byte frames: an MTU of 9216 from the link block
/// stays in the VF's applied view (the PF's value) but 1500 is in force (`MAX_FRAME` 1514, the
/// OIDs); with 9014 the same MTU is clamped to 9000.
#[test]
fn an_mtu_above_the_allocated_buffers_is_clamped() {
    for (jumbo, in_force) in [(None, 1500), (Some(9014), 9000), (Some(4088), 4074)] {
        let w = boot(jumbo, None, 13);
        let v0 = w.vf_sim(0).unwrap();
        w.pf().set_link(true, 25_000_000_000, 9216).unwrap();
        w.settle();
        assert_eq!(w.vf(0).unwrap().snapshot().applied.mtu, 9216);
        assert_eq!(query_u32(&w, v0, OID_GEN_MAXIMUM_FRAME_SIZE), in_force);
        assert_eq!(w.machine().register(v0, MAX_FRAME), in_force + 14);
        assert_eq!(
            query_u32(&w, w.pf_sim(), OID_GEN_MAXIMUM_FRAME_SIZE),
            in_force
        );
        // The wire goes down and up: the VF's link follows the hardware, its MTU stays the
        // clamped one (the hardware-link update recomputed it unclamped after the merge).
        for up in [false, true] {
            w.machine().nic(|m| m.set_link(up));
            // The interrupt and the DPCs first (the VF's hardware link), then the backchannel.
            w.machine().run_device();
            assert_eq!(query_u32(&w, v0, OID_GEN_MAXIMUM_FRAME_SIZE), in_force);
            w.settle();
            assert_eq!(query_u32(&w, v0, OID_GEN_MAXIMUM_FRAME_SIZE), in_force);
        }
        w.halt_pf();
        w.assert_clean();
    }
}

/// 802.1Q both ways. Receive: a frame tagged VLAN 7 priority 5 from the wire reaches VF 1,
/// whose VPort has port VLAN 7; the device strips the tag and VF 1's NBL carries it as its
/// Ieee8021Q info (what the simulator's indication check decoded); an untagged frame to VF 0
/// carries none. Transmit: VF 0 sends with Ieee8021Q info (priority 3, VLAN 5) to the wire:
/// the device inserts the tag (`VLE`), and the wire sees it after the source MAC; sent to VF 1
/// with VLAN 7 it arrives stripped with priority 3 in the info.
#[test]
fn vlan_tags_are_reported_on_receive_and_inserted_on_transmit() {
    let w = boot(None, Some(7), 14);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let plain = frame(MAC[1], WIRE_MAC, 5, 100);
    let tci: u16 = (5 << 13) | 7;
    let mut tagged = plain[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00]);
    tagged.extend_from_slice(&tci.to_be_bytes());
    tagged.extend_from_slice(&plain[12..]);
    let to_v0 = frame(MAC[0], WIRE_MAC, 6, 80);
    w.machine().from_wire(&[&tagged, &to_v0]);
    let got = v1.recv.seen();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, plain, "stripped");
    let want = Ieee8021QInfo {
        user_priority: 5,
        canonical_format_id: false,
        vlan_id: 7,
    };
    assert_eq!(got[0].vlan, Some(want));
    let got0 = v0.recv.seen();
    assert_eq!((got0.len(), got0[0].vlan), (1, None));

    let q = Ieee8021QInfo {
        user_priority: 3,
        canonical_format_id: false,
        vlan_id: 5,
    };
    let out = frame(WIRE_MAC, MAC[0], 7, 120);
    let to_v1 = frame(MAC[1], MAC[0], 8, 90);
    let q7 = Ieee8021QInfo { vlan_id: 7, ..q };
    let mut n = vec![
        TestNbl::new(&[&out], 4096, 1).with_8021q(q),
        TestNbl::new(&[&to_v1], 4096, 2).with_8021q(q7),
    ];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS));
    let mut want_wire = out[..12].to_vec();
    want_wire.extend_from_slice(&[0x81, 0x00]);
    want_wire.extend_from_slice(&q.tci().to_be_bytes());
    want_wire.extend_from_slice(&out[12..]);
    assert_eq!(w.machine().take_wire(), vec![want_wire], "tag inserted");
    let got = v1.recv.seen();
    assert_eq!(got.len(), 2);
    assert_eq!((&got[1].data, got[1].vlan), (&to_v1, Some(q7)));
    for v in [v0, v1] {
        w.machine().return_all_received(v);
    }
    w.halt_pf();
    w.assert_clean();
}

/// MiniportProcessSGList for later mappings before earlier ones (every callback deferred and
/// run last-mapped first): the frames still reach the ring, and VF 1, in the order they were
/// sent; the same with the callbacks' order drawn by the seed.
#[test]
fn frames_keep_send_order_when_sg_callbacks_come_out_of_order() {
    for timing in [SgTiming::Reversed, SgTiming::Random] {
        let w = boot(None, None, 15);
        let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
        w.machine().set_sg_timing(timing);
        let frames: Vec<Vec<u8>> = (0..12)
            .map(|i| frame(MAC[1], MAC[0], i, 64 + 50 * usize::from(i)))
            .collect();
        // Two NET_BUFFERs per NBL for the first four: order holds inside an NBL too.
        let mut n: Vec<TestNbl> = frames[..4]
            .chunks(2)
            .enumerate()
            .map(|(i, f)| TestNbl::new(&[&f[0], &f[1]], 700, i))
            .collect();
        n.extend(
            frames[4..]
                .iter()
                .enumerate()
                .map(|(i, f)| TestNbl::new(&[f], 700, 10 + i)),
        );
        w.machine().send(v0, &mut n, true);
        w.machine().run_device();
        assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS));
        same(seen(v1), &frames, &format!("{timing:?}: in send order"));
        w.machine().return_all_received(v1);
        w.halt_pf();
        w.assert_clean();
    }
}

/// A NET_BUFFER over 40 MDLs (its SG list has 40 elements, more than the 16 descriptors a
/// frame may have): it is copied into the context's bounce buffer and arrives intact, in order
/// next to an ordinary frame.
#[test]
fn a_net_buffer_of_forty_mdls_is_bounced_and_arrives_intact() {
    let w = boot(None, None, 16);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    w.machine().set_sg_timing(SgTiming::Inline);
    let many = frame(MAC[1], MAC[0], 9, 40 * 3);
    let plain = frame(MAC[1], MAC[0], 10, 300);
    let mut n = vec![
        TestNbl::new(&[&many], 3, 1),
        TestNbl::new(&[&plain], 4096, 2),
    ];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS));
    same(seen(v1), &[many, plain], "bounced and plain");
    assert_eq!(w.vf(0).unwrap().sends().counters().bounced, 1);
    // MDLs the driver cannot read at DISPATCH_LEVEL without mapping them: that NBL fails with
    // NDIS_STATUS_RESOURCES (its list still freed), the next one goes out.
    let mut n = vec![
        TestNbl::new(&[&frame(MAC[1], MAC[0], 11, 120)], 3, 3).without_system_address(),
        TestNbl::new(&[&frame(MAC[1], MAC[0], 12, 64)], 4096, 4),
    ];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert_eq!(
        (n[0].status(), n[1].status()),
        (NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS)
    );
    assert_eq!(seen(v1).len(), 3);
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// The same rules on the loaded cross-built `.sys` images: `*JumboPacket` 9014, VF 1 with port
/// VLAN 7, callbacks last-mapped first; VF 0 sends a 9014-byte frame tagged (priority 3, VLAN 7)
/// through its NBL info, then five small frames: VF 1 gets all six in order, the first stripped
/// with its tag in the NBL info.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_images_keep_jumbo_vlan_and_order() {
    let w = World::boot_images(jumbo_config(Some(9014), 1), 2).unwrap_or_else(|e| panic!("{e}"));
    w.machine().program_switch(&plan(2, &[None, Some(7)]));
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    // The PF's link MTU starts at its *JumboPacket less the header; the VFs' link blocks too.
    for v in [v0, v1] {
        assert_eq!(w.machine().register(v, MAX_FRAME), 9014, "{}", v.name);
    }
    let q = Ieee8021QInfo {
        user_priority: 3,
        canonical_format_id: false,
        vlan_id: 7,
    };
    w.machine().set_sg_timing(SgTiming::Reversed);
    let frames: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            frame(
                MAC[1],
                MAC[0],
                i,
                if i == 0 { 9014 } else { 100 + usize::from(i) },
            )
        })
        .collect();
    let mut n: Vec<TestNbl> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| TestNbl::new(&[f], 4096, i).with_8021q(q))
        .collect();
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS));
    let got = v1.recv.seen();
    same(
        got.iter().map(|s| s.data.clone()).collect(),
        &frames,
        "in order, intact",
    );
    assert!(got.iter().all(|s| s.vlan == Some(q)));
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// MiniportPause arrives while a NET_BUFFER is being mapped (another CPU, the harsher reading:
/// "Pausing a Miniport Adapter" lets NDIS pause with sends in flight), and the mapping then
/// fails: the NBL completes with NDIS_STATUS_RESOURCES and, being the last one held, finishes
/// the pending pause (NdisMPauseComplete), which would otherwise never come.
#[test]
fn a_mapping_that_fails_during_a_pause_completes_the_pause() {
    use sim::world::{CallFault, PauseState};
    let w = boot(None, None, 17);
    let v0 = w.vf_sim(0).unwrap();
    let nth = w.machine().calls_to("NdisMAllocateNetBufferSGList") + 1;
    let adapter = v0 as *const SimAdapter as usize;
    let paused = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen_status = paused.clone();
    w.machine().set_call_hook(Some(Box::new(move |m, c, n| {
        if c != "NdisMAllocateNetBufferSGList" || n != nth {
            return CallFault::Proceed;
        }
        // SAFETY: the world's VF 0 adapter, alive for the whole test.
        let a = unsafe { &*(adapter as *const SimAdapter) };
        *seen_status.lock().unwrap() = Some(m.pause(a));
        CallFault::Fail
    })));
    let mut n = vec![TestNbl::new(&[&frame(MAC[1], MAC[0], 1, 60)], 4096, 1)];
    w.machine().send(v0, &mut n, false);
    w.machine().set_call_hook(None);
    assert_eq!(
        *paused.lock().unwrap(),
        Some(NDIS_STATUS_PENDING),
        "the NBL was held"
    );
    assert_eq!(n[0].status(), NDIS_STATUS_RESOURCES);
    assert_eq!(
        v0.recv.pause_state(),
        PauseState::None,
        "NdisMPauseComplete came"
    );
    w.halt_pf();
    w.assert_clean();
}

/// One send call of 24 frames rings the TX doorbell once when NDIS maps them inline (an MMIO
/// write per frame is the cost batching saves), and every frame still arrives in order; with
/// the callbacks deferred, each callback that posts rings for what it posted.
#[test]
fn one_send_call_rings_the_doorbell_once() {
    for (timing, most) in [(SgTiming::Inline, 1), (SgTiming::Deferred, 24)] {
        let w = boot(None, None, 21);
        let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
        w.machine().set_sg_timing(timing);
        let frames: Vec<Vec<u8>> = (0..24).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
        let mut n: Vec<TestNbl> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| TestNbl::new(&[f], 700, i))
            .collect();
        let before = w.vf(0).unwrap().sends().counters().doorbells;
        w.machine().send(v0, &mut n, true);
        w.machine().run_device();
        let rung = w.vf(0).unwrap().sends().counters().doorbells - before;
        assert!(
            (1..=most).contains(&rung),
            "{timing:?}: {rung} doorbells for 24 frames (want 1..={most})"
        );
        assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS));
        same(seen(v1), &frames, &format!("{timing:?}: all, in order"));
        w.machine().return_all_received(v1);
        w.halt_pf();
        w.assert_clean();
    }
}

/// An NBL whose 802.1Q info names VLAN 4095 (IEEE 802.1Q reserves it: never sent in a tag;
/// the drivers' own mac-vlan block and receive filters refuse it too) is not tagged onto the
/// wire: it fails with NDIS_STATUS_INVALID_DATA, and the next frame goes out.
#[test]
fn a_send_asking_for_vlan_4095_is_refused() {
    let w = boot(None, None, 18);
    let v0 = w.vf_sim(0).unwrap();
    let bad = Ieee8021QInfo {
        user_priority: 0,
        canonical_format_id: false,
        vlan_id: 4095,
    };
    let mut n = vec![
        TestNbl::new(&[&frame(WIRE_MAC, MAC[0], 1, 80)], 4096, 1).with_8021q(bad),
        TestNbl::new(&[&frame(WIRE_MAC, MAC[0], 2, 80)], 4096, 2),
    ];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert_eq!(
        (n[0].status(), n[1].status()),
        (NDIS_STATUS_INVALID_DATA, NDIS_STATUS_SUCCESS)
    );
    let wire = w.machine().take_wire();
    assert_eq!(wire.len(), 1, "only the untagged frame");
    assert_ne!(wire[0].get(12..14), Some(&[0x81, 0x00][..]));
    w.halt_pf();
    w.assert_clean();
}

/// "NDIS_NET_BUFFER_LIST_8021Q_INFO structure": CanonicalFormatId "should be set to zero" (all
/// MAC addresses canonical, as on Ethernet always). A frame whose tag has the DEI bit (the old
/// CFI position) is indicated with CanonicalFormatId 0, and a send whose info sets
/// CanonicalFormatId does not mark its frame drop-eligible on the wire.
#[test]
fn canonical_format_id_is_never_the_dei_bit() {
    let w = boot(None, Some(7), 19);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let plain = frame(MAC[1], WIRE_MAC, 5, 100);
    let tci: u16 = (2 << 13) | 0x1000 | 7;
    let mut tagged = plain[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00]);
    tagged.extend_from_slice(&tci.to_be_bytes());
    tagged.extend_from_slice(&plain[12..]);
    w.machine().from_wire(&[&tagged]);
    let got = v1.recv.seen();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].vlan,
        Some(Ieee8021QInfo {
            user_priority: 2,
            canonical_format_id: false,
            vlan_id: 7,
        }),
        "DEI is not CanonicalFormatId"
    );
    let q = Ieee8021QInfo {
        user_priority: 1,
        canonical_format_id: true,
        vlan_id: 5,
    };
    let out = frame(WIRE_MAC, MAC[0], 7, 120);
    let mut n = vec![TestNbl::new(&[&out], 4096, 1).with_8021q(q)];
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert_eq!(n[0].status(), NDIS_STATUS_SUCCESS);
    let wire = w.machine().take_wire();
    assert_eq!(wire.len(), 1);
    assert_eq!(
        wire[0][12..16],
        [0x81, 0x00, 0x20, 0x05],
        "PCP 1, DEI 0, VID 5"
    );
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// `*JumboPacket` outside 1514..=9014 ("Keywords That Can Be Edited": the range is the IHV's,
/// the INFs' Min and Max; a value written past them by hand): logged, and every adapter runs
/// with 1514 (`MAX_FRAME` 1514, MTU 1500 in the OIDs), a 1514-byte frame still going VF to VF.
#[test]
fn a_jumbo_packet_keyword_out_of_range_is_1514() {
    for bad in [0, 1, 1513, 9015, 65536, 0xFFFF_FFFE] {
        let w = boot(Some(bad), None, 20);
        let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
        for a in [w.pf_sim(), v0, v1] {
            assert_eq!(
                w.machine().register(a, MAX_FRAME),
                1514,
                "{bad}: {}",
                a.name
            );
            assert_eq!(query_u32(&w, a, OID_GEN_MAXIMUM_FRAME_SIZE), 1500, "{bad}");
        }
        let log = w.log();
        assert!(
            log.iter()
                .filter(|l| l.contains(&format!("*JumboPacket {bad} outside")))
                .count()
                >= 3,
            "{bad}: each adapter logs it: {:?}",
            log.iter()
                .filter(|l| l.contains("Jumbo"))
                .collect::<Vec<_>>()
        );
        let f = frame(MAC[1], MAC[0], 1, 1514);
        let mut n = vec![TestNbl::new(&[&f], 4096, 1)];
        w.machine().send(v0, &mut n, true);
        w.machine().run_device();
        assert_eq!(n[0].status(), NDIS_STATUS_SUCCESS, "{bad}");
        same(seen(v1), &[f], "1514 bytes");
        w.machine().return_all_received(v1);
        w.halt_pf();
        w.assert_clean();
    }
}
