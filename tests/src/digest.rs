//! A fast 64-bit digest for the simulator's "nothing changed while NDIS held it" checks: the
//! checks only need to notice a driver's write, not resist an adversary, and SipHash over every
//! received frame (twice: at the indication and at the return) was most of the data path's
//! simulated cost. Four independent multiply-rotate lanes over 8-byte words, so the compiler
//! keeps them in flight together; the length is mixed in, so a truncation changes it.
const K: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];

#[derive(Clone, Copy, Debug)]
pub struct Digest {
    lanes: [u64; 4],
    len: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest { lanes: K, len: 0 }
    }
}

#[inline(always)]
fn mix(lane: u64, w: u64, k: u64) -> u64 {
    (lane ^ w).wrapping_mul(k).rotate_left(29)
}

impl Digest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn word(&mut self, w: u64) {
        self.lanes[0] = mix(self.lanes[0], w, K[1]);
        self.len = self.len.wrapping_add(8);
    }

    pub fn bytes(&mut self, data: &[u8]) {
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            for (i, lane) in self.lanes.iter_mut().enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(&c[i * 8..i * 8 + 8]);
                *lane = mix(*lane, u64::from_le_bytes(w), K[i]);
            }
        }
        let rest = chunks.remainder();
        for (i, c) in rest.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.lanes[i] = mix(self.lanes[i], u64::from_le_bytes(w), K[(i + 1) % 4]);
        }
        self.len = self.len.wrapping_add(data.len() as u64);
    }

    pub fn finish(&self) -> u64 {
        let [a, b, c, d] = self.lanes;
        let h = a ^ b.rotate_left(17) ^ c.rotate_left(31) ^ d.rotate_left(47) ^ self.len;
        mix(h, h >> 32, K[0]) ^ self.len.rotate_left(11)
    }
}

#[cfg(test)]
mod tests {
    use super::Digest;

    fn of(data: &[u8]) -> u64 {
        let mut d = Digest::new();
        d.bytes(data);
        d.finish()
    }

    #[test]
    fn any_one_byte_change_or_truncation_changes_it() {
        let frame: Vec<u8> = (0..1514u32).map(|i| (i * 7 + 3) as u8).collect();
        let base = of(&frame);
        for at in [0, 7, 8, 31, 32, 100, 1500, 1513] {
            let mut f = frame.clone();
            f[at] ^= 0x40;
            assert_ne!(of(&f), base, "a change at byte {at} went unnoticed");
        }
        assert_ne!(of(&frame[..1513]), base);
        let mut zeros = frame.clone();
        zeros.push(0);
        assert_ne!(of(&zeros), base, "a trailing zero byte went unnoticed");
        let mut d = Digest::new();
        d.word(1);
        let mut e = Digest::new();
        e.word(2);
        assert_ne!(d.finish(), e.finish());
    }
}

/// A hasher for the simulator's address-keyed maps (NBLs, pools, adapters): addresses are
/// unique and their low bits aligned, so one multiply folded onto itself spreads them; the
/// maps stay O(1) however many VFs a world has (SipHash cost more than the lookups' work).
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(K[0]);
        h ^ (h >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(K[1]);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(K[2]);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(K[2]);
    }
}

/// A map keyed by addresses (or other small integers), iterated in no particular order.
pub type AddrMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<AddrHasher>>;
