//! Writes the seed corpus (fuzz/corpus/<target>/seed-*): valid blocks, valid requests, a
//! consistent view, each in the input format its target reads (fuzz_targets/*.rs).
//! `cargo run --example make_corpus` from fuzz/ (the fuzzer adds its own finds beside them).
use common::blocks::*;
use common::ffi::*;
use fuzz_support::{Seed, valid_blocks};
use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

fn block_codecs() {
    for (id, bytes) in valid_blocks() {
        let n = id.get();
        write(
            "block_codecs",
            &format!("valid-{n}"),
            &Seed::default().u8(0).u8(n).bytes(&bytes).0,
        );
        write(
            "block_codecs",
            &format!("every-id-{n}"),
            &Seed::default().u8(4).u8(n).bytes(&bytes).0,
        );
        write(
            "block_codecs",
            &format!("sealed-{n}"),
            &Seed::default().u8(1).u8(n).bytes(&bytes).0,
        );
    }
}

fn oid_parsers() {
    let params = |vf: u16, block: u32, len: u32, offset: u32| {
        let mut b = vec![0u8; 20];
        b[0] = NDIS_OBJECT_TYPE_DEFAULT;
        b[1] = 1;
        b[2..4].copy_from_slice(&20u16.to_le_bytes());
        b[4..6].copy_from_slice(&vf.to_le_bytes());
        b[8..12].copy_from_slice(&block.to_le_bytes());
        b[12..16].copy_from_slice(&len.to_le_bytes());
        b[16..20].copy_from_slice(&offset.to_le_bytes());
        b
    };
    // (selector, capacity, template, payload, grow to)
    let cases: Vec<(u8, u32, u8, Vec<u8>, u16)> = vec![
        (0, 56, 0x80, params(0, 2, 36, 20), 0),
        (0, 40, 0x80, params(0, 2, 36, 20), 0),
        (1, 0, 0x80, params(1, 4, 48, 20), 68),
        (2, 0, 1, vec![0; 16], 0),
        (3, 0, 2, vec![0; 6], 0),
        (4, 0, 3, vec![0; 10], 0),
        (5, 0, 4, vec![0; 16], 548),
        (6, 0, 5, vec![0; 16], 1632),
        (7, 1632, 5, vec![0; 16], 1632),
        (8, 0, 0x80, vec![1, 0, 0, 0, 9, 9], 0),
    ];
    for (i, (sel, cap, template, payload, grow)) in cases.into_iter().enumerate() {
        let mut s = Seed::default()
            .u8(sel)
            .u32(cap)
            .u8(template)
            .chunk(&payload)
            .u16(grow)
            .u8(0);
        if sel == 8 {
            // request(): type, input and output lengths, null flag, answer.
            s = s.u8(3).u16(6).u16(6).u8(1).chunk(&[7, 7, 7, 7]);
        }
        write("oid_parsers", &format!("{i}"), &s.0);
    }
}

fn vf_judge() {
    let blocks = valid_blocks();
    let commit = blocks
        .iter()
        .find(|(id, _)| id.get() == CommitBlock::ID)
        .unwrap()
        .1
        .clone();
    // The base blocks at the counters the commit block lists, then the commit block.
    let mut s = Seed::default().u8(1).u32(5);
    for (id, bytes) in &blocks {
        if id.get() < 4 {
            s = s.u8(0).u8(id.get()).u8(0).chunk(bytes);
        }
    }
    s = s.u8(0).u8(CommitBlock::ID).u8(0).chunk(&commit);
    write("vf_judge", "consistent", &s.0);
    // The same, one block missing, then settled, then no base.
    let mut s = Seed::default().u8(1).u32(5);
    for (id, bytes) in &blocks {
        if id.get() < 3 {
            s = s.u8(0).u8(id.get()).u8(0).chunk(bytes);
        }
    }
    s = s.u8(0).u8(CommitBlock::ID).u8(0).chunk(&commit).u8(6).u8(7);
    write("vf_judge", "missing-settled", &s.0);
    // A raw commit value far from the base.
    let s = Seed::default()
        .u8(1)
        .u32(1)
        .u8(5)
        .u32(1000)
        .u64(0b10_0011)
        .bytes(&[1, 2]);
    write("vf_judge", "stale", &s.0);
}

fn pf_backchannel() {
    // A read of every block of VF 0..2 (method, well-formed, small values).
    for (id, bytes) in valid_blocks() {
        for vf in 0..3u16 {
            let len = bytes.len() as u32;
            let s = Seed::default()
                .u8(2 << 1)
                .u8(3)
                .u16(vf)
                .u32(u32::from(id.get()))
                .u32(len)
                .u32(20)
                .u16(20)
                .u16(20 + len as u16);
            write("pf_backchannel", &format!("read-{vf}-{}", id.get()), &s.0);
        }
    }
    // A prefix read, and reads with the data area further in.
    let s = Seed::default()
        .u8(4)
        .u8(3)
        .u16(1)
        .u32(1)
        .u32(6)
        .u32(64)
        .u16(20)
        .u16(70);
    write("pf_backchannel", "read-prefix", &s.0);
    // A valid status block written (set and method).
    let status = valid_blocks()
        .into_iter()
        .find(|(id, _)| id.get() == VfStatusBlock::ID)
        .unwrap()
        .1;
    for (name, op) in [("write-set", 1 | (1 << 1)), ("write-method", 1 | (2 << 1))] {
        let s = Seed::default()
            .u8(op)
            .u8(7)
            .u16(1)
            .u32(4)
            .u32(48)
            .u32(20)
            .u16(68)
            .u16(68)
            .bytes(&status);
        write("pf_backchannel", name, &s.0);
    }
}

fn pf_switch_oids() {
    // Each valid payload as each request type (selectors as in the target's templates()).
    for selector in 0..30u8 {
        for kind in 0..3u8 {
            let s = Seed::default()
                .u8(selector)
                .u8(kind)
                .u8(1)
                .u16(0)
                .u8(0)
                .u16(0);
            write("pf_switch_oids", &format!("{selector}-{kind}"), &s.0);
        }
    }
    // Two in a row: a new VPort, then a filter on it.
    let s = Seed::default()
        .u8(0)
        .u8(1)
        .u8(1)
        .u16(0)
        .u8(0)
        .u16(0)
        .u8(10)
        .u8(1)
        .u8(1)
        .u16(0)
        .u8(0)
        .u16(0);
    write("pf_switch_oids", "vport-then-filter", &s.0);
}

fn main() {
    block_codecs();
    oid_parsers();
    vf_judge();
    pf_backchannel();
    pf_switch_oids();
}
