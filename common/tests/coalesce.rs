//! The coalescing writer (`common::coalesce`), raced on real threads: writes never overlap,
//! never go back to an older value, and the last one written is the last value set.
use common::coalesce::Coalescer;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[test]
fn the_last_write_is_the_last_value_and_writes_never_overlap_or_go_back() {
    for round in 0..2_000u64 {
        let c = Coalescer::new();
        let value = Mutex::new(0u64);
        let written = Mutex::new(Vec::new());
        let writing = AtomicBool::new(false);
        let overlaps = AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let (c, value, written, writing, overlaps) =
                    (&c, &value, &written, &writing, &overlaps);
                s.spawn(move || {
                    for i in 0..20u64 {
                        {
                            let mut v = value.lock().unwrap();
                            *v = (*v).max(round * 1_000 + i * 10 + t) + 1;
                        }
                        c.request(|| {
                            if writing.swap(true, Ordering::AcqRel) {
                                overlaps.fetch_add(1, Ordering::Relaxed);
                            }
                            let now = *value.lock().unwrap();
                            written.lock().unwrap().push(now);
                            writing.store(false, Ordering::Release);
                        });
                    }
                });
            }
        });
        let written = written.into_inner().unwrap();
        assert_eq!(
            overlaps.load(Ordering::Relaxed),
            0,
            "round {round}: two writers at once"
        );
        assert!(
            written.windows(2).all(|w| w[0] <= w[1]),
            "round {round}: an older value was written after a newer one: {written:?}"
        );
        assert_eq!(
            written.last().copied(),
            Some(value.into_inner().unwrap()),
            "round {round}: the last write is not the last value"
        );
    }
}

/// Found by the test above: a failed take must leave the holder's lock held (building the
/// guard eagerly and dropping it released the lock of whoever held it).
#[test]
fn a_failed_try_lock_leaves_the_lock_held() {
    let lock = common::sync::TryLock::new(5u32);
    let held = lock.try_lock().expect("free at first");
    assert!(lock.try_lock().is_none());
    assert!(lock.is_held(), "the failed take released the holder's lock");
    assert!(
        lock.try_lock().is_none(),
        "a second caller got a lock that is held"
    );
    drop(held);
    assert!(!lock.is_held());
    assert_eq!(lock.try_lock().map(|g| *g), Some(5));
}
