//! The NDIS half of send (issue 11) in both drivers, against real NET_BUFFER_LIST →
//! NET_BUFFER → MDL chains, with the simulator's Verifier-style send ledger checking every
//! completion (`exports::NdisMSendNetBufferListsComplete`): each NBL completed exactly once,
//! with its Status set, with the DISPATCH_LEVEL flag exactly when the IRQL is DISPATCH_LEVEL,
//! and none outstanding when MiniportPause returns. Frames go to the TX ring and out through
//! the device model's switch (programmed as the PF will: `sim::world::traffic`) to the wire;
//! the device's TX completions finish them. The last tests are the mutations: the ledger's
//! checks fail when a driver breaks each rule.
use common::ffi::*;
use sim::fixture::{plan, send_sides, switched};
use sim::frames::TestNbl;
use sim::{Config, SimAdapter, World};

/// VF 0's address on the switch (the test frames go to other unicast addresses: the wire).
fn world() -> World {
    switched(Config::default(), 1, &[])
}

fn frames(n: usize, first_id: usize) -> Vec<TestNbl> {
    (0..n)
        .map(|i| TestNbl::frame([0x02, 0, 0, 0, 0, i as u8], first_id + i))
        .collect()
}

fn done(a: &SimAdapter) -> Vec<(usize, NDIS_STATUS)> {
    a.sends_done.lock().unwrap().clone()
}

fn outstanding(a: &SimAdapter) -> usize {
    a.sends_out.lock().unwrap().len()
}

/// "MINIPORT_SEND_NET_BUFFER_LISTS": every NBL of the chain is completed, once, with its
/// Status; NBLs of several NET_BUFFERs and MDLs alike; at PASSIVE_LEVEL and at DISPATCH_LEVEL
/// with NDIS_SEND_FLAGS_DISPATCH_LEVEL (the completion then says DISPATCH_LEVEL too).
#[test]
fn every_nbl_completes_exactly_once_with_its_status() {
    let w = world();
    for (name, a, _, _) in send_sides(&w) {
        assert!(
            a.running.load(std::sync::atomic::Ordering::Acquire),
            "{name} runs"
        );
        let big = vec![0xABu8; 1514];
        let mut nbls = frames(3, 0);
        nbls.push(TestNbl::new(&[&big, &big[..60]], 256, 99));
        assert_eq!(nbls[3].net_buffers(), 2);
        w.machine().send(a, &mut nbls, false);
        let mut more = frames(2, 10);
        w.machine().send(a, &mut more, true);
        w.machine().run_device();
        let wire = w.machine().take_wire();
        assert_eq!(wire.len(), 7, "{name}: every NET_BUFFER went out");
        assert!(
            wire.contains(&big),
            "{name}: the 1,514 bytes across six MDLs"
        );
        let d = done(a);
        assert_eq!(d.len(), 6, "{name}: {d:?}");
        for n in nbls.iter().chain(&more) {
            assert_eq!(
                d.iter().filter(|(k, _)| *k == n.addr()).count(),
                1,
                "{name}: once"
            );
            assert_eq!(n.status(), NDIS_STATUS_SUCCESS, "{name}");
        }
        assert_eq!(outstanding(a), 0);
    }
    w.assert_clean();
}

/// "If the miniport adapter is in the Pausing or Paused state ... NDIS_STATUS_PAUSED"; after
/// MiniportRestart sends flow again.
#[test]
fn paused_adapters_fail_sends_with_paused() {
    let w = world();
    for (name, a, _, _) in send_sides(&w) {
        assert_eq!(w.machine().pause(a), NDIS_STATUS_SUCCESS, "{name}");
        let mut nbls = frames(3, 0);
        w.machine().send(a, &mut nbls, true);
        assert!(
            nbls.iter().all(|n| n.status() == NDIS_STATUS_PAUSED),
            "{name}"
        );
        assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS, "{name}");
        let mut after = frames(1, 0);
        w.machine().send(a, &mut after, false);
        w.machine().run_device();
        assert_eq!(
            after[0].status(),
            NDIS_STATUS_SUCCESS,
            "{name}: flowing again"
        );
    }
    w.assert_clean();
}

/// A send that arrives while the adapter is pausing (here: while the VF's MiniportPause writes
/// its status block, through the simulator's call hook) fails with NDIS_STATUS_PAUSED
/// ("MINIPORT_SEND_NET_BUFFER_LISTS": Pausing or Paused).
#[test]
fn sends_while_pausing_fail_with_paused() {
    use std::sync::{Arc, Mutex};
    let w = world();
    let seen: Arc<Mutex<Vec<NDIS_STATUS>>> = Arc::default();
    let s2 = seen.clone();
    w.machine().set_call_hook(Some(Box::new(move |m, call, _| {
        if call == "NdisMWriteConfigBlock"
            && s2.lock().unwrap().is_empty()
            && let Some(a) = m.vf_adapter(0)
        {
            let mut n = [TestNbl::frame([0x02, 0, 0, 0, 0, 1], 0)];
            m.send(a, &mut n, false);
            s2.lock().unwrap().push(n[0].status());
        }
        sim::world::CallFault::Proceed
    })));
    let vf = w.vf_sim(0).expect("VF 0");
    assert_eq!(w.machine().pause(vf), NDIS_STATUS_SUCCESS);
    w.machine().set_call_hook(None);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![NDIS_STATUS_PAUSED],
        "a send landed mid-pause"
    );
    w.assert_clean();
}

/// Sends the transmitter could not take yet (a full ring) are outstanding; MiniportPause
/// completes them (NDIS_STATUS_PAUSED) before it returns: "Pausing a Miniport Adapter".
#[test]
fn pause_completes_every_outstanding_send_first() {
    let w = world();
    for (name, a, q, tx) in send_sides(&w) {
        q.hold(a as *const SimAdapter as NDIS_HANDLE, true, tx);
        let mut nbls = frames(4, 0);
        w.machine().send(a, &mut nbls, false);
        assert_eq!(outstanding(a), 4, "{name}: held, not completed");
        assert!(done(a).is_empty(), "{name}: none completed");
        assert_eq!(q.outstanding(), 4);
        assert_eq!(w.machine().pause(a), NDIS_STATUS_SUCCESS);
        assert_eq!(outstanding(a), 0, "{name}");
        assert!(
            nbls.iter().all(|n| n.status() == NDIS_STATUS_PAUSED),
            "{name}"
        );
        q.hold(a as *const SimAdapter as NDIS_HANDLE, false, tx);
        assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS);
    }
    w.assert_clean();
}

/// MINIPORT_CANCEL_SEND: the queued NBLs with the cancel id complete with
/// NDIS_STATUS_SEND_ABORTED; the others stay queued, in order.
#[test]
fn cancel_send_aborts_exactly_the_matching_nbls() {
    let w = world();
    // MiniportProcessSGList inline: frames reach the ring in the order they were mapped, so
    // the completions show the queue's order (deferred lists may reach the ring in any order).
    w.machine()
        .set_sg_timing(sim::world::sg_lists::SgTiming::Inline);
    for (name, a, q, tx) in send_sides(&w) {
        let h = a as *const SimAdapter as NDIS_HANDLE;
        q.hold(h, true, tx);
        let mut nbls: Vec<TestNbl> = [7, 8, 7, 9]
            .iter()
            .map(|&id| TestNbl::frame([0x02, 0, 0, 0, 0, 1], id))
            .collect();
        w.machine().send(a, &mut nbls, true);
        w.machine().cancel_send(a, 7);
        assert_eq!(nbls[0].status(), NDIS_STATUS_SEND_ABORTED, "{name}");
        assert_eq!(nbls[2].status(), NDIS_STATUS_SEND_ABORTED, "{name}");
        assert_eq!(outstanding(a), 2, "{name}: ids 8 and 9 still queued");
        w.machine().cancel_send(a, 1234);
        assert_eq!(outstanding(a), 2, "{name}: no match, nothing completed");
        q.hold(h, false, tx);
        w.machine().run_device();
        let order: Vec<usize> = done(a).iter().map(|(k, _)| *k).collect();
        assert_eq!(order[2..], [nbls[1].addr(), nbls[3].addr()], "{name}: FIFO");
        assert_eq!(outstanding(a), 0);
    }
    w.assert_clean();
}

/// After surprise removal sends fail with NDIS_STATUS_NOT_ACCEPTED, and a restart does not
/// bring them back; what was queued completes at the removal.
#[test]
fn surprise_removed_adapters_do_not_accept_sends() {
    let w = world();
    for (name, a, q, tx) in send_sides(&w) {
        q.hold(a as *const SimAdapter as NDIS_HANDLE, true, tx);
        let mut queued = frames(2, 0);
        w.machine().send(a, &mut queued, false);
        w.machine().surprise_remove(a);
        assert!(
            queued
                .iter()
                .all(|n| n.status() == NDIS_STATUS_NOT_ACCEPTED),
            "{name}"
        );
        let mut nbls = frames(2, 0);
        w.machine().send(a, &mut nbls, true);
        assert!(
            nbls.iter().all(|n| n.status() == NDIS_STATUS_NOT_ACCEPTED),
            "{name}"
        );
        assert_eq!(outstanding(a), 0);
    }
    w.assert_clean();
}

// ---- mutations: the ledger must catch each broken rule -------------------------------------

fn violations_after(f: impl FnOnce(&World, &SimAdapter)) -> Vec<String> {
    let w = world();
    let a = w.pf_sim();
    f(&w, a);
    w.violations()
}

fn complete(a: &SimAdapter, nbl: *mut NET_BUFFER_LIST, flags: u32) {
    let h = a as *const SimAdapter as NDIS_HANDLE;
    // SAFETY: calls the simulator's export as a broken driver would, with a live NBL.
    unsafe { sim::exports::NdisMSendNetBufferListsComplete(h, nbl, flags) };
}

fn ledger(a: &SimAdapter, n: &mut TestNbl) -> *mut NET_BUFFER_LIST {
    a.sends_out.lock().unwrap().insert(n.addr());
    n.ptr()
}

#[test]
fn mutation_status_left_unset_is_caught() {
    let v = violations_after(|_, a| {
        let mut n = TestNbl::frame([2, 0, 0, 0, 0, 1], 0);
        let p = ledger(a, &mut n);
        complete(a, p, 0);
    });
    assert!(
        v.iter().any(|m| m.contains("without its Status set")),
        "{v:?}"
    );
}

#[test]
fn mutation_double_completion_is_caught() {
    let v = violations_after(|_, a| {
        let mut n = TestNbl::frame([2, 0, 0, 0, 0, 1], 0);
        let p = ledger(a, &mut n);
        // SAFETY: the test's NBL.
        unsafe { (*p).Status = NDIS_STATUS_SUCCESS };
        complete(a, p, 0);
        complete(a, p, 0);
    });
    assert!(v.iter().any(|m| m.contains("completed twice")), "{v:?}");
}

#[test]
fn mutation_wrong_dispatch_flag_is_caught() {
    let v = violations_after(|_, a| {
        let mut n = TestNbl::frame([2, 0, 0, 0, 0, 1], 0);
        let p = ledger(a, &mut n);
        // SAFETY: the test's NBL.
        unsafe { (*p).Status = NDIS_STATUS_SUCCESS };
        // At PASSIVE_LEVEL, claiming DISPATCH_LEVEL.
        complete(a, p, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL);
    });
    assert!(
        v.iter().any(|m| m.contains("flags 0x1 at PASSIVE_LEVEL")),
        "{v:?}"
    );
}

/// A driver that returned from MiniportPause while still holding a send.
#[test]
fn mutation_pause_with_a_send_outstanding_is_caught() {
    let v = violations_after(|w, a| {
        let mut n = TestNbl::frame([2, 0, 0, 0, 0, 1], 0);
        ledger(a, &mut n);
        w.machine().pause(a);
    });
    assert!(
        v.iter()
            .any(|m| m.contains("MiniportPause completed with 1 sends outstanding")),
        "{v:?}"
    );
}

/// The same rules on the cross-built `.sys` images, driven through NDIS alone: running sends
/// complete once with their Status (at both IRQLs), paused ones with NDIS_STATUS_PAUSED,
/// after surprise removal with NDIS_STATUS_NOT_ACCEPTED.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_images_follow_the_same_send_rules() {
    let w = World::boot_images(Config::default(), 1).unwrap_or_else(|e| panic!("{e}"));
    w.machine().program_switch(&plan(1, &[]));
    // The VF first: the PF's surprise removal takes the whole device (its VFs too) away.
    for a in [w.vf_sim(0).expect("VF 0"), w.pf_sim()] {
        let mut nbls = frames(3, 0);
        w.machine().send(a, &mut nbls, true);
        let mut more = frames(2, 0);
        w.machine().send(a, &mut more, false);
        w.machine().run_device();
        assert!(
            nbls.iter()
                .chain(&more)
                .all(|n| n.status() == NDIS_STATUS_SUCCESS),
            "{}",
            a.name
        );
        let wire = w.machine().take_wire();
        assert_eq!(wire.len(), 5, "{}", a.name);
        assert_eq!(done(a).len(), 5);
        assert_eq!(w.machine().pause(a), NDIS_STATUS_SUCCESS);
        let mut paused = frames(2, 0);
        w.machine().send(a, &mut paused, true);
        assert!(
            paused.iter().all(|n| n.status() == NDIS_STATUS_PAUSED),
            "{}",
            a.name
        );
        assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS);
        w.machine().surprise_remove(a);
        let mut gone = frames(1, 0);
        w.machine().send(a, &mut gone, false);
        assert_eq!(gone[0].status(), NDIS_STATUS_NOT_ACCEPTED, "{}", a.name);
        assert_eq!(outstanding(a), 0);
    }
    w.assert_clean();
}
