//! The VF refresh's concurrency skeleton, apart from NDIS so that a model checker can drive
//! it: the pending mask, the staging view whose holder is the one refresher, the work-item
//! flags and the retry budget, and halt's wait for outstanding work. The adapter uses it for
//! real (`refresh.rs`, through [`RefreshOps`]); `tests/loom_refresh.rs` runs the same code
//! under loom with threads for the OID, the work items and halt (README, "Model checking").
//!
//! What it guarantees, and the model checks:
//! - no lost invalidation: a bit marked before a refresh attempt starts is read by that
//!   attempt or by the refresher it lost to (the holder drains `pending` until it finds it
//!   empty after letting go);
//! - one refresher at a time (the staging view is a [`TryLock`]);
//! - at most one work item queued and not yet started (`work_queued`), and every queued item
//!   counted in `work_outstanding` from before it is queued until its last use of the adapter,
//!   so halt's wait for zero means no item can still run;
//! - a round that keeps blocks pending is retried from the work item at most
//!   [`MAX_RETRIES`] times before a new notification or an applied view renews the budget.

use common::blocks::{AtomicBlockMask, BlockMask, HOST_BLOCKS};
use common::sync::TryLock;
use common::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Refreshes retried from the work item after one that ended without applying, before the VF
/// waits for the next notification. Only an applied view or a new notification renews them
/// (a successful read alone does not: a refused block would otherwise retry forever).
pub const MAX_RETRIES: u32 = 3;
/// Rounds (`RefreshOps::round`, each bounded by the adapter) one refresh call may run, so one
/// OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK handles a bounded number of reads; blocks flagged
/// while it reads that it has no round left for go to the work item (bounded the same way).
pub const MAX_PASSES: u32 = 2;

/// What the gate asks of the adapter: the NDIS side of a refresh.
pub trait RefreshOps<V> {
    /// The adapter runs: a refresh may read now (not paused, resetting or halted).
    fn running(&self) -> bool;
    /// A work item may be queued (not initializing, not halted).
    fn may_queue(&self) -> bool;
    /// The caller cannot read here (above APC_LEVEL): the refresh goes to the work item.
    fn must_defer(&self) -> bool;
    /// One refresh round of `mask` into the held staging view; returns the blocks to keep
    /// pending (those not applied).
    fn round(&self, mask: BlockMask, staging: &mut V) -> BlockMask;
    /// Queues the work item, whose routine calls [`RefreshGate::run_queued`].
    fn queue_work_item(&self);
    /// The retry budget ran out with `mask` still unapplied.
    fn gave_up(&self, mask: BlockMask);
    /// Halt has begun, or the device is gone: no more rounds (blocks stay pending).
    fn stopping(&self) -> bool {
        false
    }
}

/// The refresh state of one VF. All-zero bytes are a valid idle gate (it lives in the
/// adapter's zeroed pool allocation).
pub struct RefreshGate<V> {
    /// Blocks flagged and not yet read.
    pending: AtomicBlockMask,
    /// A work item is queued and has not started.
    work_queued: AtomicBool,
    /// Work items queued and not yet finished; halt waits for zero before freeing.
    work_outstanding: AtomicU32,
    retries: AtomicU32,
    /// Where a refresh assembles its view. Holding it is what makes a thread the refresher.
    staging: TryLock<V>,
}

impl<V> RefreshGate<V> {
    /// An idle gate (the adapter gets the same from zeroed memory).
    pub fn new(staging: V) -> Self {
        Self {
            pending: AtomicBlockMask::new(BlockMask::EMPTY),
            work_queued: AtomicBool::new(false),
            work_outstanding: AtomicU32::new(0),
            retries: AtomicU32::new(0),
            staging: TryLock::new(staging),
        }
    }

    /// Records newly flagged blocks (from OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK or a reset).
    /// A notification is new information: the retry budget starts again.
    pub fn mark(&self, mask: BlockMask) {
        self.retries.store(0, Ordering::Release);
        self.pending.insert(mask);
    }

    /// Replaces the pending blocks (initialization, before anything can race).
    pub fn set_pending(&self, mask: BlockMask) {
        self.pending.store(mask);
    }

    pub fn pending(&self) -> BlockMask {
        self.pending.load()
    }

    /// Progress (a view was applied): the retry budget starts again.
    pub fn renew_budget(&self) {
        self.retries.store(0, Ordering::Release);
    }

    /// Work items queued and not finished.
    pub fn outstanding(&self) -> u32 {
        self.work_outstanding.load(Ordering::Acquire)
    }

    /// Whether a thread is refreshing now (diagnostics; stale as soon as it returns).
    pub fn refreshing(&self) -> bool {
        self.staging.is_held()
    }

    /// Re-reads pending blocks now if the adapter is running; otherwise they wait.
    pub fn refresh_if_running(&self, ops: &impl RefreshOps<V>) {
        if ops.running() {
            self.refresh(ops);
        }
    }

    /// Defers a refresh to the work item. Never while initializing: the work item must not
    /// outlive a failed initialization, and MiniportRestart reads whatever is still pending.
    pub fn queue(&self, ops: &impl RefreshOps<V>) {
        if !ops.may_queue() {
            return;
        }
        if self.work_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.work_outstanding.fetch_add(1, Ordering::AcqRel);
        ops.queue_work_item();
    }

    /// The work item's body. `work_queued` drops first, so a refresh asked for while this
    /// one runs queues another; `work_outstanding` drops last, after the adapter's last use.
    pub fn run_queued(&self, ops: &impl RefreshOps<V>) {
        self.work_queued.store(false, Ordering::Release);
        // (Mutation `gate_early_done`, model checks only: counts the item finished before its
        // last use of the adapter, so halt may free it under the running item.)
        if cfg!(loom_mutation = "gate_early_done") {
            self.work_outstanding.fetch_sub(1, Ordering::AcqRel);
            self.refresh_if_running(ops);
            return;
        }
        self.refresh_if_running(ops);
        self.work_outstanding.fetch_sub(1, Ordering::AcqRel);
    }

    /// Reads every pending block (through `ops.round`) unless another thread is already
    /// doing so, in which case that one reads these bits too.
    pub fn refresh(&self, ops: &impl RefreshOps<V>) {
        if ops.must_defer() {
            self.queue(ops);
            return;
        }
        let mut retry_later = BlockMask::EMPTY;
        let mut refreshed = false;
        let mut passes = 0u32;
        // One refresher at a time (an OID and the work item can race); whoever holds the
        // staging view drains `pending`, at most MAX_PASSES rounds per call. Bits ORed in just
        // before it lets go would wait for the next notification, so it looks again; bits it
        // has no round left for go to the work item. Every loop here is bounded.
        for _ in 0..=MAX_PASSES {
            let Some(mut staging) = self.staging.try_lock() else {
                break;
            };
            refreshed = true;
            while passes < MAX_PASSES && !ops.stopping() {
                let mask = self.pending.take().intersection(HOST_BLOCKS);
                if mask.is_empty() {
                    break;
                }
                passes = passes.saturating_add(1);
                retry_later = retry_later.union(ops.round(mask, &mut staging));
            }
            drop(staging);
            // (Mutation `gate_no_recheck`, model checks only: skips this look, so bits ORed in
            // while the holder let go wait for a notification that may never come.)
            if cfg!(loom_mutation = "gate_no_recheck")
                || self.pending.load().intersection(HOST_BLOCKS).is_empty()
                || ops.stopping()
            {
                break;
            }
            if passes >= MAX_PASSES {
                // Not a failure: new blocks keep arriving. The work item reads them, without
                // touching the retry budget.
                self.queue(ops);
                break;
            }
        }
        if !refreshed || retry_later.is_empty() {
            return;
        }
        // Failed or inconsistent blocks stay pending (without renewing the budget) and are
        // retried from the work item; after MAX_RETRIES the VF waits for a notification.
        self.pending.insert(retry_later);
        if self.retries.fetch_add(1, Ordering::AcqRel) < MAX_RETRIES {
            self.queue(ops);
        } else {
            ops.gave_up(retry_later);
        }
    }

    /// Halt's wait: until no work item is outstanding, calling `sleep` between looks; `sleep`
    /// returns false when the caller stops waiting. True when nothing is outstanding (the
    /// adapter may be freed), false if the wait gave up (it must be leaked).
    pub fn wait_idle(&self, mut sleep: impl FnMut() -> bool) -> bool {
        while self.work_outstanding.load(Ordering::Acquire) != 0 {
            if !sleep() {
                return self.work_outstanding.load(Ordering::Acquire) == 0;
            }
        }
        true
    }
}
