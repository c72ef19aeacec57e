//! IRQL per thread and the kernel spin locks, with the checks Driver Verifier makes: a call
//! above its documented IRQL, a lock taken twice, an IRQL not restored when a callback
//! returns. Violations are recorded (a panic here would abort: these run inside
//! `extern "win64"` frames) and scenarios assert there are none.
use common::ffi::{APC_LEVEL, DISPATCH_LEVEL, KIRQL, KSPIN_LOCK, PASSIVE_LEVEL};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static IRQL: Cell<KIRQL> = const { Cell::new(PASSIVE_LEVEL) };
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Violations not tied to a handle (e.g. a lock misuse), drained by the world that checks
    /// on this thread. Per thread, so parallel tests never see each other's.
    static ORPHAN_VIOLATIONS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

pub fn current() -> KIRQL {
    IRQL.with(Cell::get)
}

pub fn set(irql: KIRQL) {
    IRQL.with(|c| c.set(irql));
}

pub fn name(irql: KIRQL) -> &'static str {
    match irql {
        PASSIVE_LEVEL => "PASSIVE_LEVEL",
        APC_LEVEL => "APC_LEVEL",
        DISPATCH_LEVEL => "DISPATCH_LEVEL",
        3..=12 => "DIRQL",
        _ => "HIGH",
    }
}

/// Records a violation if the current IRQL is above `max` for `what`.
pub fn require_max(max: KIRQL, what: &str) -> Result<(), String> {
    let now = current();
    if now > max {
        Err(format!(
            "IRQL: {what} called at {} (max {})",
            name(now),
            name(max)
        ))
    } else {
        Ok(())
    }
}

pub fn orphan_violation(msg: String) {
    ORPHAN_VIOLATIONS.with(|v| v.borrow_mut().push(msg));
}

pub fn take_orphans() -> Vec<String> {
    ORPHAN_VIOLATIONS.with(|v| std::mem::take(&mut *v.borrow_mut()))
}

/// Runs `f` as a callback entered at `irql`, and checks the driver left the IRQL as it
/// found it and released every spin lock it took.
pub fn call_at<R>(irql: KIRQL, what: &str, f: impl FnOnce() -> R) -> (R, Option<String>) {
    let saved = current();
    let held_before = HELD.with(|h| h.borrow().len());
    set(irql);
    let r = f();
    let after = current();
    let held_after = HELD.with(|h| h.borrow().len());
    set(saved);
    let violation = if after != irql {
        Some(format!(
            "IRQL: {what} returned at {} but was called at {}",
            name(after),
            name(irql)
        ))
    } else if held_after != held_before {
        Some(format!(
            "spin lock: {what} returned holding {} lock(s)",
            held_after - held_before
        ))
    } else {
        None
    };
    (r, violation)
}

fn lock_word(lock: *mut KSPIN_LOCK) -> &'static AtomicUsize {
    // SAFETY: KSPIN_LOCK is a usize the driver keeps alive while it uses the lock; AtomicUsize
    // has the same size and alignment.
    unsafe { &*(lock as *const AtomicUsize) }
}

pub fn acquire_raise_to_dpc(lock: *mut KSPIN_LOCK) -> KIRQL {
    let old = current();
    if old > DISPATCH_LEVEL {
        orphan_violation(format!("KeAcquireSpinLockRaiseToDpc at {}", name(old)));
    }
    let addr = lock as usize;
    if HELD.with(|h| h.borrow().contains(&addr)) {
        eprintln!(
            "simulated bugcheck: spin lock {addr:#x} acquired twice on one thread (deadlock)"
        );
        std::process::abort();
    }
    set(DISPATCH_LEVEL);
    let word = lock_word(lock);
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    HELD.with(|h| h.borrow_mut().push(addr));
    old
}

pub fn release(lock: *mut KSPIN_LOCK, new_irql: KIRQL) {
    let addr = lock as usize;
    let was_held = HELD.with(|h| {
        let mut h = h.borrow_mut();
        match h.iter().rposition(|&a| a == addr) {
            Some(i) => {
                h.remove(i);
                true
            }
            None => false,
        }
    });
    if !was_held {
        orphan_violation(format!(
            "KeReleaseSpinLock of {addr:#x} not held by this thread"
        ));
    }
    if current() != DISPATCH_LEVEL {
        orphan_violation(format!("KeReleaseSpinLock at {}", name(current())));
    }
    lock_word(lock).store(0, Ordering::Release);
    set(new_irql);
}

pub fn acquire_at_dpc(lock: *mut KSPIN_LOCK) {
    if current() != DISPATCH_LEVEL {
        orphan_violation(format!(
            "KeAcquireSpinLockAtDpcLevel at {}",
            name(current())
        ));
    }
    let word = lock_word(lock);
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    HELD.with(|h| h.borrow_mut().push(lock as usize));
}

pub fn release_from_dpc(lock: *mut KSPIN_LOCK) {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if let Some(i) = h.iter().rposition(|&a| a == lock as usize) {
            h.remove(i);
        }
    });
    lock_word(lock).store(0, Ordering::Release);
}
