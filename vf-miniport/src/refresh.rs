//! The VF's refresh engine: how flagged blocks become an applied configuration.
//!
//! Invalidations are never lost: each notification ORs its mask into `pending`, and the
//! refresher takes `pending` whole where it reads. One thread refreshes at a time (whoever
//! holds the staging view); bits that arrive meanwhile are drained by it before it lets go.
//! While the adapter is paused or resetting the bits wait; a restart re-reads them and a
//! reset re-reads every block. Rounds that end without a consistent view keep their blocks
//! pending and are retried from the work item, a bounded number of times. The flags and the
//! one-refresher rule are in [`RefreshGate`](crate::gate::RefreshGate) (`gate.rs`, model-checked); this file is its NDIS
//! side ([`RefreshOps`]) and the rounds of reads.

use crate::LOG;
use crate::adapter::Adapter;
use crate::gate::{MAX_RETRIES, RefreshOps};
use crate::snapshot::{Compatibility, Verdict, View, compatibility, judge};
use common::blocks::wire::BlockHeader;
use common::blocks::*;
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_log;
use common::state::AdapterState;

/// Rounds of re-reads (blocks the commit block says differ, then the commit block again)
/// before a refresh gives up for now and keeps its blocks pending.
const MAX_CONSISTENCY_ROUNDS: u32 = 3;

const COMMIT: BlockId = BlockId::masked(CommitBlock::ID);

impl Adapter {
    /// Records newly flagged blocks (from OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK or a reset).
    /// A notification is new information: the retry budget starts again.
    pub(crate) fn mark_pending(&self, mask: BlockMask) {
        self.gate.mark(mask);
    }

    /// Re-reads pending blocks now if the adapter is running; otherwise they wait.
    pub(crate) fn refresh_if_running(&self) {
        self.gate.refresh_if_running(self);
    }

    /// Defers a refresh to PASSIVE_LEVEL (used where NDIS may call us at DISPATCH_LEVEL).
    /// Never while initializing: the work item must not outlive a failed initialization, and
    /// MiniportRestart reads whatever is still pending.
    pub(crate) fn queue_refresh(&self) {
        self.gate.queue(self);
    }

    /// The work item's body (see [`RefreshGate::run_queued`](crate::gate::RefreshGate::run_queued)).
    pub(crate) fn run_queued_refresh(&self) {
        self.gate.run_queued(self);
    }

    /// Reads every pending block and applies the result if it is a consistent snapshot.
    /// PASSIVE_LEVEL only (NdisMReadConfigBlock is `<= APC_LEVEL`, and no lock is held);
    /// above that it goes to the work item. One refresher at a time ([`RefreshGate::refresh`](crate::gate::RefreshGate::refresh)).
    pub(crate) fn refresh_inline(&self) {
        self.gate.refresh(self);
    }

    /// One refresh (docs/consistency.md): read the commit block, then exactly the blocks it
    /// says the view lacks; apply when every block is the one the commit block names. A
    /// block written again after the commit block was read sends the VF to a newer commit
    /// block, a bounded number of rounds. Returns the blocks to keep pending. `view` is the
    /// staging view, held. The flagged `mask` only says that something changed: the commit
    /// block says what.
    #[inline(never)] // a breakpoint target in docs/windbg.md
    fn refresh_once(&self, mask: BlockMask, view: &mut View) -> BlockMask {
        // A reset counts as an epoch: a view this refresh builds must not become the base
        // if a reset lands while it reads (the reset asked for every block to be read again).
        let epoch = {
            let st = self.inner.lock();
            view.copy_from(&st.view);
            st.resets
        };
        let keep = mask.with(COMMIT);
        // The applied view was exactly the PF's state at its generation: the base for the
        // counter comparison. Without one, every block is read.
        let mut base = match view.generation() {
            0 => None,
            g => Some(g),
        };
        let mut rounds = 0u32;
        loop {
            let Some(commit) = self.read_commit(view) else {
                return keep;
            };
            let need = match judge(view, &commit, base) {
                Verdict::Consistent => {
                    view.settle_at(&commit);
                    return self.apply_checked(view, epoch);
                }
                Verdict::RereadAll(all) => {
                    // Every block is read after this commit block: it is the new base.
                    base = Some(commit.generation);
                    all
                }
                Verdict::Reread(differ) => differ,
            };
            let mut written_since = false;
            for id in need {
                match self.read_block(id, view) {
                    // Last written at or before the commit block's transaction: as it was then.
                    Ok(h) => {
                        written_since |= commit.generation.wrapping_sub(h.generation) >= 1 << 31
                    }
                    // The backchannel failed or the PF served a block we refuse: no view with
                    // it can be applied now.
                    Err(()) => return keep.union(need),
                }
            }
            if !written_since {
                view.settle_at(&commit);
                return self.apply_checked(view, epoch);
            }
            if rounds >= MAX_CONSISTENCY_ROUNDS {
                ndis_log!(
                    WARN,
                    LOG,
                    "no consistent view after {} rounds: keeping the applied one",
                    rounds
                );
                self.count(|c| c.deferred = c.deferred.wrapping_add(1));
                return keep;
            }
            rounds = rounds.saturating_add(1);
            self.count(|c| c.consistency_rereads = c.consistency_rereads.wrapping_add(1));
        }
    }

    /// Applies a consistent view unless its protocol version is one we cannot run.
    fn apply_checked(&self, view: &View, epoch: u32) -> BlockMask {
        if let Some(v) = view.decode::<VersionBlock>()
            && let Compatibility::Incompatible { major } = compatibility(&v)
        {
            ndis_log!(
                ERROR,
                LOG,
                "PF switched to incompatible protocol {}: configuration not applied",
                major
            );
            self.inner.lock().degraded = true;
            return BlockMask::EMPTY;
        }
        let unchanged = {
            let mut st = self.inner.lock();
            let unchanged = st.applied_generation == view.generation() && !st.degraded;
            if unchanged {
                // The same state, read again: it becomes the base (after a reset too).
                st.install_view(view, epoch);
            }
            unchanged
        };
        // A notification that arrived after its change was already applied (or a reset that
        // found nothing new): nothing to apply, but the PF hears what the VF runs.
        if unchanged {
            if self.state() != AdapterState::Initializing {
                self.report_status();
            }
        } else {
            self.apply(view, epoch);
        }
        BlockMask::EMPTY
    }

    /// Reads the commit block into `view` and decodes it.
    fn read_commit(&self, view: &mut View) -> Option<CommitBlock> {
        self.read_block(COMMIT, view).ok()?;
        view.decode::<CommitBlock>()
    }

    /// Reads one block into `view` after validating it.
    fn read_block(&self, id: BlockId, view: &mut View) -> Result<BlockHeader, ()> {
        // Halt waits for a running refresh: it stops here, between reads.
        if self.stopping() {
            return Err(());
        }
        let Some(d) = descriptor(id.get() as u32) else {
            return Err(());
        };
        let mut buf = [0u8; MAX_BLOCK_LEN];
        let Some(dst) = buf.get_mut(..d.len) else {
            return Err(());
        };
        // SAFETY: PASSIVE_LEVEL checked by the caller, no lock held; buffer of `d.len` bytes.
        let status = unsafe {
            NdisMReadConfigBlock(
                self.handle,
                id.get() as u32,
                dst.as_mut_ptr().cast(),
                d.len as u32,
            )
        };
        self.count(|c| c.blocks_read = c.blocks_read.wrapping_add(1));
        if status != NDIS_STATUS_SUCCESS {
            self.count(|c| c.read_errors = c.read_errors.wrapping_add(1));
            ndis_log!(
                WARN,
                LOG,
                "read of block {} failed: {:#010x}",
                id.get(),
                status
            );
            return Err(());
        }
        match validate(id, dst) {
            Ok(header) => {
                view.put(id, dst, &header);
                Ok(header)
            }
            Err(e) => {
                self.count(|c| c.bad_blocks = c.bad_blocks.wrapping_add(1));
                ndis_log!(WARN, LOG, "block {} refused: {:?}", id.get(), e);
                Err(())
            }
        }
    }
}

/// The NDIS side of the refresh gate.
impl RefreshOps<View> for Adapter {
    fn running(&self) -> bool {
        self.state() == AdapterState::Running && !self.stopping()
    }

    fn may_queue(&self) -> bool {
        !matches!(
            self.state(),
            AdapterState::Initializing | AdapterState::Halted
        ) && !self.stopping()
    }

    fn stopping(&self) -> bool {
        Adapter::stopping(self)
    }

    fn must_defer(&self) -> bool {
        // SAFETY: reads the current IRQL, no side effects.
        unsafe { KeGetCurrentIrql() > APC_LEVEL }
    }

    fn round(&self, mask: BlockMask, staging: &mut View) -> BlockMask {
        self.refresh_once(mask, staging)
    }

    fn queue_work_item(&self) {
        let ctx = self as *const Adapter as *mut core::ffi::c_void;
        // SAFETY: the work item belongs to this adapter, which halt keeps alive until it ran
        // (the gate counted it outstanding before this call).
        unsafe { NdisQueueIoWorkItem(self.work_item, Some(crate::handlers::refresh_work), ctx) };
    }

    fn gave_up(&self, mask: BlockMask) {
        ndis_log!(
            WARN,
            LOG,
            "blocks {:#x} not applied after {} retries: waiting for the next notification",
            mask.bits(),
            MAX_RETRIES
        );
    }
}
