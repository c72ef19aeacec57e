//! What the fuzz targets share: a cursor over the fuzzer's bytes, buffers with guard bytes
//! after their declared length, blocks whose envelope is made valid around fuzzed contents (so
//! that the fuzzer reaches the payload decoders past the CRC), and the encoders the seed corpus
//! is written with (`examples/make_corpus.rs`), kept beside the decoders so the two agree.
use common::blocks::crc32;
use common::blocks::*;

/// Reads fields off the fuzzer's input; past its end every read yields zeros, so any input
/// decodes to some request.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let src = self.bytes(N);
        out[..src.len()].copy_from_slice(src);
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let n = self.data.len();
        self.bytes(n)
    }

    /// A length-prefixed chunk (one byte of length).
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.u8() as usize;
        self.bytes(n)
    }
}

/// Writes the fields [`Cursor`] reads, for seeds.
#[derive(Default)]
pub struct Seed(pub Vec<u8>);

impl Seed {
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }

    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    pub fn chunk(self, b: &[u8]) -> Self {
        let n = b.len().min(255);
        self.u8(n as u8).bytes(&b[..n])
    }
}

/// Bytes after a buffer's declared length: a driver that touches one of them wrote past what
/// it was given.
pub const GUARD: u8 = 0xA5;
pub const GUARD_LEN: usize = 64;

/// `contents` followed by [`GUARD_LEN`] guard bytes.
pub fn guarded(contents: &[u8]) -> Vec<u8> {
    let mut b = contents.to_vec();
    b.resize(contents.len() + GUARD_LEN, GUARD);
    b
}

/// Panics naming `what` when a guard byte after `declared` changed.
pub fn check_guard(buf: &[u8], declared: usize, what: &str) {
    if let Some(at) = buf[declared..].iter().position(|&b| b != GUARD) {
        panic!(
            "{what}: byte {} past the declared length {declared} was written",
            declared + at
        );
    }
}

/// A block of `id` with a valid envelope around fuzzed bytes: `raw`'s first header bytes are
/// kept (format, generation, write counter; flags and reserved zeroed unless `raw_flags`),
/// the id, payload length and CRC made right, and the length the schema defines for `id`.
pub fn sealed_block(id: BlockId, raw: &[u8], raw_flags: bool) -> Vec<u8> {
    let len = descriptor_of(id).len;
    let mut b = vec![0u8; len];
    let n = raw.len().min(len);
    b[..n].copy_from_slice(&raw[..n]);
    b[1] = id.get();
    b[2] = (len - HEADER_LEN) as u8;
    if !raw_flags {
        b[3] = 0;
        b[12..16].fill(0);
    }
    let crc = !crc32::update(crc32::update(!0, &b[..16]), &b[HEADER_LEN..]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    b
}

/// A valid encoding of every typed block and an IHV block, as (id, bytes): seeds.
pub fn valid_blocks() -> Vec<(BlockId, Vec<u8>)> {
    let mut out = Vec::new();
    let mut push = |id: BlockId, f: &dyn Fn(&mut [u8]) -> usize| {
        let mut b = [0u8; MAX_BLOCK_LEN];
        let n = f(&mut b);
        out.push((id, b[..n].to_vec()));
    };
    let version = VersionBlock {
        major: PROTOCOL_MAJOR,
        minor: PROTOCOL_MINOR,
        vf_id: 1,
        features: 0,
        defined: BASE_BLOCKS,
    };
    push(VersionBlock::id(), &|b| version.encode(3, 1, b).unwrap());
    let mac = MacVlanBlock {
        mac: [0x02, 0x15, 0x5D, 0, 1, 2],
        vlan_id: 100,
        priority: 3,
    };
    push(MacVlanBlock::id(), &|b| mac.encode(4, 2, b).unwrap());
    let link = LinkBlock {
        mtu: 1500,
        link_up: true,
        duplex: 2,
        speed_bps: 10_000_000_000,
    };
    push(LinkBlock::id(), &|b| link.encode(5, 3, b).unwrap());
    let policy = PolicyBlock {
        flags: PolicyBlock::SPOOF_CHECK,
        max_tx_rate_mbps: 1000,
        queue_pairs: 4,
    };
    push(PolicyBlock::id(), &|b| policy.encode(6, 4, b).unwrap());
    let status = VfStatusBlock {
        applied_generation: 6,
        state: VfStatusBlock::STATE_RUNNING,
        ..Default::default()
    };
    push(VfStatusBlock::id(), &|b| status.encode(0, 0, b).unwrap());
    let mut counters = [0u8; BLOCK_COUNT];
    counters[..4].copy_from_slice(&[1, 2, 3, 4]);
    let commit = CommitBlock {
        generation: 6,
        present: BlockMask(0b10_1111),
        counters,
    };
    push(CommitBlock::id(), &|b| commit.encode(6, 6, b).unwrap());
    let ihv_id = BlockId::masked(FIRST_IHV_BLOCK + 3);
    let ihv = IhvBlock::new(b"queue layout").unwrap();
    push(ihv_id, &|b| ihv.encode(ihv_id, 7, 1, b).unwrap());
    out
}
