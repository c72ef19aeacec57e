//! Parsing of the config-block OID payloads, fed hostile input: every refusal carries the
//! status the OID pages document and, for a short buffer, `BytesNeeded`.
use common::ffi::*;
use common::oid::*;

fn params(ty: u8, rev: u8, size: u16, vf: u16, block: u32, len: u32, offset: u32) -> Vec<u8> {
    let mut b = vec![0u8; 20];
    b[0] = ty;
    b[1] = rev;
    b[2..4].copy_from_slice(&size.to_le_bytes());
    b[4..6].copy_from_slice(&vf.to_le_bytes());
    b[8..12].copy_from_slice(&block.to_le_bytes());
    b[12..16].copy_from_slice(&len.to_le_bytes());
    b[16..20].copy_from_slice(&offset.to_le_bytes());
    b
}

fn good() -> Vec<u8> {
    params(0x80, 1, 20, 3, 2, 36, 20)
}

#[test]
fn valid_parameters_parse() {
    let p = ConfigBlockParams::parse(&good(), 56).unwrap();
    assert_eq!(
        p,
        ConfigBlockParams {
            vf_id: 3,
            block_id: 2,
            length: 36,
            buffer_offset: 20
        }
    );
    assert_eq!(p.data_range(), 20..56);
}

#[test]
fn truncated_header_is_invalid_length_with_bytes_needed() {
    for n in 0..20 {
        let e = ConfigBlockParams::parse(&good()[..n], 56).unwrap_err();
        assert_eq!(
            (e.status, e.bytes_needed),
            (NDIS_STATUS_INVALID_LENGTH, 20),
            "{n} bytes"
        );
    }
}

#[test]
fn wrong_header_type_revision_size_are_invalid_parameter() {
    for bad in [
        params(0x81, 1, 20, 0, 0, 1, 20),
        params(0x80, 0, 20, 0, 0, 1, 20),
        params(0x80, 1, 19, 0, 0, 1, 20),
    ] {
        let e = ConfigBlockParams::parse(&bad, 64).unwrap_err();
        assert_eq!(e.status, NDIS_STATUS_INVALID_PARAMETER, "{}", e.reason);
    }
}

#[test]
fn newer_revision_with_larger_size_is_accepted() {
    assert!(ConfigBlockParams::parse(&params(0x80, 2, 24, 0, 0, 1, 20), 64).is_ok());
}

#[test]
fn zero_length_is_invalid_parameter() {
    let e = ConfigBlockParams::parse(&params(0x80, 1, 20, 0, 0, 0, 20), 64).unwrap_err();
    assert_eq!(e.status, NDIS_STATUS_INVALID_PARAMETER);
}

#[test]
fn offset_inside_the_parameters_is_invalid_parameter() {
    for off in [0, 4, 19] {
        let e = ConfigBlockParams::parse(&params(0x80, 1, 20, 0, 0, 4, off), 64).unwrap_err();
        assert_eq!(e.status, NDIS_STATUS_INVALID_PARAMETER, "offset {off}");
    }
}

#[test]
fn offset_plus_length_overflow_is_invalid_parameter() {
    let e =
        ConfigBlockParams::parse(&params(0x80, 1, 20, 0, 0, u32::MAX, 20), usize::MAX).unwrap_err();
    assert_eq!(e.status, NDIS_STATUS_INVALID_PARAMETER);
    let e = ConfigBlockParams::parse(&params(0x80, 1, 20, 0, 0, 16, u32::MAX - 8), usize::MAX)
        .unwrap_err();
    assert_eq!(e.status, NDIS_STATUS_INVALID_PARAMETER);
}

#[test]
fn data_past_the_buffer_is_invalid_length_with_bytes_needed() {
    let e = ConfigBlockParams::parse(&params(0x80, 1, 20, 0, 0, 36, 24), 50).unwrap_err();
    assert_eq!((e.status, e.bytes_needed), (NDIS_STATUS_INVALID_LENGTH, 60));
    let e = ConfigBlockParams::parse(&params(0x80, 1, 20, 0, 0, 1, 1 << 30), 64).unwrap_err();
    assert_eq!(
        (e.status, e.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, (1 << 30) + 1)
    );
}

#[test]
fn invalidate_info_parses_and_refuses() {
    let mut b = vec![0u8; 16];
    b[0] = 0x80;
    b[1] = 1;
    b[2..4].copy_from_slice(&16u16.to_le_bytes());
    b[8..16].copy_from_slice(&0x8000_0000_0000_0005u64.to_le_bytes());
    assert_eq!(
        parse_invalidate_info(&b).unwrap().bits(),
        0x8000_0000_0000_0005
    );
    for n in 0..16 {
        let e = parse_invalidate_info(&b[..n]).unwrap_err();
        assert_eq!((e.status, e.bytes_needed), (NDIS_STATUS_INVALID_LENGTH, 16));
    }
    let mut t = b.clone();
    t[0] = 0x96;
    assert_eq!(
        parse_invalidate_info(&t).unwrap_err().status,
        NDIS_STATUS_INVALID_PARAMETER
    );
    let mut r = b.clone();
    r[1] = 0;
    assert_eq!(
        parse_invalidate_info(&r).unwrap_err().status,
        NDIS_STATUS_INVALID_PARAMETER
    );
    let mut s = b;
    s[2..4].copy_from_slice(&8u16.to_le_bytes());
    assert_eq!(
        parse_invalidate_info(&s).unwrap_err().status,
        NDIS_STATUS_INVALID_PARAMETER
    );
}

#[test]
fn reset_and_free_vf_parameters() {
    let mut r = vec![0x80, 1, 6, 0, 7, 0];
    assert_eq!(parse_reset_vf(&r).unwrap(), 7);
    assert_eq!(parse_reset_vf(&r[..5]).unwrap_err().bytes_needed, 6);
    r[1] = 0;
    assert!(parse_reset_vf(&r).is_err());
    let mut f = vec![0u8; 12];
    f[0] = 0x80;
    f[1] = 1;
    f[2] = 10;
    f[8] = 9;
    assert_eq!(parse_free_vf(&f).unwrap(), 9);
    assert_eq!(
        parse_free_vf(&f[..9]).unwrap_err().status,
        NDIS_STATUS_INVALID_LENGTH
    );
}

#[test]
fn request_wrapper_answers_and_reports_bytes_needed() {
    let mut buf = [0u8; 2];
    let mut req = NDIS_OID_REQUEST {
        RequestType: NdisRequestQueryInformation,
        ..Default::default()
    };
    req.DATA.QUERY_INFORMATION = NDIS_OID_QUERY_INFORMATION {
        Oid: OID_GEN_LINK_SPEED,
        InformationBuffer: buf.as_mut_ptr().cast(),
        InformationBufferLength: 2,
        BytesWritten: 0,
        BytesNeeded: 0,
    };
    {
        // SAFETY: a live request whose buffer outlives the wrapper.
        let mut r = unsafe { OidRequest::from_raw(&mut req) }.unwrap();
        assert_eq!(r.kind(), RequestKind::Query);
        assert_eq!(r.oid(), OID_GEN_LINK_SPEED);
        assert_eq!(r.answer_u32(5), NDIS_STATUS_BUFFER_TOO_SHORT);
        assert_eq!(r.bytes_needed(), 4);
    }
    assert_eq!(buf, [0, 0], "nothing written on refusal");
}

#[test]
fn request_wrapper_refuses_unknown_types_and_null() {
    // SAFETY: null is allowed by the contract.
    assert!(unsafe { OidRequest::from_raw(std::ptr::null_mut()) }.is_none());
    let mut req = NDIS_OID_REQUEST {
        RequestType: 7,
        ..Default::default()
    };
    // SAFETY: a live request.
    assert!(unsafe { OidRequest::from_raw(&mut req) }.is_none());
}

#[test]
fn null_information_buffer_reads_as_empty() {
    let mut req = NDIS_OID_REQUEST {
        RequestType: NdisRequestSetInformation,
        ..Default::default()
    };
    req.DATA.SET_INFORMATION = NDIS_OID_SET_INFORMATION {
        Oid: OID_GEN_CURRENT_PACKET_FILTER,
        InformationBuffer: std::ptr::null_mut(),
        InformationBufferLength: 64,
        BytesRead: 0,
        BytesNeeded: 0,
    };
    // SAFETY: a live request; its null buffer must never be dereferenced.
    let mut r = unsafe { OidRequest::from_raw(&mut req) }.unwrap();
    assert!(r.buffer().is_empty());
    assert_eq!(r.set_u32().unwrap_err().bytes_needed, 4);
}

#[test]
fn adapter_state_machine_allows_only_ndis_transitions() {
    use common::state::{AdapterEvent as E, AdapterState as S};
    assert_eq!(S::Initializing.next(E::InitializeDone), Some(S::Paused));
    assert_eq!(S::Paused.next(E::Restart), Some(S::Restarting));
    assert_eq!(S::Restarting.next(E::RestartDone), Some(S::Running));
    assert_eq!(S::Running.next(E::Pause), Some(S::Pausing));
    assert_eq!(S::Pausing.next(E::PauseDone), Some(S::Paused));
    assert_eq!(S::Paused.next(E::Halt), Some(S::Halted));
    assert_eq!(
        S::Running.next(E::Halt),
        None,
        "NDIS halts only a paused adapter"
    );
    assert_eq!(S::Running.next(E::Restart), None);
    assert_eq!(S::Halted.next(E::Restart), None);
    assert_eq!(S::Initializing.next(E::Pause), None);
    assert!(
        !S::Initializing.accepts_oids() && !S::Halted.accepts_oids() && S::Paused.accepts_oids()
    );
    assert!(S::Running.accepts_sends() && !S::Paused.accepts_sends());
}

fn vf_params(rev: u8, size: u16, switch_id: u32, mac_len: u16, mac: [u8; 6]) -> Vec<u8> {
    let mut b = vec![0u8; 0x660];
    b[0] = NDIS_OBJECT_TYPE_DEFAULT;
    b[1] = rev;
    b[2..4].copy_from_slice(&size.to_le_bytes());
    b[8..12].copy_from_slice(&switch_id.to_le_bytes()); // SwitchId (`ntddndis.h`)
    b[1560..1562].copy_from_slice(&mac_len.to_le_bytes()); // MacAddressLength
    b[1594..1600].copy_from_slice(&mac); // CurrentMacAddress
    b
}

#[test]
fn allocate_vf_parameters_are_read_in_place() {
    let mac = [2, 0x15, 0x5d, 1, 2, 3];
    let p = parse_allocate_vf(&vf_params(1, 0x660, 0, 6, mac)).unwrap();
    assert_eq!(
        p,
        AllocateVf {
            switch_id: 0,
            mac: Some(mac)
        }
    );
    let p = parse_allocate_vf(&vf_params(1, 0x660, 7, 0, mac)).unwrap();
    assert_eq!(
        p,
        AllocateVf {
            switch_id: 7,
            mac: None
        },
        "MacAddressLength 0: no MAC asked for"
    );
}

#[test]
fn allocate_vf_parameters_refuse_bad_headers_and_short_buffers() {
    let mac = [2, 0, 0, 0, 0, 1];
    let e = parse_allocate_vf(&vf_params(0, 0x660, 0, 6, mac)).unwrap_err();
    assert_eq!(e.status, NDIS_STATUS_INVALID_PARAMETER, "revision 0");
    let e = parse_allocate_vf(&vf_params(1, 0x65F, 0, 6, mac)).unwrap_err();
    assert_eq!(
        e.status, NDIS_STATUS_INVALID_PARAMETER,
        "Header.Size one short"
    );
    let full = vf_params(1, 0x660, 0, 6, mac);
    let e = parse_allocate_vf(&full[..0x65F]).unwrap_err();
    assert_eq!(e.status, NDIS_STATUS_INVALID_LENGTH);
    assert_eq!(e.bytes_needed, 0x660);
}

#[test]
fn allocate_vf_answer_fills_vfid_and_rid_only() {
    let mut b = vf_params(1, 0x660, 0, 6, [2, 0, 0, 0, 0, 1]);
    let before = b.clone();
    assert!(answer_allocate_vf(&mut b, 0x1234, 0x0001_0208));
    assert_eq!(&b[0x65A..0x65C], &0x1234u16.to_le_bytes(), "VFId at 0x65A");
    assert_eq!(
        &b[0x65C..0x660],
        &0x0001_0208u32.to_le_bytes(),
        "RequestorId at 0x65C"
    );
    assert_eq!(&b[..0x65A], &before[..0x65A], "nothing else changes");
    let mut short = vec![0u8; 0x65F];
    assert!(!answer_allocate_vf(&mut short, 1, 1));
    assert!(
        short.iter().all(|&b| b == 0),
        "a refused answer writes nothing"
    );
}
