//! Register offsets, bits and descriptor layouts of the reference NIC, exactly as
//! `docs/reference-nic.md` gives them (section numbers in each group's heading);
//! `common/tests/hw.rs` holds this file to the tables of that page. The simulator's device
//! model uses the same names, so a change here is a change of the specification.

// ---- 1. PCI functions ----------------------------------------------------------------------
/// BAR 0 lengths.
pub const PF_BAR0_LEN: u32 = 0x2_0000;
pub const VF_BAR0_LEN: u32 = 0x1_0000;
/// MSI-X vectors of each function.
pub const PF_VECTORS: u8 = 16;
pub const VF_VECTORS: u8 = 8;
pub const PF_DEVICE_ID: u16 = 0xF1F0;
pub const VF_DEVICE_ID: u16 = 0xF1F1;
/// `ID.REV` this implementation speaks.
pub const SPEC_REV: u8 = 1;

// ---- 4. Function window --------------------------------------------------------------------
pub const ID: u32 = 0x000;
pub const STATUS: u32 = 0x004;
pub const CTRL: u32 = 0x008;
pub const LINK: u32 = 0x00C;
pub const LINK_SPEED: u32 = 0x010;
pub const LINK_SEQ: u32 = 0x014;
pub const MAC_LO: u32 = 0x018;
pub const MAC_HI: u32 = 0x01C;
pub const MAX_FRAME: u32 = 0x020;
pub const QP_COUNT: u32 = 0x024;
pub const INT_CAUSE: u32 = 0x028;
pub const MISC_IVAR: u32 = 0x02C;
/// `VEC_EN[v]` is at `VEC_EN + 4 * v`.
pub const VEC_EN: u32 = 0x040;

/// `ID` fields.
pub const ID_KIND_SHIFT: u32 = 24;
pub const ID_REV_SHIFT: u32 = 16;
pub const KIND_PF: u8 = 0;
pub const KIND_VF: u8 = 1;
/// `STATUS` bits.
pub const STATUS_READY: u32 = 1 << 0;
pub const STATUS_LINK_UP: u32 = 1 << 1;
pub const STATUS_ENABLED: u32 = 1 << 2;
/// `CTRL` bits.
pub const CTRL_RESET: u32 = 1 << 0;
pub const CTRL_DMA_EN: u32 = 1 << 1;
/// `LINK` bits.
pub const LINK_UP: u32 = 1 << 0;
pub const LINK_FULL_DUPLEX: u32 = 1 << 1;
/// `MAX_FRAME` bounds and reset value.
pub const MAX_FRAME_MIN: u32 = 60;
pub const MAX_FRAME_MAX: u32 = 9014;
pub const MAX_FRAME_RESET: u32 = 1514;
/// Queue pairs a function may have (`QP_COUNT` is 1..=this).
pub const MAX_QUEUE_PAIRS: u8 = 4;
/// `INT_CAUSE` bits: TX queue q is bit q, RX queue q bit 8 + q, the link bit 16.
pub const CAUSE_TX0: u32 = 0;
pub const CAUSE_RX0: u32 = 8;
pub const CAUSE_LINK: u32 = 1 << 16;
/// `*_IVAR` fields.
pub const IVAR_VECTOR_MASK: u32 = 0xFF;
pub const IVAR_VALID: u32 = 1 << 31;
/// `VEC_EN[v]` bit.
pub const VEC_ENABLE: u32 = 1 << 0;

/// Counters (64-bit), section 4's table.
pub const RX_UCAST_PKTS: u32 = 0x100;
pub const RX_MCAST_PKTS: u32 = 0x108;
pub const RX_BCAST_PKTS: u32 = 0x110;
pub const RX_UCAST_OCTETS: u32 = 0x118;
pub const RX_MCAST_OCTETS: u32 = 0x120;
pub const RX_BCAST_OCTETS: u32 = 0x128;
pub const RX_DISCARDS: u32 = 0x130;
pub const RX_ERRORS: u32 = 0x138;
pub const TX_UCAST_PKTS: u32 = 0x140;
pub const TX_MCAST_PKTS: u32 = 0x148;
pub const TX_BCAST_PKTS: u32 = 0x150;
pub const TX_UCAST_OCTETS: u32 = 0x158;
pub const TX_MCAST_OCTETS: u32 = 0x160;
pub const TX_BCAST_OCTETS: u32 = 0x168;
pub const TX_DISCARDS: u32 = 0x170;
pub const TX_ERRORS: u32 = 0x178;

// ---- 5. Queue pairs ------------------------------------------------------------------------
/// Queue pair q's block is at `QUEUE_BASE + QUEUE_STRIDE * q`.
pub const QUEUE_BASE: u32 = 0x1000;
pub const QUEUE_STRIDE: u32 = 0x100;
/// Offsets in a queue pair's block; the RX registers are the TX ones plus [`RXQ`].
pub const TXQ_BASE: u32 = 0x00;
pub const TXQ_LEN: u32 = 0x08;
pub const TXQ_TAIL: u32 = 0x0C;
pub const TXQ_HEAD: u32 = 0x10;
pub const TXQ_CTRL: u32 = 0x14;
pub const TXQ_STATUS: u32 = 0x18;
pub const TXQ_IVAR: u32 = 0x1C;
pub const RXQ: u32 = 0x40;
/// `*Q_CTRL` / `*Q_STATUS` bits.
pub const Q_ENABLE: u32 = 1 << 0;
pub const Q_ACTIVE: u32 = 1 << 0;
pub const Q_FAULT: u32 = 1 << 1;
/// Ring length bounds (a power of two) and base alignment.
pub const RING_MIN: u16 = 8;
pub const RING_MAX: u16 = 4096;
pub const RING_ALIGN: u64 = 128;

/// Descriptors (both rings): 16 bytes, little-endian.
pub const DESC_BYTES: usize = 16;
/// TX descriptor fields.
pub const TXD_ADDR: usize = 0;
pub const TXD_LEN: usize = 8;
pub const TXD_CMD: usize = 10;
pub const TXD_STATUS: usize = 11;
pub const TXD_VLAN_TCI: usize = 12;
pub const TXD_CMD_EOP: u8 = 1 << 0;
pub const TXD_CMD_VLE: u8 = 1 << 1;
pub const TXD_STATUS_DD: u8 = 1 << 0;
pub const TXD_STATUS_ERR: u8 = 1 << 1;
/// Longest buffer of one TX descriptor, and most descriptors in one frame.
pub const TXD_MAX_LEN: u16 = 16383;
pub const TX_MAX_FRAGS: usize = 16;
/// RX descriptor fields.
pub const RXD_ADDR: usize = 0;
pub const RXD_BUF_LEN: usize = 8;
pub const RXD_FRAME_LEN: usize = 10;
pub const RXD_STATUS: usize = 12;
pub const RXD_VLAN_TCI: usize = 14;
pub const RXD_STATUS_DD: u8 = 1 << 0;
pub const RXD_STATUS_VLAN: u8 = 1 << 1;
pub const RXD_STATUS_BCAST: u8 = 1 << 2;
pub const RXD_STATUS_MCAST: u8 = 1 << 3;

// ---- 7. Embedded switch (PF BAR 0) ---------------------------------------------------------
pub const SW_CTRL: u32 = 0x2000;
pub const SW_COMMIT: u32 = 0x2004;
pub const SW_COMMIT_ACK: u32 = 0x2008;
pub const SW_CAPS: u32 = 0x200C;
pub const SW_DROPS: u32 = 0x2010;
pub const SW_ENABLE: u32 = 1 << 0;
/// VPort table: entry p at `VPORT_TABLE + VPORT_STRIDE * p`, p < [`VPORTS`].
pub const VPORT_TABLE: u32 = 0x6000;
pub const VPORT_STRIDE: u32 = 0x10;
pub const VPORTS: u16 = 257;
pub const VP_CTRL: u32 = 0x0;
pub const VP_VLAN: u32 = 0x4;
pub const VP_EN: u32 = 1 << 0;
pub const VP_PROMISC: u32 = 1 << 1;
pub const VP_ACCEPT_BCAST: u32 = 1 << 2;
pub const VP_ACCEPT_MCAST: u32 = 1 << 3;
pub const VP_QUEUE_SHIFT: u32 = 8;
pub const VP_FUNCTION_SHIFT: u32 = 16;
/// `VP_CTRL` function field value naming the PF.
pub const VP_FUNCTION_PF: u16 = 0xFFFF;
pub const VP_VLAN_PCP_SHIFT: u32 = 12;
pub const VP_PORT_VLAN: u32 = 1 << 15;
/// Filter table: entry f at `FILTER_TABLE + FILTER_STRIDE * f`, f < [`FILTERS`].
pub const FILTER_TABLE: u32 = 0x4000;
pub const FILTER_STRIDE: u32 = 0x10;
pub const FILTERS: u16 = 512;
pub const FLT_MAC_LO: u32 = 0x0;
pub const FLT_MAC_HI: u32 = 0x4;
pub const FLT_VLAN: u32 = 0x8;
pub const FLT_CTRL: u32 = 0xC;
pub const FLT_VLAN_MATCH: u32 = 1 << 12;
pub const FLT_VALID: u32 = 1 << 0;
pub const FLT_VPORT_SHIFT: u32 = 16;
/// VLAN ids are 12 bits.
pub const VLAN_ID_MASK: u16 = 0x0FFF;

// ---- 8. VF control (PF BAR 0) --------------------------------------------------------------
/// Entry v at `VF_TABLE + VF_STRIDE * v`, v < [`VFS`].
pub const VF_TABLE: u32 = 0x8000;
pub const VF_STRIDE: u32 = 0x10;
pub const VFS: u16 = 256;
pub const VF_CTRL: u32 = 0x0;
pub const VF_MAC_LO: u32 = 0x4;
pub const VF_MAC_HI: u32 = 0x8;
pub const VF_QP: u32 = 0xC;
pub const VF_CTRL_ENABLE: u32 = 1 << 0;
pub const VF_CTRL_RESET: u32 = 1 << 1;
pub const VF_CTRL_LINK_DOWN: u32 = 1 << 2;

// ---- 3. MSI-X (the OS's; listed so that nothing else is placed there) ----------------------
pub const PF_MSIX_TABLE: u32 = 0xC000;
pub const PF_MSIX_PBA: u32 = 0xE000;
pub const VF_MSIX_TABLE: u32 = 0x2000;
pub const VF_MSIX_PBA: u32 = 0x3000;

// ---- 9. Reset ------------------------------------------------------------------------------
/// A reset completes within 1 ms; a driver gives up after 10 ms.
pub const RESET_TIMEOUT_US: u32 = 10_000;
/// `ID` of a device that is gone (surprise removal): all ones.
pub const GONE: u32 = 0xFFFF_FFFF;

/// Queue pair `q`'s TX register `reg` (or RX with `reg + RXQ`).
pub const fn queue_reg(q: u8, reg: u32) -> u32 {
    QUEUE_BASE + QUEUE_STRIDE * q as u32 + reg
}

/// `MAC_LO`/`MAC_HI` values of a MAC address (byte 0 in bits 7:0 of the low register).
pub const fn mac_regs(mac: [u8; 6]) -> (u32, u32) {
    (
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        u16::from_le_bytes([mac[4], mac[5]]) as u32,
    )
}

/// The MAC address of `MAC_LO`/`MAC_HI` values.
pub const fn mac_of(lo: u32, hi: u32) -> [u8; 6] {
    let l = lo.to_le_bytes();
    let h = hi.to_le_bytes();
    [l[0], l[1], l[2], l[3], h[0], h[1]]
}
