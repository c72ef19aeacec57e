//! Turning block reads into one consistent configuration (docs/consistency.md).
//!
//! The VF reads blocks one OID at a time, so PF transactions can land between two reads. Each
//! block carries its write counter, and the commit block, read last, lists the low byte of
//! every block's counter in the state the PF was in when it was read. A view whose blocks
//! carry exactly those counters is that state; only such a view is applied ([`judge`]).
// The crate denies panics; guest-supplied values here may not overflow either.
#![deny(clippy::arithmetic_side_effects)]

use common::blocks::wire::BlockHeader;
use common::blocks::*;

/// Transactions after which a counter's low byte may repeat: past this many since the view's
/// base, every block is read again.
pub const ALIAS_WINDOW: u32 = 256;

const COMMIT: BlockId = BlockId::masked(CommitBlock::ID);

/// Raw blocks as the VF holds them (index = block id), with the mask of held ones, each one's
/// write counter (from its header, decoded once when stored), and the commit generation the
/// view was last found consistent at (0: never).
#[derive(Clone, Copy)]
pub struct View {
    pub blocks: [[u8; MAX_BLOCK_LEN]; BLOCK_COUNT],
    pub have: BlockMask,
    writes: [u32; BLOCK_COUNT],
    generation: u32,
}

impl View {
    /// Copies `other` in place: an 8 KiB value must not travel through a kernel stack.
    pub fn copy_from(&mut self, other: &View) {
        self.blocks.copy_from_slice(&other.blocks);
        self.writes.copy_from_slice(&other.writes);
        self.have = other.have;
        self.generation = other.generation;
    }

    pub fn block(&self, id: BlockId) -> Option<&[u8]> {
        if !self.have.contains(id) {
            return None;
        }
        self.blocks.get(id.index())?.get(..descriptor_of(id).len)
    }

    /// Stores a block already validated with [`validate`], which returned `header`.
    pub fn put(&mut self, id: BlockId, bytes: &[u8], header: &BlockHeader) {
        let (Some(dst), Some(w)) = (
            self.blocks
                .get_mut(id.index())
                .and_then(|b| b.get_mut(..bytes.len())),
            self.writes.get_mut(id.index()),
        ) else {
            return;
        };
        dst.copy_from_slice(bytes);
        *w = header.writes;
        self.have = self.have.with(id);
    }

    /// The write counter of a held block.
    pub fn writes_of(&self, id: BlockId) -> u32 {
        self.writes.get(id.index()).copied().unwrap_or(0)
    }

    /// The commit generation this view was found consistent at (0: never).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Forgets that the view was ever consistent: the next refresh reads every block (after a
    /// reset, when nothing cached may be trusted).
    pub fn forget_base(&mut self) {
        self.generation = 0;
    }

    /// Marks the view as the PF's state at `commit`: forgets blocks the PF no longer has.
    pub fn settle_at(&mut self, commit: &CommitBlock) {
        self.have = self.have.intersection(commit.present);
        self.generation = commit.generation;
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

    /// [`view_digest`] of every held block: what the status block reports.
    pub fn digest(&self) -> u32 {
        view_digest(
            self.have
                .iter()
                .filter_map(|id| Some((id, self.block(id)?))),
        )
    }
}

/// What to do with a view after reading a commit block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The view is the PF's state at the commit block: apply it.
    Consistent,
    /// Re-read these blocks, then the commit block again.
    Reread(BlockMask),
    /// More than [`ALIAS_WINDOW`] transactions since `base`: a counter byte may match by
    /// accident, so re-read every block (the commit block just read becomes the new base).
    RereadAll(BlockMask),
}

/// Judges `view` (holding the commit block just read, `commit`) against the state that
/// commit block names. `base` is a generation the PF had reached before any block the view
/// holds was read (the applied view's, or that of a commit block read before them all);
/// `None` when there is none. Serial arithmetic (RFC 1982): generations wrap.
pub fn judge(view: &View, commit: &CommitBlock, base: Option<u32>) -> Verdict {
    let others = commit.present.without(COMMIT);
    let fresh = base.is_some_and(|b| commit.generation.wrapping_sub(b) < ALIAS_WINDOW);
    if !fresh {
        return Verdict::RereadAll(others);
    }
    let mut differ = others.difference(view.have);
    for id in others.intersection(view.have) {
        if view.writes_of(id).to_le_bytes()[0] != commit.counter(id) {
            differ = differ.with(id);
        }
    }
    if differ.is_empty() {
        Verdict::Consistent
    } else {
        Verdict::Reread(differ)
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

    fn id(n: u8) -> BlockId {
        BlockId::masked(n)
    }

    /// A view holding blocks as (id, write counter).
    fn view(blocks: &[(u8, u32)]) -> View {
        // SAFETY: View is plain integers and byte arrays; all-zero is a valid empty view.
        let mut v: View = unsafe { core::mem::zeroed() };
        for &(n, writes) in blocks {
            let header = BlockHeader {
                format: 1,
                id: id(n),
                generation: 1,
                writes,
            };
            v.put(id(n), &[0; 20], &header);
        }
        v
    }

    /// A commit block: generation, present ids, counter bytes per id.
    fn commit(generation: u32, blocks: &[(u8, u8)]) -> CommitBlock {
        let mut counters = [0u8; BLOCK_COUNT];
        let mut present = BlockMask::of(COMMIT);
        for &(n, c) in blocks {
            if let Some(slot) = counters.get_mut(n as usize) {
                *slot = c;
            }
            present = present.with(id(n));
        }
        CommitBlock {
            generation,
            present,
            counters,
        }
    }

    #[test]
    fn judge_table() {
        use Verdict::*;
        let m = |ids: &[u8]| ids.iter().fold(BlockMask::EMPTY, |m, n| m.with(id(*n)));
        // (view, commit, base, verdict)
        type Held = &'static [(u8, u32)];
        type Listed = &'static [(u8, u8)];
        type Row = (Held, (u32, Listed), Option<u32>, Verdict);
        let table: &[Row] = &[
            // Every block at the listed counter: consistent.
            (
                &[(0, 1), (1, 3), (5, 9)],
                (10, &[(0, 1), (1, 3)]),
                Some(9),
                Consistent,
            ),
            // Block 1 one write behind: re-read it.
            (
                &[(0, 1), (1, 2), (5, 9)],
                (10, &[(0, 1), (1, 3)]),
                Some(9),
                Reread(m(&[1])),
            ),
            // A block the PF has and the view lacks: read it.
            (&[(0, 1)], (10, &[(0, 1), (7, 1)]), Some(9), Reread(m(&[7]))),
            // The counter byte compares modulo 256: 257 writes is byte 1.
            (&[(0, 257)], (10, &[(0, 1)]), Some(9), Consistent),
            // 255 transactions since the base: still inside the window.
            (&[(0, 1)], (264, &[(0, 1)]), Some(9), Consistent),
            // 256 since the base: a byte may alias, so everything is read again.
            (&[(0, 1)], (265, &[(0, 1)]), Some(9), RereadAll(m(&[0]))),
            // No base yet: everything.
            (
                &[(0, 1)],
                (3, &[(0, 1), (2, 1)]),
                None,
                RereadAll(m(&[0, 2])),
            ),
            // Across the wrap of the generation: 0xFFFF_FFF0 to 5 is 21 transactions.
            (&[(0, 4)], (5, &[(0, 4)]), Some(0xFFFF_FFF0), Consistent),
            // A base "after" the commit (serial arithmetic: far in the future) is not fresh.
            (&[(0, 4)], (5, &[(0, 4)]), Some(6), RereadAll(m(&[0]))),
            // The transaction A/B/C example: MAC/VLAN (1) from A, policy (3) from C, while the
            // commit (after C) lists 1 at B's counter: 1 is re-read.
            (
                &[(0, 1), (1, 1), (3, 3)],
                (4, &[(0, 1), (1, 2), (3, 3)]),
                Some(1),
                Reread(m(&[1])),
            ),
        ];
        for (held, (generation, listed), base, verdict) in table {
            assert_eq!(
                judge(&view(held), &commit(*generation, listed), *base),
                *verdict,
                "{held:?} against {generation}:{listed:?} from {base:?}"
            );
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
