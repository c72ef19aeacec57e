//! The block codecs on arbitrary bytes: every id's validation, each typed decoder, the wire
//! envelope, the commit block and the IHV blocks. Contract: never a panic; whatever decodes
//! re-encodes to exactly the bytes it came from (the encoding is canonical, so the VF and the
//! PF agree on what a block says); an encoder writes exactly the length it returns and nothing
//! when its output is too short.
//!
//! Input: one mode byte, an id byte, then the block bytes. Mode bit 0 seals the bytes into a
//! valid envelope for the id first (so the fuzzer gets past the CRC to the payload decoders).
#![no_main]

use common::blocks::wire::{self, BlockHeader};
use common::blocks::*;
use fuzz_support::{Cursor, GUARD, GUARD_LEN, check_guard, sealed_block};
use libfuzzer_sys::fuzz_target;

/// Encodes with `encode` into a guarded buffer and checks: the written length, the guard, and
/// the bytes against `expected`. Then into a buffer one byte short: refused, untouched.
fn reencode(what: &str, expected: &[u8], encode: &dyn Fn(&mut [u8]) -> Result<usize, BlockError>) {
    let mut out = [GUARD; MAX_BLOCK_LEN + GUARD_LEN];
    let n = encode(&mut out[..MAX_BLOCK_LEN]).unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert_eq!(n, expected.len(), "{what}: encoded length");
    assert_eq!(&out[..n], expected, "{what}: not canonical");
    // Nothing written past `n`, inside the buffer or after it.
    check_guard(&out, n, what);
    let mut short = [GUARD; MAX_BLOCK_LEN + GUARD_LEN];
    assert!(encode(&mut short[..n - 1]).is_err(), "{what}: short buffer");
    check_guard(&short, 0, "a refused encode");
}

fn typed<B: ConfigBlock + PartialEq + core::fmt::Debug>(buf: &[u8], by_id: Option<BlockHeader>) {
    let decoded = B::decode(buf);
    // validate(id) is the typed decoder for typed ids.
    assert_eq!(
        decoded.as_ref().map(|(_, h)| *h).ok(),
        by_id,
        "validate vs {}",
        B::NAME
    );
    let Ok((value, header)) = decoded else { return };
    assert_eq!(buf.len(), B::ENCODED_LEN);
    assert_eq!(header.id, B::id());
    assert_eq!(header.format, B::FORMAT);
    reencode(B::NAME, buf, &|out| {
        value.encode(header.generation, header.writes, out)
    });
    // Decoding the re-encoding gives the same value.
    let mut again = [0u8; MAX_BLOCK_LEN];
    let n = value
        .encode(header.generation, header.writes, &mut again)
        .unwrap();
    assert_eq!(B::decode(&again[..n]).ok(), Some((value, header)));
}

fn check(id: BlockId, buf: &[u8]) {
    let by_id = validate(id, buf);
    if let Ok(h) = by_id {
        assert_eq!(h.id, id, "validate({}) accepted another id", id.get());
        assert_eq!(buf.len(), descriptor_of(id).len, "block {}", id.get());
        assert_eq!(h.format, descriptor_of(id).format, "block {}", id.get());
    }
    let by_id = by_id.ok();
    match id.get() {
        VersionBlock::ID => typed::<VersionBlock>(buf, by_id),
        MacVlanBlock::ID => typed::<MacVlanBlock>(buf, by_id),
        LinkBlock::ID => typed::<LinkBlock>(buf, by_id),
        PolicyBlock::ID => typed::<PolicyBlock>(buf, by_id),
        VfStatusBlock::ID => typed::<VfStatusBlock>(buf, by_id),
        CommitBlock::ID => {
            typed::<CommitBlock>(buf, by_id);
            if let Ok((c, _)) = CommitBlock::decode(buf) {
                // What the VF relies on: block 0 and this one present, no guest block listed,
                // and a counter only for a present block other than this one.
                assert!(c.present.contains(VersionBlock::id()));
                assert!(c.present.contains(CommitBlock::id()));
                assert!(c.present.intersection(GUEST_BLOCKS).is_empty());
                for i in 0..BLOCK_COUNT as u8 {
                    let b = BlockId::masked(i);
                    if c.counter(b) != 0 {
                        assert!(c.present.contains(b) && b != CommitBlock::id());
                    }
                }
            }
        }
        _ => {
            let decoded = IhvBlock::decode(id, buf);
            assert_eq!(
                decoded.as_ref().map(|(_, h)| *h).ok(),
                by_id,
                "validate vs ihv"
            );
            if let Ok((value, header)) = decoded {
                assert!(value.bytes().len() <= IHV_DATA_LEN);
                assert_eq!(IhvBlock::new(value.bytes()), Some(value));
                reencode("ihv", buf, &|out| {
                    value.encode(id, header.generation, header.writes, out)
                });
            }
        }
    }
    // An IHV decoder asked for a typed id refuses, whatever the bytes.
    if id.get() < FIRST_IHV_BLOCK {
        assert!(IhvBlock::decode(id, buf).is_err());
    }
}

fn envelope(buf: &[u8]) {
    let Ok((header, payload)) = wire::decode(buf) else {
        return;
    };
    assert!(buf.len() <= MAX_BLOCK_LEN && buf.len() >= HEADER_LEN);
    assert_eq!(payload, &buf[HEADER_LEN..]);
    reencode("envelope", buf, &|out| wire::encode(&header, payload, out));
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let id = BlockId::masked(c.u8() % BLOCK_COUNT as u8);
    let raw = c.rest();
    let buf = if mode & 1 == 1 {
        sealed_block(id, raw, mode & 2 == 2)
    } else {
        raw.to_vec()
    };
    envelope(&buf);
    if mode & 4 == 4 {
        // Every id on the same bytes: a block of one id is refused as every other.
        for i in 0..BLOCK_COUNT as u8 {
            check(BlockId::masked(i), &buf);
        }
    } else {
        check(id, &buf);
    }
    // Ids outside the schema: no descriptor.
    assert!(descriptor(u32::from(BlockId::MAX) + 1 + u32::from(mode)).is_none());
    // The digest of arbitrary (id, bytes) pairs never panics.
    let _ = view_digest(
        buf.chunks(23)
            .enumerate()
            .map(|(i, b)| (BlockId::masked(i as u8 % 64), b)),
    );
});
