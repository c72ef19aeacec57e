//! The drivers on real threads (issue 9): host changes, deliveries and work items, and the
//! guests' pause/restart/reset each on its own thread, with faults injected, OIDs to one
//! adapter serialized as NDIS serializes them, the invariant checked at every status report.
//! A failure prints its seed: `THREADED_SEED=n cargo test -p sriov-sim --test threaded` runs
//! it alone (the interleaving is the scheduler's, so try it a few times); `THREADED_SEEDS=n`
//! changes how many run (default 10,000). The long free-running run is `tests/stress.rs`.
use sim::chaos::{ThreadedOpts, run_threaded};
use std::time::Instant;

#[test]
fn ten_thousand_threaded_runs_keep_every_vf_consistent() {
    if let Ok(seed) = std::env::var("THREADED_SEED") {
        let seed: u64 = seed.parse().expect("THREADED_SEED is a number");
        let s = run_threaded(seed, ThreadedOpts::default()).unwrap_or_else(|e| panic!("{e}"));
        println!("seed {seed}: {s:?}");
        return;
    }
    let seeds: u64 = std::env::var("THREADED_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut total = sim::chaos::ThreadedStats::default();
    for seed in 0..seeds {
        match run_threaded(seed, ThreadedOpts::default()) {
            Ok(s) => {
                total.actions += s.actions;
                total.steps += s.steps;
                total.deliveries += s.deliveries;
                total.faults += s.faults;
                total.invariant_checks += s.invariant_checks;
                total.oid_waits += s.oid_waits;
                total.fresh_changes += s.fresh_changes;
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "{seeds} threaded runs in {:.1} s: {total:?}, {} failures",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {seeds} threaded runs failed; first: {}\nall: {:#?}\nrun one alone with THREADED_SEED=<n>",
        failures.len(),
        failures[0],
        failures
    );
    // Coverage, not correctness: most runs must see a fault (the count depends on how many
    // reads the drivers make, which the scheduler varies).
    assert!(
        total.faults as u64 > seeds / 2,
        "faults were injected ({})",
        total.faults
    );
    assert!(
        total.invariant_checks > total.deliveries,
        "every apply was checked against the PF's history ({} checks, {} deliveries)",
        total.invariant_checks,
        total.deliveries
    );
    assert!(
        total.oid_waits > 0,
        "OIDs to one adapter met and were serialized ({} waits)",
        total.oid_waits
    );
}

/// "Miniport Adapter OID Request Serialization": an OID to an adapter waits while another is in
/// progress there. A PF OID issued from a second thread while OID_NIC_SWITCH_ALLOCATE_VF is
/// inside the PF (held there by a call hook) completes only after the allocation returns.
#[test]
fn a_second_oid_to_the_pf_waits_for_the_first() {
    use common::ffi::*;
    use sim::world::CallFault;
    use sim::{Config, World};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let w = World::new(Config::default());
    w.load_pf().unwrap();
    assert_eq!(w.create_switch(2), NDIS_STATUS_SUCCESS);
    let inside = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let done_while_inside = Arc::new(AtomicBool::new(false));
    {
        let (inside, done, seen) = (inside.clone(), done.clone(), done_while_inside.clone());
        w.machine().set_call_hook(Some(Box::new(move |_, call, _| {
            if call == "NdisAllocateMemoryWithTagPriority" && !inside.swap(true, Ordering::AcqRel) {
                std::thread::sleep(std::time::Duration::from_millis(150));
                seen.store(done.load(Ordering::Acquire), Ordering::Release);
            }
            CallFault::Proceed
        })));
    }
    let waited_before = w.pf_sim().oid_gate.waited.load(Ordering::Relaxed);
    std::thread::scope(|s| {
        s.spawn(|| {
            w.enter_thread();
            assert!(w.allocate_vf().is_ok());
        });
        s.spawn(|| {
            w.enter_thread();
            while !inside.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            let mut mac = [0u8; 6];
            let o = w.oid(
                w.pf_sim(),
                common::oid::RequestKind::Query,
                OID_802_3_CURRENT_ADDRESS,
                &mut mac,
                0,
                6,
            );
            assert_eq!(o.status, NDIS_STATUS_SUCCESS);
            done.store(true, Ordering::Release);
        });
    });
    assert!(
        inside.load(Ordering::Acquire),
        "the allocation reached the hook"
    );
    assert!(
        !done_while_inside.load(Ordering::Acquire),
        "the second OID completed while the first was still inside the PF"
    );
    assert!(done.load(Ordering::Acquire));
    assert!(w.pf_sim().oid_gate.waited.load(Ordering::Relaxed) > waited_before);
    w.machine().set_call_hook(None);
    w.assert_clean();
}
