//! The seeded randomized run over many seeds. A failure prints its seed; reproduce it alone:
//!
//!     SEED=1234 cargo test -p sriov-sim --test seeded
//!
//! `SEEDS=n` changes how many seeds run (default 2000).
use sim::chaos::run_seed;

#[test]
fn randomized_runs_lose_nothing_and_break_no_rule() {
    if let Ok(seed) = std::env::var("SEED") {
        let seed: u64 = seed.parse().expect("SEED is a number");
        let stats = run_seed(seed, 3, 60).unwrap_or_else(|e| panic!("{e}"));
        println!("seed {seed}: {stats:?}");
        return;
    }
    let seeds: u64 = std::env::var("SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut failures = Vec::new();
    let (mut faults, mut deliveries, mut checks) = (0u64, 0u64, 0u64);
    for seed in 0..seeds {
        match run_seed(seed, 3, 60) {
            Ok(s) => {
                faults += s.faults as u64;
                deliveries += s.deliveries;
                checks += s.invariant_checks;
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "{seeds} seeds: {deliveries} deliveries, {faults} injected faults, {checks} applies checked against the PF's history, {} failures",
        failures.len()
    );
    assert!(faults > seeds / 2, "faults were injected ({faults})");
    assert!(
        checks > deliveries,
        "every apply was checked against the PF's history ({checks} checks, {deliveries} deliveries)"
    );
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed; first: {}\nreproduce with SEED=<n>",
        failures.len(),
        failures[0]
    );
}

#[test]
fn the_randomized_run_is_reproducible() {
    let a = run_seed(42, 3, 60).unwrap();
    let b = run_seed(42, 3, 60).unwrap();
    assert_eq!((a.deliveries, a.faults), (b.deliveries, b.faults));
}
