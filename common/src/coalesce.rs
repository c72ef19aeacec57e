//! One writer at a time for something only the latest value of matters (a status report, a
//! link indication), without waiting: a caller asks for a write and tries to become the
//! writer; one that finds another writing leaves its request behind, and that writer writes
//! once more, reading the current value each time. So writes never overlap, an older value is
//! never written after a newer one, and the last write is of the current value.
//!
//! A request is a store followed by a take of the lock, a writer's exit a release followed by
//! a load of the request: the store-buffering pattern, where each side could miss the other's
//! store. A sequentially consistent fence on each side forbids it, so no request is left with
//! nobody to write it (the reviewer's litmus test found the miss on x86 without them).
use crate::sync::TryLock;
use crate::sync::atomic::{AtomicBool, Ordering};
use core::sync::atomic::fence;

pub struct Coalescer {
    wanted: AtomicBool,
    writer: TryLock<()>,
}

impl Coalescer {
    pub fn new() -> Self {
        Self {
            wanted: AtomicBool::new(false),
            writer: TryLock::new(()),
        }
    }

    /// Asks for a write and, if nobody is writing, writes (calling `write`, which reads the
    /// current value itself) until no request is left. Callable at any IRQL `write` allows.
    pub fn request(&self, mut write: impl FnMut()) {
        self.wanted.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        while let Some(writing) = self.writer.try_lock() {
            while self.wanted.swap(false, Ordering::AcqRel) {
                write();
            }
            drop(writing);
            fence(Ordering::SeqCst);
            if !self.wanted.load(Ordering::Acquire) {
                break;
            }
        }
    }
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}
