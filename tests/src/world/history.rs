//! The consistency invariant, checked at every apply (docs/consistency.md): whatever a VF
//! applies is a state the PF committed for it, no older than the one it applied before.
//!
//! The machine keeps, per VF, every state the PF committed: (generation, digest of every block
//! that exists). The host-linked PF reports each commit from inside the lock that makes it
//! (`pf_miniport::observe`), so no state is missed however many CPUs change blocks at once. A
//! loaded image cannot: its commits are learnt from its NdisMInvalidateConfigBlock, which it
//! calls after each transaction, and from a successful OID_NIC_SWITCH_ALLOCATE_VF (a VF's
//! first state), and read through OID_SRIOV_READ_VF_CONFIG_BLOCK like a guest, once the PF's
//! OID in progress (if any) has returned. Image runs drive one change at a time, so nothing
//! is missed there either.
//! The VF tells what it applied in its status block (applied generation and digest), which it
//! writes after every apply; each such write is checked against the history.
//!
//! This watches the drivers, so it knows what they promise, not what Windows does: it is the
//! test oracle, not part of the simulated NDIS.
use super::{Machine, lock};
use crate::payloads::{CONFIG_BLOCK_PARAMS_LEN, write_config_block_params};
use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

#[derive(Default)]
pub struct History {
    /// Per VF: each state the PF committed, (generation, digest), oldest first.
    committed: BTreeMap<u16, Vec<(u32, u32)>>,
    /// Per VF: the generation it last reported applied.
    reported: BTreeMap<u16, u32>,
    /// VFs the PF changed during the PF OID in progress.
    dirty: BTreeSet<u16>,
    /// PF OIDs in progress (the PF's own reads during one are not observed).
    pf_oids: u32,
    /// Status reports checked (a test can see the invariant was exercised).
    pub checked: u64,
    /// Per VF: its last reports, (generation, state, thread), for the violation message.
    recent: BTreeMap<u16, Vec<(u32, u8, String)>>,
}

impl Machine {
    /// The host-linked PF committed (generation, digest) for `vf`.
    pub(super) fn committed(&self, vf: u16, state: (u32, u32)) {
        let mut h = lock(&self.history);
        let states = h.committed.entry(vf).or_default();
        if states.last() != Some(&state) {
            states.push(state);
        }
    }

    /// The PF invalidated blocks of `vf`: a loaded image committed a transaction.
    pub(super) fn note_commit(&self, vf: u16) {
        if !self.pf_is_image.load(Ordering::Acquire) {
            return;
        }
        let mut h = lock(&self.history);
        if h.pf_oids > 0 {
            h.dirty.insert(vf);
            return;
        }
        drop(h);
        self.record_state(vf);
    }

    /// A PF OID is starting.
    pub(super) fn pf_oid_begins(&self) {
        lock(&self.history).pf_oids += 1;
    }

    /// A PF OID returned: record the states it committed.
    pub(super) fn pf_oid_ends(&self) {
        let dirty = {
            let mut h = lock(&self.history);
            h.pf_oids = h.pf_oids.saturating_sub(1);
            if h.pf_oids > 0 {
                return;
            }
            std::mem::take(&mut h.dirty)
        };
        for vf in dirty {
            self.record_state(vf);
        }
    }

    /// OID_NIC_SWITCH_ALLOCATE_VF succeeded for `vf`: a new store, a new history (the
    /// host-linked PF reported its first commit already).
    pub(super) fn vf_allocated(&self, vf: u16) {
        if !self.pf_is_image.load(Ordering::Acquire) {
            return;
        }
        {
            let mut h = lock(&self.history);
            h.committed.remove(&vf);
            h.reported.remove(&vf);
        }
        if lock(&self.history).pf_oids > 0 {
            lock(&self.history).dirty.insert(vf);
        } else {
            self.record_state(vf);
        }
    }

    /// The VF is gone (OID_NIC_SWITCH_FREE_VF): its history with it.
    pub(super) fn forget_history(&self, vf: u16) {
        let mut h = lock(&self.history);
        h.committed.remove(&vf);
        h.reported.remove(&vf);
    }

    /// The NIC switch is gone, and every VF with it.
    pub(super) fn forget_all_history(&self) {
        let mut h = lock(&self.history);
        h.committed.clear();
        h.reported.clear();
    }

    fn record_state(&self, vf: u16) {
        if let Some(state) = self.pf_state(vf) {
            self.committed(vf, state);
        }
    }

    /// A loaded PF image's current (generation, digest) for `vf`, read as a guest would.
    fn pf_state(&self, vf: u16) -> Option<(u32, u32)> {
        let pf = self.pf_adapter()?;
        lock(&self.history).pf_oids += 1;
        let read = |id: BlockId| -> Option<Vec<u8>> {
            let len = descriptor_of(id).len;
            let at = CONFIG_BLOCK_PARAMS_LEN;
            let mut buf = vec![0u8; at + len];
            write_config_block_params(&mut buf, vf, id.get() as u32, len as u32, at as u32);
            let n = buf.len() as u32;
            let o = self.call_oid(
                pf,
                RequestKind::Method,
                OID_SRIOV_READ_VF_CONFIG_BLOCK,
                &mut buf,
                at as u32,
                n,
            );
            (o.status == NDIS_STATUS_SUCCESS).then(|| buf.split_off(at))
        };
        let state = (|| {
            let commit = CommitBlock::decode(&read(CommitBlock::id())?).ok()?.0;
            let mut blocks = Vec::new();
            for id in commit.present {
                blocks.push((id, read(id)?));
            }
            let digest = view_digest(blocks.iter().map(|(id, b)| (*id, b.as_slice())));
            Some((commit.generation, digest))
        })();
        let mut h = lock(&self.history);
        h.pf_oids = h.pf_oids.saturating_sub(1);
        state
    }

    /// The VF wrote its status block: what it applied must be a state the PF committed, no
    /// older than what it reported before.
    pub(super) fn check_status_report(&self, vf: u16, data: &[u8]) {
        let Ok((s, _)) = VfStatusBlock::decode(data) else {
            return;
        };
        if s.applied_generation == 0 || s.state == VfStatusBlock::STATE_DEGRADED {
            return;
        }
        let mut h = lock(&self.history);
        h.checked += 1;
        let known = h
            .committed
            .get(&vf)
            .is_some_and(|states| states.contains(&(s.applied_generation, s.applied_digest)));
        let before = h.reported.get(&vf).copied();
        let older = before.is_some_and(|b| s.applied_generation.wrapping_sub(b) >= 1 << 31);
        let states = h.committed.get(&vf).map_or(0, Vec::len);
        h.reported.insert(vf, s.applied_generation);
        let recent = h.recent.entry(vf).or_default();
        recent.push((
            s.applied_generation,
            s.state,
            format!("{:?}", std::thread::current().id()),
        ));
        if recent.len() > 8 {
            recent.remove(0);
        }
        let recent = recent.clone();
        drop(h);
        if !known {
            self.violation(format!(
                "VF {vf} applied generation {} digest {:#010x}: not a state the PF committed ({states} recorded)",
                s.applied_generation, s.applied_digest
            ));
        }
        if older {
            self.violation(format!(
                "VF {vf} went back from generation {} to {} (reports: {recent:?})",
                before.unwrap_or(0),
                s.applied_generation,
            ));
        }
    }

    /// Status reports checked against the history so far.
    pub fn invariant_checks(&self) -> u64 {
        lock(&self.history).checked
    }
}

/// `pf_miniport::observe`'s callback: routes a commit to the machine that owns the adapter.
pub fn observe_commit(owner: usize, vf: u16, generation: u32, digest: u32) {
    // SAFETY: the owner is a miniport adapter handle this simulator handed out (checked by
    // its magic number); the adapter lives as long as its machine.
    if let Some(a) = unsafe { crate::world::SimAdapter::from_handle(owner as NDIS_HANDLE) } {
        a.world().committed(vf, (generation, digest));
    }
}
