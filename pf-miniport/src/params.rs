//! Byte-level access to the OID payloads of the VPort, receive-filter and PCI OIDs.
//!
//! Every payload here is read in place from the information buffer with bounds-checked
//! little-endian loads (a field out of bounds reads as 0; callers check lengths first through
//! [`check_header`]), so that no structure is copied into a kernel stack frame and no
//! guest- or host-supplied offset can index out of bounds.
#![deny(clippy::arithmetic_side_effects)]

use common::ffi::*;
use common::oid::{self, OidError, OidRequest, RequestKind};

pub(crate) fn le<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(le(b, at))
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(le(b, at))
}

pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(le(b, at))
}

/// Writes `bytes` at `at`; false (and nothing written) when they do not fit.
pub(crate) fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> bool {
    match at
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(at..end))
    {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// `NDIS_OBJECT_HEADER` at the start of `input`: type `NDIS_OBJECT_TYPE_DEFAULT`, revision at
/// least `rev`, `Header.Size` at least `size`, and `size` bytes present (`INVALID_LENGTH`
/// with `BytesNeeded = size` otherwise).
pub(crate) fn check_header(input: &[u8], rev: u8, size: u16) -> Result<(), OidError> {
    oid::check_header(input, NDIS_OBJECT_TYPE_DEFAULT, rev, size).map(|_| ())
}

/// The request must be of `kind`; the OID pages give each OID one request type.
pub(crate) fn require_kind(req: &OidRequest<'_>, kind: RequestKind) -> Result<(), OidError> {
    if req.kind() == kind {
        Ok(())
    } else {
        Err(OidError::status(
            NDIS_STATUS_NOT_SUPPORTED,
            "request type differs from the OID's page",
        ))
    }
}

/// A method request answers in its own buffer: the output must hold `size` bytes too.
pub(crate) fn require_output(req: &OidRequest<'_>, size: u32) -> Result<(), OidError> {
    if req.capacity() < size as usize {
        Err(OidError::invalid_length(size, "output buffer too short"))
    } else {
        Ok(())
    }
}

/// An `NDIS_IF_COUNTED_STRING` (`USHORT Length` in bytes, `WCHAR String[257]`) at `at`:
/// an even length of at most 256 characters (`IF_MAX_STRING_SIZE`, mingw-w64 `ifdef.h`).
pub(crate) fn counted_string_ok(input: &[u8], at: usize) -> bool {
    let len = le16(input, at);
    len.is_multiple_of(2) && len <= 512
}

/// A MAC address a VPort filter may carry: not zero, not multicast or broadcast.
pub(crate) fn unicast_mac(mac: &[u8; 6]) -> bool {
    *mac != [0; 6] && mac[0] & 1 == 0
}
