//! Safe access to an `NDIS_OID_REQUEST` and validation of the config-block OID payloads.
//!
//! NDIS does not validate OID-specific contents (DDI `nc-ndis-miniport_oid_request`), and for
//! the backchannel OIDs those contents come from a guest VM. All parsing here works on byte
//! slices with explicit bounds checks and returns an [`OidError`] carrying the documented
//! status and, where NDIS expects it, `BytesNeeded`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use crate::blocks::BlockMask;
use crate::ffi::*;

/// A refused request: the status to complete it with, `BytesNeeded` (0 when not applicable)
/// and a reason for the debugger log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidError {
    pub status: NDIS_STATUS,
    pub bytes_needed: u32,
    pub reason: &'static str,
}

impl OidError {
    /// The debugger line of a refusal (WARN, under the driver's prefix): what
    /// [`OidRequest::refuse`] writes, and what a request finished later (pended) writes.
    pub fn log(&self, log: &str, what: &str) {
        crate::ndis_log!(
            WARN,
            log,
            "{} refused: {} (status {:#010x}, BytesNeeded {})",
            what,
            self.reason,
            self.status,
            self.bytes_needed
        );
    }

    pub const fn invalid_parameter(reason: &'static str) -> Self {
        Self {
            status: NDIS_STATUS_INVALID_PARAMETER,
            bytes_needed: 0,
            reason,
        }
    }

    pub const fn invalid_length(bytes_needed: u32, reason: &'static str) -> Self {
        Self {
            status: NDIS_STATUS_INVALID_LENGTH,
            bytes_needed,
            reason,
        }
    }

    pub const fn status(status: NDIS_STATUS, reason: &'static str) -> Self {
        Self {
            status,
            bytes_needed: 0,
            reason,
        }
    }
}

/// Little-endian field at `at`; 0 when out of bounds (callers check lengths first).
fn le<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(le(b, at))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(le(b, at))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(le(b, at))
}

/// Checks an `NDIS_OBJECT_HEADER` at the start of `input`: type, revision at least `min_rev`,
/// size at least `min_size`, and the buffer holding `min_size` bytes.
pub fn check_header(
    input: &[u8],
    ty: u8,
    min_rev: u8,
    min_size: u16,
) -> Result<NDIS_OBJECT_HEADER, OidError> {
    if input.len() < min_size as usize {
        return Err(OidError::invalid_length(
            min_size as u32,
            "information buffer shorter than the structure",
        ));
    }
    let [type_byte, revision, ..] = le::<4>(input, 0);
    let header = NDIS_OBJECT_HEADER {
        Type: type_byte,
        Revision: revision,
        Size: le16(input, core::mem::offset_of!(NDIS_OBJECT_HEADER, Size)),
    };
    if header.Type != ty {
        return Err(OidError::invalid_parameter("Header.Type"));
    }
    if header.Revision < min_rev {
        return Err(OidError::invalid_parameter("Header.Revision"));
    }
    if header.Size < min_size {
        return Err(OidError::invalid_parameter("Header.Size"));
    }
    Ok(header)
}

/// The validated parameters of an `OID_SRIOV_READ_VF_CONFIG_BLOCK` or
/// `OID_SRIOV_WRITE_VF_CONFIG_BLOCK` (`ntddndis.h`). Block and VF checks belong to the
/// PF, which knows what is allocated and defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigBlockParams {
    pub vf_id: u16,
    pub block_id: u32,
    pub length: u32,
    pub buffer_offset: u32,
}

impl ConfigBlockParams {
    pub const STRUCT_LEN: u16 = NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1;

    /// Parses the parameters at the start of `input` and checks that the data area
    /// `BufferOffset .. BufferOffset + Length` lies after them and inside `capacity` bytes.
    pub fn parse(input: &[u8], capacity: usize) -> Result<Self, OidError> {
        check_header(
            input,
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1,
            Self::STRUCT_LEN,
        )?;
        type P = NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS;
        let p = Self {
            vf_id: le16(input, core::mem::offset_of!(P, VFId)),
            block_id: le32(input, core::mem::offset_of!(P, BlockId)),
            length: le32(input, core::mem::offset_of!(P, Length)),
            buffer_offset: le32(input, core::mem::offset_of!(P, BufferOffset)),
        };
        if p.length == 0 {
            return Err(OidError::invalid_parameter("Length is 0"));
        }
        if p.buffer_offset < Self::STRUCT_LEN as u32 {
            return Err(OidError::invalid_parameter(
                "BufferOffset overlaps the parameters",
            ));
        }
        let Some(end) = p.buffer_offset.checked_add(p.length) else {
            return Err(OidError::invalid_parameter(
                "BufferOffset + Length overflows",
            ));
        };
        if end as usize > capacity {
            return Err(OidError::invalid_length(
                end,
                "BufferOffset + Length past the information buffer",
            ));
        }
        Ok(p)
    }

    /// The data area, already proven in bounds by [`parse`](Self::parse).
    pub fn data_range(&self) -> core::ops::Range<usize> {
        self.buffer_offset as usize..self.buffer_offset as usize + self.length as usize
    }
}

/// Parses `NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO` (`ntddndis.h`; the
/// "OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK" page).
pub fn parse_invalidate_info(input: &[u8]) -> Result<BlockMask, OidError> {
    check_header(
        input,
        NDIS_OBJECT_TYPE_DEFAULT,
        NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1,
        NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1,
    )?;
    Ok(BlockMask(le64(
        input,
        core::mem::offset_of!(NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO, BlockMask),
    )))
}

/// Parses the VFId of `NDIS_SRIOV_RESET_VF_PARAMETERS` (`ntddndis.h`).
pub fn parse_reset_vf(input: &[u8]) -> Result<u16, OidError> {
    check_header(
        input,
        NDIS_OBJECT_TYPE_DEFAULT,
        NDIS_SRIOV_RESET_VF_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1,
    )?;
    Ok(le16(
        input,
        core::mem::offset_of!(NDIS_SRIOV_RESET_VF_PARAMETERS, VFId),
    ))
}

/// Parses the VFId of `NDIS_NIC_SWITCH_FREE_VF_PARAMETERS` (`ntddndis.h`: Header.Size 10).
pub fn parse_free_vf(input: &[u8]) -> Result<u16, OidError> {
    check_header(
        input,
        NDIS_OBJECT_TYPE_DEFAULT,
        NDIS_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1,
    )?;
    Ok(le16(
        input,
        core::mem::offset_of!(NDIS_NIC_SWITCH_FREE_VF_PARAMETERS, VFId),
    ))
}

/// Parses `NumVFs` and `SwitchId` of `NDIS_NIC_SWITCH_PARAMETERS` (`ntddndis.h`).
pub fn parse_create_switch(input: &[u8]) -> Result<(u32, u32), OidError> {
    check_header(
        input,
        NDIS_OBJECT_TYPE_DEFAULT,
        NDIS_NIC_SWITCH_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1,
    )?;
    type P = NDIS_NIC_SWITCH_PARAMETERS;
    Ok((
        le32(input, core::mem::offset_of!(P, SwitchId)),
        le32(input, core::mem::offset_of!(P, NumVFs)),
    ))
}

/// What `OID_NIC_SWITCH_ALLOCATE_VF` asks for, read in place from its
/// `NDIS_NIC_SWITCH_VF_PARAMETERS` (`ntddndis.h`) rather than copied: the structure is 0x660 bytes,
/// too much for a kernel stack frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocateVf {
    pub switch_id: u32,
    /// `CurrentMacAddress` when `MacAddressLength` is 6, else `None`.
    pub mac: Option<[u8; 6]>,
}

type VfParams = NDIS_NIC_SWITCH_VF_PARAMETERS;

pub fn parse_allocate_vf(input: &[u8]) -> Result<AllocateVf, OidError> {
    check_header(
        input,
        NDIS_OBJECT_TYPE_DEFAULT,
        NDIS_NIC_SWITCH_VF_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1,
    )?;
    let mac_len = le16(input, core::mem::offset_of!(VfParams, MacAddressLength));
    Ok(AllocateVf {
        switch_id: le32(input, core::mem::offset_of!(VfParams, SwitchId)),
        mac: (mac_len == 6).then(|| le(input, core::mem::offset_of!(VfParams, CurrentMacAddress))),
    })
}

/// Fills in the answer of `OID_NIC_SWITCH_ALLOCATE_VF` (VFId, RequestorId) in the request's
/// own `NDIS_NIC_SWITCH_VF_PARAMETERS`; false, with `buf` untouched, when it cannot hold them.
pub fn answer_allocate_vf(buf: &mut [u8], vf_id: u16, requestor_id: u32) -> bool {
    if buf.len() < core::mem::size_of::<VfParams>() {
        return false;
    }
    put(
        buf,
        core::mem::offset_of!(VfParams, VFId),
        &vf_id.to_le_bytes(),
    ) && put(
        buf,
        core::mem::offset_of!(VfParams, RequestorId),
        &requestor_id.to_le_bytes(),
    )
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> bool {
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

/// Which of the three request shapes (`NDIS_OID_REQUEST.DATA`, `oidrequest.h`) a request uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Query,
    Set,
    Method,
}

/// A borrowed `NDIS_OID_REQUEST` with its information buffer as a slice.
pub struct OidRequest<'a> {
    req: &'a mut NDIS_OID_REQUEST,
    kind: RequestKind,
}

impl<'a> OidRequest<'a> {
    /// `None` for a null pointer or a request type a miniport does not handle.
    ///
    /// # Safety
    /// `req` is null or points to a request NDIS handed to the miniport and that stays valid,
    /// with its information buffer, until the request is completed.
    pub unsafe fn from_raw(req: *mut NDIS_OID_REQUEST) -> Option<Self> {
        // SAFETY: the caller guarantees `req` is null or valid and exclusively ours.
        let req = unsafe { req.as_mut() }?;
        let kind = match req.RequestType {
            NdisRequestQueryInformation | NdisRequestQueryStatistics => RequestKind::Query,
            NdisRequestSetInformation => RequestKind::Set,
            NdisRequestMethod => RequestKind::Method,
            _ => return None,
        };
        Some(Self { req, kind })
    }

    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    pub fn oid(&self) -> NDIS_OID {
        // SAFETY: `Oid` is the first field of all three union variants (`oidrequest.h`).
        unsafe { self.req.DATA.QUERY_INFORMATION.Oid }
    }

    pub fn raw(&mut self) -> *mut NDIS_OID_REQUEST {
        self.req
    }

    /// (input bytes NDIS gave, bytes the buffer can hold for output).
    fn lengths(&self) -> (usize, usize) {
        // SAFETY: each arm reads the variant that `kind` (from RequestType) says is active.
        unsafe {
            match self.kind {
                RequestKind::Query => (
                    0,
                    self.req.DATA.QUERY_INFORMATION.InformationBufferLength as usize,
                ),
                RequestKind::Set => {
                    let n = self.req.DATA.SET_INFORMATION.InformationBufferLength as usize;
                    (n, n)
                }
                RequestKind::Method => (
                    self.req.DATA.METHOD_INFORMATION.InputBufferLength as usize,
                    self.req.DATA.METHOD_INFORMATION.OutputBufferLength as usize,
                ),
            }
        }
    }

    /// Bytes the request's buffer can hold for output.
    pub fn capacity(&self) -> usize {
        self.lengths().1
    }

    /// The whole information buffer (`max(input, output)` bytes); empty when it is null.
    pub fn buffer(&mut self) -> &mut [u8] {
        let (input, output) = self.lengths();
        let len = input.max(output);
        // SAFETY: the buffer pointer sits at the same offset in all variants (`oidrequest.h`).
        let ptr = unsafe { self.req.DATA.QUERY_INFORMATION.InformationBuffer } as *mut u8;
        if ptr.is_null() || len == 0 {
            return &mut [];
        }
        // SAFETY: NDIS guarantees InformationBuffer is valid for the lengths it gives, for as
        // long as the request is outstanding (the caller of `from_raw` vouched for that).
        unsafe { core::slice::from_raw_parts_mut(ptr, len) }
    }

    /// The input bytes (Set and Method).
    pub fn input(&mut self) -> &[u8] {
        let (input, _) = self.lengths();
        let buf = self.buffer();
        let n = input.min(buf.len());
        buf.get(..n).unwrap_or(&[])
    }

    pub fn set_bytes_needed(&mut self, n: u32) {
        // Writing a Copy union field is safe; this picks the active variant's field.
        {
            match self.kind {
                RequestKind::Query => self.req.DATA.QUERY_INFORMATION.BytesNeeded = n,
                RequestKind::Set => self.req.DATA.SET_INFORMATION.BytesNeeded = n,
                RequestKind::Method => self.req.DATA.METHOD_INFORMATION.BytesNeeded = n,
            }
        }
    }

    pub fn bytes_needed(&self) -> u32 {
        // SAFETY: reads the field of the variant that is active for this request type.
        unsafe {
            match self.kind {
                RequestKind::Query => self.req.DATA.QUERY_INFORMATION.BytesNeeded,
                RequestKind::Set => self.req.DATA.SET_INFORMATION.BytesNeeded,
                RequestKind::Method => self.req.DATA.METHOD_INFORMATION.BytesNeeded,
            }
        }
    }

    /// Records bytes consumed (Set/Method `BytesRead`).
    pub fn set_bytes_read(&mut self, n: u32) {
        // Writing a Copy union field is safe; this picks the active variant's field.
        {
            match self.kind {
                RequestKind::Query => {}
                RequestKind::Set => self.req.DATA.SET_INFORMATION.BytesRead = n,
                RequestKind::Method => self.req.DATA.METHOD_INFORMATION.BytesRead = n,
            }
        }
    }

    /// Records bytes produced (Query/Method `BytesWritten`).
    pub fn set_bytes_written(&mut self, n: u32) {
        // Writing a Copy union field is safe; this picks the active variant's field.
        {
            match self.kind {
                RequestKind::Query => self.req.DATA.QUERY_INFORMATION.BytesWritten = n,
                RequestKind::Set => {}
                RequestKind::Method => self.req.DATA.METHOD_INFORMATION.BytesWritten = n,
            }
        }
    }

    /// Answers a query with `value`, or `BUFFER_TOO_SHORT` and `BytesNeeded`.
    pub fn answer(&mut self, value: &[u8]) -> NDIS_STATUS {
        let capacity = self.capacity();
        let n = value.len() as u32;
        let buf = self.buffer();
        match buf.get_mut(..value.len()) {
            Some(dst) if value.len() <= capacity => {
                dst.copy_from_slice(value);
                self.set_bytes_written(n);
                NDIS_STATUS_SUCCESS
            }
            _ => {
                self.set_bytes_needed(n);
                NDIS_STATUS_BUFFER_TOO_SHORT
            }
        }
    }

    /// Answers a query with a plain `u32`.
    pub fn answer_u32(&mut self, v: u32) -> NDIS_STATUS {
        self.answer(&v.to_le_bytes())
    }

    /// Answers a query with a plain `u64`.
    pub fn answer_u64(&mut self, v: u64) -> NDIS_STATUS {
        self.answer(&v.to_le_bytes())
    }

    /// Reads a `u32` set value, or `INVALID_LENGTH` with `BytesNeeded = 4`.
    pub fn set_u32(&mut self) -> Result<u32, OidError> {
        let input = self.input();
        if input.len() < 4 {
            return Err(OidError::invalid_length(
                4,
                "set value shorter than a ULONG",
            ));
        }
        let v = le32(input, 0);
        self.set_bytes_read(4);
        Ok(v)
    }

    /// Logs a refusal for the debugger (WARN, under the driver's prefix) and applies it.
    pub fn refuse(&mut self, log: &str, what: &str, e: OidError) -> NDIS_STATUS {
        e.log(log, what);
        self.fail(e)
    }

    /// Applies a refusal: `BytesNeeded` when the error has one, and the status.
    pub fn fail(&mut self, e: OidError) -> NDIS_STATUS {
        if e.bytes_needed != 0 {
            self.set_bytes_needed(e.bytes_needed);
        }
        e.status
    }
}
