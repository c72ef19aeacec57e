//! The per-VF block store: every block of one VF, encoded, in nonpaged memory allocated once
//! when the VF is allocated. Reads, writes and updates only copy bytes, under the adapter's
//! spin lock.
//!
//! The consistency protocol's PF half (docs/consistency.md): a transaction rewrites the
//! blocks whose payload changes, bumps each one's write counter, stamps them with the new
//! generation, and rewrites the commit block (generation, blocks present, low byte of every
//! write counter), all under the one lock that also serves the guest's reads. The caller
//! invalidates the returned mask, which always includes the commit block, only after the lock
//! is released.
// The crate denies panics; guest-supplied values here may not overflow either.
#![deny(clippy::arithmetic_side_effects)]

use common::blocks::wire::{self, BlockHeader, MAX_PAYLOAD_LEN};
use common::blocks::*;
use common::mem::Zeroable;
use common::oid::OidError;
use common::sync::SpinLock;

/// One VF's blocks. Index = block id; each slot holds `descriptor.len` meaningful bytes.
pub struct VfStore {
    pub vf_id: u16,
    /// The owning adapter's NDIS handle (for the host-build commit observer only).
    pub owner: usize,
    /// Transactions committed for this VF (wraps; 0 only before the first).
    pub generation: u32,
    /// Host blocks that exist for this VF (the commit block's `present`).
    pub present: BlockMask,
    /// Each block's write counter.
    pub writes: [u32; BLOCK_COUNT],
    pub blocks: [[u8; MAX_BLOCK_LEN]; BLOCK_COUNT],
    /// Backchannel traffic for this VF (for the debugger and the benchmarks).
    pub reads: u32,
    pub guest_writes: u32,
    pub rejected: u32,
}

// SAFETY: integers and byte arrays only.
unsafe impl Zeroable for VfStore {}

/// A block payload staged for an update, encoded but not yet stamped.
#[derive(Clone, Copy)]
pub struct Staged {
    pub id: BlockId,
    payload: [u8; MAX_PAYLOAD_LEN],
    len: usize,
}

impl Staged {
    pub fn of<B: ConfigBlock>(block: &B) -> Result<Self, BlockError> {
        let mut payload = [0u8; MAX_PAYLOAD_LEN];
        let body = payload
            .get_mut(..B::PAYLOAD_LEN)
            .ok_or(BlockError::TooLong {
                len: B::ENCODED_LEN,
            })?;
        block.write_payload(&mut wire::Writer::new(body))?;
        Ok(Self {
            id: B::id(),
            payload,
            len: B::PAYLOAD_LEN,
        })
    }

    /// An IHV extension block (ids 6..=63).
    pub fn ihv(id: BlockId, block: &IhvBlock) -> Result<Self, BlockError> {
        if id.get() < FIRST_IHV_BLOCK {
            return Err(BlockError::WrongBlock {
                expected: FIRST_IHV_BLOCK,
                found: id.get(),
            });
        }
        let mut payload = [0u8; MAX_PAYLOAD_LEN];
        block.write_payload(&mut wire::Writer::new(&mut payload))?;
        Ok(Self {
            id,
            payload,
            len: MAX_PAYLOAD_LEN,
        })
    }

    fn payload(&self) -> &[u8] {
        self.payload.get(..self.len).unwrap_or(&[])
    }

    /// Refuses what the VF would refuse: the envelope and every field, checked by the same
    /// `validate` the VF runs, so the host can never publish a block the guest rejects.
    pub fn check(&self) -> Result<(), BlockError> {
        let d = descriptor_of(self.id);
        if wire::HEADER_LEN.checked_add(self.len) != Some(d.len) {
            return Err(BlockError::BadLength {
                expected: d.len,
                found: wire::HEADER_LEN.saturating_add(self.len),
            });
        }
        let mut probe = [0u8; MAX_BLOCK_LEN];
        let header = BlockHeader {
            format: d.format,
            id: self.id,
            generation: 1,
            writes: 1,
        };
        let n = wire::encode(&header, self.payload(), &mut probe)?;
        validate(self.id, probe.get(..n).unwrap_or(&[])).map(|_| ())
    }
}

/// The commit block's id.
const COMMIT: BlockId = BlockId::masked(CommitBlock::ID);

impl VfStore {
    /// Fills a freshly zeroed store: the VF's status block (written by the guest later), then
    /// the initial blocks as the first transaction. Copies only: callable under the lock.
    pub fn init(
        &mut self,
        vf_id: u16,
        owner: usize,
        initial: &[Staged],
    ) -> Result<BlockMask, BlockError> {
        self.vf_id = vf_id;
        self.owner = owner;
        self.generation = 0;
        self.present = BlockMask::of(COMMIT);
        let status = Staged::of(&VfStatusBlock::default())?;
        self.write_stamped(&status, 0, 0)?;
        self.update(initial)
    }

    /// The encoded bytes of a block.
    pub fn block(&self, id: BlockId) -> Option<&[u8]> {
        self.blocks.get(id.index())?.get(..descriptor_of(id).len)
    }

    /// Blocks a guest may read: the host blocks that exist and its own.
    pub fn readable(&self) -> BlockMask {
        self.present.union(GUEST_BLOCKS)
    }

    /// Applies `updates` as one transaction (all or nothing): every update is checked as the
    /// VF will check it before anything changes; then only blocks whose payload really changes
    /// (or that did not exist yet) are rewritten, block 0's `defined` follows the blocks that
    /// now exist, and the commit block is rewritten. Returns the blocks to invalidate (empty
    /// when nothing changed: then the generation stays and nothing is sent).
    pub fn update(&mut self, updates: &[Staged]) -> Result<BlockMask, BlockError> {
        let version_id = VersionBlock::id();
        let mut changed = BlockMask::EMPTY;
        let mut version = None;
        for u in updates {
            if !HOST_BLOCKS.contains(u.id) || u.id == COMMIT {
                return Err(BlockError::WrongBlock {
                    expected: VersionBlock::ID,
                    found: u.id.get(),
                });
            }
            u.check()?;
            if u.id == version_id {
                // The protocol major and the VF id are the store's, not the host's: a VF
                // refuses to run another major, and its id is fixed at allocation.
                let v = decode_staged::<VersionBlock>(u)?;
                if v.major != PROTOCOL_MAJOR || v.vf_id != self.vf_id {
                    return Err(BlockError::BadValue {
                        block: VersionBlock::ID,
                        field: "major or vf_id",
                    });
                }
                version = Some(v);
                continue;
            }
            let current = self.block(u.id).and_then(|b| b.get(wire::HEADER_LEN..));
            if !self.present.contains(u.id) || current != Some(u.payload()) {
                changed = changed.with(u.id);
            }
        }
        // Block 0 names exactly the blocks that exist after this transaction (and the VF's
        // own), so a block comes into existence, and is announced, in the same transaction.
        let present = self.present.union(changed).with(version_id);
        let base = match version {
            Some(v) => v,
            None => self
                .decode::<VersionBlock>()
                .ok_or(BlockError::UnknownBlock {
                    id: VersionBlock::ID as u32,
                })?,
        };
        let block0 = Staged::of(&VersionBlock {
            defined: present.union(GUEST_BLOCKS),
            ..base
        })?;
        block0.check()?;
        let current0 = self
            .block(version_id)
            .and_then(|b| b.get(wire::HEADER_LEN..));
        if !self.present.contains(version_id) || current0 != Some(block0.payload()) {
            changed = changed.with(version_id);
        }
        if changed.is_empty() {
            return Ok(changed);
        }
        let generation = match self.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
        for id in changed {
            if let Some(w) = self.writes.get_mut(id.index()) {
                *w = w.wrapping_add(1);
            }
        }
        // Last update of a block wins, as if applied in order.
        let others = updates.iter().filter(|u| u.id != version_id);
        for u in others.chain(core::iter::once(&block0)) {
            if changed.contains(u.id) {
                let writes = self.writes.get(u.id.index()).copied().unwrap_or(0);
                self.write_stamped(u, generation, writes)?;
            }
        }
        self.present = self.present.union(changed);
        self.generation = generation;
        self.write_commit()?;
        #[cfg(not(kernel_image))]
        crate::observe::committed(self);
        Ok(changed.with(COMMIT))
    }

    /// The commit block of the current state: generation, presence, counter bytes.
    pub fn commit(&self) -> CommitBlock {
        let mut counters = [0u8; BLOCK_COUNT];
        for id in self.present.without(COMMIT) {
            if let (Some(c), Some(w)) = (counters.get_mut(id.index()), self.writes.get(id.index()))
            {
                *c = w.to_le_bytes()[0];
            }
        }
        CommitBlock {
            generation: self.generation,
            present: self.present,
            counters,
        }
    }

    fn write_commit(&mut self) -> Result<(), BlockError> {
        let commit = self.commit();
        let writes = self.writes.get(COMMIT.index()).copied().unwrap_or(0);
        let writes = writes.wrapping_add(1);
        if let Some(w) = self.writes.get_mut(COMMIT.index()) {
            *w = writes;
        }
        let slot = self
            .blocks
            .get_mut(COMMIT.index())
            .ok_or(BlockError::UnknownBlock {
                id: CommitBlock::ID as u32,
            })?;
        commit.encode(self.generation, writes, slot).map(|_| ())
    }

    fn write_stamped(
        &mut self,
        s: &Staged,
        generation: u32,
        writes: u32,
    ) -> Result<(), BlockError> {
        let d = descriptor_of(s.id);
        let header = BlockHeader {
            format: d.format,
            id: s.id,
            generation,
            writes,
        };
        let slot = self
            .blocks
            .get_mut(s.id.index())
            .ok_or(BlockError::UnknownBlock {
                id: s.id.get() as u32,
            })?;
        wire::encode(&header, s.payload(), slot)?;
        Ok(())
    }

    /// The guest's read (OID_SRIOV_READ_VF_CONFIG_BLOCK): copies the first `out.len()` bytes
    /// of a block this VF has. Checks that the block exists for this VF and that `out` fits
    /// in it; the caller has checked the id and length against the schema.
    pub fn read_for_guest(&mut self, id: BlockId, out: &mut [u8]) -> Result<(), OidError> {
        if !self.readable().contains(id) {
            return Err(OidError::invalid_parameter(
                "BlockId is not defined for this VF",
            ));
        }
        let src = self
            .block(id)
            .and_then(|b| b.get(..out.len()))
            .ok_or(OidError::invalid_parameter("Length does not fit the block"))?;
        out.copy_from_slice(src);
        self.reads = self.reads.wrapping_add(1);
        Ok(())
    }

    /// The guest's write (OID_SRIOV_WRITE_VF_CONFIG_BLOCK) of a block the caller has checked
    /// is guest-writable and valid: stores it and counts it. Guest blocks are outside the
    /// commit set: no generation, no invalidation.
    pub fn write_from_guest(&mut self, id: BlockId, bytes: &[u8]) -> Result<(), OidError> {
        if !self.store_guest_block(id, bytes) {
            return Err(OidError::invalid_parameter("Length does not fit the block"));
        }
        self.guest_writes = self.guest_writes.wrapping_add(1);
        Ok(())
    }

    /// A guest write refused for its contents.
    pub fn count_rejected(&mut self) {
        self.rejected = self.rejected.wrapping_add(1);
    }

    /// Stores a guest-writable block, already validated by the caller.
    pub fn store_guest_block(&mut self, id: BlockId, bytes: &[u8]) -> bool {
        if !GUEST_BLOCKS.contains(id) {
            return false;
        }
        match self
            .blocks
            .get_mut(id.index())
            .and_then(|slot| slot.get_mut(..bytes.len()))
        {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// Decodes a typed block from the store.
    pub fn decode<B: ConfigBlock>(&self) -> Option<B> {
        B::decode(self.block(B::id())?).ok().map(|(b, _)| b)
    }

    /// The [`view_digest`] of the current state: what a VF that holds it reports.
    pub fn digest(&self) -> u32 {
        view_digest(
            self.present
                .iter()
                .filter_map(|id| Some((id, self.block(id)?))),
        )
    }
}

/// One transaction on the store `select` picks under `lock`, then `invalidate` with the blocks
/// it changed, after the lock is released (`NdisMInvalidateConfigBlock` runs unlocked, and a
/// notification must never reach the guest before the state it announces can be read). What
/// the host API (`Adapter::set_blocks`) runs, and what `tests/loom_store.rs` model-checks
/// against guest reads under the same lock. `refused` maps a block the VF would refuse.
pub fn transact<S, E>(
    lock: &SpinLock<S>,
    select: impl FnOnce(&mut S) -> Result<&mut VfStore, E>,
    updates: &[Staged],
    refused: impl FnOnce(BlockError) -> E,
    invalidate: impl FnOnce(BlockMask),
) -> Result<BlockMask, E> {
    // (Mutation `store_invalidate_first`, model checks only: announces the blocks before
    // writing them, so the guest may read the old state on the last notification it gets.)
    if cfg!(loom_mutation = "store_invalidate_first") {
        invalidate(
            updates
                .iter()
                .map(|u| u.id)
                .collect::<BlockMask>()
                .with(COMMIT),
        );
        let mut st = lock.lock();
        let vf = select(&mut st)?;
        return vf.update(updates).map_err(refused);
    }
    let changed = {
        let mut st = lock.lock();
        let vf = select(&mut st)?;
        vf.update(updates).map_err(refused)?
    };
    invalidate(changed);
    Ok(changed)
}

pub(crate) fn decode_staged<B: ConfigBlock>(s: &Staged) -> Result<B, BlockError> {
    let mut r = wire::Reader::new(s.id.get(), s.payload());
    B::read_payload(&mut r)
}
