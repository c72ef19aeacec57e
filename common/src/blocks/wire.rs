//! The envelope every config block travels in, PF to VF and back.
//!
//! ```text
//! off len field
//!   0   1 format      layout version of this block's payload
//!   1   1 block id    echoes the id, so a misrouted read is caught
//!   2   1 length      payload bytes that follow the header
//!   3   1 flags       reserved, must be 0
//!   4   4 generation  PF transaction that last wrote this block (little endian)
//!   8   4 writes      how many times the PF has written this block for this VF: the block's
//!                     write counter, whose low byte the commit block lists (docs/consistency.md)
//!  12   4 reserved    must be 0
//!  16   4 crc32       IEEE CRC over bytes 0..16 and the payload
//!  20   n payload
//! ```
//! A block is at most [`MAX_BLOCK_LEN`] = 127 bytes on the wire: the backchannel allows 128
//! (`VPCI_MAX_READ_WRITE_BLOCK_SIZE`) but the SAL on the host side says `< 128`
//! (`km/pcivirt.h`, `SRIOV_READ_BLOCK`), so we stay below both.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use super::crc32;
use super::mask::BlockId;

pub const HEADER_LEN: usize = 20;
pub const MAX_BLOCK_LEN: usize = 127;
pub const MAX_PAYLOAD_LEN: usize = MAX_BLOCK_LEN - HEADER_LEN;

/// Why a block was refused. Every decoder returns one of these, never panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// Fewer bytes than the header, or than the header says.
    Truncated {
        len: usize,
    },
    /// More bytes than a block may have, or than its format defines.
    TooLong {
        len: usize,
    },
    /// The payload length is not the one this block's format defines.
    BadLength {
        expected: usize,
        found: usize,
    },
    BadChecksum {
        expected: u32,
        found: u32,
    },
    WrongBlock {
        expected: u8,
        found: u8,
    },
    UnknownFormat {
        block: u8,
        format: u8,
    },
    /// A reserved field is not zero or a value is out of its range.
    BadValue {
        block: u8,
        field: &'static str,
    },
    /// Block id not defined by the schema.
    UnknownBlock {
        id: u32,
    },
}

/// What the envelope says about the block inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub format: u8,
    pub id: BlockId,
    pub generation: u32,
    /// The block's write counter (wraps; only compared through its low byte).
    pub writes: u32,
}

/// CRC over the first 16 header bytes (everything but the CRC itself) and the payload.
fn checksum(head: &[u8; HEADER_LEN], payload: &[u8]) -> u32 {
    let covered = head.first_chunk::<16>().map_or(&[][..], |c| &c[..]);
    !crc32::update(crc32::update(!0, covered), payload)
}

/// Writes header + payload into `out`; returns the encoded length.
pub fn encode(header: &BlockHeader, payload: &[u8], out: &mut [u8]) -> Result<usize, BlockError> {
    let total = HEADER_LEN + payload.len();
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(BlockError::TooLong { len: total });
    }
    let mut head = [0u8; HEADER_LEN];
    head[0] = header.format;
    head[1] = header.id.get();
    head[2] = payload.len() as u8;
    head[3] = 0;
    let [g0, g1, g2, g3] = header.generation.to_le_bytes();
    let [w0, w1, w2, w3] = header.writes.to_le_bytes();
    head[4] = g0;
    head[5] = g1;
    head[6] = g2;
    head[7] = g3;
    head[8] = w0;
    head[9] = w1;
    head[10] = w2;
    head[11] = w3;
    let [c0, c1, c2, c3] = checksum(&head, payload).to_le_bytes();
    head[16] = c0;
    head[17] = c1;
    head[18] = c2;
    head[19] = c3;
    let Some(dst) = out.get_mut(..total) else {
        return Err(BlockError::Truncated { len: out.len() });
    };
    let (dst_head, dst_body) = dst.split_at_mut(HEADER_LEN);
    dst_head.copy_from_slice(&head);
    dst_body.copy_from_slice(payload);
    Ok(total)
}

/// Checks the envelope of `buf` (exact length, checksum, reserved bits) and returns the
/// header and the payload.
pub fn decode(buf: &[u8]) -> Result<(BlockHeader, &[u8]), BlockError> {
    if buf.len() > MAX_BLOCK_LEN {
        return Err(BlockError::TooLong { len: buf.len() });
    }
    let (Some(head), Some(payload)) = (buf.get(..HEADER_LEN), buf.get(HEADER_LEN..)) else {
        return Err(BlockError::Truncated { len: buf.len() });
    };
    let head: [u8; HEADER_LEN] = head
        .try_into()
        .map_err(|_| BlockError::Truncated { len: buf.len() })?;
    let declared = head[2] as usize;
    if declared != payload.len() {
        return Err(BlockError::BadLength {
            expected: declared,
            found: payload.len(),
        });
    }
    let found = u32::from_le_bytes([head[16], head[17], head[18], head[19]]);
    let expected = checksum(&head, payload);
    if found != expected {
        return Err(BlockError::BadChecksum { expected, found });
    }
    let Some(id) = BlockId::new(head[1] as u32) else {
        return Err(BlockError::UnknownBlock { id: head[1] as u32 });
    };
    if head[3] != 0 {
        return Err(BlockError::BadValue {
            block: id.get(),
            field: "flags",
        });
    }
    if head[12..16] != [0; 4] {
        return Err(BlockError::BadValue {
            block: id.get(),
            field: "reserved",
        });
    }
    let header = BlockHeader {
        format: head[0],
        id,
        generation: u32::from_le_bytes([head[4], head[5], head[6], head[7]]),
        writes: u32::from_le_bytes([head[8], head[9], head[10], head[11]]),
    };
    Ok((header, payload))
}

/// Reads little-endian fields from a payload; running off the end is an error, not a panic.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    block: u8,
}

impl<'a> Reader<'a> {
    pub fn new(block: u8, buf: &'a [u8]) -> Self {
        Self { buf, pos: 0, block }
    }

    pub fn bytes<const N: usize>(&mut self) -> Result<[u8; N], BlockError> {
        let end = self.pos.checked_add(N).ok_or(BlockError::Truncated {
            len: self.buf.len(),
        })?;
        let src = self.buf.get(self.pos..end).ok_or(BlockError::Truncated {
            len: self.buf.len(),
        })?;
        let mut out = [0u8; N];
        out.copy_from_slice(src);
        self.pos = end;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, BlockError> {
        Ok(self.bytes::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, BlockError> {
        self.bytes().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, BlockError> {
        self.bytes().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, BlockError> {
        self.bytes().map(u64::from_le_bytes)
    }

    /// A reserved field: must read as zero.
    pub fn reserved<const N: usize>(&mut self, field: &'static str) -> Result<(), BlockError> {
        if self.bytes::<N>()? == [0u8; N] {
            Ok(())
        } else {
            Err(BlockError::BadValue {
                block: self.block,
                field,
            })
        }
    }
}

/// Writes little-endian fields into a payload buffer.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn bytes(&mut self, data: &[u8]) -> Result<(), BlockError> {
        let end = self.pos + data.len();
        let len = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(BlockError::TooLong { len: end.max(len) })?;
        dst.copy_from_slice(data);
        self.pos = end;
        Ok(())
    }

    pub fn u8(&mut self, v: u8) -> Result<(), BlockError> {
        self.bytes(&[v])
    }

    pub fn u16(&mut self, v: u16) -> Result<(), BlockError> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u32(&mut self, v: u32) -> Result<(), BlockError> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u64(&mut self, v: u64) -> Result<(), BlockError> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn written(&self) -> usize {
        self.pos
    }
}
