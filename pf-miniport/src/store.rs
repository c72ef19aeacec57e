//! The per-VF block store: every defined block of one VF, encoded, in nonpaged memory that is
//! allocated once when the VF is allocated. Reads, writes and updates only copy bytes.

use common::blocks::wire::{self, BlockHeader, MAX_PAYLOAD_LEN};
use common::blocks::*;
use common::mem::Zeroable;
use common::oid::OidError;

/// One VF's blocks. Index = block id; each slot holds `descriptor.len` meaningful bytes.
pub struct VfStore {
    pub vf_id: u16,
    /// Last PF transaction applied to this VF's blocks; stamped into every block it wrote.
    pub generation: u32,
    /// Blocks that exist for this VF: block 0's `defined` mask plus the VF's status block.
    pub defined: BlockMask,
    pub blocks: [[u8; MAX_BLOCK_LEN]; BLOCK_COUNT],
    /// Backchannel traffic for this VF (for the debugger and the benchmarks).
    pub reads: u32,
    pub writes: u32,
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

    /// An IHV extension block (ids 5..=63).
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
}

impl VfStore {
    /// Fills a freshly zeroed store: the initial typed blocks stamped generation 1, every
    /// extension block empty (generation 0, not yet announced in block 0's `defined`).
    pub fn init(&mut self, vf_id: u16, initial: &[Staged]) -> Result<(), BlockError> {
        self.vf_id = vf_id;
        self.generation = 0;
        let status = Staged::of(&VfStatusBlock::default())?;
        self.write_stamped(&status, 0, GUEST_BLOCKS)?;
        for id in HOST_BLOCKS.difference(BASE_BLOCKS) {
            self.write_stamped(&Staged::ihv(id, &IhvBlock::EMPTY)?, 0, BlockMask::EMPTY)?;
        }
        self.update(initial)?;
        Ok(())
    }

    /// The encoded bytes of a block.
    pub fn block(&self, id: BlockId) -> Option<&[u8]> {
        self.blocks.get(id.index())?.get(..descriptor_of(id).len)
    }

    /// Applies `updates` as one transaction: only blocks whose payload really changes are
    /// rewritten, all stamped with the next generation and the transaction's mask. Returns
    /// that mask (empty when nothing changed, and then the generation stays).
    pub fn update(&mut self, updates: &[Staged]) -> Result<BlockMask, BlockError> {
        let mut changed = BlockMask::EMPTY;
        for u in updates {
            let d = descriptor_of(u.id);
            if wire::HEADER_LEN + u.len != d.len {
                return Err(BlockError::BadLength {
                    expected: d.len,
                    found: wire::HEADER_LEN + u.len,
                });
            }
            let current = self.block(u.id).and_then(|b| b.get(wire::HEADER_LEN..));
            // A block the VF does not know yet is news even if its bytes equal the empty
            // default: it must be flagged so the VF reads it.
            if current != Some(u.payload()) || self.generation == 0 || !self.defined.contains(u.id)
            {
                changed = changed.with(u.id);
            }
        }
        if changed.is_empty() {
            return Ok(changed);
        }
        let generation = self.generation.wrapping_add(1).max(1);
        for u in updates.iter().filter(|u| changed.contains(u.id)) {
            self.write_stamped(u, generation, changed)?;
        }
        self.generation = generation;
        if changed.contains(VersionBlock::id())
            && let Some((v, _)) = self.decode::<VersionBlock>()
        {
            self.defined = v.defined.union(GUEST_BLOCKS);
        }
        Ok(changed)
    }

    fn write_stamped(
        &mut self,
        s: &Staged,
        generation: u32,
        txn: BlockMask,
    ) -> Result<(), BlockError> {
        let d = descriptor(s.id.get() as u32).ok_or(BlockError::UnknownBlock {
            id: s.id.get() as u32,
        })?;
        let header = BlockHeader {
            format: d.format,
            id: s.id,
            generation,
            txn,
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
    /// of a block this VF has. Checks that the block is defined for this VF and that `out`
    /// fits in it; the caller has checked the id and length against the schema.
    pub fn read_for_guest(&mut self, id: BlockId, out: &mut [u8]) -> Result<(), OidError> {
        if !self.defined.contains(id) {
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
    /// is guest-writable and valid: stores it and counts it.
    pub fn write_from_guest(&mut self, id: BlockId, bytes: &[u8]) -> Result<(), OidError> {
        if !self.store_guest_block(id, bytes) {
            return Err(OidError::invalid_parameter("Length does not fit the block"));
        }
        self.writes = self.writes.wrapping_add(1);
        Ok(())
    }

    /// A guest write refused for its contents.
    pub fn count_rejected(&mut self) {
        self.rejected = self.rejected.wrapping_add(1);
    }

    /// Stores a guest-writable block, already validated by the caller.
    pub fn store_guest_block(&mut self, id: BlockId, bytes: &[u8]) -> bool {
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
    pub fn decode<B: ConfigBlock>(&self) -> Option<(B, BlockHeader)> {
        B::decode(self.block(B::id())?).ok()
    }
}
