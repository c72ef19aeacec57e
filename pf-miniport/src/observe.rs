//! Host builds only: lets a test harness watch every transaction the PF commits, from inside
//! the lock that commits it, so that it can tell which states existed even when several CPUs
//! change blocks at once (the simulator's consistency invariant). Never in the .sys image.
use crate::store::VfStore;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Called under the PF's lock with (the adapter's NDIS handle, VF id, generation, digest of
/// every block that exists). Must not call back into the driver.
pub type CommitObserver = fn(owner: usize, vf: u16, generation: u32, digest: u32);

static OBSERVER: AtomicUsize = AtomicUsize::new(0);

pub fn set_commit_observer(f: Option<CommitObserver>) {
    OBSERVER.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

pub(crate) fn committed(store: &VfStore) {
    let f = OBSERVER.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: only `set_commit_observer` stores here, and only CommitObserver pointers.
        let f: CommitObserver = unsafe { core::mem::transmute::<usize, CommitObserver>(f) };
        f(store.owner, store.vf_id, store.generation, store.digest());
    }
}
