//! The PF's guest-facing OIDs fed hostile input. Each case checks the documented status
//! (OID_SRIOV_READ/WRITE_VF_CONFIG_BLOCK pages), `BytesNeeded` where NDIS expects it, and that
//! no block of any VF changed.
use common::blocks::wire;
use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use sim::payloads::{self, write_config_block_params};
use sim::{Config, OidOutcome, World};

const VFS: u16 = 3;

fn world() -> World {
    World::boot(Config::default(), VFS)
}

/// Every PF-side block of every VF, for before/after comparison.
fn all_blocks(w: &World) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for vf in 0..VFS {
        for d in descriptors() {
            let (b, n) = w.pf().vf_block(vf, d.id).expect("block present");
            out.push(b[..n].to_vec());
        }
    }
    out
}

/// Sends a raw request to the PF: `buf` as given, with explicit lengths.
fn raw(
    w: &World,
    kind: RequestKind,
    oid: NDIS_OID,
    buf: &mut [u8],
    input: u32,
    output: u32,
) -> OidOutcome {
    w.oid(w.pf_sim(), kind, oid, buf, input, output)
}

fn read(
    w: &World,
    vf: u16,
    block: u32,
    len: u32,
    offset: u32,
    buf_len: usize,
) -> (OidOutcome, Vec<u8>) {
    let mut buf = vec![0u8; buf_len.max(20)];
    write_config_block_params(&mut buf, vf, block, len, offset);
    let n = buf_len as u32;
    let o = raw(
        w,
        RequestKind::Method,
        OID_SRIOV_READ_VF_CONFIG_BLOCK,
        &mut buf,
        20.min(n),
        n,
    );
    (o, buf)
}

/// Runs `f` and asserts the returned status, and that nothing changed anywhere.
fn refused(w: &World, status: NDIS_STATUS, f: impl FnOnce(&World) -> OidOutcome) -> OidOutcome {
    let before = all_blocks(w);
    let gens: Vec<_> = (0..VFS).map(|v| w.pf().vf_generation(v)).collect();
    let logged = w.log().len();
    let o = f(w);
    let log = w.log();
    assert!(
        log[logged..]
            .iter()
            .any(|l| l.starts_with("[WARN] sriov-pf:") && l.contains("refused")),
        "the refusal was not logged for the debugger: {:?}",
        &log[logged..]
    );
    assert_eq!(
        sim::timeline::status_text(o.status),
        sim::timeline::status_text(status)
    );
    assert_eq!(all_blocks(w), before, "a refused request changed a block");
    assert_eq!(
        (0..VFS)
            .map(|v| w.pf().vf_generation(v))
            .collect::<Vec<_>>(),
        gens
    );
    w.assert_clean();
    o
}

const LINK_LEN: u32 = LinkBlock::ENCODED_LEN as u32;

#[test]
fn read_of_an_allocated_vf_returns_its_block() {
    let w = world();
    let (o, buf) = read(&w, 1, 2, LINK_LEN, 20, 20 + LINK_LEN as usize);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    assert_eq!(o.bytes_written, 20 + LINK_LEN);
    let (pf, n) = w.pf().vf_block(1, BlockId::new(2).unwrap()).unwrap();
    assert_eq!(&buf[20..], &pf[..n]);
}

#[test]
fn read_of_an_unallocated_vf_is_invalid_parameter() {
    let w = world();
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        read(w, VFS, 2, LINK_LEN, 20, 56).0
    });
}

#[test]
fn read_of_vf_id_beyond_the_table_is_invalid_parameter() {
    let w = world();
    for vf in [255, 256, 0x7FFF, NDIS_INVALID_VF_FUNCTION_ID] {
        refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
            read(w, vf, 2, LINK_LEN, 20, 56).0
        });
    }
}

#[test]
fn read_of_an_undefined_block_is_invalid_parameter() {
    let w = world();
    // 6 and 63: extension blocks this VF has not been given; the rest: outside 0..=63.
    for block in [6, 63, 64, 1000, u32::MAX] {
        refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
            read(w, 0, block, 16, 20, 36).0
        });
    }
}

#[test]
fn read_of_zero_length_is_invalid_parameter() {
    let w = world();
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        read(w, 0, 2, 0, 20, 56).0
    });
}

#[test]
fn read_longer_than_the_block_is_invalid_parameter() {
    let w = world();
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        read(w, 0, 2, LINK_LEN + 1, 20, 200).0
    });
}

#[test]
fn read_lengths_127_128_129_exceed_every_block() {
    let w = world();
    for len in [127, 128, 129] {
        refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
            read(w, 0, 1, len, 20, 20 + len as usize).0
        });
    }
}

#[test]
fn read_with_offset_past_the_buffer_is_invalid_length_with_bytes_needed() {
    let w = world();
    let o = refused(&w, NDIS_STATUS_INVALID_LENGTH, |w| {
        read(w, 0, 2, LINK_LEN, 100, 60).0
    });
    assert_eq!(o.bytes_needed, 100 + LINK_LEN);
}

#[test]
fn read_into_a_short_output_buffer_reports_bytes_needed() {
    let w = world();
    let o = refused(&w, NDIS_STATUS_INVALID_LENGTH, |w| {
        read(w, 0, 2, LINK_LEN, 20, 20 + LINK_LEN as usize - 1).0
    });
    assert_eq!(o.bytes_needed, 20 + LINK_LEN);
}

#[test]
fn read_with_a_truncated_header_is_invalid_length() {
    let w = world();
    for n in [0u32, 4, 19] {
        let o = refused(&w, NDIS_STATUS_INVALID_LENGTH, |w| {
            let mut buf = vec![0u8; 64];
            write_config_block_params(&mut buf, 0, 2, LINK_LEN, 20);
            raw(
                w,
                RequestKind::Method,
                OID_SRIOV_READ_VF_CONFIG_BLOCK,
                &mut buf,
                n,
                64,
            )
        });
        assert_eq!(o.bytes_needed, 20);
    }
}

#[test]
fn read_with_wrong_header_type_revision_or_size_is_invalid_parameter() {
    let w = world();
    for (i, value) in [(0usize, 0x81u8), (1, 0), (2, 12)] {
        refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
            let mut buf = vec![0u8; 64];
            write_config_block_params(&mut buf, 0, 2, LINK_LEN, 20);
            buf[i] = value;
            raw(
                w,
                RequestKind::Method,
                OID_SRIOV_READ_VF_CONFIG_BLOCK,
                &mut buf,
                20,
                64,
            )
        });
    }
}

#[test]
fn read_with_offset_inside_the_parameters_is_invalid_parameter() {
    let w = world();
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        read(w, 0, 2, 4, 8, 64).0
    });
}

#[test]
fn read_with_offset_plus_length_overflowing_is_invalid_parameter() {
    let w = world();
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        read(w, 0, 2, 16, u32::MAX - 4, 64).0
    });
}

#[test]
fn read_as_a_set_or_query_request_is_not_supported() {
    let w = world();
    for kind in [RequestKind::Set, RequestKind::Query] {
        refused(&w, NDIS_STATUS_NOT_SUPPORTED, |w| {
            let mut buf = vec![0u8; 64];
            write_config_block_params(&mut buf, 0, 2, LINK_LEN, 20);
            raw(w, kind, OID_SRIOV_READ_VF_CONFIG_BLOCK, &mut buf, 64, 64)
        });
    }
}

#[test]
fn read_of_a_prefix_is_allowed() {
    let w = world();
    let (o, buf) = read(&w, 0, 1, 6, 20, 26);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    let (pf, _) = w.pf().vf_block(0, BlockId::new(1).unwrap()).unwrap();
    assert_eq!(&buf[20..26], &pf[..6]);
}

fn write(w: &World, vf: u16, block: u32, data: &[u8], kind: RequestKind) -> OidOutcome {
    let mut buf = vec![0u8; 20 + data.len()];
    write_config_block_params(&mut buf, vf, block, data.len() as u32, 20);
    buf[20..].copy_from_slice(data);
    let n = buf.len() as u32;
    raw(w, kind, OID_SRIOV_WRITE_VF_CONFIG_BLOCK, &mut buf, n, n)
}

fn status_block(generation: u32) -> Vec<u8> {
    let mut b = vec![0u8; VfStatusBlock::ENCODED_LEN];
    VfStatusBlock {
        applied_generation: generation,
        state: 1,
        ..Default::default()
    }
    .encode(0, 0, &mut b)
    .unwrap();
    b
}

#[test]
fn write_of_the_status_block_is_stored() {
    let w = world();
    let o = write(&w, 2, 4, &status_block(77), RequestKind::Set);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf().vf_status(2).unwrap().applied_generation, 77);
    // Method requests are accepted too (the OID_SRIOV_WRITE_VF_CONFIG_BLOCK page says both).
    assert_eq!(
        write(&w, 2, 4, &status_block(78), RequestKind::Method).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(w.pf().vf_status(2).unwrap().applied_generation, 78);
}

#[test]
fn write_to_a_host_owned_block_is_invalid_parameter() {
    let w = world();
    let (mac, n) = w.pf().vf_block(0, BlockId::new(1).unwrap()).unwrap();
    let mut forged = mac[..n].to_vec();
    forged[20] ^= 0x02;
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        write(w, 0, 1, &forged, RequestKind::Set)
    });
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        write(w, 0, 0, &mac[..40], RequestKind::Set)
    });
}

#[test]
fn write_of_a_corrupt_status_block_is_invalid_data() {
    let w = world();
    let mut bad = status_block(5);
    bad[25] ^= 0xFF;
    refused(&w, NDIS_STATUS_INVALID_DATA, |w| {
        write(w, 1, 4, &bad, RequestKind::Set)
    });
    assert!(
        w.log().iter().any(|l| l.contains("bad contents")),
        "refusal logged for the debugger"
    );
    assert_eq!(
        w.pf().vf_counters(1).unwrap().2,
        1,
        "rejected write counted"
    );
}

#[test]
fn write_of_the_wrong_length_is_invalid_parameter() {
    let w = world();
    let good = status_block(5);
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        write(w, 0, 4, &good[..good.len() - 1], RequestKind::Set)
    });
    let mut longer = good.clone();
    longer.push(0);
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        write(w, 0, 4, &longer, RequestKind::Set)
    });
}

#[test]
fn write_for_an_unallocated_vf_is_invalid_parameter() {
    let w = world();
    refused(&w, NDIS_STATUS_INVALID_PARAMETER, |w| {
        write(w, VFS + 1, 4, &status_block(1), RequestKind::Set)
    });
}

#[test]
fn write_as_a_query_is_not_supported() {
    let w = world();
    refused(&w, NDIS_STATUS_NOT_SUPPORTED, |w| {
        write(w, 0, 4, &status_block(1), RequestKind::Query)
    });
}

#[test]
fn write_with_data_past_the_buffer_is_invalid_length() {
    let w = world();
    let o = refused(&w, NDIS_STATUS_INVALID_LENGTH, |w| {
        let data = status_block(1);
        let mut buf = vec![0u8; 20 + data.len()];
        write_config_block_params(&mut buf, 0, 4, data.len() as u32, 20);
        buf[20..].copy_from_slice(&data);
        let short = buf.len() as u32 - 1;
        raw(
            w,
            RequestKind::Set,
            OID_SRIOV_WRITE_VF_CONFIG_BLOCK,
            &mut buf,
            short,
            short,
        )
    });
    assert_eq!(o.bytes_needed, 20 + VfStatusBlock::ENCODED_LEN as u32);
}

#[test]
fn write_with_a_truncated_header_is_invalid_length() {
    let w = world();
    let o = refused(&w, NDIS_STATUS_INVALID_LENGTH, |w| {
        let mut buf = payloads::config_block_params(0, 0, 0, 0);
        buf.truncate(6);
        raw(
            w,
            RequestKind::Set,
            OID_SRIOV_WRITE_VF_CONFIG_BLOCK,
            &mut buf,
            6,
            6,
        )
    });
    assert_eq!(o.bytes_needed, 20);
}

#[test]
fn one_vf_cannot_reach_another_vfs_blocks() {
    let w = world();
    // Through the real guest path: each VF reads what the PF holds for it, and differs.
    let mac0 = w.vf(0).unwrap().snapshot().applied.mac;
    let mac1 = w.vf(1).unwrap().snapshot().applied.mac;
    assert_ne!(mac0, mac1);
    // A hostile status write from VF 0 leaves VF 1's status alone.
    let before = w.pf().vf_status(1);
    assert_eq!(
        write(&w, 0, 4, &status_block(999), RequestKind::Set).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(w.pf().vf_status(1), before);
    w.assert_clean();
}

#[test]
fn backchannel_before_the_switch_exists_is_not_supported() {
    let w = World::new(Config::default());
    w.load_pf().unwrap();
    let (o, _) = read(&w, 0, 2, LINK_LEN, 20, 56);
    assert_eq!(o.status, NDIS_STATUS_NOT_SUPPORTED);
    w.assert_clean();
}

#[test]
fn hostile_fuzz_never_changes_a_block() {
    let w = world();
    let before = all_blocks(&w);
    let mut rng = sim::rng::Rng::new(99);
    for _ in 0..3000 {
        let len = rng.below(160) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if len >= 4 && rng.chance(0.7) {
            buf[..4].copy_from_slice(&payloads::header_image(
                payloads::CONFIG_BLOCK_PARAMS_HEADER,
            ));
        }
        let input = rng.below(len as u64 + 8) as u32;
        let output = rng.below(len as u64 + 8) as u32;
        let (input, output) = (input.min(len as u32), output.min(len as u32));
        let oid = if rng.chance(0.5) {
            OID_SRIOV_READ_VF_CONFIG_BLOCK
        } else {
            OID_SRIOV_WRITE_VF_CONFIG_BLOCK
        };
        let kind =
            [RequestKind::Query, RequestKind::Set, RequestKind::Method][rng.below(3) as usize];
        let _ = raw(&w, kind, oid, &mut buf, input, output);
    }
    // Only the guest-writable status blocks may have changed, and only to valid contents.
    let after = all_blocks(&w);
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        let id = BlockId::new((i % BLOCK_COUNT) as u32).unwrap();
        if HOST_BLOCKS.contains(id) {
            assert_eq!(a, b, "host block {} changed", id.get());
        } else {
            assert!(validate(id, b).is_ok());
        }
    }
    w.assert_clean();
}

/// The format the PF stamps on each block it serves is the one the schema derives from the
/// block's type (`descriptor_of`), for the typed blocks and the IHV range alike.
#[test]
fn every_served_block_carries_its_types_format() {
    let w = world();
    w.pf()
        .set_ihv_block(0, BlockId::new(9).unwrap(), b"ihv")
        .unwrap();
    w.settle();
    for id in HOST_BLOCKS
        .intersection(BASE_BLOCKS)
        .with(BlockId::new(9).unwrap())
    {
        let block = w.pf_block_via_oid(0, id).unwrap();
        let (header, _) = wire::decode(&block).unwrap();
        assert_eq!(
            header.format,
            descriptor_of(id).format,
            "block {}",
            id.get()
        );
        assert_eq!(block.len(), descriptor_of(id).len, "block {}", id.get());
    }
    w.assert_clean();
}
