//! The hardware layer (`common::hw::RefNic`, the driver side) against the simulator's device
//! model of the reference NIC (`sim::device`, written from docs/reference-nic.md), end to end
//! without NDIS: queues brought up, TX and RX descriptors posted and completed, MSI-X causes
//! signalled, and the embedded switch forwarding between the wire, the default VPort and
//! each VF's VPort by MAC and VLAN, including a VF moved to a new address.
use common::hw::refnic::RefNic;
use common::hw::*;
use sim::device::{Func, RefNicModel};

const PF_MAC: [u8; 6] = [0x02, 0xAA, 0, 0, 0, 1];
const VF_MACS: [[u8; 6]; 2] = [[0x02, 0xBB, 0, 0, 0, 0], [0x02, 0xBB, 0, 0, 0, 1]];
const RING: u16 = 8;
const BUF: usize = 2048;

/// 128-byte aligned memory whose "bus address" is its host address (the model's identity IOMMU).
#[repr(C, align(128))]
struct Chunk([u8; 128]);

struct Shared(Vec<Chunk>);

impl Shared {
    fn new(bytes: usize) -> Self {
        Shared((0..bytes.div_ceil(128)).map(|_| Chunk([0; 128])).collect())
    }
    fn region(&mut self) -> DmaRegion {
        let va: *mut u8 = self.0.as_mut_ptr().cast();
        // SAFETY: the vector lives as long as the test's Port and is never reallocated.
        unsafe { DmaRegion::new(va, va as u64, (self.0.len() * 128) as u32) }.unwrap()
    }
    fn at(&mut self, off: usize) -> *mut u8 {
        self.0.as_mut_ptr().cast::<u8>().wrapping_add(off)
    }
}

/// One function as its driver sees it: RefNic, its two rings, their memory and buffers.
struct Port {
    nic: RefNic,
    tx: <RefNic as NicHw>::Tx,
    rx: <RefNic as NicHw>::Rx,
    _rings: (Shared, Shared),
    bufs: Shared,
}

impl Port {
    fn up(model: &mut RefNicModel, f: Func) -> Port {
        let kind = if f == Func::Pf {
            FunctionKind::Pf
        } else {
            FunctionKind::Vf
        };
        let bar = &mut model.function(f).unwrap().bar;
        // SAFETY: the model's BAR lives as long as the model, which outlives the Port.
        let mmio = unsafe { Mmio::new(bar.base(), bar.len()) }.unwrap();
        let nic = RefNic::new(mmio, kind).unwrap();
        nic.identify(kind).unwrap();
        let (mut txm, mut rxm) = (
            Shared::new(RING as usize * 16),
            Shared::new(RING as usize * 16),
        );
        let tx = nic.start_tx(0, txm.region(), RING, Some(0)).unwrap();
        let mut rx = nic.start_rx(0, rxm.region(), RING, Some(1)).unwrap();
        let mut bufs = Shared::new(2 * RING as usize * BUF);
        for i in 0..RING as usize - 1 {
            rx.post(bufs.at(i * BUF) as u64, BUF as u16).unwrap();
        }
        rx.flush();
        nic.set_vector(0, true);
        nic.set_vector(1, true);
        nic.set_dma(true);
        Port {
            nic,
            tx,
            rx,
            _rings: (txm, rxm),
            bufs,
        }
    }

    /// Sends `frame` from the second half of the buffer area, in two fragments.
    fn send(&mut self, frame: &[u8]) -> u16 {
        let at = self.bufs.at(RING as usize * BUF);
        // SAFETY: inside the buffer area (frames here are < BUF bytes).
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), at, frame.len()) };
        let split = frame.len().min(14);
        let mut frags = vec![Frag {
            addr: at as u64,
            len: split as u16,
        }];
        if frame.len() > split {
            frags.push(Frag {
                addr: at as u64 + split as u64,
                len: (frame.len() - split) as u16,
            });
        }
        let slot = self.tx.post(&frags, None).unwrap();
        self.tx.flush();
        slot
    }

    /// The frames received since the last call (bytes, stripped tag); buffers posted again.
    fn received(&mut self) -> Vec<(Vec<u8>, Option<u16>)> {
        let mut out = Vec::new();
        while let Some(d) = self.rx.complete() {
            assert!(d.valid, "{d:?}");
            let p = self.bufs.at(usize::from(d.slot) * BUF);
            // SAFETY: the device wrote `len` bytes into this buffer.
            let bytes = unsafe { std::slice::from_raw_parts(p, usize::from(d.len)) }.to_vec();
            out.push((bytes, d.vlan_tci));
            self.rx.post(p as u64, BUF as u16).unwrap();
        }
        self.rx.flush();
        out
    }
}

fn frame(dst: [u8; 6], src: [u8; 6], fill: u8) -> Vec<u8> {
    let mut f = vec![fill; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

struct Nic {
    model: RefNicModel,
    pf: Port,
    vfs: Vec<Port>,
}

/// PF and two VFs up; the switch with the default VPort (promiscuous) and one VPort per VF,
/// each with a filter for its MAC (VF 1's with `vlan1` as a port VLAN).
fn nic(vlan1: Option<u16>) -> Nic {
    let mut model = RefNicModel::new(2, PF_MAC);
    let pf = Port::up(&mut model, Func::Pf);
    let sw = &pf.nic;
    let all = VPortConfig {
        function: Attached::Pf,
        rx_queue: 0,
        promiscuous: true,
        accept_broadcast: true,
        accept_multicast: true,
        port_vlan: None,
    };
    sw.set_vport(0, Some(&all)).unwrap();
    sw.set_filter(
        0,
        Some(&Filter {
            mac: PF_MAC,
            vlan: None,
            vport: 0,
        }),
    )
    .unwrap();
    for v in 0..2u16 {
        let ctl = VfControl {
            enabled: true,
            link_forced_down: false,
            mac: VF_MACS[v as usize],
            queue_pairs: 1,
        };
        sw.set_vf(v, &ctl).unwrap();
        let port_vlan = if v == 1 {
            vlan1.map(|id| (id, 3))
        } else {
            None
        };
        let cfg = VPortConfig {
            function: Attached::Vf(v),
            promiscuous: false,
            port_vlan,
            ..all
        };
        sw.set_vport(v + 1, Some(&cfg)).unwrap();
        let vlan = if v == 1 { vlan1 } else { None };
        sw.set_filter(
            v + 1,
            Some(&Filter {
                mac: VF_MACS[v as usize],
                vlan,
                vport: v + 1,
            }),
        )
        .unwrap();
    }
    let token = sw.commit();
    sw.set_switch(true);
    model.poll();
    assert!(pf.nic.committed(token));
    let vfs = (0..2).map(|v| Port::up(&mut model, Func::Vf(v))).collect();
    model.poll();
    Nic { model, pf, vfs }
}

#[test]
fn vf_to_vf_through_the_embedded_switch() {
    let mut n = nic(None);
    assert_eq!(
        n.vfs[1].nic.mac(),
        VF_MACS[1],
        "the VF reads what the PF set"
    );
    let f = frame(VF_MACS[1], VF_MACS[0], 0x11);
    let slot = n.vfs[0].send(&f);
    n.model.poll();
    assert_eq!(n.vfs[0].tx.complete(), Some(TxDone { slot, sent: true }));
    assert_eq!(n.vfs[1].received(), vec![(f.clone(), None)]);
    assert!(
        n.pf.received().is_empty(),
        "unicast to a VF's filter goes to that VF only"
    );
    assert!(n.model.wire.is_empty());
    assert!(
        n.model.signals.contains(&(Func::Vf(0), 0)),
        "TX cause on vector 0"
    );
    assert!(
        n.model.signals.contains(&(Func::Vf(1), 1)),
        "RX cause on vector 1"
    );
    let (c0, c1) = (n.vfs[0].nic.counters(), n.vfs[1].nic.counters());
    assert_eq!((c0.tx_ucast_pkts, c0.tx_ucast_octets), (1, 60));
    assert_eq!((c1.rx_ucast_pkts, c1.rx_ucast_octets), (1, 60));
}

#[test]
fn vf_to_wire_and_wire_to_vf_and_default_vport() {
    let mut n = nic(None);
    let out = frame([0x02, 0xCC, 0, 0, 0, 9], VF_MACS[0], 0x22);
    n.vfs[0].send(&out);
    n.model.poll();
    assert_eq!(n.model.wire, vec![out], "no filter matches: to the wire");
    let to_vf = frame(VF_MACS[1], [0x02, 0xCC, 0, 0, 0, 9], 0x33);
    n.model.from_wire(&to_vf);
    assert_eq!(n.vfs[1].received(), vec![(to_vf, None)]);
    let unknown = frame([0x02, 0xDD, 0, 0, 0, 1], [0x02, 0xCC, 0, 0, 0, 9], 0x44);
    n.model.from_wire(&unknown);
    assert_eq!(
        n.pf.received(),
        vec![(unknown, None)],
        "unmatched wire unicast: the promiscuous default VPort"
    );
    assert!(n.vfs[0].received().is_empty() && n.vfs[1].received().is_empty());
}

#[test]
fn pf_to_vf_and_broadcast_floods() {
    let mut n = nic(None);
    let f = frame(VF_MACS[0], PF_MAC, 0x55);
    n.pf.send(&f);
    n.model.poll();
    assert_eq!(n.vfs[0].received(), vec![(f, None)]);
    let b = frame([0xFF; 6], VF_MACS[0], 0x66);
    n.vfs[0].send(&b);
    n.model.poll();
    assert_eq!(n.pf.received().len(), 1);
    assert_eq!(n.vfs[1].received().len(), 1);
    assert!(n.vfs[0].received().is_empty(), "never back to the source");
    assert_eq!(n.model.wire.len(), 1);
    assert_eq!(n.vfs[1].nic.counters().rx_bcast_pkts, 1);
}

/// The host moves VF 1 to a new MAC (the PF rewrites its filter and commits): frames to the
/// new address reach it, frames to the old one do not, and the VF reads the new MAC.
#[test]
fn a_vf_moved_to_a_new_address() {
    let mut n = nic(None);
    let new = [0x02, 0xBB, 0, 0, 1, 1];
    n.pf.nic
        .set_filter(
            2,
            Some(&Filter {
                mac: new,
                vlan: None,
                vport: 2,
            }),
        )
        .unwrap();
    let ctl = VfControl {
        enabled: true,
        link_forced_down: false,
        mac: new,
        queue_pairs: 1,
    };
    n.pf.nic.set_vf(1, &ctl).unwrap();
    let token = n.pf.nic.commit();
    n.model.poll();
    assert!(n.pf.nic.committed(token));
    assert_eq!(n.vfs[1].nic.mac(), new);
    let old = frame(VF_MACS[1], [0x02, 0xCC, 0, 0, 0, 9], 1);
    let fresh = frame(new, [0x02, 0xCC, 0, 0, 0, 9], 2);
    n.model.from_wire(&old);
    n.model.from_wire(&fresh);
    assert_eq!(n.vfs[1].received(), vec![(fresh, None)]);
    assert_eq!(
        n.pf.received(),
        vec![(old, None)],
        "the old address is nobody's: default VPort"
    );
}

/// A port VLAN on VF 1's VPort: tagged on the way out, stripped (and reported) on the way in;
/// a frame of another VLAN does not reach it.
#[test]
fn port_vlan_tags_and_strips() {
    let mut n = nic(Some(100));
    let f = frame([0x02, 0xCC, 0, 0, 0, 9], VF_MACS[1], 7);
    n.vfs[1].send(&f);
    n.model.poll();
    let wire = n.model.wire.pop().unwrap();
    assert_eq!(&wire[12..16], &[0x81, 0x00, 0x60, 100], "PCP 3, VLAN 100");
    let mut tagged = frame(VF_MACS[1], [0x02, 0xCC, 0, 0, 0, 9], 8);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 100]);
    n.model.from_wire(&tagged);
    let got = n.vfs[1].received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, Some(100));
    assert_eq!(
        got[0].0,
        frame(VF_MACS[1], [0x02, 0xCC, 0, 0, 0, 9], 8),
        "tag stripped"
    );
    let mut other = tagged.clone();
    other[15] = 101;
    n.model.from_wire(&other);
    assert!(n.vfs[1].received().is_empty(), "VLAN 101 is not VF 1's");
}

#[test]
fn bad_frames_and_disabled_vfs_fail_with_err() {
    let mut n = nic(None);
    let slot = n.vfs[0].send(&[0u8; 10]);
    n.model.poll();
    assert_eq!(
        n.vfs[0].tx.complete(),
        Some(TxDone { slot, sent: false }),
        "shorter than a header"
    );
    assert_eq!(n.vfs[0].nic.counters().tx_errors, 1);
    let ctl = VfControl {
        enabled: false,
        link_forced_down: false,
        mac: VF_MACS[0],
        queue_pairs: 1,
    };
    n.pf.nic.set_vf(0, &ctl).unwrap();
    let slot = n.vfs[0].send(&frame(VF_MACS[1], VF_MACS[0], 1));
    n.model.poll();
    assert_eq!(n.vfs[0].tx.complete(), Some(TxDone { slot, sent: false }));
    assert!(n.vfs[1].received().is_empty());
}

/// Stop (section 5): frames not processed come back unsent by drain; the queue restarts at 0.
#[test]
fn stopped_queues_give_their_frames_back() {
    let mut n = nic(None);
    n.vfs[0].nic.set_dma(false); // the device takes nothing
    let a = n.vfs[0].send(&frame(VF_MACS[1], VF_MACS[0], 1));
    let b = n.vfs[0].send(&frame(VF_MACS[1], VF_MACS[0], 2));
    n.vfs[0].nic.stop_tx(0);
    n.model.poll();
    assert!(n.vfs[0].nic.tx_idle(0));
    assert_eq!(
        n.vfs[0].tx.drain(),
        Some(TxDone {
            slot: a,
            sent: false
        })
    );
    assert_eq!(
        n.vfs[0].tx.drain(),
        Some(TxDone {
            slot: b,
            sent: false
        })
    );
    assert_eq!(n.vfs[0].tx.drain(), None);
    assert!(n.vfs[1].received().is_empty());
    // Started again: a new ring from slot 0, as the device restarts at HEAD 0.
    let mem = n.vfs[0]._rings.0.region();
    n.vfs[0].tx = n.vfs[0].nic.start_tx(0, mem, RING, Some(0)).unwrap();
    n.vfs[0].nic.set_dma(true);
    let f = frame(VF_MACS[1], VF_MACS[0], 3);
    let c = n.vfs[0].send(&f);
    n.model.poll();
    assert_eq!(
        (c, n.vfs[0].tx.complete()),
        (
            0,
            Some(TxDone {
                slot: 0,
                sent: true
            })
        )
    );
    assert_eq!(n.vfs[1].received(), vec![(f, None)]);
}
