//! The switch's tables read back (section 7 and 8 of docs/reference-nic.md), for tests that
//! compare them with what the OIDs said: the VPort and filter entries as the device forwards
//! with them (the snapshot of the last acknowledged commit), the VF-control entries and
//! `SW_CTRL` as the PF's BAR holds them (they act at once), and the raw registers of every
//! table for "nothing changed" comparisons.
use super::*;
use std::collections::HashMap;

/// What a switch keeps in its CAM: the valid filter entries by MAC (entry order kept, so the
/// lowest matching entry still wins), and each VF's source VPort (the lowest enabled entry
/// attached to it). Rebuilt from the snapshot at every commit and reset, so the forwarding
/// cost does not grow with the number of entries.
#[derive(Default)]
pub(super) struct Index {
    pub by_mac: HashMap<[u8; 6], Vec<u16>>,
    pub vf_vport: Vec<Option<u16>>,
}

impl RefNicModel {
    pub(super) fn reindex(&mut self) {
        let mut by_mac: HashMap<[u8; 6], Vec<u16>> = HashMap::new();
        for (i, f) in self.filters.iter().enumerate() {
            if f.ctrl & FLT_VALID != 0 {
                by_mac.entry(f.mac).or_default().push(i as u16);
            }
        }
        let mut vf_vport = vec![None; usize::from(VFS)];
        for p in (1..VPORTS).rev() {
            let c = self.vports[p as usize].ctrl;
            let v = (c >> VP_FUNCTION_SHIFT) as u16;
            if c & VP_EN != 0
                && let Some(slot) = vf_vport.get_mut(usize::from(v))
            {
                *slot = Some(p);
            }
        }
        self.index = Index { by_mac, vf_vport };
    }
}

/// An enabled VPort entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VPortRow {
    pub function: Func,
    pub rx_queue: u8,
    pub promiscuous: bool,
    pub accept_broadcast: bool,
    pub accept_multicast: bool,
    /// `PORT_VLAN`: its VLAN id.
    pub port_vlan: Option<u16>,
}

/// A valid filter entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterRow {
    pub index: u16,
    pub mac: [u8; 6],
    /// `VLAN_MATCH`: its VLAN id; `None` matches untagged frames (or VLAN 0).
    pub vlan: Option<u16>,
    pub vport: u16,
}

/// A VF-control entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VfRow {
    pub enabled: bool,
    pub link_down: bool,
    pub mac: [u8; 6],
    pub queue_pairs: u32,
}

impl VfRow {
    /// The entry's reset values (section 8).
    pub const RESET: VfRow = VfRow {
        enabled: false,
        link_down: false,
        mac: [0; 6],
        queue_pairs: 1,
    };
}

impl RefNicModel {
    /// `SW_CTRL.ENABLE`: forwarding by the tables (false: bypass).
    pub fn switch_enabled(&self) -> bool {
        self.pf.bar.r32(SW_CTRL) & SW_ENABLE != 0
    }

    /// The last `SW_COMMIT` is acknowledged: the snapshot is the registers as of that write.
    pub fn commit_acknowledged(&self) -> bool {
        self.pf.bar.r32(SW_COMMIT) == self.pf.bar.r32(SW_COMMIT_ACK)
    }

    /// Every enabled VPort the device forwards with, by entry number.
    pub fn vport_rows(&self) -> Vec<(u16, VPortRow)> {
        (0..VPORTS)
            .filter_map(|p| {
                let e = self.vports[p as usize];
                let function = self.vport_function(p)?;
                (e.ctrl & VP_EN != 0).then_some((
                    p,
                    VPortRow {
                        function,
                        rx_queue: ((e.ctrl >> VP_QUEUE_SHIFT) & 0xFF) as u8,
                        promiscuous: e.ctrl & VP_PROMISC != 0,
                        accept_broadcast: e.ctrl & VP_ACCEPT_BCAST != 0,
                        accept_multicast: e.ctrl & VP_ACCEPT_MCAST != 0,
                        port_vlan: (e.vlan & VP_PORT_VLAN != 0)
                            .then_some((e.vlan & u32::from(VLAN_ID_MASK)) as u16),
                    },
                ))
            })
            .collect()
    }

    /// Every valid filter entry the device forwards with, in entry order.
    pub fn filter_rows(&self) -> Vec<FilterRow> {
        self.filters
            .iter()
            .enumerate()
            .filter(|(_, f)| f.ctrl & FLT_VALID != 0)
            .map(|(i, f)| FilterRow {
                index: i as u16,
                mac: f.mac,
                vlan: (f.vlan & FLT_VLAN_MATCH != 0)
                    .then_some((f.vlan & u32::from(VLAN_ID_MASK)) as u16),
                vport: ((f.ctrl >> FLT_VPORT_SHIFT) & 0x1FF) as u16,
            })
            .collect()
    }

    /// VF `v`'s control entry in the PF's BAR.
    pub fn vf_row(&self, v: u16) -> VfRow {
        let base = VF_TABLE + VF_STRIDE * u32::from(v);
        let ctrl = self.pf.bar.r32(base + VF_CTRL);
        VfRow {
            enabled: ctrl & VF_CTRL_ENABLE != 0,
            link_down: ctrl & VF_CTRL_LINK_DOWN != 0,
            mac: mac_of(
                self.pf.bar.r32(base + VF_MAC_LO),
                self.pf.bar.r32(base + VF_MAC_HI),
            ),
            queue_pairs: self.pf.bar.r32(base + VF_QP),
        }
    }

    /// `SW_CTRL` and every register of the filter, VPort and VF-control tables, as the PF's
    /// BAR holds them (not `SW_COMMIT`, which every attempt changes).
    pub fn switch_registers(&self) -> Vec<u32> {
        std::iter::once(self.pf.bar.r32(SW_CTRL))
            .chain(
                (FILTER_TABLE..VF_TABLE + VF_STRIDE * u32::from(VFS))
                    .step_by(4)
                    .map(|off| self.pf.bar.r32(off)),
            )
            .collect()
    }
}

/// The CAM-like index forwards exactly as a scan of the tables: for random tables (few MACs,
/// duplicates, VLAN matches, disabled VPorts, VPorts of the PF and of VFs), committed through
/// the registers, the unicast hit is the lowest valid matching entry whose VPort is enabled,
/// and each VF's source VPort the lowest enabled entry attached to it; after a reset, nothing.
#[cfg(test)]
mod index_is_the_scan {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % u64::from(n)) as u32
        }
    }

    fn scan_hit(m: &RefNicModel, dst: [u8; 6], vid: Option<u16>) -> Option<u16> {
        m.filters
            .iter()
            .find(|f| {
                f.ctrl & FLT_VALID != 0
                    && f.mac == dst
                    && m.filter_matches(f, vid)
                    && m.vport_ok((f.ctrl >> FLT_VPORT_SHIFT) as u16)
            })
            .map(|f| (f.ctrl >> FLT_VPORT_SHIFT) as u16)
    }

    fn scan_source(m: &RefNicModel, v: u16) -> Option<u16> {
        (1..VPORTS).find(|&p| {
            let c = m.vports[p as usize].ctrl;
            c & VP_EN != 0 && (c >> VP_FUNCTION_SHIFT) as u16 == v
        })
    }

    fn mac(k: u32) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, k as u8]
    }

    #[test]
    fn random_tables_forward_alike() {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        let mut m = RefNicModel::new(8, [0x02, 0, 0, 0, 0, 0xFE]);
        for round in 0..40u32 {
            let bar = &mut m.pf.bar;
            for p in 0..u32::from(VPORTS) {
                let b = VPORT_TABLE + VPORT_STRIDE * p;
                let func = match r.next(10) {
                    0 => u32::from(VP_FUNCTION_PF),
                    k => k - 1, // VFs 0..=8 (VF 8 not modelled)
                };
                let en = u32::from(r.next(3) != 0) * VP_EN;
                bar.w32(b + VP_CTRL, en | (func << VP_FUNCTION_SHIFT));
                bar.w32(b + VP_VLAN, 0);
            }
            for f in 0..u32::from(FILTERS) {
                let b = FILTER_TABLE + FILTER_STRIDE * f;
                let k = r.next(12);
                bar.w32(b + FLT_MAC_LO, u32::from_le_bytes([2, 0, 0, 0]));
                bar.w32(b + FLT_MAC_HI, u32::from_le_bytes([0, k as u8, 0, 0]));
                let vlan = if r.next(3) == 0 {
                    FLT_VLAN_MATCH | r.next(4)
                } else {
                    0
                };
                bar.w32(b + FLT_VLAN, vlan);
                let valid = u32::from(r.next(4) == 0) * FLT_VALID;
                bar.w32(b + FLT_CTRL, valid | (r.next(20) << FLT_VPORT_SHIFT));
            }
            let commit = bar.r32(SW_COMMIT).wrapping_add(1);
            bar.w32(SW_COMMIT, commit);
            m.poll();
            assert_eq!(
                m.pf.bar.r32(SW_COMMIT_ACK),
                commit,
                "round {round}: committed"
            );
            for k in 0..13 {
                for vid in [None, Some(0), Some(1), Some(2), Some(3)] {
                    assert_eq!(
                        m.unicast_hit(mac(k), vid),
                        scan_hit(&m, mac(k), vid),
                        "round {round}, MAC {k}, VLAN {vid:?}"
                    );
                }
            }
            for v in 0..VFS {
                assert_eq!(
                    m.source_vport(Func::Vf(v)),
                    scan_source(&m, v),
                    "round {round}, VF {v}"
                );
            }
        }
        m.pf.bar.w32(CTRL, CTRL_RESET);
        m.poll();
        assert!(m.index.by_mac.is_empty() && m.index.vf_vport.iter().all(Option::is_none));
    }
}
