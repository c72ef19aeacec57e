//! A spin lock over ntoskrnl's `KSPIN_LOCK`, the same calls the `NdisAcquireSpinLock` macros
//! make on x64 (`ndis.h` l.2311-2337, `wdm.h`). Holding it raises the IRQL to DISPATCH_LEVEL,
//! so nothing that needs `<= APC_LEVEL` (e.g. `NdisMReadConfigBlock`) may run under it.
use crate::ffi::imports::{KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock};
use crate::ffi::{KIRQL, KSPIN_LOCK};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

pub struct SpinLock<T> {
    lock: UnsafeCell<KSPIN_LOCK>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialized by the kernel spin lock.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the data; no thread-affine state is kept.
unsafe impl<T: Send> Send for SpinLock<T> {}

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

pub struct SpinLockGuard<'a, T> {
    owner: &'a SpinLock<T>,
    old_irql: KIRQL,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the spin lock is held.
        unsafe { &*self.owner.data.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while the spin lock is held, and is borrowed mutably.
        unsafe { &mut *self.owner.data.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: releases the lock this guard acquired, restoring the IRQL it saved.
        unsafe { KeReleaseSpinLock(self.owner.lock.get(), self.old_irql) }
    }
}

/// A lock that is only ever tried, never waited for: whoever holds it does the work, and a
/// second caller learns that someone already is (the VF's refresh: an OID and the work item
/// can race, and the loser's bits are drained by the winner). Usable at any IRQL; all-zero
/// bytes are a valid unlocked value, so it can live in pool memory that starts zeroed.
pub struct TryLock<T> {
    held: core::sync::atomic::AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialized by `held` (acquire on take, release on drop).
unsafe impl<T: Send> Sync for TryLock<T> {}
// SAFETY: moving the lock moves the data; no thread-affine state is kept.
unsafe impl<T: Send> Send for TryLock<T> {}

impl<T> TryLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            held: core::sync::atomic::AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// The guard if nobody holds the lock, `None` otherwise.
    pub fn try_lock(&self) -> Option<TryLockGuard<'_, T>> {
        use core::sync::atomic::Ordering;
        // Not `bool::then_some`: it builds its argument eagerly, and a guard built for a failed
        // attempt would, when dropped, release the holder's lock.
        if self.held.swap(true, Ordering::Acquire) {
            None
        } else {
            Some(TryLockGuard { owner: self })
        }
    }

    /// Whether someone holds it now (diagnostics; stale as soon as it returns).
    pub fn is_held(&self) -> bool {
        self.held.load(core::sync::atomic::Ordering::Relaxed)
    }
}

pub struct TryLockGuard<'a, T> {
    owner: &'a TryLock<T>,
}

impl<T> Deref for TryLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `held` is ours.
        unsafe { &*self.owner.data.get() }
    }
}

impl<T> DerefMut for TryLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while `held` is ours, and is borrowed mutably.
        unsafe { &mut *self.owner.data.get() }
    }
}

impl<T> Drop for TryLockGuard<'_, T> {
    fn drop(&mut self) {
        self.owner
            .held
            .store(false, core::sync::atomic::Ordering::Release);
    }
}
