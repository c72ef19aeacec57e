//! Model check of the VF's refresh gate (`src/gate.rs`, the code the driver runs) with loom:
//! every interleaving of an OID's refresh, a reset's work item, retries queued from the work
//! item, and halt, within loom's preemption bound. Run (README, "Model checking"):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p vf-miniport --test loom_refresh
//! ```
//!
//! Properties: no lost invalidation (every block marked is read, or is still pending while
//! the adapter is paused), at most one refresher at a time (loom also fails any access to the
//! staging view not ordered by the TryLock), halt never frees the adapter while a work item can
//! still touch it (loom fails a use not ordered before the free), and once halt has begun
//! only an outstanding work item may queue another (none once its wait has ended). Each property is shown to catch a broken protocol: with
//! `--cfg loom_mutation="gate_no_recheck"` (the refresher lets go without looking again)
//! `refresh_race` fails, with `--cfg loom_mutation="gate_early_done"` (the work item counts
//! itself finished before its last use) `halt_waits_for_work` fails.
#![cfg(loom)]

use common::blocks::{BlockId, BlockMask};
use common::sync::SpinLock;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::AtomicU32;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicBool as StdBool, AtomicU64 as StdU64, AtomicUsize as StdUsize};
use vf_miniport::gate::{RefreshGate, RefreshOps};

/// Bookkeeping of the test itself uses std types: loom runs one thread at a time, so they are
/// exact and add no interleavings.
const SEQ: std::sync::atomic::Ordering = std::sync::atomic::Ordering::SeqCst;
const RELAXED: loom::sync::atomic::Ordering = loom::sync::atomic::Ordering::Relaxed;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Running,
    Paused,
    Halted,
}

/// What stands for the adapter: the gate, the state under the driver's lock type, and a cell
/// that halt writes when it frees the adapter (loom checks every later use is ordered after
/// no use at all).
struct Vf {
    gate: RefreshGate<u64>,
    state: SpinLock<State>,
    alive: UnsafeCell<bool>,
    /// Stands for NdisMReadConfigBlock: a loom operation inside a round.
    reads: AtomicU32,
    /// Rounds that fail (keep their blocks pending) before rounds succeed.
    failures_left: StdUsize,
    read: StdU64,
    marked: StdU64,
    refreshers: StdUsize,
    halt_started: StdBool,
    /// Halt's wait saw no work outstanding: from here the adapter is being freed.
    halt_idle: StdBool,
    work_items: StdMutex<Vec<loom::thread::JoinHandle<()>>>,
}

#[derive(Clone)]
struct Ops {
    vf: Arc<Vf>,
    /// This caller runs above APC_LEVEL (a reset): the refresh goes to the work item.
    dispatch: bool,
    /// This caller is a work item (counted outstanding while it runs).
    work_item: bool,
}

impl Vf {
    fn new(failures: usize) -> Arc<Self> {
        Arc::new(Vf {
            gate: RefreshGate::new(0),
            state: SpinLock::new(State::Running),
            alive: UnsafeCell::new(true),
            reads: AtomicU32::new(0),
            failures_left: StdUsize::new(failures),
            read: StdU64::new(0),
            marked: StdU64::new(0),
            refreshers: StdUsize::new(0),
            halt_started: StdBool::new(false),
            halt_idle: StdBool::new(false),
            work_items: StdMutex::new(Vec::new()),
        })
    }

    fn assert_alive(&self, what: &str) {
        // SAFETY: a bool read through loom's cell, which checks it against halt's write.
        self.alive
            .with(|a| assert!(unsafe { *a }, "{what} after halt freed the adapter"));
    }

    fn mark(&self, bit: u8) {
        let mask = BlockMask::of(BlockId::new(u32::from(bit)).unwrap());
        self.marked.fetch_or(mask.bits(), SEQ);
        self.gate.mark(mask);
    }

    fn join_work_items(&self) {
        loop {
            let next = self.work_items.lock().unwrap().pop();
            match next {
                Some(h) => h.join().unwrap(),
                None => break,
            }
        }
    }
}

impl RefreshOps<u64> for Ops {
    fn running(&self) -> bool {
        self.vf.assert_alive("a refresh");
        *self.vf.state.lock() == State::Running
    }

    fn may_queue(&self) -> bool {
        *self.vf.state.lock() != State::Halted
    }

    fn must_defer(&self) -> bool {
        self.dispatch
    }

    fn round(&self, mask: BlockMask, staging: &mut u64) -> BlockMask {
        self.vf.assert_alive("a round");
        assert_eq!(
            self.vf.refreshers.fetch_add(1, SEQ),
            0,
            "two refreshers at once"
        );
        *staging |= mask.bits();
        self.vf.reads.fetch_add(1, RELAXED);
        let failed = self
            .vf
            .failures_left
            .fetch_update(SEQ, SEQ, |n| n.checked_sub(1))
            .is_ok();
        if !failed {
            self.vf.read.fetch_or(mask.bits(), SEQ);
        }
        self.vf.refreshers.fetch_sub(1, SEQ);
        if failed { mask } else { BlockMask::EMPTY }
    }

    fn queue_work_item(&self) {
        self.vf.assert_alive("queueing a work item");
        // Once halt has begun, only a work item still outstanding (a retry) may queue another,
        // which halt then waits for too; once its wait has ended, nothing may.
        assert!(
            !self.vf.halt_started.load(SEQ) || self.work_item,
            "work item queued by a caller other than a work item after halt began"
        );
        assert!(
            !self.vf.halt_idle.load(SEQ),
            "work item queued after halt's wait ended"
        );
        let item = Ops {
            vf: self.vf.clone(),
            dispatch: false,
            work_item: true,
        };
        let h = loom::thread::spawn(move || item.vf.gate.run_queued(&item));
        self.vf.work_items.lock().unwrap().push(h);
    }

    fn gave_up(&self, _mask: BlockMask) {}
}

fn ops(vf: &Arc<Vf>, dispatch: bool) -> Ops {
    Ops {
        vf: vf.clone(),
        dispatch,
        work_item: false,
    }
}

/// Runs `f` under every schedule within the preemption bound (`LOOM_MAX_PREEMPTIONS`, 3 if
/// unset: about 54,000 schedules in 15 s; 4 takes 775,000 in 4.5 minutes) and prints how many
/// it explored.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    let runs = std::sync::Arc::new(StdUsize::new(0));
    let counted = runs.clone();
    b.check(move || {
        counted.fetch_add(1, SEQ);
        f()
    });
    println!(
        "{} schedules explored (preemption bound {:?})",
        runs.load(SEQ),
        b.preemption_bound
    );
}

/// Two OIDs refreshing inline on two CPUs while a reset's work item refreshes on a third:
/// afterwards every marked block was read and nothing is pending.
#[test]
fn refresh_race() {
    model(|| {
        let vf = Vf::new(0);
        let oid2 = {
            let vf = vf.clone();
            loom::thread::spawn(move || {
                vf.mark(2);
                vf.gate.refresh_if_running(&ops(&vf, false));
            })
        };
        let reset = {
            let vf = vf.clone();
            loom::thread::spawn(move || {
                vf.mark(3);
                vf.gate.queue(&ops(&vf, true));
            })
        };
        vf.mark(1);
        vf.gate.refresh_if_running(&ops(&vf, false));
        oid2.join().unwrap();
        reset.join().unwrap();
        vf.join_work_items();
        let marked = vf.marked.load(SEQ);
        let read = vf.read.load(SEQ);
        assert_eq!(
            read & marked,
            marked,
            "invalidation lost: marked {marked:#x}, read {read:#x}, pending {:#x}",
            vf.gate.pending().bits()
        );
        assert!(vf.gate.pending().is_empty());
        assert_eq!(vf.gate.outstanding(), 0);
    });
}

/// A reset queues the work item, whose first round fails and queues a retry; meanwhile the
/// adapter is paused and halted (NDIS halts only a paused adapter with no OID outstanding).
/// Halt must wait for every work item before it frees; once halt has begun only an
/// outstanding work item may queue another (its retry, which halt waits for too), and none
/// once the wait has ended; every marked block is read or still pending.
#[test]
fn halt_waits_for_work() {
    model(|| {
        let vf = Vf::new(1);
        vf.mark(1);
        vf.gate.queue(&ops(&vf, true));
        // MiniportPause, then MiniportHaltEx.
        *vf.state.lock() = State::Paused;
        vf.halt_started.store(true, SEQ);
        assert!(vf.gate.wait_idle(|| {
            loom::thread::yield_now();
            true
        }));
        vf.halt_idle.store(true, SEQ);
        *vf.state.lock() = State::Halted;
        // The free: loom fails any work-item access not ordered before this write.
        // SAFETY: a bool written through loom's cell, which checks it against every read.
        vf.alive.with_mut(|a| unsafe { *a = false });
        vf.join_work_items();
        let marked = vf.marked.load(SEQ);
        let kept = vf.read.load(SEQ) | vf.gate.pending().bits();
        assert_eq!(kept & marked, marked, "invalidation lost");
    });
}
