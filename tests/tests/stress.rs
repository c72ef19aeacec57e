//! The long free-running stress run, outside the default test time:
//!
//!     STRESS_SECONDS=600 cargo test --release -p sriov-sim --test stress -- --ignored --nocapture
//!
//! Threaded runs ([`sim::chaos::run_threaded`]) back to back, on as many worker threads as the
//! machine has CPUs, with bigger runs than the default suite's (4 VFs, more host changes and
//! lifecycle calls), each from a fresh seed, until the time is up (default 60 s). Any failure
//! stops it and names its seed.
use sim::chaos::{ThreadedOpts, ThreadedStats, run_threaded};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[test]
#[ignore = "long: STRESS_SECONDS=600 cargo test --release -p sriov-sim --test stress -- --ignored"]
fn free_running_threaded_stress() {
    let secs: u64 = std::env::var("STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let first: u64 = std::env::var("STRESS_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let opts = ThreadedOpts {
        vfs: 4,
        host_actions: 40,
        lifecycle_actions: 20,
        fault_permille: 40,
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let next = AtomicU64::new(first);
    let stop = AtomicBool::new(false);
    let total = Mutex::new((0u64, ThreadedStats::default()));
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while Instant::now() < deadline && !stop.load(Ordering::Acquire) {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    match run_threaded(seed, opts) {
                        Ok(r) => {
                            let mut t = total.lock().unwrap();
                            t.0 += 1;
                            t.1.actions += r.actions;
                            t.1.steps += r.steps;
                            t.1.deliveries += r.deliveries;
                            t.1.faults += r.faults;
                            t.1.invariant_checks += r.invariant_checks;
                            t.1.oid_waits += r.oid_waits;
                            t.1.fresh_changes += r.fresh_changes;
                        }
                        Err(e) => {
                            failures.lock().unwrap().push(e);
                            stop.store(true, Ordering::Release);
                        }
                    }
                }
            });
        }
    });
    let (runs, t) = *total.lock().unwrap();
    println!("stress: {runs} threaded runs in {secs} s on {workers} workers: {t:?}");
    let f = failures.lock().unwrap();
    assert!(f.is_empty(), "stress failed: {}", f.join("\n"));
    assert!(runs > 0);
}
