//! `common::sync::TryLock`: who holds it keeps it until the guard drops, however many other
//! callers try meanwhile (the VF's staging view and its status reporter rely on it).
use common::sync::TryLock;

#[test]
fn a_failed_try_lock_does_not_release_the_holder() {
    let lock = TryLock::new(0u32);
    let held = lock.try_lock().expect("free at first");
    assert!(lock.try_lock().is_none(), "held: a second try fails");
    // The failed attempt above must not have released the holder's lock.
    assert!(lock.is_held(), "still held by the first guard");
    assert!(
        lock.try_lock().is_none(),
        "a third try fails too: only the holder's drop releases it"
    );
    drop(held);
    assert!(!lock.is_held());
    assert!(
        lock.try_lock().is_some(),
        "free again once the guard dropped"
    );
}

#[test]
fn two_threads_never_hold_it_at_once() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let lock = TryLock::new(());
    let inside = AtomicU32::new(0);
    let overlaps = AtomicU32::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..20_000 {
                    if let Some(g) = lock.try_lock() {
                        if inside.fetch_add(1, Ordering::AcqRel) != 0 {
                            overlaps.fetch_add(1, Ordering::Relaxed);
                        }
                        std::hint::spin_loop();
                        inside.fetch_sub(1, Ordering::AcqRel);
                        drop(g);
                    }
                }
            });
        }
    });
    assert_eq!(overlaps.load(Ordering::Relaxed), 0, "two holders at once");
}
