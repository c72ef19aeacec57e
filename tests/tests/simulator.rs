//! The simulator itself: the virtualization stack's mask cache, the VPCI IOCTL cycle,
//! determinism under a seed, and the Verifier-style checks. A simulator that cannot fail
//! proves nothing about the drivers, so these also show it catching broken behaviour.
use common::ffi::*;
use sim::timeline::Event;
use sim::{Config, World};

fn invalidates_and_deliveries(w: &World, vf: u16) -> (Vec<u64>, Vec<u64>) {
    let t = w.timeline();
    let inv = t.iter().filter_map(|(_, e)| match e {
        Event::Invalidate { vf: v, mask, .. } if *v == vf => Some(*mask),
        _ => None,
    });
    let del = t.iter().filter_map(|(_, e)| match e {
        Event::IoctlComplete { vf: v, mask } if *v == vf => Some(*mask),
        _ => None,
    });
    (inv.collect(), del.collect())
}

#[test]
fn cache_ors_masks_until_the_guest_takes_them() {
    let w = World::boot(Config::default(), 1);
    // SAFETY: the PF's own miniport handle, called at PASSIVE_LEVEL as a driver would.
    unsafe {
        sim::exports::NdisMInvalidateConfigBlock(w.pf_sim().handle(), 0, 0b0010);
        sim::exports::NdisMInvalidateConfigBlock(w.pf_sim().handle(), 0, 0b0100);
        sim::exports::NdisMInvalidateConfigBlock(w.pf_sim().handle(), 0, 0b0010);
    }
    assert_eq!(w.machine().channel(0).unwrap().cache, 0b0110);
    let before = w.deliveries(0);
    w.settle();
    assert_eq!(
        w.deliveries(0),
        before + 1,
        "three invalidations, one delivery"
    );
    assert_eq!(
        w.machine().channel(0).unwrap().cache,
        0,
        "cache cleared on delivery"
    );
    let (_, del) = invalidates_and_deliveries(&w, 0);
    assert_eq!(del.last(), Some(&0b0110));
    w.assert_clean();
}

#[test]
fn ioctl_is_reissued_so_the_next_change_is_delivered() {
    let w = World::boot(Config::default(), 1);
    for i in 0..5u8 {
        w.pf().set_vf_mac_vlan(0, [2, 0, 0, 0, 1, i], 0, 0).unwrap();
        w.settle();
        assert!(
            w.machine().channel(0).unwrap().ioctl_pending,
            "IOCTL pending again after completion {i}"
        );
    }
    let (inv, del) = invalidates_and_deliveries(&w, 0);
    assert_eq!(inv.len(), 5);
    assert_eq!(del.len(), 5);
    w.check_consistent(0).unwrap();
}

#[test]
fn invalidation_for_an_absent_vf_is_dropped() {
    let w = World::boot(Config::default(), 1);
    // SAFETY: as above.
    unsafe { sim::exports::NdisMInvalidateConfigBlock(w.pf_sim().handle(), 42, 1) };
    assert!(
        w.timeline()
            .iter()
            .any(|(_, e)| *e == Event::InvalidateDropped { vf: 42, mask: 1 })
    );
    assert!(w.machine().channel(42).is_none());
}

#[test]
fn delivery_waits_for_the_vf_to_finish_initializing() {
    let w = World::new(Config::default());
    w.load_pf().unwrap();
    w.create_switch(1);
    let vf = w.allocate_vf().unwrap();
    // The PF invalidates before any guest has the VF: the cache holds it.
    w.pf()
        .set_vf_mac_vlan(vf, [2, 0, 0, 0, 0, 0x33], 0, 0)
        .unwrap();
    assert!(
        !w.machine().deliver(vf),
        "no VF adapter yet, nothing delivered"
    );
    w.attach_vf(vf).unwrap();
    w.settle();
    w.check_consistent(vf).unwrap();
    w.assert_clean();
}

#[test]
fn same_seed_same_timeline_different_seed_different_order() {
    let run = |seed| {
        let w = World::boot(
            Config {
                seed,
                delivery_delay: 0.5,
                ..Config::default()
            },
            6,
        );
        for vf in 0..6 {
            w.pf()
                .set_vf_mac_vlan(vf, [2, 0, 0, 0, 2, vf as u8], vf, 0)
                .unwrap();
        }
        w.pf().set_link(false, 0, 1500).unwrap();
        w.settle();
        w.timeline()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn verifier_catches_a_read_at_dispatch_level() {
    let w = World::boot(Config::default(), 1);
    let vf = w.vf_sim(0).unwrap();
    let mut buf = [0u8; 30];
    sim::irql::set(DISPATCH_LEVEL);
    // SAFETY: a VF handle and a buffer of the given length; the IRQL is deliberately wrong.
    let status =
        unsafe { sim::exports::NdisMReadConfigBlock(vf.handle(), 1, buf.as_mut_ptr().cast(), 30) };
    sim::irql::set(PASSIVE_LEVEL);
    assert_eq!(status, NDIS_STATUS_FAILURE);
    let v = w.violations();
    assert!(
        v.iter()
            .any(|m| m.contains("NdisMReadConfigBlock called at DISPATCH_LEVEL")),
        "{v:?}"
    );
}

#[test]
fn verifier_catches_a_spin_lock_left_held() {
    let w = World::boot(Config::default(), 1);
    let mut lock: KSPIN_LOCK = 0;
    let ((), v) = sim::irql::call_at(PASSIVE_LEVEL, "bad callback", || {
        // SAFETY: a local lock word; leaving it held is the bug under test.
        unsafe { sim::exports::KeAcquireSpinLockRaiseToDpc(&mut lock) };
    });
    let v = v.expect("violation reported");
    assert!(
        v.contains("returned at DISPATCH_LEVEL") || v.contains("holding"),
        "{v}"
    );
    // Clean up this thread's bookkeeping.
    // SAFETY: releases the lock taken above.
    unsafe { sim::exports::KeReleaseSpinLock(&mut lock, PASSIVE_LEVEL) };
    sim::irql::set(PASSIVE_LEVEL);
    drop(w);
}

#[test]
fn verifier_catches_vf_only_and_pf_only_calls_from_the_wrong_side() {
    let w = World::boot(Config::default(), 1);
    let mut buf = [0u8; 30];
    // SAFETY: valid handles; the roles are deliberately wrong.
    unsafe {
        sim::exports::NdisMReadConfigBlock(w.pf_sim().handle(), 1, buf.as_mut_ptr().cast(), 30);
        sim::exports::NdisMInvalidateConfigBlock(w.vf_sim(0).unwrap().handle(), 0, 1);
    }
    let v = w.violations();
    assert!(
        v.iter()
            .any(|m| m.contains("NdisMReadConfigBlock called by the PF")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains("NdisMInvalidateConfigBlock from a VF")),
        "{v:?}"
    );
}

#[test]
fn verifier_catches_an_oversized_block_transfer() {
    let w = World::boot(Config::default(), 1);
    let mut buf = [0u8; 129];
    for len in [0u32, 129] {
        // SAFETY: the buffer holds 129 bytes.
        let s = unsafe {
            sim::exports::NdisMReadConfigBlock(
                w.vf_sim(0).unwrap().handle(),
                1,
                buf.as_mut_ptr().cast(),
                len,
            )
        };
        assert_eq!(s, NDIS_STATUS_FAILURE);
    }
    assert_eq!(w.violations().len(), 2);
}

#[test]
fn pool_tracker_catches_a_bad_free() {
    let w = World::boot(Config::default(), 1);
    let p = w.machine().allocate(16, 0x4141_4141);
    w.machine().free(p, 0x4242_4242);
    assert!(w.violations().iter().any(|m| m.contains("freed with tag")));
}
