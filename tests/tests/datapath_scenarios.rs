//! HLK-style data-path scenarios (issue 11): traffic between the functions of the reference
//! NIC through its embedded switch (docs/reference-nic.md section 7), end to end through both
//! drivers: NdisMAllocateNetBufferSGList, the TX ring, the device model's forwarding, the RX
//! ring, the interrupt, the DPC's indication, MiniportReturnNetBufferLists. Each asserts the
//! frames (bytes and where they arrived) and the counters OID_GEN_STATISTICS reports. The
//! switch is programmed by the one helper standing in for the PF's switch OIDs
//! (`sim::world::traffic::Machine::program_switch`).
use common::ffi::*;
use common::handlers::Miniport;
use sim::fixture::{MAC, PF_MAC, WIRE_MAC, frame, jumbo_config, plan, switched};
use sim::frames::TestNbl;
use sim::world::sg_lists::SgTiming;
use sim::world::traffic::SwitchPlan;
use sim::world::{PauseState, ReturnOrder};
use sim::{Config, SimAdapter, World};

fn boot(vfs: u16, seed: u64) -> World {
    switched(jumbo_config(None, seed), vfs, &[])
}

fn nbls(frames: &[Vec<u8>]) -> Vec<TestNbl> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| TestNbl::new(&[f], 700, i))
        .collect()
}

fn stats(w: &World, a: &SimAdapter) -> NDIS_STATISTICS_INFO {
    w.machine().query_statistics(a).expect("OID_GEN_STATISTICS")
}

fn seen(a: &SimAdapter) -> Vec<Vec<u8>> {
    a.recv.seen().into_iter().map(|s| s.data).collect()
}

/// The same frames, in any order (MiniportProcessSGList may run after
/// NdisMAllocateNetBufferSGList returns, so frames may reach the ring out of send order);
/// reported by count and first difference, not by dumping the bytes.
#[track_caller]
fn same_frames(got: Vec<Vec<u8>>, want: &[Vec<u8>], what: &str) {
    let (mut g, mut w) = (got, want.to_vec());
    g.sort();
    w.sort();
    assert_eq!(g.len(), w.len(), "{what}: frame count");
    let bad = g.iter().zip(&w).position(|(a, b)| a != b);
    assert!(bad.is_none(), "{what}: frame {bad:?} differs");
}

fn all_succeeded(n: &[TestNbl]) -> bool {
    n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS)
}

/// VF 0 to VF 1 through the embedded switch: the unicast frames reach VF 1 only (not the wire,
/// not the PF), a broadcast reaches VF 1, the PF and the wire; every NBL completes once with
/// NDIS_STATUS_SUCCESS; both VFs' statistics count exactly these frames and bytes.
#[test]
fn vf_to_vf_through_the_embedded_switch() {
    let w = boot(2, 1);
    let (v0, v1, pf) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap(), w.pf_sim());
    let mut frames: Vec<Vec<u8>> = (0..5)
        .map(|i| frame(MAC[1], MAC[0], i, 100 + 300 * usize::from(i)))
        .collect();
    frames.push(frame([0xFF; 6], MAC[0], 9, 60));
    let mut n = nbls(&frames);
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert!(all_succeeded(&n));
    assert_eq!(v0.sends_done.lock().unwrap().len(), 6, "each NBL once");
    same_frames(seen(v1), &frames, "VF 1 got all six, as sent");
    assert_eq!(
        seen(pf),
        vec![frames[5].clone()],
        "the PF: the broadcast only"
    );
    assert_eq!(
        w.machine().take_wire(),
        vec![frames[5].clone()],
        "the wire: the broadcast only"
    );
    let ucast: u64 = frames[..5].iter().map(|f| f.len() as u64).sum();
    let s0 = stats(&w, v0);
    assert_eq!(
        (
            s0.ifHCOutUcastPkts,
            s0.ifHCOutBroadcastPkts,
            s0.ifHCOutUcastOctets
        ),
        (5, 1, ucast)
    );
    let s1 = stats(&w, v1);
    assert_eq!(
        (
            s1.ifHCInUcastPkts,
            s1.ifHCInBroadcastPkts,
            s1.ifHCInUcastOctets
        ),
        (5, 1, ucast)
    );
    assert_eq!(
        (s1.ifInDiscards, s0.ifOutErrors, s0.ifOutDiscards),
        (0, 0, 0)
    );
    for a in [v1, pf] {
        w.machine().return_all_received(a);
    }
    w.halt_pf();
    w.assert_clean();
}

/// VF to the wire (a destination no filter names) and back from the wire to the VF's address;
/// the PF sends to the VF (default VPort to VF VPort) without touching the wire.
#[test]
fn vf_to_wire_wire_to_vf_and_pf_to_vf() {
    let w = boot(1, 2);
    let (v0, pf) = (w.vf_sim(0).unwrap(), w.pf_sim());
    let out = frame(WIRE_MAC, MAC[0], 1, 1514);
    let mut n = nbls(std::slice::from_ref(&out));
    w.machine().send(v0, &mut n, false);
    w.machine().run_device();
    assert!(all_succeeded(&n));
    assert_eq!(w.machine().take_wire(), vec![out.clone()]);
    let back = frame(MAC[0], WIRE_MAC, 2, 1514);
    w.machine().from_wire(&[&back]);
    assert_eq!(seen(v0), vec![back.clone()]);
    assert!(
        seen(pf).is_empty(),
        "the PF's VPort is not promiscuous here"
    );
    let from_pf = frame(MAC[0], PF_MAC, 3, 64);
    let mut n = nbls(std::slice::from_ref(&from_pf));
    w.machine().send(pf, &mut n, true);
    w.machine().run_device();
    assert!(all_succeeded(&n));
    assert_eq!(seen(v0), vec![back, from_pf]);
    assert!(
        w.machine().take_wire().is_empty(),
        "VPort to VPort stays off the wire"
    );
    let s = stats(&w, v0);
    assert_eq!((s.ifHCOutUcastPkts, s.ifHCInUcastPkts), (1, 2));
    assert_eq!(stats(&w, pf).ifHCOutUcastPkts, 1);
    w.machine().return_all_received(v0);
    w.halt_pf();
    w.assert_clean();
}

/// VF 0 floods VF 1, which returns nothing: VF 1 indicates normally until its low-water mark,
/// then with NDIS_RECEIVE_FLAGS_RESOURCES, then its ring is empty and the device drops
/// (RX_DISCARDS, reported as ifInDiscards); every frame is accounted for, VF 0's sends all
/// succeed, and VF 1 recovers once NDIS returns what it holds.
#[test]
fn receive_pool_exhaustion_takes_the_resources_path_then_drops_and_recovers() {
    let w = boot(2, 3);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let frames: Vec<Vec<u8>> = (0..100).map(|i| frame(MAC[1], MAC[0], i, 200)).collect();
    let mut n = nbls(&frames);
    w.machine().send(v0, &mut n, false);
    w.machine().run_device();
    assert!(all_succeeded(&n));
    let rx = w.vf(1).unwrap().receives().counters();
    let got = v1.recv.seen();
    let s1 = stats(&w, v1);
    assert!(rx.resources_indications > 0, "the RESOURCES path ran");
    assert!(got.iter().any(|s| s.resources) && got.iter().any(|s| !s.resources));
    assert!(
        s1.ifInDiscards > 0,
        "the device dropped what found no buffer"
    );
    assert_eq!(
        got.len() as u64 + s1.ifInDiscards,
        100,
        "every frame accounted for"
    );
    let datas: Vec<Vec<u8>> = got.iter().map(|s| s.data.clone()).collect();
    assert!(datas.iter().all(|d| frames.contains(d)));
    w.machine().return_all_received(v1);
    let more = frame(MAC[1], MAC[0], 200, 60);
    let mut n = nbls(std::slice::from_ref(&more));
    w.machine().send(v0, &mut n, false);
    w.machine().run_device();
    assert_eq!(seen(v1).last(), Some(&more), "recovered");
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// Pause and restart with traffic in flight both ways: VF 0 pauses with frames still being
/// mapped (deferred MiniportProcessSGList), VF 1 pauses holding indicated NBLs; both pauses
/// complete (NdisMPauseComplete) once the frames are out and the NBLs back; nothing is lost
/// (each frame was indicated, or counted as dropped while VF 1 paused), every NBL completed
/// once; traffic flows again after the restarts.
#[test]
fn pause_and_restart_with_traffic_in_flight() {
    let w = boot(2, 4);
    w.machine().set_sg_timing(SgTiming::Deferred);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let first: Vec<Vec<u8>> = (0..10).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
    let mut a = nbls(&first);
    w.machine().send(v0, &mut a, true);
    w.machine().run_device();
    assert_eq!(seen(v1).len(), 10);
    let second: Vec<Vec<u8>> = (10..40).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
    let mut b = nbls(&second);
    w.machine().send(v0, &mut b, true);
    assert_eq!(
        w.machine().pause(v0),
        NDIS_STATUS_PENDING,
        "frames being mapped"
    );
    assert_eq!(
        w.machine().pause(v1),
        NDIS_STATUS_PENDING,
        "NBLs held by NDIS"
    );
    w.machine().run_device();
    assert_eq!(
        v0.recv.pause_state(),
        PauseState::None,
        "VF 0 paused once its frames went"
    );
    assert_eq!(v1.recv.pause_state(), PauseState::Pending);
    w.machine().return_received(v1, 10, ReturnOrder::Shuffled);
    assert_eq!(v1.recv.pause_state(), PauseState::None);
    assert_eq!(v0.sends_done.lock().unwrap().len(), 40, "each NBL once");
    let sent = b
        .iter()
        .filter(|n| n.status() == NDIS_STATUS_SUCCESS)
        .count();
    let paused = b
        .iter()
        .filter(|n| n.status() == NDIS_STATUS_PAUSED)
        .count();
    assert_eq!(sent + paused, 30);
    let dropped = w.vf(1).unwrap().receives().counters().dropped_paused;
    assert_eq!(
        dropped as usize, sent,
        "what reached paused VF 1 was dropped and counted"
    );
    assert_eq!(seen(v1).len(), 10, "nothing indicated while pausing");
    for v in [v0, v1] {
        assert_eq!(w.machine().restart(v), NDIS_STATUS_SUCCESS);
    }
    let mut c = nbls(&[frame(MAC[1], MAC[0], 99, 60)]);
    w.machine().send(v0, &mut c, false);
    w.machine().run_device();
    assert!(all_succeeded(&c));
    assert_eq!(seen(v1).len(), 11);
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// MiniportCancelSend mid-traffic: with the ring kept full (the queue held), the cancelled
/// NBLs complete with NDIS_STATUS_SEND_ABORTED and never reach VF 1; the rest arrive.
#[test]
fn cancel_mid_traffic() {
    let w = boot(2, 5);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let vf0 = w.vf(0).unwrap();
    vf0.sends().hold(v0.handle(), true, vf0.data_path());
    let frames: Vec<Vec<u8>> = (0..6).map(|i| frame(MAC[1], MAC[0], i, 80)).collect();
    let mut n: Vec<TestNbl> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| TestNbl::new(&[f], 700, if i % 2 == 0 { 7 } else { 8 }))
        .collect();
    w.machine().send(v0, &mut n, false);
    w.machine().cancel_send(v0, 7);
    vf0.sends().hold(v0.handle(), false, vf0.data_path());
    w.machine().run_device();
    for (i, x) in n.iter().enumerate() {
        let want = if i % 2 == 0 {
            NDIS_STATUS_SEND_ABORTED
        } else {
            NDIS_STATUS_SUCCESS
        };
        assert_eq!(x.status(), want, "NBL {i}");
    }
    let odd: Vec<Vec<u8>> = frames.iter().skip(1).step_by(2).cloned().collect();
    same_frames(seen(v1), &odd, "the uncancelled ones");
    assert_eq!(stats(&w, v0).ifOutDiscards, 3);
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
}

/// MiniportResetEx on VF 0 with frames in flight (NDIS may reset at DISPATCH_LEVEL), then on the
/// PF: the reset pends and completes with NdisMResetComplete from its work item; the VF's
/// function is reset (its hardware counters read 0, "Miniport Driver Hardware Reset" and
/// docs/reference-nic.md section 9) while the PF restarts its queues only. Every NBL completes
/// exactly once: sent (it reached VF 1), or, queued or on the ring when the reset came,
/// NDIS_STATUS_REQUEST_ABORTED / NDIS_STATUS_FAILURE; traffic flows again after each reset,
/// both ways; OID_GEN_STATISTICS never goes back.
#[test]
fn a_reset_mid_traffic_completes_everything_once_and_traffic_resumes() {
    let w = boot(2, 6);
    w.machine().set_sg_timing(SgTiming::Random);
    let (v0, v1, pf) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap(), w.pf_sim());
    let warm: Vec<Vec<u8>> = (0..4).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
    let mut keep = nbls(&warm);
    w.machine().send(v0, &mut keep, true);
    w.machine().run_device();
    let before = stats(&w, v0);
    assert_eq!(before.ifHCOutUcastPkts, 4);
    let frames: Vec<Vec<u8>> = (10..40).map(|i| frame(MAC[1], MAC[0], i, 500)).collect();
    let mut n = nbls(&frames);
    w.machine().send(v0, &mut n, true);
    assert_eq!(w.reset_vf_in_guest(0), NDIS_STATUS_SUCCESS);
    w.machine().run_device();
    assert_eq!(
        v0.sends_done.lock().unwrap().len(),
        34,
        "every NBL completed once"
    );
    let sent: Vec<Vec<u8>> = n
        .iter()
        .zip(&frames)
        .filter(|(x, _)| x.status() == NDIS_STATUS_SUCCESS)
        .map(|(_, f)| f.clone())
        .collect();
    assert!(
        n.iter().all(|x| [
            NDIS_STATUS_SUCCESS,
            NDIS_STATUS_REQUEST_ABORTED,
            NDIS_STATUS_FAILURE
        ]
        .contains(&x.status())),
        "sent, aborted while queued, or dropped from the ring"
    );
    let mut arrived = warm.clone();
    arrived.extend(sent.iter().cloned());
    same_frames(seen(v1), &arrived, "exactly the frames whose NBL succeeded");
    // (No statistics query between the reset and the traffic after it: what was counted before
    // the reset is kept because the reset folded it, not because a later read saw it drop.)
    // Traffic after the reset, both ways.
    let after: Vec<Vec<u8>> = (50..55).map(|i| frame(MAC[1], MAC[0], i, 200)).collect();
    let mut m = nbls(&after);
    w.machine().send(v0, &mut m, true);
    w.machine().run_device();
    assert!(all_succeeded(&m));
    let back = frame(MAC[0], MAC[1], 60, 200);
    let mut b = nbls(std::slice::from_ref(&back));
    w.machine().send(v1, &mut b, true);
    w.machine().run_device();
    assert!(all_succeeded(&b));
    assert_eq!(seen(v0), vec![back], "VF 0 receives again");
    let end = stats(&w, v0);
    assert_eq!(
        end.ifHCOutUcastPkts,
        4 + sent.len() as u64 + 5,
        "the counts before the reset are kept"
    );
    assert_eq!(end.ifHCInUcastPkts, 1);
    let hw = w.machine().counter(v0, common::hw::regs::TX_UCAST_PKTS);
    assert!(
        hw + 4 <= end.ifHCOutUcastPkts,
        "the function reset cleared the hardware's count ({hw}), the driver kept it"
    );
    // The PF's reset: its queues restart, the switch (and so the VFs' traffic) stays.
    let pf_before = stats(&w, pf);
    assert_eq!(w.machine().reset(pf), NDIS_STATUS_SUCCESS);
    let to_pf = frame(PF_MAC, MAC[0], 70, 100);
    let mut p = nbls(std::slice::from_ref(&to_pf));
    w.machine().send(v0, &mut p, true);
    w.machine().run_device();
    assert!(all_succeeded(&p));
    assert_eq!(seen(pf), vec![to_pf], "the PF receives after its reset");
    assert_eq!(stats(&w, pf).ifHCInUcastPkts, pf_before.ifHCInUcastPkts + 1);
    w.machine().return_all_received(v1);
    w.machine().return_all_received(v0);
    w.machine().return_all_received(pf);
    w.halt_pf();
    w.assert_clean();
    drop((keep, n, m, b, p));
}

/// VF 0 surprise-removed mid-traffic (frames being mapped and on the ring): every NBL still
/// completes exactly once (sent, or NDIS_STATUS_NOT_ACCEPTED), every SG list is freed, the halt
/// that follows leaves nothing behind, and VF 1 keeps working.
#[test]
fn a_vf_surprise_removal_mid_traffic_completes_everything_once() {
    // Reversed: lists that came before their predecessors' wait (`Mapped`) when it happens.
    for timing in [SgTiming::Inline, SgTiming::Deferred, SgTiming::Reversed] {
        let w = boot(2, 7);
        w.machine().set_sg_timing(timing);
        let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
        let frames: Vec<Vec<u8>> = (0..40).map(|i| frame(MAC[1], MAC[0], i, 400)).collect();
        let mut n = nbls(&frames);
        w.machine().send(v0, &mut n, true);
        w.detach_vf(0);
        assert_eq!(
            v0.sends_done.lock().unwrap().len(),
            40,
            "{timing:?}: each NBL once"
        );
        let sent = n
            .iter()
            .filter(|x| x.status() == NDIS_STATUS_SUCCESS)
            .count();
        let refused = n
            .iter()
            .filter(|x| x.status() == NDIS_STATUS_NOT_ACCEPTED)
            .count();
        assert_eq!(sent + refused, 40, "{timing:?}");
        assert!(
            refused > 0,
            "{timing:?}: the removal caught frames in flight"
        );
        w.machine().run_device();
        assert!(
            seen(v1).len() <= sent,
            "{timing:?}: nothing VF 0 did not send"
        );
        let mut m = nbls(&[frame(MAC[0], MAC[1], 1, 60)]);
        w.machine().send(v1, &mut m, false);
        w.machine().run_device();
        assert!(all_succeeded(&m), "{timing:?}: VF 1 unaffected");
        w.machine().return_all_received(v1);
        w.halt_pf();
        w.assert_clean();
    }
}

/// The same basic traffic on the loaded cross-built `.sys` images: VF to the wire, the wire to
/// the PF, the PF to the VF, with their statistics.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_images_carry_the_same_traffic() {
    let w = World::boot_images(Config::default(), 1).unwrap_or_else(|e| panic!("{e}"));
    w.machine().program_switch(&SwitchPlan {
        pf_promiscuous: true,
        ..plan(1, &[])
    });
    let (v0, pf) = (w.vf_sim(0).unwrap(), w.pf_sim());
    let out = frame(WIRE_MAC, MAC[0], 1, 1514);
    let mut n = nbls(std::slice::from_ref(&out));
    w.machine().send(v0, &mut n, true);
    w.machine().run_device();
    assert!(all_succeeded(&n));
    assert_eq!(w.machine().take_wire(), vec![out]);
    let inbound = frame(WIRE_MAC, [0x02, 0, 0, 0, 0x66, 0x66], 2, 600);
    w.machine().from_wire(&[&inbound]);
    assert_eq!(
        seen(pf),
        vec![inbound],
        "unmatched wire unicast to the promiscuous PF"
    );
    let to_vf = frame(MAC[0], PF_MAC, 3, 60);
    let mut n = nbls(std::slice::from_ref(&to_vf));
    w.machine().send(pf, &mut n, false);
    w.machine().run_device();
    assert!(all_succeeded(&n));
    assert_eq!(seen(v0), vec![to_vf]);
    assert_eq!(stats(&w, v0).ifHCOutUcastPkts, 1);
    assert_eq!(stats(&w, v0).ifHCInUcastPkts, 1);
    assert_eq!(stats(&w, pf).ifHCInUcastPkts, 1);
    for a in [v0, pf] {
        w.machine().return_all_received(a);
    }
    w.halt_pf();
    w.unload_driver(true);
    w.unload_driver(false);
    assert_eq!(w.machine().resources_outstanding(), 0);
    w.assert_clean();
}
