//! Every parser of `common::oid` on arbitrary input, and the safe request wrapper
//! (`OidRequest`) over a raw `NDIS_OID_REQUEST` with arbitrary type and lengths. Contract: never
//! a panic; an accepted payload is what its bytes say and lies inside the buffer; a refusal
//! carries INVALID_LENGTH (with the BytesNeeded that would do) or INVALID_PARAMETER; nothing is
//! written outside the declared lengths, and a refused answer writes nothing.
//!
//! Input: a selector byte, a u32 capacity (the output length), a header template byte, then
//! the payload.
#![no_main]

use common::ffi::*;
use common::oid::*;
use fuzz_support::{Cursor, GUARD, check_guard, guarded};
use libfuzzer_sys::fuzz_target;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A refusal of `input` against a structure of `min_size` bytes.
fn refused(e: OidError, input: &[u8], min_size: u16) {
    match e.status {
        NDIS_STATUS_INVALID_LENGTH => assert!(
            e.bytes_needed as usize > input.len() || e.bytes_needed >= u32::from(min_size),
            "{e:?} for {} bytes",
            input.len()
        ),
        NDIS_STATUS_INVALID_PARAMETER => assert_eq!(e.bytes_needed, 0, "{e:?}"),
        _ => panic!("unexpected refusal {e:?}"),
    }
    assert!(!e.reason.is_empty());
}

/// The header check every parser starts with; returns whether it passed.
fn header(input: &[u8], ty: u8, rev: u8, size: u16) -> bool {
    match check_header(input, ty, rev, size) {
        Ok(h) => {
            assert!(input.len() >= size as usize);
            assert_eq!(
                (h.Type, h.Revision, h.Size),
                (input[0], input[1], le16(input, 2))
            );
            assert!(h.Type == ty && h.Revision >= rev && h.Size >= size);
            true
        }
        Err(e) => {
            refused(e, input, size);
            if input.len() < size as usize {
                assert_eq!(e.status, NDIS_STATUS_INVALID_LENGTH);
                assert_eq!(e.bytes_needed, u32::from(size));
            }
            false
        }
    }
}

fn config_block(input: &[u8], capacity: usize) {
    let size = ConfigBlockParams::STRUCT_LEN;
    let ok_header = header(input, NDIS_OBJECT_TYPE_DEFAULT, 1, size);
    match ConfigBlockParams::parse(input, capacity) {
        Ok(p) => {
            assert!(ok_header);
            assert_eq!(p.vf_id, le16(input, 4));
            assert_eq!(p.block_id, le32(input, 8));
            assert_eq!(p.length, le32(input, 12));
            assert_eq!(p.buffer_offset, le32(input, 16));
            let r = p.data_range();
            assert!(r.start >= size as usize, "data overlaps the parameters");
            assert!(
                r.end > r.start && r.end <= capacity,
                "{r:?} past {capacity}"
            );
            assert_eq!(r.len(), p.length as usize);
        }
        Err(e) => {
            refused(e, input, size);
            if e.status == NDIS_STATUS_INVALID_LENGTH && ok_header {
                // Past the buffer: BytesNeeded is the end of the data area.
                let end = u64::from(le32(input, 16)) + u64::from(le32(input, 12));
                assert_eq!(u64::from(e.bytes_needed), end);
                assert!(end as usize > capacity);
            }
        }
    }
}

/// A simple parser: header check, then fields read at fixed offsets.
fn simple<T: PartialEq + core::fmt::Debug>(
    input: &[u8],
    rev: u8,
    size: u16,
    parse: fn(&[u8]) -> Result<T, OidError>,
    expect: impl Fn(&[u8]) -> T,
) {
    let ok = header(input, NDIS_OBJECT_TYPE_DEFAULT, rev, size);
    match parse(input) {
        Ok(v) => {
            assert!(ok);
            assert_eq!(v, expect(input));
        }
        Err(e) => {
            assert!(!ok);
            refused(e, input, size);
        }
    }
}

fn allocate_vf(input: &[u8]) {
    let size = NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1;
    let ok = header(input, NDIS_OBJECT_TYPE_DEFAULT, 1, size);
    match parse_allocate_vf(input) {
        Ok(a) => {
            assert!(ok);
            type P = NDIS_NIC_SWITCH_VF_PARAMETERS;
            let at = core::mem::offset_of!(P, SwitchId);
            assert_eq!(a.switch_id, le32(input, at));
            let len_at = core::mem::offset_of!(P, MacAddressLength);
            let mac_at = core::mem::offset_of!(P, CurrentMacAddress);
            match a.mac {
                Some(mac) => {
                    assert_eq!(le16(input, len_at), 6);
                    assert_eq!(&mac[..], &input[mac_at..mac_at + 6]);
                }
                None => assert_ne!(le16(input, len_at), 6),
            }
        }
        Err(e) => {
            assert!(!ok);
            refused(e, input, size);
        }
    }
}

/// The answer of ALLOCATE_VF written into a buffer of `len` bytes: only VFId and RequestorId
/// change, or nothing when it cannot hold them.
fn answer_allocate(contents: &[u8], len: usize, vf: u16, requestor: u32) {
    let len = len.min(contents.len());
    let mut buf = guarded(&contents[..len]);
    let ok = answer_allocate_vf(&mut buf[..len], vf, requestor);
    check_guard(&buf, len, "answer_allocate_vf");
    type P = NDIS_NIC_SWITCH_VF_PARAMETERS;
    if !ok {
        assert!(len < core::mem::size_of::<P>());
        assert_eq!(&buf[..len], &contents[..len], "a refused answer wrote");
        return;
    }
    let vf_at = core::mem::offset_of!(P, VFId);
    let rq_at = core::mem::offset_of!(P, RequestorId);
    assert_eq!(le16(&buf, vf_at), vf);
    assert_eq!(le32(&buf, rq_at), requestor);
    for (i, (a, b)) in buf[..len].iter().zip(&contents[..len]).enumerate() {
        let answered = (vf_at..vf_at + 2).contains(&i) || (rq_at..rq_at + 4).contains(&i);
        assert!(answered || a == b, "byte {i} changed");
    }
}

/// `OidRequest` over a raw request: the views it gives stay inside the declared lengths, an
/// answer writes at most the capacity, a too-short answer writes nothing.
fn request(c: &mut Cursor<'_>, payload: &[u8]) {
    // Includes types the wrapper must refuse.
    let ty: NDIS_REQUEST_TYPE = [0, 1, 2, 12, 3, 7][c.u8() as usize % 6];
    let input_len = (c.u16() as usize).min(payload.len());
    let output_len = (c.u16() as usize).min(payload.len());
    let null = c.u8() & 0x7 == 0;
    let answer = c.chunk().to_vec();
    // What the request says the buffer holds.
    let declared = match ty {
        NdisRequestSetInformation => input_len,
        NdisRequestMethod => input_len.max(output_len),
        _ => output_len,
    };
    let mut buf = guarded(&payload[..declared]);
    let ptr = if null {
        core::ptr::null_mut()
    } else {
        buf.as_mut_ptr().cast()
    };
    let mut req = NDIS_OID_REQUEST {
        RequestType: ty,
        ..Default::default()
    };
    match ty {
        NdisRequestSetInformation => {
            req.DATA.SET_INFORMATION = NDIS_OID_SET_INFORMATION {
                Oid: 0,
                InformationBuffer: ptr,
                InformationBufferLength: input_len as u32,
                BytesRead: 0,
                BytesNeeded: 0,
            }
        }
        NdisRequestMethod => {
            req.DATA.METHOD_INFORMATION = NDIS_OID_METHOD_INFORMATION {
                Oid: 0,
                InformationBuffer: ptr,
                InputBufferLength: input_len as u32,
                OutputBufferLength: output_len as u32,
                MethodId: 0,
                BytesWritten: 0,
                BytesRead: 0,
                BytesNeeded: 0,
            }
        }
        _ => {
            req.DATA.QUERY_INFORMATION = NDIS_OID_QUERY_INFORMATION {
                Oid: 0,
                InformationBuffer: ptr,
                InformationBufferLength: output_len as u32,
                BytesWritten: 0,
                BytesNeeded: 0,
            }
        }
    }
    // SAFETY: `req` is a valid request whose buffer (when not null) holds the declared
    // lengths, both alive until the end of this function.
    let Some(mut r) = (unsafe { OidRequest::from_raw(&mut req) }) else {
        assert!(!matches!(
            ty,
            NdisRequestQueryInformation
                | NdisRequestSetInformation
                | NdisRequestMethod
                | NdisRequestQueryStatistics
        ));
        return;
    };
    let capacity = match r.kind() {
        RequestKind::Query | RequestKind::Method => output_len,
        RequestKind::Set => input_len,
    };
    assert_eq!(r.capacity(), capacity);
    let whole = r.buffer().len();
    assert_eq!(whole, if null { 0 } else { declared });
    let input = r.input().to_vec();
    assert!(input.len() <= whole);
    assert_eq!(&input[..], &payload[..input.len()]);
    match r.set_u32() {
        Ok(v) => assert_eq!(v, le32(&input, 0)),
        Err(e) => {
            assert!(input.len() < 4);
            assert_eq!((e.status, e.bytes_needed), (NDIS_STATUS_INVALID_LENGTH, 4));
        }
    }
    let status = r.answer(&answer);
    let needed = r.bytes_needed();
    check_guard(&buf, declared, "OidRequest::answer");
    if status == NDIS_STATUS_SUCCESS {
        assert!(answer.len() <= capacity && !null || answer.is_empty());
        assert_eq!(&buf[..answer.len()], &answer[..]);
        assert_eq!(
            &buf[answer.len()..declared],
            &payload[answer.len()..declared]
        );
    } else {
        assert_eq!(status, NDIS_STATUS_BUFFER_TOO_SHORT);
        assert_eq!(needed as usize, answer.len());
        assert_eq!(
            &buf[..declared],
            &payload[..declared],
            "a refused answer wrote"
        );
    }
    assert!(buf[declared..].iter().all(|&b| b == GUARD));
}

/// Header templates, so that most inputs get past the type/revision/size check.
const TEMPLATES: [(u8, u16); 7] = [
    (
        1,
        NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1,
    ),
    (
        1,
        NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1,
    ),
    (1, NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1),
    (1, NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1),
    (1, NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1),
    (1, NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1),
    (1, 0),
];

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let selector = c.u8();
    let capacity = c.u32() as usize;
    let template = c.u8();
    let mut payload = c.chunk().to_vec();
    // Large structures (ALLOCATE_VF is 1632 bytes) grow by a repeated filler.
    let grow = c.u16() as usize % 2048;
    let filler = c.u8();
    payload.resize(payload.len().max(grow), filler);
    if template & 0x80 == 0 && payload.len() >= 4 {
        let (rev, size) = TEMPLATES[template as usize % TEMPLATES.len()];
        payload[0] = NDIS_OBJECT_TYPE_DEFAULT;
        payload[1] = rev;
        payload[2..4].copy_from_slice(&size.to_le_bytes());
    }
    let p = &payload[..];
    match selector % 9 {
        0 => config_block(p, capacity),
        1 => config_block(p, p.len()),
        2 => simple(
            p,
            1,
            NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1,
            parse_invalidate_info,
            |b| common::blocks::BlockMask(u64::from_le_bytes(b[8..16].try_into().unwrap())),
        ),
        3 => simple(
            p,
            1,
            NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1,
            parse_reset_vf,
            |b| le16(b, 4),
        ),
        4 => simple(
            p,
            1,
            NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1,
            parse_free_vf,
            |b| le16(b, 8),
        ),
        5 => simple(
            p,
            1,
            NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1,
            parse_create_switch,
            |b| (le32(b, 12), le32(b, 532)),
        ),
        6 => allocate_vf(p),
        7 => answer_allocate(p, capacity, c.u16(), c.u32()),
        _ => request(&mut c, p),
    }
    // Any header check on the same bytes, with arbitrary expectations (a structure always
    // holds its 4-byte header).
    let _ = header(p, selector, template, ((capacity & 0xFFFF) as u16).max(4));
});
