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
    assert!(
        total.faults as u64 > seeds,
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
