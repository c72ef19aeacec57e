//! The blocks module: mask semantics, the envelope and every block codec, fed good and bad
//! input. Every refusal must be an error value, never a panic.
use common::blocks::wire::{self, MAX_PAYLOAD_LEN};
use common::blocks::*;

fn id(n: u32) -> BlockId {
    BlockId::new(n).unwrap()
}

// ---- BlockId / BlockMask ---------------------------------------------------------------

#[test]
fn block_id_covers_exactly_0_to_63() {
    assert!(BlockId::new(0).is_some());
    assert!(BlockId::new(63).is_some());
    assert!(BlockId::new(64).is_none());
    assert!(BlockId::new(u32::MAX).is_none());
    assert_eq!(id(63).bit(), 1u64 << 63);
}

#[test]
fn mask_set_operations() {
    let a = BlockMask::of(id(1)).with(id(3));
    let b = BlockMask::of(id(3)).with(id(63));
    assert_eq!(a.union(b).bits(), (1 << 1) | (1 << 3) | (1 << 63));
    assert_eq!(a.intersection(b).bits(), 1 << 3);
    assert_eq!(a.difference(b).bits(), 1 << 1);
    assert_eq!((a | b).bits(), a.union(b).bits());
    assert_eq!((a & b).bits(), a.intersection(b).bits());
    assert!(a.contains(id(1)) && !a.contains(id(2)));
    assert_eq!(a.without(id(1)).bits(), 1 << 3);
    assert!(BlockMask::EMPTY.is_empty());
    assert_eq!(BlockMask::ALL.len(), 64);
}

#[test]
fn mask_or_is_idempotent_and_commutative_like_the_vstack_cache() {
    let mut cache = BlockMask::EMPTY;
    for m in [0b101u64, 0b011, 0b101, 0] {
        cache |= BlockMask(m);
    }
    assert_eq!(cache.bits(), 0b111);
    assert_eq!(
        (BlockMask(0b1) | BlockMask(0b10)),
        (BlockMask(0b10) | BlockMask(0b1))
    );
}

#[test]
fn mask_iterates_set_bits_lowest_first() {
    let m = BlockMask((1 << 0) | (1 << 5) | (1 << 63));
    let ids: Vec<u8> = m.iter().map(|i| i.get()).collect();
    assert_eq!(ids, vec![0, 5, 63]);
    assert_eq!(m.iter().len(), 3);
    assert_eq!(BlockMask::EMPTY.iter().count(), 0);
    assert_eq!(BlockMask::ALL.iter().count(), 64);
    let back: BlockMask = m.iter().collect();
    assert_eq!(back, m);
}

// ---- envelope ---------------------------------------------------------------------------

fn sample(payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    let header = BlockHeader {
        format: 1,
        id: id(7),
        generation: 42,
        writes: 0x0102_0380,
    };
    let mut out = vec![0u8; MAX_BLOCK_LEN];
    let n = wire::encode(&header, &payload, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn envelope_round_trips() {
    let bytes = sample(10);
    let (h, p) = wire::decode(&bytes).unwrap();
    assert_eq!(
        (h.format, h.id.get(), h.generation, h.writes),
        (1, 7, 42, 0x0102_0380)
    );
    assert_eq!(p, &(0..10).map(|i| i as u8).collect::<Vec<_>>()[..]);
}

#[test]
fn envelope_lengths_0_127_128_129() {
    // 0 bytes: not even a header.
    assert!(matches!(
        wire::decode(&[]),
        Err(BlockError::Truncated { len: 0 })
    ));
    // 127 bytes: the largest block (header + 107-byte payload) round-trips.
    let full = sample(MAX_PAYLOAD_LEN);
    assert_eq!(full.len(), 127);
    assert!(wire::decode(&full).is_ok());
    // 128 and 129 bytes: over our maximum, refused before anything is read.
    assert!(matches!(
        wire::decode(&[0u8; 128]),
        Err(BlockError::TooLong { len: 128 })
    ));
    assert!(matches!(
        wire::decode(&[0u8; 129]),
        Err(BlockError::TooLong { len: 129 })
    ));
    // And the encoder refuses a payload that would make a 128-byte block.
    let header = BlockHeader {
        format: 1,
        id: id(0),
        generation: 0,
        writes: 0,
    };
    let mut out = [0u8; 200];
    assert!(matches!(
        wire::encode(&header, &[0u8; MAX_PAYLOAD_LEN + 1], &mut out),
        Err(BlockError::TooLong { .. })
    ));
}

#[test]
fn envelope_detects_every_single_bit_flip() {
    let good = sample(16);
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            assert!(
                wire::decode(&bad).is_err(),
                "flip of bit {bit} in byte {byte} accepted"
            );
        }
    }
}

#[test]
fn envelope_rejects_truncation_and_trailing_bytes() {
    let good = sample(16);
    for cut in 0..good.len() {
        assert!(
            wire::decode(&good[..cut]).is_err(),
            "truncated to {cut} accepted"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(
        wire::decode(&longer),
        Err(BlockError::BadLength { .. })
    ));
}

#[test]
fn envelope_rejects_reserved_flags_even_with_a_valid_crc() {
    let mut bytes = sample(4);
    bytes[3] = 1;
    let crc = {
        let mut covered = bytes[..16].to_vec();
        covered.extend_from_slice(&bytes[20..]);
        common::blocks::crc32::crc32(&covered)
    };
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        wire::decode(&bytes),
        Err(BlockError::BadValue { field: "flags", .. })
    ));
}

#[test]
fn crc32_known_answer() {
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(common::blocks::crc32::crc32(b"123456789"), 0xCBF4_3926);
}

// ---- schema codecs ----------------------------------------------------------------------

fn encode<B: ConfigBlock>(b: &B) -> Vec<u8> {
    let mut out = vec![0u8; MAX_BLOCK_LEN];
    let n = b.encode(3, 4, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Re-encodes `bytes` with a fresh CRC after `edit` changed the payload, so that only the
/// value checks can refuse it.
fn with_valid_crc(mut bytes: Vec<u8>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    edit(&mut bytes[wire::HEADER_LEN..]);
    let mut covered = bytes[..16].to_vec();
    covered.extend_from_slice(&bytes[wire::HEADER_LEN..]);
    let crc = common::blocks::crc32::crc32(&covered);
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn every_block_round_trips_and_fits_the_backchannel() {
    let v = VersionBlock {
        major: 2,
        minor: 0,
        vf_id: 9,
        features: 0,
        defined: DEFINED_BLOCKS,
    };
    assert_eq!(VersionBlock::decode(&encode(&v)).unwrap().0, v);
    let m = MacVlanBlock {
        mac: [2, 0, 0, 0, 0, 1],
        vlan_id: 4094,
        priority: 7,
    };
    assert_eq!(MacVlanBlock::decode(&encode(&m)).unwrap().0, m);
    let l = LinkBlock {
        mtu: 9000,
        link_up: true,
        duplex: 2,
        speed_bps: 100_000_000_000,
    };
    assert_eq!(LinkBlock::decode(&encode(&l)).unwrap().0, l);
    let p = PolicyBlock {
        flags: PolicyBlock::TRUSTED,
        max_tx_rate_mbps: 10,
        queue_pairs: 64,
    };
    assert_eq!(PolicyBlock::decode(&encode(&p)).unwrap().0, p);
    let s = VfStatusBlock {
        applied_generation: 5,
        state: 1,
        invalidations: 2,
        blocks_read: 9,
        read_errors: 0,
        applied_mac: [2; 6],
        applied_digest: 0xDEAD_BEEF,
    };
    assert_eq!(VfStatusBlock::decode(&encode(&s)).unwrap().0, s);
    for d in descriptors() {
        assert!(
            d.len <= MAX_BLOCK_LEN && d.len < VPCI_MAX as usize,
            "{} is {} bytes",
            d.name,
            d.len
        );
    }
}
const VPCI_MAX: u32 = common::ffi::VPCI_MAX_READ_WRITE_BLOCK_SIZE;

#[test]
fn decode_refuses_a_block_of_another_id() {
    let m = encode(&MacVlanBlock {
        mac: [2, 0, 0, 0, 0, 1],
        vlan_id: 0,
        priority: 0,
    });
    // Same length as a policy block would need? Either way it must not decode as one.
    assert!(matches!(
        LinkBlock::decode(&m),
        Err(BlockError::WrongBlock {
            expected: 2,
            found: 1
        }) | Err(BlockError::TooLong { .. })
    ));
    assert!(PolicyBlock::decode(&m).is_err());
}

#[test]
fn decode_refuses_an_unknown_format() {
    let l = LinkBlock {
        mtu: 1500,
        link_up: false,
        duplex: 0,
        speed_bps: 0,
    };
    let mut bytes = vec![0u8; MAX_BLOCK_LEN];
    let header = BlockHeader {
        format: 9,
        id: LinkBlock::id(),
        generation: 1,
        writes: 0,
    };
    let mut payload = [0u8; 16];
    l.write_payload(&mut wire::Writer::new(&mut payload))
        .unwrap();
    let n = wire::encode(&header, &payload, &mut bytes).unwrap();
    assert!(matches!(
        LinkBlock::decode(&bytes[..n]),
        Err(BlockError::UnknownFormat {
            block: 2,
            format: 9
        })
    ));
}

#[test]
fn mac_vlan_values_are_checked() {
    let good = encode(&MacVlanBlock {
        mac: [2, 0, 0, 0, 0, 1],
        vlan_id: 1,
        priority: 0,
    });
    let multicast = with_valid_crc(good.clone(), |p| p[0] = 0x01);
    assert!(matches!(
        MacVlanBlock::decode(&multicast),
        Err(BlockError::BadValue { field: "mac", .. })
    ));
    let zero = with_valid_crc(good.clone(), |p| p[..6].fill(0));
    assert!(matches!(
        MacVlanBlock::decode(&zero),
        Err(BlockError::BadValue { field: "mac", .. })
    ));
    let vlan = with_valid_crc(good.clone(), |p| {
        p[6..8].copy_from_slice(&4095u16.to_le_bytes())
    });
    assert!(matches!(
        MacVlanBlock::decode(&vlan),
        Err(BlockError::BadValue {
            field: "vlan_id",
            ..
        })
    ));
    let prio = with_valid_crc(good.clone(), |p| p[8] = 8);
    assert!(matches!(
        MacVlanBlock::decode(&prio),
        Err(BlockError::BadValue {
            field: "priority",
            ..
        })
    ));
    let reserved = with_valid_crc(good, |p| p[9] = 1);
    assert!(matches!(
        MacVlanBlock::decode(&reserved),
        Err(BlockError::BadValue {
            field: "reserved",
            ..
        })
    ));
}

#[test]
fn link_values_are_checked() {
    let good = encode(&LinkBlock {
        mtu: 1500,
        link_up: true,
        duplex: 2,
        speed_bps: 1,
    });
    for (edit, field) in [
        (
            Box::new(|p: &mut [u8]| p[0..4].copy_from_slice(&100u32.to_le_bytes()))
                as Box<dyn Fn(&mut [u8])>,
            "mtu",
        ),
        (
            Box::new(|p: &mut [u8]| p[0..4].copy_from_slice(&65536u32.to_le_bytes())),
            "mtu",
        ),
        (Box::new(|p: &mut [u8]| p[4] = 2), "link_up"),
        (Box::new(|p: &mut [u8]| p[5] = 3), "duplex"),
        (
            Box::new(|p: &mut [u8]| p[8..16].copy_from_slice(&u64::MAX.to_le_bytes())),
            "speed_bps",
        ),
    ] {
        let bad = with_valid_crc(good.clone(), |p| edit(p));
        assert!(
            matches!(LinkBlock::decode(&bad), Err(BlockError::BadValue { field: f, .. }) if f == field),
            "{field}"
        );
    }
}

#[test]
fn policy_and_status_values_are_checked() {
    let good = encode(&PolicyBlock {
        flags: 0,
        max_tx_rate_mbps: 0,
        queue_pairs: 1,
    });
    let flags = with_valid_crc(good.clone(), |p| {
        p[0..4].copy_from_slice(&0x80u32.to_le_bytes())
    });
    assert!(matches!(
        PolicyBlock::decode(&flags),
        Err(BlockError::BadValue { field: "flags", .. })
    ));
    let qp0 = with_valid_crc(good.clone(), |p| {
        p[8..10].copy_from_slice(&0u16.to_le_bytes())
    });
    assert!(matches!(
        PolicyBlock::decode(&qp0),
        Err(BlockError::BadValue {
            field: "queue_pairs",
            ..
        })
    ));
    let qp65 = with_valid_crc(good, |p| p[8..10].copy_from_slice(&65u16.to_le_bytes()));
    assert!(PolicyBlock::decode(&qp65).is_err());
    let status = encode(&VfStatusBlock::default());
    let bad_state = with_valid_crc(status, |p| p[4] = 9);
    assert!(matches!(
        VfStatusBlock::decode(&bad_state),
        Err(BlockError::BadValue { field: "state", .. })
    ));
}

#[test]
fn version_block_must_define_itself() {
    let v = encode(&VersionBlock {
        major: 1,
        minor: 0,
        vf_id: 0,
        features: 0,
        defined: DEFINED_BLOCKS,
    });
    let bad = with_valid_crc(v, |p| p[12..20].copy_from_slice(&0b10u64.to_le_bytes()));
    assert!(matches!(
        VersionBlock::decode(&bad),
        Err(BlockError::BadValue {
            field: "defined",
            ..
        })
    ));
}

#[test]
fn random_bytes_never_panic_and_almost_never_decode() {
    let mut x = 0x1234_5678_9ABC_DEF0u64;
    let mut accepted = 0;
    for i in 0..20_000 {
        let len = i % 140;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for d in descriptors() {
            if validate(d.id, &bytes).is_ok() {
                accepted += 1;
            }
        }
    }
    assert_eq!(accepted, 0, "random bytes passed the CRC and value checks");
}

#[test]
fn schema_descriptors_are_consistent() {
    let ds = descriptors();
    assert_eq!(ds.len(), BLOCK_COUNT);
    for (i, d) in ds.iter().enumerate() {
        assert_eq!(d.id.index(), i);
        assert_eq!(descriptor(d.id.get() as u32), Some(*d));
        assert_eq!(d.guest_writable, GUEST_BLOCKS.contains(d.id));
        assert_eq!(HOST_BLOCKS.contains(d.id), !d.guest_writable);
    }
    assert_eq!(descriptor(5).unwrap().name, "commit");
    assert_eq!(descriptor(6).unwrap().name, "ihv");
    assert_eq!(
        descriptor(63).unwrap().len,
        MAX_BLOCK_LEN,
        "extension blocks are full-size"
    );
    assert!(descriptor(64).is_none());
    assert!(descriptor(u32::MAX).is_none());
    assert_eq!(HOST_BLOCKS.intersection(GUEST_BLOCKS), BlockMask::EMPTY);
}

/// A block's format travels from its type to the wire and back: the descriptor the PF stamps
/// with comes from `ConfigBlock::FORMAT`, the encoder writes it, and validation by id (what the
/// VF and the PF's write path run) accepts exactly that format and refuses any other.
fn format_travels<B: ConfigBlock + Copy>(sample: B) {
    let d = descriptor_of(B::id());
    assert_eq!(
        (d.format, d.len, d.guest_writable),
        (B::FORMAT, B::ENCODED_LEN, B::GUEST_WRITABLE),
        "{}",
        B::NAME
    );
    let mut buf = [0u8; MAX_BLOCK_LEN];
    let n = sample.encode(7, 2, &mut buf).unwrap();
    assert_eq!(n, d.len);
    let header = validate(B::id(), &buf[..n]).unwrap();
    assert_eq!(header.format, B::FORMAT, "{}", B::NAME);
    // The same payload under another format number: refused by id, whatever the bytes.
    let (h, payload) = wire::decode(&buf[..n]).unwrap();
    let mut other = [0u8; MAX_BLOCK_LEN];
    let bumped = BlockHeader {
        format: B::FORMAT.wrapping_add(1),
        ..h
    };
    let m = wire::encode(&bumped, payload, &mut other).unwrap();
    assert_eq!(
        validate(B::id(), &other[..m]),
        Err(BlockError::UnknownFormat {
            block: B::ID,
            format: B::FORMAT.wrapping_add(1)
        })
    );
}

#[test]
fn each_typed_blocks_format_travels_from_its_type_to_the_wire() {
    format_travels(VersionBlock {
        major: PROTOCOL_MAJOR,
        minor: PROTOCOL_MINOR,
        vf_id: 3,
        features: 0,
        defined: BASE_BLOCKS,
    });
    format_travels(MacVlanBlock {
        mac: [2, 0, 0, 0, 0, 1],
        vlan_id: 5,
        priority: 1,
    });
    format_travels(LinkBlock {
        mtu: 1500,
        link_up: true,
        duplex: 2,
        speed_bps: 10_000_000_000,
    });
    format_travels(PolicyBlock {
        flags: 0,
        max_tx_rate_mbps: 0,
        queue_pairs: 1,
    });
    format_travels(VfStatusBlock::default());
    // Every id below the IHV range is a typed block, and the typed masks agree with the types.
    assert_eq!(BASE_BLOCKS.len(), FIRST_IHV_BLOCK as u32);
    assert_eq!(GUEST_BLOCKS, BlockMask::of(VfStatusBlock::id()));
}

// ---- the commit block ---------------------------------------------------------------------

fn commit_block(present: &[u8], counters: &[(u8, u8)]) -> CommitBlock {
    let mut c = [0u8; BLOCK_COUNT];
    for &(i, v) in counters {
        c[i as usize] = v;
    }
    CommitBlock {
        generation: 77,
        present: present
            .iter()
            .fold(BlockMask::EMPTY, |m, n| m.with(id(*n as u32))),
        counters: c,
    }
}

#[test]
fn commit_block_round_trips_and_refuses_what_cannot_be_a_state() {
    let good = commit_block(&[0, 1, 2, 3, 5, 9], &[(0, 1), (1, 200), (9, 3)]);
    assert_eq!(CommitBlock::decode(&encode(&good)).unwrap().0, good);
    assert_eq!(good.counter(id(1)), 200);
    const { assert!(CommitBlock::ENCODED_LEN <= MAX_BLOCK_LEN) };
    let refused = |c: CommitBlock, field| {
        assert_eq!(
            CommitBlock::decode(&encode(&c)),
            Err(BlockError::BadValue {
                block: CommitBlock::ID,
                field
            }),
            "{c:?}"
        );
    };
    // Block 0 and the commit block always exist; the VF's own block is never listed.
    refused(commit_block(&[1, 5], &[]), "present");
    refused(commit_block(&[0, 1], &[]), "present");
    refused(commit_block(&[0, 4, 5], &[]), "present");
    // A counter for a block that does not exist, or for the commit block itself.
    refused(commit_block(&[0, 5], &[(7, 1)]), "counters");
    refused(commit_block(&[0, 5], &[(5, 1)]), "counters");
}

#[test]
fn view_digest_depends_on_every_byte_and_id() {
    let a = [1u8, 2, 3];
    let b = [1u8, 2, 4];
    let d = |blocks: &[(u32, &[u8])]| view_digest(blocks.iter().map(|(i, bytes)| (id(*i), *bytes)));
    assert_ne!(d(&[(1, &a)]), d(&[(1, &b)]));
    assert_ne!(d(&[(1, &a)]), d(&[(2, &a)]));
    assert_ne!(d(&[(1, &a), (2, &b)]), d(&[(1, &a)]));
    assert_eq!(d(&[(1, &a), (2, &b)]), d(&[(1, &a), (2, &b)]));
}
