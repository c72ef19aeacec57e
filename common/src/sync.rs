//! A spin lock over ntoskrnl's `KSPIN_LOCK`, the same calls the `NdisAcquireSpinLock` macros
//! make on x64 (`ndis.h` l.2311-2337, `wdm.h`). Holding it raises the IRQL to DISPATCH_LEVEL,
//! so nothing that needs `<= APC_LEVEL` (e.g. `NdisMReadConfigBlock`) may run under it.
//!
//! Everything the drivers' lock-free protocols synchronize through comes from here: the
//! atomics ([`atomic`]), [`TryLock`] and [`SpinLock`]. Built with `RUSTFLAGS="--cfg loom"` they
//! are loom's instead (the lock a `loom::sync::Mutex`), so the model checks in
//! `vf-miniport/tests/loom_refresh.rs` and `pf-miniport/tests/loom_store.rs` explore the
//! drivers' own protocol code (README, "Model checking"). Nothing sets `cfg(loom)` for the
//! `.sys` images.

/// The atomics the drivers' protocols use: `core`'s, or loom's under `cfg(loom)`.
pub mod atomic {
    #[cfg(not(loom))]
    pub use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
    #[cfg(loom)]
    pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
}

#[cfg(loom)]
pub use model::{SpinLock, SpinLockGuard};

use atomic::{AtomicBool, Ordering};
use core::ops::{Deref, DerefMut};

#[cfg(not(loom))]
use crate::ffi::imports::{KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock};
#[cfg(not(loom))]
use crate::ffi::{KIRQL, KSPIN_LOCK};
#[cfg(not(loom))]
use core::cell::UnsafeCell;

#[cfg(not(loom))]
pub struct SpinLock<T> {
    lock: UnsafeCell<KSPIN_LOCK>,
    data: UnsafeCell<T>,
}

#[cfg(not(loom))]
// SAFETY: access to `data` is serialized by the kernel spin lock.
unsafe impl<T: Send> Sync for SpinLock<T> {}
#[cfg(not(loom))]
// SAFETY: moving the lock moves the data; no thread-affine state is kept.
unsafe impl<T: Send> Send for SpinLock<T> {}

#[cfg(not(loom))]
impl<T> SpinLock<T> {
    /// `KeInitializeSpinLock` is `*SpinLock = 0` (an inline in `wdm.h` on x64), so this is const.
    pub const fn new(value: T) -> Self {
        Self {
            lock: UnsafeCell::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// Acquires at `<= DISPATCH_LEVEL`, raising to DISPATCH_LEVEL until the guard drops.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: the lock word lives as long as `self` and is only touched by Ke* calls.
        let old_irql = unsafe { KeAcquireSpinLockRaiseToDpc(self.lock.get()) };
        SpinLockGuard {
            owner: self,
            old_irql,
        }
    }

    /// Exclusive access without locking, when the borrow checker already proves it.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

#[cfg(not(loom))]
pub struct SpinLockGuard<'a, T> {
    owner: &'a SpinLock<T>,
    old_irql: KIRQL,
}

#[cfg(not(loom))]
impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the spin lock is held.
        unsafe { &*self.owner.data.get() }
    }
}

#[cfg(not(loom))]
impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while the spin lock is held, and is borrowed mutably.
        unsafe { &mut *self.owner.data.get() }
    }
}

#[cfg(not(loom))]
impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: releases the lock this guard acquired, restoring the IRQL it saved.
        unsafe { KeReleaseSpinLock(self.owner.lock.get(), self.old_irql) }
    }
}

/// The lock under `cfg(loom)`: a `loom::sync::Mutex`, which loom schedules and whose
/// release/acquire it tracks. Same API as the kernel one.
#[cfg(loom)]
mod model {
    use core::ops::{Deref, DerefMut};

    pub struct SpinLock<T> {
        inner: loom::sync::Mutex<T>,
    }

    impl<T> SpinLock<T> {
        pub fn new(value: T) -> Self {
            Self {
                inner: loom::sync::Mutex::new(value),
            }
        }

        pub fn lock(&self) -> SpinLockGuard<'_, T> {
            // A panic while held poisons it; the model has failed then anyway.
            SpinLockGuard(self.inner.lock().unwrap_or_else(|e| e.into_inner()))
        }

        pub fn get_mut(&mut self) -> &mut T {
            self.inner.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }

    pub struct SpinLockGuard<'a, T>(loom::sync::MutexGuard<'a, T>);

    impl<T> Deref for SpinLockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> DerefMut for SpinLockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }
}

/// A lock that is only ever tried, never waited for: whoever holds it does the work, and a
/// second caller learns that someone already is (the VF's refresh: an OID and the work item
/// can race, and the loser's bits are drained by the winner). Usable at any IRQL; all-zero
/// bytes are a valid unlocked value, so it can live in pool memory that starts zeroed. Under
/// `cfg(loom)` the data lives in a loom cell: loom fails a model in which two holders could
/// touch it without the `held` release/acquire ordering them.
pub struct TryLock<T> {
    held: AtomicBool,
    #[cfg(not(loom))]
    data: core::cell::UnsafeCell<T>,
    #[cfg(loom)]
    data: loom::cell::UnsafeCell<T>,
}

// SAFETY: access to `data` is serialized by `held` (acquire on take, release on drop).
unsafe impl<T: Send> Sync for TryLock<T> {}
// SAFETY: moving the lock moves the data; no thread-affine state is kept.
unsafe impl<T: Send> Send for TryLock<T> {}

impl<T> TryLock<T> {
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Self {
        Self {
            held: AtomicBool::new(false),
            data: core::cell::UnsafeCell::new(value),
        }
    }

    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        Self {
            held: AtomicBool::new(false),
            data: loom::cell::UnsafeCell::new(value),
        }
    }

    /// The guard if nobody holds the lock, `None` otherwise.
    ///
    /// A failed attempt happens-before the holder's release returns: everything the loser did
    /// before trying (e.g. ORing bits into a mask) is visible to the holder when it looks
    /// again after letting go. Both the take and the release are read-modify-writes with
    /// acquire and release: the loser's swap (which writes `true` over `true`) is a release
    /// that the holder's releasing swap reads (directly or through later swaps, a release
    /// sequence), so it synchronizes with it. A plain release store and a later load, as
    /// this lock had before, allow the holder to miss the loser's bits while the loser sees
    /// the lock held (store buffering, allowed by the C++ model and by x86's TSO); loom found
    /// that lost invalidation (`vf-miniport/tests/loom_refresh.rs`).
    pub fn try_lock(&self) -> Option<TryLockGuard<'_, T>> {
        // (Mutation `trylock_store_release`, model checks only: the old orderings.)
        let take = if cfg!(loom_mutation = "trylock_store_release") {
            Ordering::Acquire
        } else {
            Ordering::AcqRel
        };
        if self.held.swap(true, take) {
            return None;
        }
        Some(TryLockGuard {
            owner: self,
            #[cfg(loom)]
            access: core::mem::ManuallyDrop::new(self.data.get_mut()),
        })
    }

    /// Whether someone holds it now (diagnostics; stale as soon as it returns).
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Relaxed)
    }
}

pub struct TryLockGuard<'a, T> {
    owner: &'a TryLock<T>,
    /// Loom's record of this holder's access, ended before `held` is released.
    #[cfg(loom)]
    access: core::mem::ManuallyDrop<loom::cell::MutPtr<T>>,
}

impl<T> TryLockGuard<'_, T> {
    fn data(&self) -> *mut T {
        #[cfg(not(loom))]
        let ptr = self.owner.data.get();
        #[cfg(loom)]
        let ptr = self.access.with(|p| p);
        ptr
    }
}

impl<T> Deref for TryLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `held` is ours.
        unsafe { &*self.data() }
    }
}

impl<T> DerefMut for TryLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while `held` is ours, and is borrowed mutably.
        unsafe { &mut *self.data() }
    }
}

impl<T> Drop for TryLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here, and never used again: loom's access ends before the
        // next holder's can begin.
        #[cfg(loom)]
        unsafe {
            core::mem::ManuallyDrop::drop(&mut self.access)
        };
        // A swap, not a store: see `try_lock`.
        if cfg!(loom_mutation = "trylock_store_release") {
            self.owner.held.store(false, Ordering::Release);
        } else {
            self.owner.held.swap(false, Ordering::AcqRel);
        }
    }
}
