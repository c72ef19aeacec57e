//! The data-path tests' common setting: a world whose switch is programmed (the PF's MAC,
//! each VF's MAC with an optional port VLAN, as the PF's OIDs would leave it), the MACs the
//! frames use, and a frame builder.
use crate::world::traffic::SwitchPlan;
use crate::{Config, SimAdapter, World};
use common::handlers::Miniport;
use common::send::{SendQueue, Transmitter};

/// The PF's MAC (the default VPort's filter).
pub const PF_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xFE];
/// VF 0's and VF 1's MACs.
pub const MAC: [[u8; 6]; 2] = [[0x02, 0, 0, 0, 0, 0x10], [0x02, 0, 0, 0, 0, 0x11]];
/// A station on the wire.
pub const WIRE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x77, 0x77];

/// VF `v`'s MAC: `MAC[v]` for the first two, then 02:00:00:00:<v>.
pub fn vf_mac(v: u16) -> [u8; 6] {
    MAC.get(usize::from(v))
        .copied()
        .unwrap_or([0x02, 0, 0, 0, (v >> 8) as u8, v as u8])
}

/// The switch with the PF's MAC and VF v's [`vf_mac`] with `vlans[v]` as its port VLAN (none
/// past the slice).
pub fn plan(vfs: u16, vlans: &[Option<u16>]) -> SwitchPlan {
    SwitchPlan {
        pf_mac: PF_MAC,
        pf_promiscuous: false,
        promiscuous_vf: None,
        vfs: (0..vfs)
            .map(|v| (v, vf_mac(v), vlans.get(usize::from(v)).copied().flatten()))
            .collect(),
    }
}

/// `config` booted with `vfs` VFs and the switch programmed as [`plan`] says.
pub fn switched(config: Config, vfs: u16, vlans: &[Option<u16>]) -> World {
    let w = World::boot(config, vfs);
    w.machine().program_switch(&plan(vfs, vlans));
    w
}

/// The default configuration with `*JumboPacket` set when `jumbo` is.
pub fn jumbo_config(jumbo: Option<u32>, seed: u64) -> Config {
    Config {
        seed,
        keywords: jumbo
            .map(|j| vec![("*JumboPacket".to_string(), j)])
            .unwrap_or_default(),
        ..Config::default()
    }
}

/// An IPv4-typed frame from `src` to `dst` of `len` bytes (at least 14), its payload marked
/// with `n`.
pub fn frame(dst: [u8; 6], src: [u8; 6], n: u8, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|k| (k as u8).wrapping_mul(7) ^ n).collect();
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

/// The PF and VF 0 as the send tests drive them: (name, NDIS's view of the adapter, the
/// driver's send side, its transmitter).
pub fn send_sides(w: &World) -> Vec<(&'static str, &SimAdapter, &SendQueue, &dyn Transmitter)> {
    let vf = w.vf(0).expect("VF 0");
    vec![
        ("PF", w.pf_sim(), w.pf().sends(), w.pf().data_path()),
        ("VF", w.vf_sim(0).expect("VF 0"), vf.sends(), vf.data_path()),
    ]
}
