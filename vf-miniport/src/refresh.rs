//! The VF's refresh engine: how flagged blocks become an applied configuration.
//!
//! Invalidations are never lost: each notification ORs its mask into `pending`, and the
//! refresher takes `pending` whole where it reads. One thread refreshes at a time (whoever
//! holds the staging view); bits that arrive meanwhile are drained by it before it lets go.
//! While the adapter is paused or resetting the bits wait; a restart re-reads them and a
//! reset re-reads every block. Rounds that end without a consistent view keep their blocks
//! pending and are retried from the work item, a bounded number of times.

use crate::LOG;
use crate::adapter::{Adapter, Counters};
use crate::snapshot::{Compatibility, View, compatibility};
use common::blocks::*;
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_log;
use common::state::AdapterState;
use core::sync::atomic::Ordering;

/// Re-reads of stale blocks before a view is given up for this round.
const MAX_CONSISTENCY_ROUNDS: u32 = 3;
/// Deferred retries after rounds that read nothing at all, before waiting for the next
/// notification (a dead backchannel must not keep the VF busy).
const MAX_RETRIES: u32 = 3;

impl Adapter {
    /// Records newly flagged blocks (from OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK or a reset).
    pub(crate) fn mark_pending(&self, mask: BlockMask) {
        self.pending.insert(mask);
    }

    /// Re-reads pending blocks now if the adapter is running; otherwise they wait.
    pub(crate) fn refresh_if_running(&self) {
        let state = self.state();
        if state == AdapterState::Running {
            self.refresh_inline();
        }
    }

    /// Defers a refresh to PASSIVE_LEVEL (used where NDIS may call us at DISPATCH_LEVEL).
    pub(crate) fn queue_refresh(&self) {
        if self.work_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.work_outstanding.fetch_add(1, Ordering::AcqRel);
        let ctx = self as *const Adapter as *mut core::ffi::c_void;
        // SAFETY: the work item belongs to this adapter, which halt keeps alive until it ran.
        unsafe { NdisQueueIoWorkItem(self.work_item, Some(crate::handlers::refresh_work), ctx) };
    }

    /// The work item's body. `work_queued` drops first, so a refresh asked for while this
    /// one runs queues another; `work_outstanding` drops last, after the adapter's last use.
    pub(crate) fn run_queued_refresh(&self) {
        self.work_queued.store(false, Ordering::Release);
        self.refresh_if_running();
        self.work_outstanding.fetch_sub(1, Ordering::AcqRel);
    }

    /// Reads every pending block and applies the result if it is a consistent snapshot.
    /// PASSIVE_LEVEL only (NdisMReadConfigBlock is `<= APC_LEVEL`, and no lock is held).
    pub(crate) fn refresh_inline(&self) {
        // SAFETY: reads the current IRQL, no side effects.
        if unsafe { KeGetCurrentIrql() } > APC_LEVEL {
            self.queue_refresh();
            return;
        }
        let good_reads = |c: Counters| {
            c.blocks_read
                .wrapping_sub(c.read_errors)
                .wrapping_sub(c.bad_blocks)
        };
        let before = good_reads(self.inner.lock().counters);
        let mut retry_later = BlockMask::EMPTY;
        let mut refreshed = false;
        // One refresher at a time (an OID and the work item can race); whoever holds the
        // staging view drains `pending`. Bits ORed in just before it lets go would wait for the
        // next notification, so it tries again for them.
        while let Some(mut staging) = self.staging.try_lock() {
            refreshed = true;
            loop {
                let mask = self.pending.take().intersection(HOST_BLOCKS);
                if mask.is_empty() {
                    break;
                }
                retry_later = retry_later.union(self.refresh_once(mask, &mut staging));
            }
            drop(staging);
            if self.pending.load().intersection(HOST_BLOCKS).is_empty() {
                break;
            }
        }
        if !refreshed {
            return;
        }
        if retry_later.is_empty() {
            self.retries.store(0, Ordering::Release);
            return;
        }
        // Failed or inconsistent blocks stay pending and are retried from a work item. Rounds
        // that read nothing at all are counted: after MAX_RETRIES of those in a row the VF
        // waits for the next notification rather than spin on a dead backchannel.
        self.mark_pending(retry_later);
        if good_reads(self.inner.lock().counters) != before {
            self.retries.store(0, Ordering::Release);
        }
        if self.retries.fetch_add(1, Ordering::AcqRel) < MAX_RETRIES {
            self.queue_refresh();
        } else {
            ndis_log!(
                WARN,
                LOG,
                "blocks {:#x} still unread after {} retries: waiting for the next notification",
                retry_later.bits(),
                MAX_RETRIES
            );
        }
    }

    /// One round: read `mask`, re-read stale blocks a bounded number of times, apply when
    /// consistent. Returns the blocks to retry later. `view` is the staging view, held.
    #[inline(never)] // a breakpoint target in docs/windbg.md
    fn refresh_once(&self, mask: BlockMask, view: &mut View) -> BlockMask {
        view.copy_from(&self.inner.lock().view);
        let mut failed = BlockMask::EMPTY;
        // Block 0 first: it says which extension blocks exist, so nothing undefined is read.
        let version = VersionBlock::id();
        let known = view.defined();
        if mask.contains(version) && self.read_block(version, view).is_err() {
            failed = failed.with(version);
        }
        // Blocks block 0 now defines for the first time are read even if not flagged: the
        // VF holds every block that exists, whatever the PF flagged.
        let mask = mask.union(view.defined().difference(known).intersection(HOST_BLOCKS));
        let mut to_read = mask.without(version).intersection(view.defined());
        // A flagged block block 0 does not (yet) define: if block 0 could not be read we
        // cannot tell whether it was just added, so keep it for the retry; otherwise the PF
        // says it does not exist and there is nothing to read.
        let undefined = mask.without(version).difference(view.defined());
        if failed.contains(version) {
            failed = failed.union(undefined);
        }
        let mut rounds = 0u32;
        let stale = loop {
            for id in to_read {
                if self.read_block(id, view).is_err() {
                    failed = failed.with(id);
                }
            }
            let stale = view.stale().difference(failed);
            if stale.is_empty() || rounds >= MAX_CONSISTENCY_ROUNDS {
                break stale;
            }
            rounds = rounds.saturating_add(1);
            let extra = stale.len();
            self.count(|c| c.consistency_rereads = c.consistency_rereads.wrapping_add(extra));
            to_read = stale;
        };
        if !stale.is_empty() || !view.stale().is_empty() {
            ndis_log!(
                WARN,
                LOG,
                "no consistent snapshot yet (stale {:#x}): keeping the applied configuration",
                stale.bits()
            );
            self.count(|c| c.deferred = c.deferred.wrapping_add(1));
            return mask.union(stale).union(failed);
        }
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
            return failed;
        }
        self.apply(view);
        failed
    }

    /// Reads one block into `view` after validating it.
    fn read_block(&self, id: BlockId, view: &mut View) -> Result<(), ()> {
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
                Ok(())
            }
            Err(e) => {
                self.count(|c| c.bad_blocks = c.bad_blocks.wrapping_add(1));
                ndis_log!(WARN, LOG, "block {} refused: {:?}", id.get(), e);
                Err(())
            }
        }
    }
}
