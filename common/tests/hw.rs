//! The hardware layer against the reference NIC's specification (docs/reference-nic.md):
//! the register constants held to the page's tables, and `RefNic` and its rings driven over
//! plain memory standing in for BAR 0 and shared memory, with this test playing the device.
use common::ffi::*;
use common::hw::refnic::RefNic;
use common::hw::regs::*;
use common::hw::*;
use std::collections::BTreeMap;

// ---- the constants are the page's -------------------------------------------------------

/// `name -> offset` from every table row of the page that pairs an offset cell (`` `0x..` ``
/// or `` `+0x..` ``) with a name cell starting `` `NAME` ``.
fn spec_offsets() -> BTreeMap<String, u32> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference-nic.md");
    let text = std::fs::read_to_string(path).expect("docs/reference-nic.md");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        for w in cells.windows(2) {
            let off = w[0].trim_matches('`').trim_start_matches('+');
            let Some(hex) = off.strip_prefix("0x") else {
                continue;
            };
            if w[0].contains(' ') || !w[0].starts_with('`') {
                continue;
            }
            let Ok(v) = u32::from_str_radix(&hex.replace('_', ""), 16) else {
                continue;
            };
            let Some(rest) = w[1].strip_prefix('`') else {
                continue;
            };
            let Some(name) = rest.split('`').next() else {
                continue;
            };
            out.insert(name.to_string(), v);
        }
    }
    out
}

#[test]
fn register_offsets_are_the_specifications() {
    let spec = spec_offsets();
    let ours: &[(&str, u32)] = &[
        ("ID", ID),
        ("STATUS", STATUS),
        ("CTRL", CTRL),
        ("LINK", LINK),
        ("LINK_SPEED", LINK_SPEED),
        ("LINK_SEQ", LINK_SEQ),
        ("MAC_LO", MAC_LO),
        ("MAC_HI", MAC_HI),
        ("MAX_FRAME", MAX_FRAME),
        ("QP_COUNT", QP_COUNT),
        ("INT_CAUSE", INT_CAUSE),
        ("MISC_IVAR", MISC_IVAR),
        ("RX_UCAST_PKTS", RX_UCAST_PKTS),
        ("RX_MCAST_PKTS", RX_MCAST_PKTS),
        ("RX_BCAST_PKTS", RX_BCAST_PKTS),
        ("RX_UCAST_OCTETS", RX_UCAST_OCTETS),
        ("RX_MCAST_OCTETS", RX_MCAST_OCTETS),
        ("RX_BCAST_OCTETS", RX_BCAST_OCTETS),
        ("RX_DISCARDS", RX_DISCARDS),
        ("RX_ERRORS", RX_ERRORS),
        ("TX_UCAST_PKTS", TX_UCAST_PKTS),
        ("TX_MCAST_PKTS", TX_MCAST_PKTS),
        ("TX_BCAST_PKTS", TX_BCAST_PKTS),
        ("TX_UCAST_OCTETS", TX_UCAST_OCTETS),
        ("TX_MCAST_OCTETS", TX_MCAST_OCTETS),
        ("TX_BCAST_OCTETS", TX_BCAST_OCTETS),
        ("TX_DISCARDS", TX_DISCARDS),
        ("TX_ERRORS", TX_ERRORS),
        ("TXQ_BASE", TXQ_BASE),
        ("TXQ_LEN", TXQ_LEN),
        ("TXQ_TAIL", TXQ_TAIL),
        ("TXQ_HEAD", TXQ_HEAD),
        ("TXQ_CTRL", TXQ_CTRL),
        ("TXQ_STATUS", TXQ_STATUS),
        ("TXQ_IVAR", TXQ_IVAR),
        ("SW_CTRL", SW_CTRL),
        ("SW_COMMIT", SW_COMMIT),
        ("SW_COMMIT_ACK", SW_COMMIT_ACK),
        ("SW_CAPS", SW_CAPS),
        ("SW_DROPS", SW_DROPS),
        ("VP_CTRL", VP_CTRL),
        ("VP_VLAN", VP_VLAN),
        ("FLT_MAC_LO", FLT_MAC_LO),
        ("FLT_MAC_HI", FLT_MAC_HI),
        ("FLT_VLAN", FLT_VLAN),
        ("FLT_CTRL", FLT_CTRL),
        ("VF_CTRL", VF_CTRL),
        ("VF_MAC_LO", VF_MAC_LO),
        ("VF_MAC_HI", VF_MAC_HI),
        ("VF_QP", VF_QP),
    ];
    for &(name, value) in ours {
        assert_eq!(
            spec.get(name),
            Some(&value),
            "{name}: docs/reference-nic.md says {:?}",
            spec.get(name)
        );
    }
    // The RX registers are the TX ones at +0x40 (the page's "+0x40..+0x5F" row).
    assert_eq!(RXQ, 0x40);
    // Descriptor fields: the byte columns of the two descriptor tables.
    assert_eq!(
        (TXD_ADDR, TXD_LEN, TXD_CMD, TXD_STATUS, TXD_VLAN_TCI),
        (0, 8, 10, 11, 12)
    );
    assert_eq!(
        (
            RXD_ADDR,
            RXD_BUF_LEN,
            RXD_FRAME_LEN,
            RXD_STATUS,
            RXD_VLAN_TCI
        ),
        (0, 8, 10, 12, 14)
    );
    assert_eq!(DESC_BYTES, 16);
    // Block bases of section 3 and the table sizes of section 7 and 8.
    assert_eq!((QUEUE_BASE, QUEUE_STRIDE), (0x1000, 0x100));
    assert_eq!(
        (FILTER_TABLE, FILTERS as u32 * FILTER_STRIDE),
        (0x4000, 0x2000)
    );
    assert_eq!((VPORT_TABLE, VPORTS, VPORT_STRIDE), (0x6000, 257, 0x10));
    assert_eq!((VF_TABLE, VFS as u32 * VF_STRIDE), (0x8000, 0x1000));
    assert_eq!(
        (PF_MSIX_TABLE, PF_MSIX_PBA, VF_MSIX_TABLE, VF_MSIX_PBA),
        (0xC000, 0xE000, 0x2000, 0x3000)
    );
    // The tables fit the BARs and do not overlap.
    const {
        assert!(VPORT_TABLE + VPORTS as u32 * VPORT_STRIDE <= VF_TABLE);
        assert!(VF_TABLE + VFS as u32 * VF_STRIDE <= PF_MSIX_TABLE);
        assert!(queue_reg(MAX_QUEUE_PAIRS - 1, RXQ + TXQ_IVAR) < 0x2000);
        assert!(PF_MSIX_PBA < PF_BAR0_LEN && VF_MSIX_PBA < VF_BAR0_LEN);
    }
}

#[test]
fn mac_register_byte_order() {
    let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let (lo, hi) = mac_regs(mac);
    assert_eq!((lo, hi), (0x3322_1102, 0x5544));
    assert_eq!(mac_of(lo, hi), mac);
}

// ---- plain memory standing in for the device ---------------------------------------------

/// BAR 0 as plain memory (8-byte aligned).
struct Bar(Vec<u64>);

impl Bar {
    fn new(len: u32) -> Self {
        Bar(vec![0; len as usize / 8])
    }
    fn mmio(&mut self) -> Mmio {
        let len = (self.0.len() * 8) as u32;
        // SAFETY: the vector outlives every use in the test and is never reallocated.
        unsafe { Mmio::new(self.0.as_mut_ptr().cast(), len) }.unwrap()
    }
}

/// Shared memory, 128-byte aligned; its "bus address" is chosen by the test.
#[repr(C, align(128))]
struct Chunk([u8; 128]);

struct Shared(Vec<Chunk>);

impl Shared {
    fn new(bytes: usize) -> Self {
        Shared((0..bytes.div_ceil(128)).map(|_| Chunk([0; 128])).collect())
    }
    fn region(&mut self, pa: u64) -> DmaRegion {
        let len = (self.0.len() * 128) as u32;
        // SAFETY: as for Bar.
        unsafe { DmaRegion::new(self.0.as_mut_ptr().cast(), pa, len) }.unwrap()
    }
}

fn pf() -> (Bar, RefNic) {
    let mut bar = Bar::new(PF_BAR0_LEN);
    let m = bar.mmio();
    m.write32(
        ID,
        (u32::from(KIND_PF) << 24) | (u32::from(SPEC_REV) << 16) | u32::from(PF_DEVICE_ID),
    );
    m.write32(QP_COUNT, 4);
    m.write32(STATUS, STATUS_READY);
    let nic = RefNic::new(m, FunctionKind::Pf).unwrap();
    (bar, nic)
}

fn vf() -> (Bar, RefNic) {
    let mut bar = Bar::new(VF_BAR0_LEN);
    let m = bar.mmio();
    m.write32(
        ID,
        (u32::from(KIND_VF) << 24) | (u32::from(SPEC_REV) << 16) | u32::from(VF_DEVICE_ID),
    );
    m.write32(QP_COUNT, 2);
    m.write32(STATUS, STATUS_READY);
    let nic = RefNic::new(m, FunctionKind::Vf).unwrap();
    (bar, nic)
}

#[test]
fn identify_checks_kind_revision_and_presence() {
    let (_bar, nic) = pf();
    let id = nic.identify(FunctionKind::Pf).unwrap();
    assert_eq!(
        (
            id.kind,
            id.device_id,
            id.revision,
            id.queue_pairs,
            id.vectors
        ),
        (FunctionKind::Pf, 0xF1F0, 1, 4, 16)
    );
    assert_eq!(nic.identify(FunctionKind::Vf), Err(HwError::WrongDevice));
    let m = *nic.mmio();
    m.write32(ID, (1 << 24) | (1 << 16) | 0xF1F0);
    assert_eq!(
        nic.identify(FunctionKind::Pf),
        Err(HwError::WrongDevice),
        "KIND VF on a PF device id"
    );
    m.write32(ID, (2 << 16) | 0xF1F0);
    assert_eq!(
        nic.identify(FunctionKind::Pf),
        Err(HwError::WrongDevice),
        "revision 2"
    );
    m.write32(ID, GONE);
    assert_eq!(nic.identify(FunctionKind::Pf), Err(HwError::Gone));
    assert!(!nic.present());

    let (_vbar, v) = vf();
    let id = v.identify(FunctionKind::Vf).unwrap();
    assert_eq!((id.queue_pairs, id.vectors), (2, 8));
    // A QP_COUNT outside 1..=4 is not believed.
    v.mmio().write32(QP_COUNT, 200);
    assert_eq!(v.identify(FunctionKind::Vf).unwrap().queue_pairs, 1);
    // BAR shorter than the function's BAR 0: refused before any access.
    let mut small = Bar::new(0x1000);
    assert_eq!(
        RefNic::new(small.mmio(), FunctionKind::Vf).err(),
        Some(HwError::InvalidArgument)
    );
    assert_eq!(
        RefNic::new(v.mmio().to_owned(), FunctionKind::Pf).err(),
        Some(HwError::InvalidArgument)
    );
}

#[test]
fn reset_waits_for_the_device_and_gives_up() {
    let (_bar, nic) = pf();
    let m = *nic.mmio();
    let mut sleeps = 0;
    // The device finishes on the second poll.
    let r = nic.reset(&mut |us| {
        assert_eq!(us, 100);
        sleeps += 1;
        if sleeps == 2 {
            m.write32(CTRL, 0);
        }
    });
    assert_eq!(r, Ok(()));
    assert_eq!(sleeps, 2);
    // Never finishes: Timeout after the 10 ms bound, not an endless loop.
    let mut sleeps = 0;
    assert_eq!(nic.reset(&mut |_| sleeps += 1), Err(HwError::Timeout));
    assert_eq!(sleeps, RESET_TIMEOUT_US / 100);
    // Gone mid-reset.
    assert_eq!(
        nic.reset(&mut |_| m.write32(CTRL, GONE)),
        Err(HwError::Gone)
    );
    // RESET cleared but not READY.
    m.write32(STATUS, 0);
    assert_eq!(
        nic.reset(&mut |_| m.write32(CTRL, 0)),
        Err(HwError::Timeout)
    );
}

#[test]
fn link_counters_mac_and_enables() {
    let (_bar, nic) = vf();
    let m = *nic.mmio();
    m.write32(LINK, LINK_UP | LINK_FULL_DUPLEX);
    m.write32(LINK_SPEED, 10_000);
    m.write32(LINK_SEQ, 7);
    assert_eq!(
        nic.link(),
        LinkState {
            up: true,
            full_duplex: true,
            speed_mbps: 10_000,
            seq: 7
        }
    );
    m.write32(LINK, 0);
    assert_eq!(nic.link().speed_mbps, 0, "no speed while down");
    m.write32(MAC_LO, 0x3322_1102);
    m.write32(MAC_HI, 0x5544);
    assert_eq!(nic.mac(), [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
    m.write64(RX_UCAST_PKTS, 5);
    m.write64(TX_ERRORS, u64::MAX - 1);
    let c = nic.counters();
    assert_eq!((c.rx_ucast_pkts, c.tx_errors), (5, u64::MAX - 1));
    assert_eq!(nic.set_max_frame(59), Err(HwError::InvalidArgument));
    assert_eq!(nic.set_max_frame(9015), Err(HwError::InvalidArgument));
    nic.set_max_frame(9014).unwrap();
    assert_eq!(m.read32(MAX_FRAME), 9014);
    nic.set_vector(7, true);
    assert_eq!(m.read32(VEC_EN + 28), 1);
    nic.set_vector(8, true); // a VF has 8 vectors: ignored
    assert_eq!(m.read32(VEC_EN + 32), 0);
    nic.route_link(Some(3));
    assert_eq!(m.read32(MISC_IVAR), IVAR_VALID | 3);
    nic.set_dma(true);
    assert_eq!(m.read32(CTRL), CTRL_DMA_EN);
    nic.quiesce();
    assert_eq!(m.read32(CTRL), 0);
    assert_eq!(m.read32(VEC_EN + 28), 0);
}

#[test]
fn mmio_outside_the_bar_reads_all_ones_and_drops_writes() {
    let mut bar = Bar::new(0x100);
    let m = bar.mmio();
    assert_eq!(m.read32(0x100), u32::MAX);
    assert_eq!(m.read32(0x102), u32::MAX, "misaligned");
    assert_eq!(m.read32(u32::MAX - 1), u32::MAX, "overflowing offset");
    assert_eq!(m.read64(0xFC), u64::MAX);
    m.write32(0x100, 1);
    m.write64(0x0C, 1); // misaligned 64-bit: dropped
    assert!(bar.0.iter().all(|&w| w == 0));
}

// ---- rings --------------------------------------------------------------------------------

/// Device side: marks the descriptor `i` of a TX ring done (and failed).
fn tx_done(mem: &DmaRegion, i: u16, err: bool) {
    let d = usize::from(i) * 16;
    mem.write8(
        d + TXD_STATUS,
        TXD_STATUS_DD | if err { TXD_STATUS_ERR } else { 0 },
    );
}

#[test]
fn tx_ring_posts_completes_and_drains_in_order() {
    let (_bar, nic) = pf();
    let m = *nic.mmio();
    let mut shared = Shared::new(8 * 16);
    let mem = shared.region(0x1_0000_0080);
    let mut tx = nic.start_tx(1, mem, 8, Some(5)).unwrap();
    // Start (section 5): base, length, tail 0, IVAR, then ENABLE.
    assert_eq!(m.read64(queue_reg(1, TXQ_BASE)), 0x1_0000_0080);
    assert_eq!(m.read32(queue_reg(1, TXQ_LEN)), 8);
    assert_eq!(m.read32(queue_reg(1, TXQ_IVAR)), IVAR_VALID | 5);
    assert_eq!(m.read32(queue_reg(1, TXQ_CTRL)), Q_ENABLE);
    assert_eq!(tx.free(), 7, "LEN - 1 postable");

    let f = |addr, len| Frag { addr, len };
    let a = tx.post(&[f(0x1000, 60)], None).unwrap();
    let b = tx
        .post(&[f(0x2000, 14), f(0x3000, 1500)], Some(0x2005))
        .unwrap();
    assert_eq!((a, b), (0, 1));
    assert_eq!(
        m.read32(queue_reg(1, TXQ_TAIL)),
        0,
        "nothing reaches the device before flush"
    );
    tx.flush();
    assert_eq!(m.read32(queue_reg(1, TXQ_TAIL)), 3);
    // Descriptor bytes as section 5 gives them.
    assert_eq!(mem.read64(16), 0x2000);
    assert_eq!(mem.read16(16 + 8), 14);
    assert_eq!(mem.read8(16 + 10), TXD_CMD_VLE, "VLE on the first, no EOP");
    assert_eq!(mem.read16(16 + 12), 0x2005);
    assert_eq!(mem.read8(32 + 10), TXD_CMD_EOP);
    assert_eq!(tx.free(), 4);
    // A frame that does not fit, or that the hardware cannot take.
    let big: Vec<Frag> = (0..5).map(|i| f(0x1000 * i, 64)).collect();
    assert_eq!(tx.post(&big, None), Err(HwError::RingFull));
    let too_many: Vec<Frag> = (0..17).map(|i| f(0x1000 * i, 64)).collect();
    assert_eq!(tx.post(&too_many, None), Err(HwError::InvalidArgument));
    assert_eq!(tx.post(&[], None), Err(HwError::InvalidArgument));
    assert_eq!(tx.post(&[f(0, 0)], None), Err(HwError::InvalidArgument));
    assert_eq!(tx.post(&[f(0, 16384)], None), Err(HwError::InvalidArgument));

    assert_eq!(tx.complete(), None, "nothing done yet");
    tx_done(&mem, 0, false);
    tx_done(&mem, 1, false); // frame b's first descriptor only: b not done
    assert_eq!(
        tx.complete(),
        Some(TxDone {
            slot: 0,
            sent: true
        })
    );
    assert_eq!(tx.complete(), None);
    tx_done(&mem, 2, true);
    assert_eq!(
        tx.complete(),
        Some(TxDone {
            slot: 1,
            sent: false
        }),
        "ERR fails the frame"
    );
    assert_eq!(tx.in_flight(), 0);

    // Wrap around the end, then stop with frames not processed: drain gives them back unsent.
    for i in 0..3 {
        tx.post(&[f(0x1000, 60), f(0x2000, 60)], None).unwrap();
        assert_eq!(tx.free(), 7 - 2 * (i + 1));
    }
    tx.flush();
    assert_eq!(m.read32(queue_reg(1, TXQ_TAIL)), 1, "9 mod 8");
    tx_done(&mem, 3, false);
    tx_done(&mem, 4, false);
    nic.stop_tx(1);
    assert_eq!(m.read32(queue_reg(1, TXQ_CTRL)), 0);
    m.write32(queue_reg(1, TXQ_STATUS), Q_ACTIVE);
    assert!(!nic.tx_idle(1));
    m.write32(queue_reg(1, TXQ_STATUS), 0);
    assert!(nic.tx_idle(1));
    assert_eq!(
        tx.drain(),
        Some(TxDone {
            slot: 3,
            sent: true
        })
    );
    assert_eq!(
        tx.drain(),
        Some(TxDone {
            slot: 5,
            sent: false
        })
    );
    assert_eq!(
        tx.drain(),
        Some(TxDone {
            slot: 7,
            sent: false
        }),
        "wraps"
    );
    assert_eq!(tx.drain(), None);
    assert_eq!(tx.free(), 7);
}

#[test]
fn queue_start_refuses_what_the_device_would() {
    let (_bar, nic) = vf();
    let m = *nic.mmio();
    let mut shared = Shared::new(4096 * 16);
    let ok = shared.region(0x8000);
    assert_eq!(
        nic.start_tx(2, ok, 8, None).err(),
        Some(HwError::InvalidArgument),
        "QP_COUNT 2"
    );
    assert_eq!(
        nic.start_tx(0, ok, 12, None).err(),
        Some(HwError::InvalidArgument),
        "not a power of two"
    );
    assert_eq!(
        nic.start_tx(0, ok, 4, None).err(),
        Some(HwError::InvalidArgument),
        "below 8"
    );
    assert_eq!(
        nic.start_tx(0, ok, 8192, None).err(),
        Some(HwError::InvalidArgument),
        "above 4096"
    );
    assert_eq!(
        nic.start_rx(0, ok, 8, Some(8)).err(),
        Some(HwError::InvalidArgument),
        "vector 8 of 8"
    );
    let mut small = Shared::new(128);
    assert_eq!(
        nic.start_rx(0, small.region(0), 16, None).err(),
        Some(HwError::InvalidArgument),
        "region too small"
    );
    assert_eq!(
        nic.start_rx(0, shared.region(0x40), 8, None).err(),
        Some(HwError::InvalidArgument),
        "bus address not 128-aligned"
    );
    assert_eq!(
        m.read32(queue_reg(0, TXQ_CTRL)),
        0,
        "nothing enabled by a refusal"
    );
    // A queue still enabled or active is busy.
    // The longest ring the driver starts is `ring::MAX_TRACKED` (its per-slot copies).
    assert_eq!(
        nic.start_rx(0, shared.region(0x8000), 512, None).err(),
        Some(HwError::InvalidArgument)
    );
    let _rx = nic
        .start_rx(0, shared.region(0x8000), 256, Some(1))
        .unwrap();
    assert_eq!(
        nic.start_rx(0, shared.region(0x8000), 8, None).err(),
        Some(HwError::Busy)
    );
    nic.stop_rx(0);
    m.write32(queue_reg(0, RXQ + TXQ_STATUS), Q_ACTIVE);
    assert_eq!(
        nic.start_rx(0, shared.region(0x8000), 8, None).err(),
        Some(HwError::Busy)
    );
    assert_eq!(RefNic::ring_bytes(4096), Some(65536));
    assert_eq!(RefNic::ring_bytes(3), None);
}

#[test]
fn rx_ring_reports_frames_and_refuses_impossible_lengths() {
    let (_bar, nic) = vf();
    let m = *nic.mmio();
    let mut shared = Shared::new(8 * 16);
    let mem = shared.region(0x4000);
    let mut rx = nic.start_rx(0, mem, 8, Some(0)).unwrap();
    for i in 0..7 {
        assert_eq!(rx.post(0x10_0000 + 0x800 * u64::from(i), 1536), Ok(i));
    }
    assert_eq!(rx.post(0, 1536), Err(HwError::RingFull));
    assert_eq!(rx.post(0, 0).err(), Some(HwError::InvalidArgument));
    rx.flush();
    assert_eq!(m.read32(queue_reg(0, RXQ + TXQ_TAIL)), 7);
    assert_eq!(rx.complete(), None);
    // Device: frame of 60 bytes with a stripped tag into slot 0; slot 1 claims 4000 bytes.
    mem.write16(10, 60);
    mem.write16(14, 0x0064);
    mem.write8(12, RXD_STATUS_DD | RXD_STATUS_VLAN | RXD_STATUS_BCAST);
    mem.write16(16 + 10, 4000);
    mem.write8(16 + 12, RXD_STATUS_DD);
    let a = rx.complete().unwrap();
    assert_eq!(
        a,
        RxDone {
            slot: 0,
            len: 60,
            vlan_tci: Some(0x64),
            broadcast: true,
            multicast: false,
            valid: true
        }
    );
    let b = rx.complete().unwrap();
    assert!(!b.valid, "longer than the buffer posted: {b:?}");
    assert_eq!(rx.complete(), None);
    assert_eq!(rx.posted(), 5);
    // Stopped: the five never written come back by drain.
    let drained: Vec<u16> = std::iter::from_fn(|| rx.drain()).collect();
    assert_eq!(drained, vec![2, 3, 4, 5, 6]);
    assert_eq!(rx.free(), 7);
}

/// att11 review: the device can write a whole RX descriptor, `BUF_LEN` included. Here it
/// rewrites `BUF_LEN` together with `FRAME_LEN` (both 0xFFFF): the ring compares the frame
/// length with the length it posted (its own copy), not with the one it reads back. Failed
/// before the fix (65,535 bytes in a 2,048-byte buffer reported valid).
#[test]
fn rx_complete_validates_against_the_posted_length_not_buf_len_read_back() {
    let (_bar, nic) = vf();
    let mut shared = Shared::new(8 * 16);
    let mem = shared.region(0x4000);
    let mut rx = nic.start_rx(0, mem, 8, Some(0)).unwrap();
    assert_eq!(rx.post(0x10_0000, 2048), Ok(0));
    rx.flush();
    mem.write16(RXD_BUF_LEN, 0xFFFF);
    mem.write16(RXD_FRAME_LEN, 0xFFFF);
    mem.write8(RXD_STATUS, RXD_STATUS_DD);
    let d = rx.complete().unwrap();
    assert!(
        !d.valid,
        "65535 bytes claimed in a 2048-byte buffer reported valid: {d:?}"
    );
}

/// att11 review: the same on TX: a frame's extent is the ring's own count of the descriptors
/// it posted, not `CMD.EOP` read back. A device that sets `EOP` and `DD` on the first
/// descriptor of a two-descriptor frame does not make the driver reclaim the frame (and free
/// its buffers) while descriptor 1 is still the device's. Failed before the fix (the frame was
/// reclaimed with one descriptor still in flight).
#[test]
fn tx_complete_finds_a_frames_end_by_its_own_count_not_eop_read_back() {
    let (_bar, nic) = vf();
    let mut shared = Shared::new(8 * 16);
    let mem = shared.region(0x4000);
    let mut tx = nic.start_tx(0, mem, 8, Some(0)).unwrap();
    let frags = [
        Frag {
            addr: 0x10_0000,
            len: 100,
        },
        Frag {
            addr: 0x20_0000,
            len: 100,
        },
    ];
    assert_eq!(tx.post(&frags, None), Ok(0));
    tx.flush();
    mem.write8(TXD_CMD, TXD_CMD_EOP);
    mem.write8(TXD_STATUS, TXD_STATUS_DD);
    let done = tx.complete();
    assert_eq!(
        done,
        None,
        "a two-descriptor frame reclaimed with its second descriptor not done: {done:?}, {} still in flight",
        tx.in_flight()
    );
    assert_eq!(tx.in_flight(), 2);
    // The device finishes descriptor 1: the whole frame completes, sent.
    mem.write8(16 + TXD_STATUS, TXD_STATUS_DD);
    assert_eq!(
        tx.complete(),
        Some(TxDone {
            slot: 0,
            sent: true
        })
    );
    assert_eq!(tx.in_flight(), 0);
}

// ---- the switch --------------------------------------------------------------------------

#[test]
fn switch_tables_as_section_7_lays_them_out() {
    let (_bar, nic) = pf();
    let m = *nic.mmio();
    let default = VPortConfig {
        function: Attached::Pf,
        rx_queue: 0,
        promiscuous: true,
        accept_broadcast: true,
        accept_multicast: true,
        port_vlan: None,
    };
    nic.set_vport(0, Some(&default)).unwrap();
    assert_eq!(m.read32(VPORT_TABLE), 0xFFFF_0000 | 0xF);
    let vf3 = VPortConfig {
        function: Attached::Vf(3),
        rx_queue: 1,
        promiscuous: false,
        port_vlan: Some((100, 5)),
        ..default
    };
    nic.set_vport(4, Some(&vf3)).unwrap();
    assert_eq!(m.read32(VPORT_TABLE + 0x40), (3 << 16) | (1 << 8) | 0xD);
    assert_eq!(m.read32(VPORT_TABLE + 0x44), (1 << 15) | (5 << 12) | 100);
    // Refusals: the default VPort is the PF's (a VF VPort is not VPort 0), numbers in range.
    // A nondefault VPort may be attached to the PF (section 7: function 0xFFFF).
    assert_eq!(nic.set_vport(0, Some(&vf3)), Err(HwError::InvalidArgument));
    let pf_nondefault = VPortConfig {
        promiscuous: false,
        ..default
    };
    nic.set_vport(1, Some(&pf_nondefault)).unwrap();
    assert_eq!(m.read32(VPORT_TABLE + 0x10), 0xFFFF_0000 | 0xD);
    nic.set_vport(1, None).unwrap();
    assert_eq!(nic.set_vport(257, None), Err(HwError::InvalidArgument));
    let bad = |c: VPortConfig| nic.set_vport(2, Some(&c));
    assert_eq!(
        bad(VPortConfig {
            function: Attached::Vf(256),
            ..vf3
        }),
        Err(HwError::InvalidArgument)
    );
    assert_eq!(
        bad(VPortConfig { rx_queue: 4, ..vf3 }),
        Err(HwError::InvalidArgument)
    );
    assert_eq!(
        bad(VPortConfig {
            port_vlan: Some((4096, 0)),
            ..vf3
        }),
        Err(HwError::InvalidArgument)
    );
    assert_eq!(
        bad(VPortConfig {
            port_vlan: Some((10, 8)),
            ..vf3
        }),
        Err(HwError::InvalidArgument)
    );
    nic.set_vport(4, None).unwrap();
    assert_eq!(m.read32(VPORT_TABLE + 0x40), 0);

    let flt = Filter {
        mac: [0x02, 0, 0, 0, 0, 0x07],
        vlan: Some(100),
        vport: 4,
    };
    nic.set_filter(511, Some(&flt)).unwrap();
    let base = FILTER_TABLE + 511 * 16;
    assert_eq!((m.read32(base), m.read32(base + 4)), (0x02, 0x0700));
    assert_eq!(m.read32(base + 8), FLT_VLAN_MATCH | 100);
    assert_eq!(m.read32(base + 12), FLT_VALID | (4 << 16));
    nic.set_filter(511, None).unwrap();
    // The whole entry back at its reset value.
    for off in [0, 4, 8, 12] {
        assert_eq!(m.read32(base + off), 0);
    }
    assert_eq!(
        nic.set_filter(512, Some(&flt)),
        Err(HwError::InvalidArgument)
    );
    assert_eq!(
        nic.set_filter(0, Some(&Filter { vport: 257, ..flt })),
        Err(HwError::InvalidArgument)
    );
    assert_eq!(
        nic.set_filter(
            0,
            Some(&Filter {
                vlan: Some(4096),
                ..flt
            })
        ),
        Err(HwError::InvalidArgument)
    );

    // Commit: a new SW_COMMIT value each time; in force once the device acknowledges it.
    let t1 = nic.commit();
    assert_eq!(m.read32(SW_COMMIT), t1);
    assert!(!nic.committed(t1));
    m.write32(SW_COMMIT_ACK, t1);
    assert!(nic.committed(t1));
    let t2 = nic.commit();
    assert_ne!(t1, t2);
    assert!(!nic.committed(t2));
    // A later commit acknowledged covers the earlier ones; all ones (a device gone) none.
    let t3 = nic.commit();
    m.write32(SW_COMMIT_ACK, t3);
    assert!(nic.committed(t2) && nic.committed(t3));
    assert!(!nic.committed(t3.wrapping_add(1)));
    m.write32(SW_COMMIT_ACK, GONE);
    assert!(!nic.committed(t3));
    nic.set_switch(true);
    assert_eq!(m.read32(SW_CTRL), SW_ENABLE);
}

#[test]
fn vf_control_and_vf_reset() {
    let (_bar, nic) = pf();
    let m = *nic.mmio();
    let ctl = VfControl {
        enabled: true,
        link_forced_down: false,
        mac: [0x02, 1, 2, 3, 4, 5],
        queue_pairs: 4,
    };
    nic.set_vf(255, &ctl).unwrap();
    let base = VF_TABLE + 255 * 16;
    assert_eq!(m.read32(base), VF_CTRL_ENABLE);
    assert_eq!(
        (m.read32(base + 4), m.read32(base + 8), m.read32(base + 12)),
        (0x0302_0102, 0x0504, 4)
    );
    assert_eq!(nic.set_vf(256, &ctl), Err(HwError::InvalidArgument));
    assert_eq!(
        nic.set_vf(
            0,
            &VfControl {
                queue_pairs: 0,
                ..ctl
            }
        ),
        Err(HwError::InvalidArgument)
    );
    assert_eq!(
        nic.set_vf(
            0,
            &VfControl {
                queue_pairs: 5,
                ..ctl
            }
        ),
        Err(HwError::InvalidArgument)
    );
    // Reset keeps ENABLE and waits for the self-clearing bit.
    let r = nic.reset_vf(255, &mut |_| m.write32(base, VF_CTRL_ENABLE));
    assert_eq!(r, Ok(()));
    assert_eq!(nic.reset_vf(255, &mut |_| {}), Err(HwError::Timeout));

    // None of it on a VF.
    let (_vbar, v) = vf();
    assert_eq!(v.set_vf(0, &ctl), Err(HwError::InvalidArgument));
    assert_eq!(v.set_filter(0, None), Err(HwError::InvalidArgument));
    assert_eq!(v.set_vport(0, None), Err(HwError::InvalidArgument));
    assert_eq!(v.commit(), 0);
    v.set_switch(true);
    assert_eq!(v.mmio().read32(SW_CTRL), 0, "a VF BAR has no switch");
}

// ---- the BAR from AllocatedResources ------------------------------------------------------

fn descriptor(ty: u8, start: i64, len: u32) -> CM_PARTIAL_RESOURCE_DESCRIPTOR {
    CM_PARTIAL_RESOURCE_DESCRIPTOR {
        Type: ty,
        ShareDisposition: 1,
        Flags: 0,
        u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
            Memory: CM_PARTIAL_RESOURCE_MEMORY {
                Start: start,
                Length: len,
            },
        },
    }
}

/// A resource list of `descs` laid out as NDIS passes it (descriptors back to back).
fn list(descs: &[CM_PARTIAL_RESOURCE_DESCRIPTOR]) -> Vec<u32> {
    let mut words = vec![0u32; 2 + descs.len() * 5];
    words[0] = 1 | (1 << 16);
    words[1] = descs.len() as u32;
    for (i, d) in descs.iter().enumerate() {
        // SAFETY: 20 bytes of plain data into a buffer of at least that size.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (d as *const CM_PARTIAL_RESOURCE_DESCRIPTOR).cast::<u8>(),
                words.as_mut_ptr().add(2 + 5 * i).cast::<u8>(),
                20,
            )
        };
    }
    words
}

#[test]
fn memory_resource_is_found_in_allocated_resources() {
    const INTERRUPT: u8 = 2;
    let l = list(&[
        descriptor(INTERRUPT, 0, 0),
        descriptor(CmResourceTypeMemory, 0xF000_0000, 0x1000),
        descriptor(CmResourceTypeMemory, 0xF800_0000, 0x2_0000),
    ]);
    let p = l.as_ptr().cast::<CM_PARTIAL_RESOURCE_LIST>();
    // SAFETY: a list laid out as NDIS's.
    unsafe {
        assert_eq!(
            find_memory_resource(p, PF_BAR0_LEN),
            Some((0xF800_0000, 0x2_0000)),
            "the first one large enough"
        );
        assert_eq!(find_memory_resource(p, 0x1000), Some((0xF000_0000, 0x1000)));
        assert_eq!(find_memory_resource(p, 0x4_0000), None);
        assert_eq!(find_memory_resource(std::ptr::null(), 0), None);
    }
    let mut l = list(&[descriptor(CmResourceTypeMemory, 1, 0x1000)]);
    l[1] = 65;
    // SAFETY: the count is refused before any descriptor past the first is read.
    assert_eq!(unsafe { find_memory_resource(l.as_ptr().cast(), 0) }, None);
}

#[test]
fn hw_errors_map_to_ndis_statuses() {
    assert_eq!(HwError::Gone.status(), NDIS_STATUS_ADAPTER_REMOVED);
    assert_eq!(HwError::RingFull.status(), NDIS_STATUS_RESOURCES);
    assert_eq!(
        HwError::InvalidArgument.status(),
        NDIS_STATUS_INVALID_PARAMETER
    );
    assert_eq!(HwError::Timeout.status(), NDIS_STATUS_DEVICE_FAILED);
    assert_eq!(HwError::WrongDevice.status(), NDIS_STATUS_ADAPTER_NOT_FOUND);
}

#[test]
fn counters_become_ndis_statistics() {
    let c = Counters {
        rx_ucast_pkts: 1,
        rx_mcast_pkts: 2,
        rx_bcast_pkts: 3,
        rx_ucast_octets: 100,
        rx_mcast_octets: 200,
        rx_bcast_octets: u64::MAX,
        rx_discards: 4,
        rx_errors: 5,
        tx_ucast_pkts: 6,
        tx_mcast_pkts: 7,
        tx_bcast_pkts: 8,
        tx_ucast_octets: 600,
        tx_mcast_octets: 700,
        tx_bcast_octets: 800,
        tx_discards: 9,
        tx_errors: 10,
    };
    let s = c.statistics_info();
    assert_eq!(
        (s.Header.Type, s.Header.Revision, s.Header.Size),
        (0x80, 1, 152)
    );
    assert_eq!(s.ifHCInOctets, u64::MAX, "saturates, never wraps");
    assert_eq!(s.ifHCOutOctets, 2100);
    assert_eq!(
        (s.ifInDiscards, s.ifInErrors, s.ifOutDiscards, s.ifOutErrors),
        (4, 5, 9, 10)
    );
    assert_eq!(
        (
            s.ifHCInUcastPkts,
            s.ifHCInMulticastPkts,
            s.ifHCInBroadcastPkts
        ),
        (1, 2, 3)
    );
    assert_eq!(
        (
            s.ifHCOutUcastPkts,
            s.ifHCOutMulticastPkts,
            s.ifHCOutBroadcastPkts
        ),
        (6, 7, 8)
    );
    assert_eq!(
        s.SupportedStatistics, 0x003F_87FF,
        "every flag mingw-w64's ntddndis.h l.224-242 lists"
    );
}

/// `RefNic::committed` takes an acknowledgement at or after the token, but never one of a commit
/// the driver never wrote (found by the issue-11 review: a garbage acknowledgement counted for
/// about half of all commits, and the PF would tell a VF its MAC/VLAN was in force when the
/// switch never took it).
#[test]
fn an_acknowledgement_of_a_commit_never_issued_is_not_one() {
    let (bar, nic) = pf();
    let m = nic.mmio();
    let first = nic.commit();
    let second = nic.commit();
    m.write32(SW_COMMIT_ACK, first);
    assert!(nic.committed(first) && !nic.committed(second));
    m.write32(SW_COMMIT_ACK, second);
    assert!(nic.committed(first), "a later commit covers an earlier one");
    m.write32(SW_COMMIT_ACK, 0x1234_5678);
    assert!(!nic.committed(second), "garbage past the last token issued");
    m.write32(SW_COMMIT_ACK, second.wrapping_add(1));
    assert!(!nic.committed(second), "the next token, not yet issued");
    drop(bar);
}
