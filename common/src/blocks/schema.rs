//! This driver pair's config blocks: what each id means, its length and format, and who may
//! write it. Ids 0..=63 are the invalidatable range, and this schema uses all of it: 0..=5 are
//! typed blocks (5 is the commit block every transaction rewrites), 6..=63 are IHV extension
//! blocks ([`IhvBlock`]: opaque, full-size), which exist once the PF first sets one (block 0's
//! `defined` and the commit block's `present` then name them).
//!
//! Versioning follows a PF/VF mailbox: block 0 ([`VersionBlock`]) never changes layout; a
//! different protocol major is fatal for the VF, a different minor is tolerated. A block's
//! own `format` byte changes only with a new major.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use super::mask::{BlockId, BlockMask};
use super::wire::{self, BlockError, BlockHeader, HEADER_LEN, Reader, Writer};

/// 2: the commit block (5) and per-block write counters replaced the transaction masks.
pub const PROTOCOL_MAJOR: u16 = 2;
pub const PROTOCOL_MINOR: u16 = 0;

/// Static facts about one block id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockDescriptor {
    pub id: BlockId,
    pub name: &'static str,
    /// Encoded length on the wire (header + payload); reads and writes use exactly this.
    pub len: usize,
    pub format: u8,
    /// Only the VF-to-PF status block may be written by a guest.
    pub guest_writable: bool,
}

/// A block type with a fixed payload layout.
pub trait ConfigBlock: Sized {
    const ID: u8;
    const NAME: &'static str;
    const FORMAT: u8;
    const PAYLOAD_LEN: usize;
    const GUEST_WRITABLE: bool = false;
    const ENCODED_LEN: usize = HEADER_LEN + Self::PAYLOAD_LEN;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError>;
    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError>;

    fn id() -> BlockId {
        BlockId::masked(Self::ID)
    }

    /// Everything the schema tables say about this block, derived from the constants above:
    /// the one place a block's length, format and owner are stated.
    const DESCRIPTOR: BlockDescriptor = BlockDescriptor {
        id: BlockId::masked(Self::ID),
        name: Self::NAME,
        len: Self::ENCODED_LEN,
        format: Self::FORMAT,
        guest_writable: Self::GUEST_WRITABLE,
    };

    fn descriptor() -> BlockDescriptor {
        Self::DESCRIPTOR
    }

    /// Encodes with the given stamp (the writing transaction's generation and the block's
    /// write counter); returns the encoded length.
    fn encode(&self, generation: u32, writes: u32, out: &mut [u8]) -> Result<usize, BlockError> {
        let mut payload = [0u8; wire::MAX_PAYLOAD_LEN];
        let body = payload
            .get_mut(..Self::PAYLOAD_LEN)
            .ok_or(BlockError::TooLong {
                len: Self::ENCODED_LEN,
            })?;
        let mut w = Writer::new(body);
        self.write_payload(&mut w)?;
        if w.written() != Self::PAYLOAD_LEN {
            return Err(BlockError::BadLength {
                expected: Self::PAYLOAD_LEN,
                found: w.written(),
            });
        }
        let header = BlockHeader {
            format: Self::FORMAT,
            id: Self::id(),
            generation,
            writes,
        };
        wire::encode(
            &header,
            payload.get(..Self::PAYLOAD_LEN).unwrap_or(&[]),
            out,
        )
    }

    /// Decodes and validates a whole block: envelope, id, format, length, values.
    fn decode(buf: &[u8]) -> Result<(Self, BlockHeader), BlockError> {
        if buf.len() > Self::ENCODED_LEN {
            return Err(BlockError::TooLong { len: buf.len() });
        }
        let (header, payload) = wire::decode(buf)?;
        if header.id.get() != Self::ID {
            return Err(BlockError::WrongBlock {
                expected: Self::ID,
                found: header.id.get(),
            });
        }
        if header.format != Self::FORMAT {
            return Err(BlockError::UnknownFormat {
                block: Self::ID,
                format: header.format,
            });
        }
        if payload.len() != Self::PAYLOAD_LEN {
            return Err(BlockError::BadLength {
                expected: Self::PAYLOAD_LEN,
                found: payload.len(),
            });
        }
        let value = Self::read_payload(&mut Reader::new(Self::ID, payload))?;
        Ok((value, header))
    }
}

fn check(ok: bool, block: u8, field: &'static str) -> Result<(), BlockError> {
    if ok {
        Ok(())
    } else {
        Err(BlockError::BadValue { block, field })
    }
}

/// Block 0: protocol version and VF identity. Layout frozen forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionBlock {
    pub major: u16,
    pub minor: u16,
    pub vf_id: u16,
    pub features: u32,
    /// Blocks the PF defines for this VF.
    pub defined: BlockMask,
}

impl ConfigBlock for VersionBlock {
    const ID: u8 = 0;
    const NAME: &'static str = "version";
    const FORMAT: u8 = 1;
    const PAYLOAD_LEN: usize = 20;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.u16(self.major)?;
        w.u16(self.minor)?;
        w.u16(self.vf_id)?;
        w.u16(0)?;
        w.u32(self.features)?;
        w.u64(self.defined.bits())
    }

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let major = r.u16()?;
        let minor = r.u16()?;
        let vf_id = r.u16()?;
        r.reserved::<2>("reserved")?;
        let features = r.u32()?;
        let defined = BlockMask(r.u64()?);
        check(defined.contains(Self::id()), Self::ID, "defined")?;
        Ok(Self {
            major,
            minor,
            vf_id,
            features,
            defined,
        })
    }
}

/// Block 1: the VF's MAC address and VLAN, set by the host's virtual switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacVlanBlock {
    pub mac: [u8; 6],
    /// 0 = untagged; 1..=4094.
    pub vlan_id: u16,
    /// 802.1p priority, 0..=7.
    pub priority: u8,
}

impl ConfigBlock for MacVlanBlock {
    const ID: u8 = 1;
    const NAME: &'static str = "mac-vlan";
    const FORMAT: u8 = 1;
    const PAYLOAD_LEN: usize = 10;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.bytes(&self.mac)?;
        w.u16(self.vlan_id)?;
        w.u8(self.priority)?;
        w.u8(0)
    }

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let mac: [u8; 6] = r.bytes()?;
        let vlan_id = r.u16()?;
        let priority = r.u8()?;
        r.reserved::<1>("reserved")?;
        check(mac[0] & 1 == 0 && mac != [0; 6], Self::ID, "mac")?;
        check(vlan_id <= 4094, Self::ID, "vlan_id")?;
        check(priority <= 7, Self::ID, "priority")?;
        Ok(Self {
            mac,
            vlan_id,
            priority,
        })
    }
}

/// Block 2: MTU and the physical link as the PF sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkBlock {
    pub mtu: u32,
    pub link_up: bool,
    /// MediaDuplexState: 0 unknown, 1 half, 2 full.
    pub duplex: u8,
    pub speed_bps: u64,
}

impl LinkBlock {
    pub const MIN_MTU: u32 = 576;
    pub const MAX_MTU: u32 = 9216;
}

impl ConfigBlock for LinkBlock {
    const ID: u8 = 2;
    const NAME: &'static str = "link";
    const FORMAT: u8 = 1;
    const PAYLOAD_LEN: usize = 16;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.u32(self.mtu)?;
        w.u8(self.link_up as u8)?;
        w.u8(self.duplex)?;
        w.u16(0)?;
        w.u64(self.speed_bps)
    }

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let mtu = r.u32()?;
        let up = r.u8()?;
        let duplex = r.u8()?;
        r.reserved::<2>("reserved")?;
        let speed_bps = r.u64()?;
        check(
            (Self::MIN_MTU..=Self::MAX_MTU).contains(&mtu),
            Self::ID,
            "mtu",
        )?;
        check(up <= 1, Self::ID, "link_up")?;
        check(duplex <= 2, Self::ID, "duplex")?;
        check(speed_bps <= 800_000_000_000, Self::ID, "speed_bps")?;
        Ok(Self {
            mtu,
            link_up: up == 1,
            duplex,
            speed_bps,
        })
    }
}

/// Block 3: IHV policy the host applies to the VF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyBlock {
    pub flags: u32,
    /// 0 = unlimited.
    pub max_tx_rate_mbps: u32,
    pub queue_pairs: u16,
}

impl PolicyBlock {
    pub const SPOOF_CHECK: u32 = 0x1;
    pub const TRUSTED: u32 = 0x2;
    pub const ALLOW_PROMISCUOUS: u32 = 0x4;
    pub const KNOWN_FLAGS: u32 = 0x7;
    pub const MAX_QUEUE_PAIRS: u16 = 64;
}

impl ConfigBlock for PolicyBlock {
    const ID: u8 = 3;
    const NAME: &'static str = "policy";
    const FORMAT: u8 = 1;
    const PAYLOAD_LEN: usize = 12;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.u32(self.flags)?;
        w.u32(self.max_tx_rate_mbps)?;
        w.u16(self.queue_pairs)?;
        w.u16(0)
    }

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let flags = r.u32()?;
        let max_tx_rate_mbps = r.u32()?;
        let queue_pairs = r.u16()?;
        r.reserved::<2>("reserved")?;
        check(flags & !Self::KNOWN_FLAGS == 0, Self::ID, "flags")?;
        check(
            (1..=Self::MAX_QUEUE_PAIRS).contains(&queue_pairs),
            Self::ID,
            "queue_pairs",
        )?;
        Ok(Self {
            flags,
            max_tx_rate_mbps,
            queue_pairs,
        })
    }
}

/// Block 4: written by the VF (`NdisMWriteConfigBlock`), read by the PF.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfStatusBlock {
    /// Highest PF generation the VF has applied as a consistent snapshot.
    pub applied_generation: u32,
    pub state: u8,
    pub invalidations: u32,
    pub blocks_read: u32,
    pub read_errors: u32,
    pub applied_mac: [u8; 6],
    /// [`view_digest`] of the view the VF applied: lets the host check, from this block
    /// alone, that the VF runs exactly a state the PF committed.
    pub applied_digest: u32,
}

impl VfStatusBlock {
    pub const STATE_INITIALIZING: u8 = 0;
    pub const STATE_RUNNING: u8 = 1;
    pub const STATE_PAUSED: u8 = 2;
    /// Came up on defaults because the backchannel failed.
    pub const STATE_DEGRADED: u8 = 3;
}

impl ConfigBlock for VfStatusBlock {
    const ID: u8 = 4;
    const NAME: &'static str = "vf-status";
    const FORMAT: u8 = 1;
    const PAYLOAD_LEN: usize = 32;
    const GUEST_WRITABLE: bool = true;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.u32(self.applied_generation)?;
        w.u8(self.state)?;
        w.bytes(&[0; 3])?;
        w.u32(self.invalidations)?;
        w.u32(self.blocks_read)?;
        w.u32(self.read_errors)?;
        w.bytes(&self.applied_mac)?;
        w.u16(0)?;
        w.u32(self.applied_digest)
    }

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let applied_generation = r.u32()?;
        let state = r.u8()?;
        r.reserved::<3>("reserved")?;
        let invalidations = r.u32()?;
        let blocks_read = r.u32()?;
        let read_errors = r.u32()?;
        let applied_mac = r.bytes()?;
        r.reserved::<2>("reserved2")?;
        let applied_digest = r.u32()?;
        check(state <= Self::STATE_DEGRADED, Self::ID, "state")?;
        Ok(Self {
            applied_generation,
            state,
            invalidations,
            blocks_read,
            read_errors,
            applied_mac,
            applied_digest,
        })
    }
}

/// Block 5: the commit block, rewritten by every PF transaction under the same lock that
/// serves reads. It names the state the PF is in: its generation, which blocks exist, and
/// the low byte of each one's write counter. A VF whose blocks carry exactly those counters
/// holds that state (docs/consistency.md gives the argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitBlock {
    /// Transactions the PF has committed for this VF (wraps; compared with serial
    /// arithmetic).
    pub generation: u32,
    /// Host blocks that exist for this VF, this one and block 0 included.
    pub present: BlockMask,
    /// Low byte of each present block's write counter (index = id); 0 for the others and
    /// for this block itself.
    pub counters: [u8; BLOCK_COUNT],
}

impl CommitBlock {
    /// The low byte of `id`'s write counter as listed here.
    pub fn counter(&self, id: BlockId) -> u8 {
        self.counters.get(id.index()).copied().unwrap_or(0)
    }
}

impl ConfigBlock for CommitBlock {
    const ID: u8 = 5;
    const NAME: &'static str = "commit";
    const FORMAT: u8 = 1;
    const PAYLOAD_LEN: usize = 12 + BLOCK_COUNT;

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.u32(self.generation)?;
        w.u64(self.present.bits())?;
        w.bytes(&self.counters)
    }

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let generation = r.u32()?;
        let present = BlockMask(r.u64()?);
        let counters: [u8; BLOCK_COUNT] = r.bytes()?;
        let required = BlockMask::of(VersionBlock::id()).with(Self::id());
        check(
            present.intersection(required) == required
                && present.intersection(GUEST_BLOCKS).is_empty(),
            Self::ID,
            "present",
        )?;
        let listed = counters
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0)
            .fold(BlockMask::EMPTY, |m, (i, _)| {
                m.with(BlockId::masked(i as u8))
            });
        check(
            listed.difference(present).is_empty() && !listed.contains(Self::id()),
            Self::ID,
            "counters",
        )?;
        Ok(Self {
            generation,
            present,
            counters,
        })
    }
}

/// A digest of a view: CRC-32 over each block's id and its own CRC (header bytes 16..20, which
/// cover every byte of that block), in id order. What the VF reports as its applied view
/// ([`VfStatusBlock::applied_digest`]) and what the host computes over a state it committed.
/// `blocks` yields (id, encoded bytes).
pub fn view_digest<'a>(blocks: impl Iterator<Item = (BlockId, &'a [u8])>) -> u32 {
    let crc = blocks.fold(!0u32, |crc, (id, bytes)| {
        let own = bytes.get(16..HEADER_LEN).unwrap_or(bytes);
        super::crc32::update(super::crc32::update(crc, &[id.get()]), own)
    });
    !crc
}

/// First id of the IHV extension range: right after the typed blocks (6..=63 today).
pub const FIRST_IHV_BLOCK: u8 = BASE_BLOCKS.len() as u8;
/// Opaque bytes an IHV extension block carries: the full payload less its length byte.
pub const IHV_DATA_LEN: usize = wire::MAX_PAYLOAD_LEN - 1;

/// Blocks 5..=63: IHV-defined data the PF hands to the VF as is (queue layouts, steering
/// rules, firmware knobs). Always full-size on the wire (127 bytes), so that reads never
/// depend on the content; `len` says how many of the data bytes are meaningful.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IhvBlock {
    len: u8,
    data: [u8; IHV_DATA_LEN],
}

impl IhvBlock {
    pub const FORMAT: u8 = 1;
    pub const ENCODED_LEN: usize = wire::MAX_BLOCK_LEN;

    pub const EMPTY: Self = Self {
        len: 0,
        data: [0; IHV_DATA_LEN],
    };

    /// What the schema says of an IHV extension block: every one has this shape.
    pub const fn descriptor(id: BlockId) -> BlockDescriptor {
        BlockDescriptor {
            id,
            name: "ihv",
            len: Self::ENCODED_LEN,
            format: Self::FORMAT,
            guest_writable: false,
        }
    }

    /// `None` when `bytes` is longer than a block can carry.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut data = [0u8; IHV_DATA_LEN];
        data.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self {
            len: bytes.len() as u8,
            data,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        self.data.get(..self.len as usize).unwrap_or(&[])
    }

    pub fn write_payload(&self, w: &mut Writer<'_>) -> Result<(), BlockError> {
        w.u8(self.len)?;
        w.bytes(&self.data)
    }

    fn read_payload(id: BlockId, r: &mut Reader<'_>) -> Result<Self, BlockError> {
        let len = r.u8()?;
        let data: [u8; IHV_DATA_LEN] = r.bytes()?;
        check(len as usize <= IHV_DATA_LEN, id.get(), "len")?;
        let tail = data.get(len as usize..).unwrap_or(&[]);
        check(tail.iter().all(|&b| b == 0), id.get(), "padding")?;
        Ok(Self { len, data })
    }

    pub fn encode(
        &self,
        id: BlockId,
        generation: u32,
        writes: u32,
        out: &mut [u8],
    ) -> Result<usize, BlockError> {
        if id.get() < FIRST_IHV_BLOCK {
            return Err(BlockError::WrongBlock {
                expected: FIRST_IHV_BLOCK,
                found: id.get(),
            });
        }
        let mut payload = [0u8; wire::MAX_PAYLOAD_LEN];
        self.write_payload(&mut Writer::new(&mut payload))?;
        wire::encode(
            &BlockHeader {
                format: Self::FORMAT,
                id,
                generation,
                writes,
            },
            &payload,
            out,
        )
    }

    pub fn decode(id: BlockId, buf: &[u8]) -> Result<(Self, BlockHeader), BlockError> {
        if id.get() < FIRST_IHV_BLOCK {
            return Err(BlockError::WrongBlock {
                expected: FIRST_IHV_BLOCK,
                found: id.get(),
            });
        }
        let (header, payload) = wire::decode(buf)?;
        if header.id != id {
            return Err(BlockError::WrongBlock {
                expected: id.get(),
                found: header.id.get(),
            });
        }
        if header.format != Self::FORMAT {
            return Err(BlockError::UnknownFormat {
                block: id.get(),
                format: header.format,
            });
        }
        if payload.len() != wire::MAX_PAYLOAD_LEN {
            return Err(BlockError::BadLength {
                expected: wire::MAX_PAYLOAD_LEN,
                found: payload.len(),
            });
        }
        Ok((
            Self::read_payload(id, &mut Reader::new(id.get(), payload))?,
            header,
        ))
    }
}

/// Every block id the schema defines: all 64.
pub const BLOCK_COUNT: usize = 64;

/// The schema's typed blocks, listed once. Everything that enumerates blocks by id (their
/// descriptors, validation by id, which are guest-written, which every VF starts with) is
/// generated from this list and the blocks' own constants; ids without a typed block are
/// IHV extension blocks. Adding a block: define its type with `ConfigBlock`, add it here.
macro_rules! typed_blocks {
    ($($block:ty),+ $(,)?) => {
        /// The descriptor of any id, without building a table (this runs on every
        /// backchannel OID).
        pub const fn descriptor_of(id: BlockId) -> BlockDescriptor {
            $(
                if id.get() == <$block>::ID {
                    return <$block as ConfigBlock>::DESCRIPTOR;
                }
            )+
            IhvBlock::descriptor(id)
        }

        /// Validates any defined block by id (envelope and payload), for code that holds raw
        /// bytes.
        pub fn validate(id: BlockId, buf: &[u8]) -> Result<BlockHeader, BlockError> {
            $(
                if id.get() == <$block>::ID {
                    return <$block>::decode(buf).map(|(_, h)| h);
                }
            )+
            IhvBlock::decode(id, buf).map(|(_, h)| h)
        }

        /// Blocks the VF writes.
        pub const GUEST_BLOCKS: BlockMask = BlockMask(
            0 $(| if <$block>::GUEST_WRITABLE { 1u64 << <$block>::ID } else { 0 })+
        );

        /// The typed blocks every VF has from the start.
        pub const BASE_BLOCKS: BlockMask = BlockMask(0 $(| 1u64 << <$block>::ID)+);
    };
}

typed_blocks!(
    VersionBlock,
    MacVlanBlock,
    LinkBlock,
    PolicyBlock,
    VfStatusBlock,
    CommitBlock
);

// The typed blocks are ids 0.. with no gap, so the IHV range starts right after them.
const _: () = assert!(BASE_BLOCKS.bits() == (1u64 << FIRST_IHV_BLOCK) - 1);

pub fn descriptors() -> [BlockDescriptor; BLOCK_COUNT] {
    core::array::from_fn(|i| descriptor_of(BlockId::masked(i as u8)))
}

/// Descriptor for a guest-supplied id; `None` for anything outside 0..=63.
pub fn descriptor(id: u32) -> Option<BlockDescriptor> {
    BlockId::new(id).map(descriptor_of)
}

/// Blocks the PF owns and the VF reads.
pub const HOST_BLOCKS: BlockMask = BlockMask(!GUEST_BLOCKS.bits());
pub const DEFINED_BLOCKS: BlockMask = BlockMask::ALL;
