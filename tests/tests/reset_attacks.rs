//! Adversarial review of MiniportResetEx and the monotonic statistics (docs/reference-nic.md
//! section 9):
//! - a VF's MiniportResetEx resets the function, which puts `MAX_FRAME` back to 1514; the driver
//!   completes with AddressingReset FALSE, so it restores every setting itself
//!   ("NdisMResetComplete function": "If AddressingReset is FALSE, the miniport driver is
//!   responsible for restoring all of the configuration settings for the NIC"), jumbo included;
//! - a reset that never completes (a dead VF) leaves the hardware's counters as they were: what
//!   the driver reports must not count them twice (OID_GEN_STATISTICS never jumps without
//!   traffic);
//! - a function-level reset the VF did not make (OID_SRIOV_RESET_VF) followed by more traffic
//!   than before it: the counter reads above its last reading, yet everything before the reset
//!   still counts.
use common::ffi::*;
use common::hw::regs::{MAX_FRAME, RX_DISCARDS, RX_UCAST_PKTS};
use common::oid::RequestKind::Set;
use sim::fixture::{MAC, WIRE_MAC, frame, jumbo_config, switched};
use sim::frames::TestNbl;
use sim::{SimAdapter, World};

fn boot(jumbo: Option<u32>) -> World {
    switched(jumbo_config(jumbo, 1), 2, &[])
}

/// Sends `frames` from `a`, runs the device; the NBLs are kept alive by the caller.
#[must_use]
fn send(w: &World, a: &SimAdapter, frames: &[Vec<u8>]) -> Vec<TestNbl> {
    let mut n: Vec<TestNbl> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| TestNbl::new(&[f], 4096, i))
        .collect();
    w.machine().send(a, &mut n, true);
    w.machine().run_device();
    n
}

fn stats(w: &World, a: &SimAdapter) -> NDIS_STATISTICS_INFO {
    w.machine().query_statistics(a).expect("OID_GEN_STATISTICS")
}

/// `*JumboPacket` 9014, MTU 9000: VF 1's MiniportResetEx (a function reset, section 9) must
/// leave `MAX_FRAME` at 9014, and a 9014-byte frame from VF 0 still reaches it.
#[test]
fn a_vf_reset_restores_the_jumbo_max_frame() {
    let w = boot(Some(9014));
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    w.pf().set_link(true, 25_000_000_000, 9000).unwrap();
    w.settle();
    assert_eq!(
        w.machine().register(v1, MAX_FRAME),
        9014,
        "before the reset"
    );
    assert_eq!(w.machine().reset(v1), NDIS_STATUS_SUCCESS);
    assert_eq!(
        w.machine().register(v1, MAX_FRAME),
        9014,
        "MAX_FRAME after VF 1's MiniportResetEx (AddressingReset FALSE: the driver restores it)"
    );
    let jumbo = frame(MAC[1], MAC[0], 1, 9014);
    let keep = send(&w, v0, std::slice::from_ref(&jumbo));
    assert_eq!(keep[0].status(), NDIS_STATUS_SUCCESS);
    let got: Vec<Vec<u8>> = v1.recv.seen().into_iter().map(|s| s.data).collect();
    assert_eq!(got.len(), 1, "the jumbo frame after the reset");
    assert_eq!(stats(&w, v1).ifInErrors, 0);
    w.machine().return_all_received(v1);
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// VF 1's function reset never completes (`CTRL.RESET` stays set, the counters untouched):
/// MiniportResetEx fails, and the statistics VF 1 reports afterwards are what they were (no
/// traffic since), not the hardware's counts added twice.
#[test]
fn a_reset_that_never_completes_does_not_count_twice() {
    let w = boot(None);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let before: Vec<Vec<u8>> = (0..5).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
    let keep = send(&w, v0, &before);
    w.machine().return_all_received(v1);
    let s1 = stats(&w, v1);
    assert_eq!(s1.ifHCInUcastPkts, 5);
    w.machine().nic(|m| m.stall_vf_resets = true);
    let status = w.machine().reset(v1);
    assert_ne!(status, NDIS_STATUS_SUCCESS, "a dead VF's reset fails");
    assert_eq!(
        w.machine().counter(v1, RX_UCAST_PKTS),
        5,
        "the stalled reset cleared nothing"
    );
    let s2 = stats(&w, v1);
    assert_eq!(
        s2.ifHCInUcastPkts, s1.ifHCInUcastPkts,
        "no traffic since: ifHCInUcastPkts unchanged"
    );
    assert_eq!(s2.ifHCInOctets, s1.ifHCInOctets, "ifHCInOctets unchanged");
    w.machine().nic(|m| m.stall_vf_resets = false);
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// OID_SRIOV_RESET_VF resets VF 1 behind its driver's back after it had read one discard;
/// then more frames are discarded than before (VF 1's queues are off): the hardware's
/// RX_DISCARDS reads above the driver's last reading, yet the discard before the reset must
/// still count (reported: at least the one before plus every one after).
#[test]
fn an_flr_then_more_traffic_than_before_still_counts_what_came_before() {
    let w = boot(None);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    // VF 1 holds every received NBL: its ring runs dry and the device discards the rest.
    let burst: Vec<Vec<u8>> = (0..70).map(|i| frame(MAC[1], MAC[0], i, 200)).collect();
    let mut keep = send(&w, v0, &burst);
    let d0 = stats(&w, v1).ifInDiscards;
    assert!(d0 >= 1, "discards before the reset: {d0}");
    w.machine().return_all_received(v1);
    let mut b = sim::payloads::reset_vf_parameters(1);
    let out = sim::hyperv::pf_oid(&w, Set, OID_SRIOV_RESET_VF, &mut b);
    assert_eq!(out.status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        w.machine().counter(v1, RX_DISCARDS),
        0,
        "the FLR cleared it"
    );
    let after = usize::try_from(d0).unwrap() + 3;
    let more: Vec<Vec<u8>> = (0..after)
        .map(|i| frame(MAC[1], MAC[0], i as u8, 200))
        .collect();
    keep.extend(send(&w, v0, &more));
    let raw = w.machine().counter(v1, RX_DISCARDS);
    assert!(raw > d0, "more discarded after ({raw}) than before ({d0})");
    let d1 = stats(&w, v1).ifInDiscards;
    assert!(
        d1 >= d0 + raw,
        "ifInDiscards {d1}: {d0} before the FLR and {raw} after"
    );
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// MiniportResetEx on VF 0 with frames still in its TX ring (the device has not run), then the
/// VF is surprise-removed before the reset's work item runs: the reset completes once, every
/// NBL completes once (none left with the driver), and the halt that follows leaves nothing.
#[test]
fn a_surprise_removal_while_the_reset_is_pending_completes_every_send() {
    let w = boot(None);
    let v0 = w.vf_sim(0).unwrap();
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
    let mut n: Vec<TestNbl> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| TestNbl::new(&[f], 4096, i))
        .collect();
    w.machine().send(v0, &mut n, true);
    let reset = v0.chars().ResetHandlerEx.unwrap();
    w.machine().reset_starts(v0);
    let (mut addressing, ctx) = (0 as BOOLEAN, v0.ctx());
    // SAFETY: the VF's own reset handler and live context, as NDIS calls it.
    let (status, _) = sim::irql::call_at(DISPATCH_LEVEL, "MiniportResetEx", || unsafe {
        reset(ctx, &mut addressing)
    });
    assert_eq!(status, NDIS_STATUS_PENDING);
    w.machine().surprise_remove(v0);
    while w.machine().run_one_work_item() {}
    // Scatter-gather lists NDIS still owed arrive now (the device itself is gone).
    w.machine().run_device();
    let left = v0.sends_out.lock().unwrap().len();
    assert_eq!(
        left, 0,
        "NBLs still with the driver after the reset completed on a removed VF"
    );
    w.detach_vf(0);
    w.halt_pf();
    drop(n);
    w.assert_clean();
}

/// MiniportResetEx while VF 1 is paused ("Miniport Adapter States and Operations": a reset may
/// come in the Paused state): the reset completes, and frames VF 0 sends to VF 1 meanwhile are
/// never indicated while it is paused (the simulator reports an indication while paused); after
/// MiniportRestart, traffic reaches VF 1 again.
#[test]
fn a_reset_while_paused_indicates_nothing_until_restart() {
    let w = boot(None);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    assert_eq!(w.machine().pause(v1), NDIS_STATUS_SUCCESS);
    let status = w.machine().reset(v1);
    assert_eq!(status, NDIS_STATUS_SUCCESS, "reset while paused");
    let mut keep = send(&w, v0, &[frame(MAC[1], MAC[0], 1, 300)]);
    assert!(v1.recv.seen().is_empty(), "nothing indicated while paused");
    assert_eq!(w.machine().restart(v1), NDIS_STATUS_SUCCESS);
    keep.extend(send(&w, v0, &[frame(MAC[1], MAC[0], 2, 300)]));
    let got: Vec<Vec<u8>> = v1.recv.seen().into_iter().map(|s| s.data).collect();
    assert_eq!(
        got.last(),
        Some(&frame(MAC[1], MAC[0], 2, 300)),
        "after restart"
    );
    w.machine().return_all_received(v1);
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// VF 1's function reset times out once (a device slow past section 9's 10 ms); NDIS resets
/// again once the device has recovered: that reset is no "reset in progress" (none is), it
/// succeeds, traffic reaches VF 1 again, and what VF 1 reports counts the frames before once.
#[test]
fn a_reset_after_a_failed_one_succeeds_and_counts_once() {
    let w = boot(None);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let before: Vec<Vec<u8>> = (0..5).map(|i| frame(MAC[1], MAC[0], i, 300)).collect();
    let mut keep = send(&w, v0, &before);
    w.machine().return_all_received(v1);
    assert_eq!(stats(&w, v1).ifHCInUcastPkts, 5);
    w.machine().nic(|m| m.stall_vf_resets = true);
    assert_ne!(
        w.machine().reset(v1),
        NDIS_STATUS_SUCCESS,
        "the first reset fails"
    );
    w.machine().nic(|m| m.stall_vf_resets = false);
    assert_eq!(
        w.machine().reset(v1),
        NDIS_STATUS_SUCCESS,
        "the second reset, the device recovered"
    );
    keep.extend(send(&w, v0, &[frame(MAC[1], MAC[0], 9, 300)]));
    let got = v1.recv.seen().len();
    assert_eq!(got, 6, "VF 1 receives again after the second reset");
    w.machine().return_all_received(v1);
    assert_eq!(
        stats(&w, v1).ifHCInUcastPkts,
        6,
        "5 before the resets, 1 after, each once"
    );
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// NDIS calls MiniportResetEx (DISPATCH_LEVEL, "MINIPORT_RESET callback function") on another
/// CPU between two runs of VF 1's DPC that the receive throttle split ("Receive Side
/// Throttle"): the DPC's last run must not let the vector fire again while the reset is pending
/// ("Miniport Driver Hardware Reset": disable further interrupts), so `VEC_EN[0]` stays 0 until
/// the reset's work item has run; then the reset completes and traffic flows.
#[test]
fn a_dpc_rerun_after_miniport_reset_ex_leaves_the_vector_held() {
    use common::hw::regs::{VEC_EN, VEC_ENABLE};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let w = boot(None);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let (reset, ctx) = (v1.chars().ResetHandlerEx.unwrap(), v1.ctx() as usize);
    let fired = Arc::new(AtomicBool::new(false));
    let f2 = fired.clone();
    let v1_ptr = v1 as *const SimAdapter as usize;
    w.machine().set_dpc_rerun_hook(Some(Box::new(move |m, _| {
        if f2.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: the test's own adapter, alive for the whole test.
        let a = unsafe { &*(v1_ptr as *const SimAdapter) };
        m.reset_starts(a);
        let mut addressing = 0 as BOOLEAN;
        // SAFETY: VF 1's reset handler and live context, as NDIS calls it.
        let (status, _) = sim::irql::call_at(DISPATCH_LEVEL, "MiniportResetEx", || unsafe {
            reset(ctx as NDIS_HANDLE, &mut addressing)
        });
        assert_eq!(status, NDIS_STATUS_PENDING);
    })));
    w.machine().set_receive_throttle(4);
    let burst: Vec<Vec<u8>> = (0..10).map(|i| frame(MAC[1], WIRE_MAC, i, 300)).collect();
    let refs: Vec<&[u8]> = burst.iter().map(Vec::as_slice).collect();
    w.machine().from_wire(&refs);
    w.machine().set_dpc_rerun_hook(None);
    assert!(fired.load(Ordering::Acquire), "the DPC was re-run");
    assert_eq!(
        w.machine().register(v1, VEC_EN) & VEC_ENABLE,
        0,
        "VF 1's vector enabled again while its reset is pending"
    );
    while w.machine().run_one_work_item() {}
    w.machine().set_receive_throttle(NDIS_INDICATE_ALL_NBLS);
    w.machine().return_all_received(v1);
    let keep = send(&w, v0, &[frame(MAC[1], MAC[0], 99, 300)]);
    let got: Vec<Vec<u8>> = v1.recv.seen().into_iter().map(|s| s.data).collect();
    assert_eq!(
        got.last(),
        Some(&frame(MAC[1], MAC[0], 99, 300)),
        "after the reset"
    );
    w.machine().return_all_received(v1);
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// The PF's DPC follows the wire (`LINK_SEQ` moved: `set_link` at the MTU it read) on one CPU
/// while the host changes the MTU (`set_link`, OID_REF_SET_LINK) on another: the host's MTU is
/// never undone by the DPC's stale copy (checked before each of the host's changes).
#[test]
fn a_wire_change_never_undoes_a_concurrent_mtu_change() {
    let w = boot(Some(9014));
    let pf = w.pf_sim();
    let rounds = 20_000u32;
    let mtu_now = || {
        let mut buf = [0u8; 4];
        let o = w.oid(
            pf,
            common::oid::RequestKind::Query,
            OID_GEN_MAXIMUM_FRAME_SIZE,
            &mut buf,
            0,
            4,
        );
        assert_eq!(o.status, NDIS_STATUS_SUCCESS);
        u32::from_le_bytes(buf)
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut undone = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u32;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                w.machine().nic(|m| m.set_link(i % 2 == 1));
                w.machine().run_device();
                i += 1;
            }
        });
        let mut set = mtu_now();
        for i in 0..rounds {
            let now = mtu_now();
            if now != set {
                undone.push((i, set, now));
            }
            set = if i % 2 == 0 { 9000 } else { 1500 };
            w.pf().set_link(true, 10_000_000_000, set).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    });
    assert!(
        undone.is_empty(),
        "MTU changes undone by the DPC (round, set, found): {:?}",
        &undone[..undone.len().min(5)]
    );
    w.machine().nic(|m| m.set_link(true));
    w.settle();
    w.halt_pf();
    w.assert_clean();
}
