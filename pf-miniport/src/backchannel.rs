//! The guest-facing OIDs: `OID_SRIOV_READ_VF_CONFIG_BLOCK` and
//! `OID_SRIOV_WRITE_VF_CONFIG_BLOCK`. Everything in these requests (VF id, block id, length,
//! offset, bytes) is controlled by a guest VM: each value is checked before use, a refusal
//! carries the status its OID page documents and `BytesNeeded`, is logged, and changes
//! nothing. No allocation here: these run with the adapter spin lock held only for the copy.
// The crate denies panics; guest-supplied values here may not overflow either.
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::Adapter;
use common::blocks::*;
use common::ffi::*;
use common::ndis_log;
use common::oid::{ConfigBlockParams, OidError, OidRequest, RequestKind};

/// The block descriptor and a length within it, or INVALID_PARAMETER.
fn checked_block(p: &ConfigBlockParams, exact: bool) -> Result<BlockDescriptor, OidError> {
    let d = descriptor(p.block_id).ok_or(OidError::invalid_parameter(
        "BlockId is not a defined block",
    ))?;
    let len = p.length as usize;
    if len > d.len || (exact && len != d.len) {
        return Err(OidError::invalid_parameter("Length does not fit the block"));
    }
    Ok(d)
}

/// `OID_SRIOV_READ_VF_CONFIG_BLOCK` (method): copies `Length` bytes of the block to
/// `BufferOffset` in the information buffer.
#[inline(never)] // a breakpoint target in docs/windbg.md
pub fn read_config_block(adapter: &Adapter, req: &mut OidRequest<'_>) -> NDIS_STATUS {
    const WHAT: &str = "READ_VF_CONFIG_BLOCK";
    if req.kind() != RequestKind::Method {
        return req.refuse(
            LOG,
            WHAT,
            OidError::status(NDIS_STATUS_NOT_SUPPORTED, "not a method request"),
        );
    }
    let capacity = req.capacity();
    let params = match ConfigBlockParams::parse(req.input(), capacity) {
        Ok(p) => p,
        Err(e) => return req.refuse(LOG, WHAT, e),
    };
    let desc = match checked_block(&params, false) {
        Ok(d) => d,
        Err(e) => return req.refuse(LOG, WHAT, e),
    };
    // Straight from the store into NDIS's (nonpaged) buffer, under the store's lock.
    let range = params.data_range();
    let end = range.end as u32;
    let copied = match req.buffer().get_mut(range) {
        Some(dst) => adapter
            .inner
            .lock()
            .ready_vf_mut(params.vf_id)
            .and_then(|vf| vf.read_for_guest(desc.id, dst)),
        None => Err(OidError::invalid_length(end, "data area past the buffer")),
    };
    if let Err(e) = copied {
        return req.refuse(LOG, WHAT, e);
    }
    req.set_bytes_read(ConfigBlockParams::STRUCT_LEN as u32);
    req.set_bytes_written(end);
    NDIS_STATUS_SUCCESS
}

/// `OID_SRIOV_WRITE_VF_CONFIG_BLOCK` (set; method accepted too: its page says both): stores a
/// guest-writable block after validating its envelope and contents.
#[inline(never)] // a breakpoint target in docs/windbg.md
pub fn write_config_block(adapter: &Adapter, req: &mut OidRequest<'_>) -> NDIS_STATUS {
    const WHAT: &str = "WRITE_VF_CONFIG_BLOCK";
    if req.kind() == RequestKind::Query {
        return req.refuse(
            LOG,
            WHAT,
            OidError::status(NDIS_STATUS_NOT_SUPPORTED, "query of a set OID"),
        );
    }
    let input = req.input();
    let params = match ConfigBlockParams::parse(input, input.len()) {
        Ok(p) => p,
        Err(e) => return req.refuse(LOG, WHAT, e),
    };
    let desc = match checked_block(&params, true) {
        Ok(d) if d.guest_writable => d,
        Ok(_) => {
            return req.refuse(
                LOG,
                WHAT,
                OidError::invalid_parameter("block is not writable by the VF"),
            );
        }
        Err(e) => return req.refuse(LOG, WHAT, e),
    };
    // `checked_block(.., exact)` made the data area exactly the block's length; the copy
    // is sized by the source so it cannot mismatch either way.
    let mut local = [0u8; MAX_BLOCK_LEN];
    let src = req.input().get(params.data_range());
    let (Some(src), Some(dst)) = (src, src.and_then(|s| local.get_mut(..s.len()))) else {
        return req.refuse(
            LOG,
            WHAT,
            OidError::invalid_length(params.data_range().end as u32, "data area past the buffer"),
        );
    };
    dst.copy_from_slice(src);
    let data = &*dst;
    if let Err(e) = validate(desc.id, data) {
        ndis_log!(
            WARN,
            LOG,
            "{} VF {} block {}: bad contents {:?}",
            WHAT,
            params.vf_id,
            desc.id.get(),
            e
        );
        if let Ok(vf) = adapter.inner.lock().ready_vf_mut(params.vf_id) {
            vf.count_rejected();
        }
        return req.refuse(
            LOG,
            WHAT,
            OidError::status(NDIS_STATUS_INVALID_DATA, "block contents invalid"),
        );
    }
    let stored = adapter
        .inner
        .lock()
        .ready_vf_mut(params.vf_id)
        .and_then(|vf| vf.write_from_guest(desc.id, data));
    if let Err(e) = stored {
        return req.refuse(LOG, WHAT, e);
    }
    req.set_bytes_read(params.data_range().end as u32);
    NDIS_STATUS_SUCCESS
}
