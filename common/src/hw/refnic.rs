//! [`NicHw`] and [`SwitchHw`] for the reference NIC (docs/reference-nic.md): every method is
//! a few register accesses on the mapped BAR 0; rings are [`TxRing`]/[`RxRing`].
use super::mmio::{DmaRegion, Mmio};
use super::regs::*;
use super::ring::{RxRing, TxRing};
use super::{
    Attached, Counters, Filter, FunctionKind, HwError, Identity, LinkState, NicHw, SwitchHw,
    VPortConfig, VfControl,
};
use core::sync::atomic::{AtomicU32, Ordering};

/// Polling interval while waiting for a reset (microseconds).
const POLL_US: u32 = 100;

/// One function of the reference NIC, through its mapped BAR 0.
#[derive(Debug)]
pub struct RefNic {
    mmio: Mmio,
    kind: FunctionKind,
    /// Last `SW_COMMIT` value written (PF).
    commit: AtomicU32,
}

impl RefNic {
    /// The function behind `mmio`, which must be at least the BAR 0 length of `kind`
    /// (`InvalidArgument` otherwise). Reads nothing: call [`NicHw::identify`] next.
    pub fn new(mmio: Mmio, kind: FunctionKind) -> Result<Self, HwError> {
        let need = match kind {
            FunctionKind::Pf => PF_BAR0_LEN,
            FunctionKind::Vf => VF_BAR0_LEN,
        };
        if mmio.len() < need {
            return Err(HwError::InvalidArgument);
        }
        Ok(Self {
            mmio,
            kind,
            commit: AtomicU32::new(0),
        })
    }

    pub fn mmio(&self) -> &Mmio {
        &self.mmio
    }

    fn vectors(&self) -> u8 {
        match self.kind {
            FunctionKind::Pf => PF_VECTORS,
            FunctionKind::Vf => VF_VECTORS,
        }
    }

    fn queue_pairs(&self) -> u8 {
        let n = self.mmio.read32(QP_COUNT);
        if n == 0 || n > u32::from(MAX_QUEUE_PAIRS) {
            // Outside the spec's 1..=4 (or the device is gone): use no more than one.
            1
        } else {
            n as u8
        }
    }

    fn ivar(&self, vector: Option<u8>) -> Result<u32, HwError> {
        match vector {
            None => Ok(0),
            Some(v) if v < self.vectors() => Ok(IVAR_VALID | u32::from(v)),
            Some(_) => Err(HwError::InvalidArgument),
        }
    }

    /// Programs and enables one ring (`rx` selects the RX registers).
    fn start(
        &self,
        q: u8,
        rx: bool,
        mem: DmaRegion,
        len: u16,
        vector: Option<u8>,
    ) -> Result<u32, HwError> {
        if q >= self.queue_pairs() {
            return Err(HwError::InvalidArgument);
        }
        let bytes = Self::ring_bytes(len).ok_or(HwError::InvalidArgument)?;
        // The rings' per-slot copies (`ring::MAX_TRACKED`) bound what the driver starts.
        if len > super::ring::MAX_TRACKED {
            return Err(HwError::InvalidArgument);
        }
        if mem.len() < bytes || !mem.pa().is_multiple_of(RING_ALIGN) {
            return Err(HwError::InvalidArgument);
        }
        let ivar = self.ivar(vector)?;
        let off = if rx { RXQ } else { 0 };
        let reg = |r: u32| queue_reg(q, r + off);
        if self.mmio.read32(reg(TXQ_CTRL)) & Q_ENABLE != 0
            || self.mmio.read32(reg(TXQ_STATUS)) & Q_ACTIVE != 0
        {
            return Err(HwError::Busy);
        }
        self.mmio.write64(reg(TXQ_BASE), mem.pa());
        self.mmio.write32(reg(TXQ_LEN), u32::from(len));
        self.mmio.write32(reg(TXQ_TAIL), 0);
        self.mmio.write32(reg(TXQ_IVAR), ivar);
        self.mmio.write32(reg(TXQ_CTRL), Q_ENABLE);
        Ok(reg(TXQ_TAIL))
    }

    fn idle(&self, q: u8, rx: bool) -> bool {
        if q >= MAX_QUEUE_PAIRS {
            return true;
        }
        let off = if rx { RXQ } else { 0 };
        let status = self.mmio.read32(queue_reg(q, TXQ_STATUS + off));
        // A vanished device (all ones) does no more DMA either.
        status == GONE || status & Q_ACTIVE == 0
    }

    /// Waits for the self-clearing bit `bit` of `reg` to clear.
    fn wait_clear(&self, reg: u32, bit: u32, sleep: &mut dyn FnMut(u32)) -> Result<(), HwError> {
        let mut waited = 0;
        loop {
            let v = self.mmio.read32(reg);
            if v == GONE {
                return Err(HwError::Gone);
            }
            if v & bit == 0 {
                return Ok(());
            }
            if waited >= RESET_TIMEOUT_US {
                return Err(HwError::Timeout);
            }
            sleep(POLL_US);
            waited += POLL_US;
        }
    }

    fn pf_only(&self) -> Result<(), HwError> {
        match self.kind {
            FunctionKind::Pf => Ok(()),
            FunctionKind::Vf => Err(HwError::InvalidArgument),
        }
    }
}

impl NicHw for RefNic {
    type Tx = TxRing;
    type Rx = RxRing;
    const RING_ALIGN: u64 = RING_ALIGN;

    fn ring_bytes(len: u16) -> Option<u32> {
        (len.is_power_of_two() && (RING_MIN..=RING_MAX).contains(&len))
            .then_some(u32::from(len) * DESC_BYTES as u32)
    }

    fn identify(&self, expected: FunctionKind) -> Result<Identity, HwError> {
        let id = self.mmio.read32(ID);
        if id == GONE {
            return Err(HwError::Gone);
        }
        let [lo, hi, revision, kind] = id.to_le_bytes();
        let device_id = u16::from_le_bytes([lo, hi]);
        let (want_kind, want_id) = match expected {
            FunctionKind::Pf => (KIND_PF, PF_DEVICE_ID),
            FunctionKind::Vf => (KIND_VF, VF_DEVICE_ID),
        };
        if expected != self.kind
            || kind != want_kind
            || device_id != want_id
            || revision != SPEC_REV
        {
            return Err(HwError::WrongDevice);
        }
        Ok(Identity {
            kind: expected,
            device_id,
            revision,
            queue_pairs: self.queue_pairs(),
            vectors: self.vectors(),
        })
    }

    fn reset(&self, sleep: &mut dyn FnMut(u32)) -> Result<(), HwError> {
        self.mmio.write32(CTRL, CTRL_RESET);
        self.wait_clear(CTRL, CTRL_RESET, sleep)?;
        if self.mmio.read32(STATUS) & STATUS_READY == 0 {
            return Err(HwError::Timeout);
        }
        self.commit.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn set_dma(&self, enabled: bool) {
        self.mmio
            .write32(CTRL, if enabled { CTRL_DMA_EN } else { 0 });
    }

    fn quiesce(&self) {
        self.mmio.write32(CTRL, 0);
        for v in 0..self.vectors() {
            self.mmio.write32(VEC_EN + 4 * u32::from(v), 0);
        }
    }

    fn present(&self) -> bool {
        self.mmio.read32(ID) != GONE
    }

    fn mac(&self) -> [u8; 6] {
        mac_of(self.mmio.read32(MAC_LO), self.mmio.read32(MAC_HI))
    }

    fn link(&self) -> LinkState {
        // LINK_SEQ first: a change after it moves LINK_SEQ again (and latches the LINK cause),
        // so the next look reads LINK anew (section 9).
        let seq = self.mmio.read32(LINK_SEQ);
        let l = self.mmio.read32(LINK);
        if l == GONE || seq == GONE {
            return LinkState::default();
        }
        let up = l & LINK_UP != 0;
        let speed = self.mmio.read32(LINK_SPEED);
        LinkState {
            up,
            full_duplex: l & LINK_FULL_DUPLEX != 0,
            // A speed the device cannot have (all ones) is unknown: 0.
            speed_mbps: if up && speed != GONE { speed } else { 0 },
            seq,
        }
    }

    fn set_max_frame(&self, bytes: u32) -> Result<(), HwError> {
        if !(MAX_FRAME_MIN..=MAX_FRAME_MAX).contains(&bytes) {
            return Err(HwError::InvalidArgument);
        }
        self.mmio.write32(MAX_FRAME, bytes);
        Ok(())
    }

    fn counters(&self) -> Counters {
        let r = |off| self.mmio.read64(off);
        Counters {
            rx_ucast_pkts: r(RX_UCAST_PKTS),
            rx_mcast_pkts: r(RX_MCAST_PKTS),
            rx_bcast_pkts: r(RX_BCAST_PKTS),
            rx_ucast_octets: r(RX_UCAST_OCTETS),
            rx_mcast_octets: r(RX_MCAST_OCTETS),
            rx_bcast_octets: r(RX_BCAST_OCTETS),
            rx_discards: r(RX_DISCARDS),
            rx_errors: r(RX_ERRORS),
            tx_ucast_pkts: r(TX_UCAST_PKTS),
            tx_mcast_pkts: r(TX_MCAST_PKTS),
            tx_bcast_pkts: r(TX_BCAST_PKTS),
            tx_ucast_octets: r(TX_UCAST_OCTETS),
            tx_mcast_octets: r(TX_MCAST_OCTETS),
            tx_bcast_octets: r(TX_BCAST_OCTETS),
            tx_discards: r(TX_DISCARDS),
            tx_errors: r(TX_ERRORS),
        }
    }

    fn start_tx(
        &self,
        q: u8,
        mem: DmaRegion,
        len: u16,
        vector: Option<u8>,
    ) -> Result<TxRing, HwError> {
        let tail = self.start(q, false, mem, len, vector)?;
        Ok(TxRing::new(self.mmio, tail, mem, len))
    }

    fn start_rx(
        &self,
        q: u8,
        mem: DmaRegion,
        len: u16,
        vector: Option<u8>,
    ) -> Result<RxRing, HwError> {
        let tail = self.start(q, true, mem, len, vector)?;
        Ok(RxRing::new(self.mmio, tail, mem, len))
    }

    fn stop_tx(&self, q: u8) {
        if q < MAX_QUEUE_PAIRS {
            self.mmio.write32(queue_reg(q, TXQ_CTRL), 0);
        }
    }

    fn stop_rx(&self, q: u8) {
        if q < MAX_QUEUE_PAIRS {
            self.mmio.write32(queue_reg(q, TXQ_CTRL + RXQ), 0);
        }
    }

    fn tx_idle(&self, q: u8) -> bool {
        self.idle(q, false)
    }

    fn rx_idle(&self, q: u8) -> bool {
        self.idle(q, true)
    }

    fn set_vector(&self, v: u8, enabled: bool) {
        if v < self.vectors() {
            self.mmio
                .write32(VEC_EN + 4 * u32::from(v), u32::from(enabled) * VEC_ENABLE);
        }
    }

    fn vector_enabled(&self, v: u8) -> bool {
        if v >= self.vectors() {
            return false;
        }
        let en = self.mmio.read32(VEC_EN + 4 * u32::from(v));
        en != GONE && en & VEC_ENABLE != 0
    }

    fn route_link(&self, vector: Option<u8>) {
        if let Ok(ivar) = self.ivar(vector) {
            self.mmio.write32(MISC_IVAR, ivar);
        }
    }

    fn link_routed(&self) -> bool {
        self.mmio.read32(MISC_IVAR) & IVAR_VALID != 0
    }

    fn pending_causes(&self) -> u32 {
        self.mmio.read32(INT_CAUSE)
    }
}

impl SwitchHw for RefNic {
    fn set_switch(&self, enabled: bool) {
        if self.pf_only().is_ok() {
            self.mmio.write32(SW_CTRL, u32::from(enabled) * SW_ENABLE);
        }
    }

    fn set_vport(&self, p: u16, cfg: Option<&VPortConfig>) -> Result<(), HwError> {
        self.pf_only()?;
        if p >= VPORTS {
            return Err(HwError::InvalidArgument);
        }
        let base = VPORT_TABLE + VPORT_STRIDE * u32::from(p);
        let Some(c) = cfg else {
            self.mmio.write32(base + VP_CTRL, 0);
            self.mmio.write32(base + VP_VLAN, 0);
            return Ok(());
        };
        let function = match c.function {
            Attached::Pf => VP_FUNCTION_PF,
            Attached::Vf(vf) if vf < VFS => vf,
            Attached::Vf(_) => return Err(HwError::InvalidArgument),
        };
        // VPort 0 is the default VPort and belongs to the PF; a nondefault VPort may name the
        // PF or a VF (section 7).
        if (p == 0 && c.function != Attached::Pf) || c.rx_queue >= MAX_QUEUE_PAIRS {
            return Err(HwError::InvalidArgument);
        }
        let vlan = match c.port_vlan {
            None => 0,
            Some((id, pcp)) if id <= VLAN_ID_MASK && id != 0 && pcp < 8 => {
                VP_PORT_VLAN | (u32::from(pcp) << VP_VLAN_PCP_SHIFT) | u32::from(id)
            }
            Some(_) => return Err(HwError::InvalidArgument),
        };
        let ctrl = VP_EN
            | if c.promiscuous { VP_PROMISC } else { 0 }
            | if c.accept_broadcast {
                VP_ACCEPT_BCAST
            } else {
                0
            }
            | if c.accept_multicast {
                VP_ACCEPT_MCAST
            } else {
                0
            }
            | (u32::from(c.rx_queue) << VP_QUEUE_SHIFT)
            | (u32::from(function) << VP_FUNCTION_SHIFT);
        self.mmio.write32(base + VP_VLAN, vlan);
        self.mmio.write32(base + VP_CTRL, ctrl);
        Ok(())
    }

    fn set_filter(&self, f: u16, filter: Option<&Filter>) -> Result<(), HwError> {
        self.pf_only()?;
        if f >= FILTERS {
            return Err(HwError::InvalidArgument);
        }
        let base = FILTER_TABLE + FILTER_STRIDE * u32::from(f);
        let Some(flt) = filter else {
            // Invalid first, then the rest of the entry back to its reset value (0).
            self.mmio.write32(base + FLT_CTRL, 0);
            self.mmio.write32(base + FLT_MAC_LO, 0);
            self.mmio.write32(base + FLT_MAC_HI, 0);
            self.mmio.write32(base + FLT_VLAN, 0);
            return Ok(());
        };
        if flt.vport >= VPORTS {
            return Err(HwError::InvalidArgument);
        }
        let vlan = match flt.vlan {
            None => 0,
            Some(id) if id <= VLAN_ID_MASK => FLT_VLAN_MATCH | u32::from(id),
            Some(_) => return Err(HwError::InvalidArgument),
        };
        let (lo, hi) = mac_regs(flt.mac);
        self.mmio.write32(base + FLT_MAC_LO, lo);
        self.mmio.write32(base + FLT_MAC_HI, hi);
        self.mmio.write32(base + FLT_VLAN, vlan);
        self.mmio.write32(
            base + FLT_CTRL,
            FLT_VALID | (u32::from(flt.vport) << FLT_VPORT_SHIFT),
        );
        Ok(())
    }

    fn commit(&self) -> u32 {
        if self.pf_only().is_err() {
            return 0;
        }
        // Table stores before the commit write (section 7: the device snapshots on the change).
        core::sync::atomic::fence(Ordering::Release);
        let token = self.commit.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        self.mmio.write32(SW_COMMIT, token);
        token
    }

    fn committed(&self, token: u32) -> bool {
        // The device acknowledges the last value it saw: a later commit acknowledged covers this
        // one too (serial comparison, RFC 1982 style), but only up to the last token issued: an
        // acknowledgement of a commit never written is garbage, not an ack. All ones is a device
        // gone, never an ack.
        let ack = self.mmio.read32(SW_COMMIT_ACK);
        let last = self.commit.load(Ordering::Acquire);
        self.pf_only().is_ok()
            && ack != GONE
            && (ack.wrapping_sub(token) as i32) >= 0
            && (last.wrapping_sub(ack) as i32) >= 0
    }

    fn set_vf(&self, vf: u16, ctl: &VfControl) -> Result<(), HwError> {
        self.pf_only()?;
        if vf >= VFS || ctl.queue_pairs == 0 || ctl.queue_pairs > MAX_QUEUE_PAIRS {
            return Err(HwError::InvalidArgument);
        }
        let base = VF_TABLE + VF_STRIDE * u32::from(vf);
        let (lo, hi) = mac_regs(ctl.mac);
        self.mmio.write32(base + VF_MAC_LO, lo);
        self.mmio.write32(base + VF_MAC_HI, hi);
        self.mmio.write32(base + VF_QP, u32::from(ctl.queue_pairs));
        let ctrl = if ctl.enabled { VF_CTRL_ENABLE } else { 0 }
            | if ctl.link_forced_down {
                VF_CTRL_LINK_DOWN
            } else {
                0
            };
        self.mmio.write32(base + VF_CTRL, ctrl);
        Ok(())
    }

    fn reset_vf(&self, vf: u16, sleep: &mut dyn FnMut(u32)) -> Result<(), HwError> {
        self.pf_only()?;
        if vf >= VFS {
            return Err(HwError::InvalidArgument);
        }
        let reg = VF_TABLE + VF_STRIDE * u32::from(vf) + VF_CTRL;
        let ctrl = self.mmio.read32(reg);
        if ctrl == GONE {
            return Err(HwError::Gone);
        }
        self.mmio.write32(
            reg,
            (ctrl & (VF_CTRL_ENABLE | VF_CTRL_LINK_DOWN)) | VF_CTRL_RESET,
        );
        self.wait_clear(reg, VF_CTRL_RESET, sleep)
    }
}
