//! Block ids and `BlockMask`: bit n of the 64-bit mask flags block n ("Backchannel
//! Communication from the PF Miniport Driver"; only blocks 0..=63 can be invalidated).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

/// A config-block id that a `BlockMask` can carry: 0..=63.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(u8);

impl BlockId {
    pub const MAX: u8 = 63;

    /// `None` for ids a mask cannot name (the OID's `BlockId` is a full ULONG from the guest).
    pub const fn new(id: u32) -> Option<Self> {
        if id <= Self::MAX as u32 {
            Some(Self(id as u8))
        } else {
            None
        }
    }

    /// For schema constants: keeps the low six bits.
    pub const fn masked(id: u8) -> Self {
        Self(id & Self::MAX)
    }

    pub const fn get(self) -> u8 {
        self.0
    }

    pub const fn index(self) -> usize {
        self.0 as usize
    }

    pub const fn bit(self) -> u64 {
        1u64 << self.0
    }
}

/// A set of block ids, as carried by `NdisMInvalidateConfigBlock` and
/// `NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO.BlockMask`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockMask(pub u64);

impl BlockMask {
    pub const EMPTY: Self = Self(0);
    pub const ALL: Self = Self(u64::MAX);

    pub const fn bits(self) -> u64 {
        self.0
    }

    pub const fn of(id: BlockId) -> Self {
        Self(id.bit())
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    pub const fn contains(self, id: BlockId) -> bool {
        self.0 & id.bit() != 0
    }

    pub const fn with(self, id: BlockId) -> Self {
        Self(self.0 | id.bit())
    }

    pub const fn without(self, id: BlockId) -> Self {
        Self(self.0 & !id.bit())
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Ids of the set bits, lowest first.
    pub const fn iter(self) -> BlockMaskIter {
        BlockMaskIter(self.0)
    }
}

impl core::ops::BitOr for BlockMask {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl core::ops::BitOrAssign for BlockMask {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl core::ops::BitAnd for BlockMask {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        self.intersection(rhs)
    }
}

impl FromIterator<BlockId> for BlockMask {
    fn from_iter<I: IntoIterator<Item = BlockId>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl IntoIterator for BlockMask {
    type Item = BlockId;
    type IntoIter = BlockMaskIter;
    fn into_iter(self) -> BlockMaskIter {
        self.iter()
    }
}

/// Iterates the set bits of a mask without allocating.
#[derive(Clone, Debug)]
pub struct BlockMaskIter(u64);

impl Iterator for BlockMaskIter {
    type Item = BlockId;

    fn next(&mut self) -> Option<BlockId> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(BlockId(bit as u8))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for BlockMaskIter {}

/// A `BlockMask` shared between threads: notifications OR bits in, the one reader takes them
/// all at once. All-zero bytes are the empty mask. Its atomic is `common::sync::atomic`'s, so
/// the model checks (`cfg(loom)`) see every insert and take.
#[derive(Debug, Default)]
pub struct AtomicBlockMask(AtomicU64);

use crate::sync::atomic::{AtomicU64, Ordering};

impl AtomicBlockMask {
    #[cfg(not(loom))]
    pub const fn new(mask: BlockMask) -> Self {
        Self(AtomicU64::new(mask.0))
    }

    #[cfg(loom)]
    pub fn new(mask: BlockMask) -> Self {
        Self(AtomicU64::new(mask.0))
    }

    /// Adds `mask` (a notification never loses the bits already there).
    pub fn insert(&self, mask: BlockMask) {
        self.0.fetch_or(mask.0, Ordering::AcqRel);
    }

    /// Takes every bit, leaving the mask empty.
    pub fn take(&self) -> BlockMask {
        BlockMask(self.0.swap(0, Ordering::AcqRel))
    }

    pub fn load(&self) -> BlockMask {
        BlockMask(self.0.load(Ordering::Acquire))
    }

    pub fn store(&self, mask: BlockMask) {
        self.0.store(mask.0, Ordering::Release);
    }
}
