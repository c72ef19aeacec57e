//! Turning block reads into one consistent configuration.
//!
//! The VF reads blocks one OID at a time, so a PF transaction that rewrites several blocks can
//! land between two reads. Every block carries the generation of the transaction that wrote
//! it and that transaction's block mask; a block Y is *stale* when another block X we hold
//! was written by a later transaction that also wrote Y. A view with no stale block is a
//! snapshot the PF really had; only such a view is applied.
// The crate denies panics; guest-supplied values here may not overflow either.
#![deny(clippy::arithmetic_side_effects)]

use common::blocks::wire::BlockHeader;
use common::blocks::*;

/// Raw blocks as the VF holds them (index = block id), with the mask of valid ones and each
/// one's transaction stamp, decoded once when the block is stored.
#[derive(Clone, Copy)]
pub struct View {
    pub blocks: [[u8; MAX_BLOCK_LEN]; BLOCK_COUNT],
    pub have: BlockMask,
    generations: [u32; BLOCK_COUNT],
    txns: [u64; BLOCK_COUNT],
}

impl View {
    /// Copies `other` in place: an 8 KiB value must not travel through a kernel stack.
    pub fn copy_from(&mut self, other: &View) {
        self.blocks.copy_from_slice(&other.blocks);
        self.generations.copy_from_slice(&other.generations);
        self.txns.copy_from_slice(&other.txns);
        self.have = other.have;
    }

    pub fn block(&self, id: BlockId) -> Option<&[u8]> {
        if !self.have.contains(id) {
            return None;
        }
        self.blocks.get(id.index())?.get(..descriptor_of(id).len)
    }

    /// Stores a block already validated with [`validate`], which returned `header`.
    pub fn put(&mut self, id: BlockId, bytes: &[u8], header: &BlockHeader) {
        let (Some(dst), Some(g), Some(t)) = (
            self.blocks
                .get_mut(id.index())
                .and_then(|b| b.get_mut(..bytes.len())),
            self.generations.get_mut(id.index()),
            self.txns.get_mut(id.index()),
        ) else {
            return;
        };
        dst.copy_from_slice(bytes);
        *g = header.generation;
        *t = header.txn.bits();
        self.have = self.have.with(id);
    }

    fn generation_of(&self, id: BlockId) -> u32 {
        self.generations.get(id.index()).copied().unwrap_or(0)
    }

    /// Blocks older than a transaction another held block says also wrote them.
    pub fn stale(&self) -> BlockMask {
        let mut stale = BlockMask::EMPTY;
        for x in self.have {
            let gx = self.generation_of(x);
            let txn = BlockMask(self.txns.get(x.index()).copied().unwrap_or(0));
            for y in txn.intersection(self.have).without(x) {
                if self.generation_of(y) < gx {
                    stale = stale.with(y);
                }
            }
        }
        stale
    }

    /// Highest generation among the held blocks: what the view reflects.
    pub fn generation(&self) -> u32 {
        self.have
            .iter()
            .map(|id| self.generation_of(id))
            .max()
            .unwrap_or(0)
    }

    /// The blocks the PF says exist for this VF (block 0), or the base blocks before it is known.
    pub fn defined(&self) -> BlockMask {
        self.decode::<VersionBlock>()
            .map_or(BASE_BLOCKS, |v| v.defined)
    }

    pub fn decode<B: ConfigBlock>(&self) -> Option<B> {
        B::decode(self.block(B::id())?).ok().map(|(b, _)| b)
    }

    /// An IHV extension block, if held.
    pub fn ihv(&self, id: BlockId) -> Option<IhvBlock> {
        IhvBlock::decode(id, self.block(id)?).ok().map(|(b, _)| b)
    }
}

/// The configuration a consistent view describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    pub mac: [u8; 6],
    pub vlan_id: u16,
    pub priority: u8,
    pub mtu: u32,
    pub link_up: bool,
    pub speed_bps: u64,
    pub policy_flags: u32,
    pub max_tx_rate_mbps: u32,
    pub queue_pairs: u16,
}

impl Applied {
    /// What a VF runs on when the backchannel gives it nothing.
    pub const fn defaults(vf_id: u16) -> Self {
        let [hi, lo] = vf_id.to_be_bytes();
        Self {
            mac: [0x02, 0x15, 0x5D, hi, lo, 0xFE],
            vlan_id: 0,
            priority: 0,
            mtu: 1500,
            link_up: false,
            speed_bps: 0,
            policy_flags: 0,
            max_tx_rate_mbps: 0,
            queue_pairs: 1,
        }
    }

    /// Overlays every block the view holds onto `base`.
    pub fn from_view(view: &View, base: Applied) -> Applied {
        let mut a = base;
        if let Some(m) = view.decode::<MacVlanBlock>() {
            a.mac = m.mac;
            a.vlan_id = m.vlan_id;
            a.priority = m.priority;
        }
        if let Some(l) = view.decode::<LinkBlock>() {
            a.mtu = l.mtu;
            a.link_up = l.link_up;
            a.speed_bps = l.speed_bps;
        }
        if let Some(p) = view.decode::<PolicyBlock>() {
            a.policy_flags = p.flags;
            a.max_tx_rate_mbps = p.max_tx_rate_mbps;
            a.queue_pairs = p.queue_pairs;
        }
        a
    }
}

/// How the VF judges the PF's protocol version (block 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compatibility {
    Same,
    /// Same major, different minor: tolerated.
    NewerOrOlderMinor {
        minor: u16,
    },
    /// Different major: the VF must not run.
    Incompatible {
        major: u16,
    },
}

pub fn compatibility(v: &VersionBlock) -> Compatibility {
    if v.major != PROTOCOL_MAJOR {
        Compatibility::Incompatible { major: v.major }
    } else if v.minor != PROTOCOL_MINOR {
        Compatibility::NewerOrOlderMinor { minor: v.minor }
    } else {
        Compatibility::Same
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::blocks::wire::BlockHeader;

    fn id(n: u8) -> BlockId {
        BlockId::masked(n)
    }

    /// A view holding `blocks`: (id, generation, transaction mask).
    fn view(blocks: &[(u8, u32, u64)]) -> View {
        // SAFETY: View is plain integers and byte arrays; all-zero is a valid empty view.
        let mut v: View = unsafe { core::mem::zeroed() };
        for &(n, generation, txn) in blocks {
            let header = BlockHeader {
                format: 1,
                id: id(n),
                generation,
                txn: BlockMask(txn),
            };
            v.put(id(n), &[0; 20], &header);
        }
        v
    }

    #[test]
    fn stale_table() {
        // (held blocks as (id, generation, transaction mask), expected stale mask)
        type Held = &'static [(u8, u32, u64)];
        let table: &[(Held, u64)] = &[
            (&[], 0),
            (&[(1, 5, 0b0110)], 0),
            // 1 and 2 written together at 5, both held at 5: consistent.
            (&[(1, 5, 0b0110), (2, 5, 0b0110)], 0),
            // 2 still from 4 while 1 says transaction 5 also wrote 2: 2 is stale.
            (&[(1, 5, 0b0110), (2, 4, 0b0100)], 0b0100),
            // 2 is newer than a transaction that did not name 1: nothing stale.
            (&[(1, 4, 0b0010), (2, 5, 0b0100)], 0),
            // 3 names 1 and 2; both older: both stale.
            (&[(1, 1, 0b0010), (2, 2, 0b0100), (3, 6, 0b1110)], 0b0110),
            // Equal generations never make a block stale.
            (&[(1, 7, 0b0110), (2, 7, 0b0110), (3, 7, 0b1000)], 0),
            // A transaction mask naming a block we do not hold changes nothing.
            (&[(1, 9, 0b1_0000_0010)], 0),
        ];
        for (blocks, expected) in table {
            assert_eq!(view(blocks).stale(), BlockMask(*expected), "{blocks:?}");
        }
    }

    #[test]
    fn compatibility_table() {
        let v = |major, minor| VersionBlock {
            major,
            minor,
            vf_id: 0,
            features: 0,
            defined: BASE_BLOCKS,
        };
        let table = [
            (PROTOCOL_MAJOR, PROTOCOL_MINOR, Compatibility::Same),
            (
                PROTOCOL_MAJOR,
                PROTOCOL_MINOR.wrapping_add(1),
                Compatibility::NewerOrOlderMinor {
                    minor: PROTOCOL_MINOR.wrapping_add(1),
                },
            ),
            (
                PROTOCOL_MAJOR.wrapping_add(1),
                PROTOCOL_MINOR,
                Compatibility::Incompatible {
                    major: PROTOCOL_MAJOR.wrapping_add(1),
                },
            ),
            (0, PROTOCOL_MINOR, Compatibility::Incompatible { major: 0 }),
            (
                u16::MAX,
                u16::MAX,
                Compatibility::Incompatible { major: u16::MAX },
            ),
        ];
        for (major, minor, expected) in table {
            assert_eq!(compatibility(&v(major, minor)), expected, "{major}.{minor}");
        }
    }
}
