//! Host builds only: lets a test harness see every configuration the VF applies, when it
//! applies it (during initialization too, when no status report follows each one), so that it
//! can check each is a state the PF committed. Never in the .sys image.
use core::sync::atomic::{AtomicUsize, Ordering};

/// Called with (the adapter's NDIS handle, the applied generation, the applied view's digest).
/// Must not call back into the driver.
pub type ApplyObserver = fn(owner: usize, generation: u32, digest: u32);

static OBSERVER: AtomicUsize = AtomicUsize::new(0);

pub fn set_apply_observer(f: Option<ApplyObserver>) {
    OBSERVER.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

pub(crate) fn applied(owner: usize, generation: u32, digest: u32) {
    let f = OBSERVER.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: only `set_apply_observer` stores here, and only ApplyObserver pointers.
        let f: ApplyObserver = unsafe { core::mem::transmute::<usize, ApplyObserver>(f) };
        f(owner, generation, digest);
    }
}
