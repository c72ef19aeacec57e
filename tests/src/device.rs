//! A device model of the reference NIC (docs/reference-nic.md), written from that page: PF and
//! VF BAR 0 as plain memory, the rings in (simulated) shared memory, the embedded switch. It
//! polls the driver-owned registers (section 2: no register has a read side effect, so plain
//! memory models every one of them) and does what each section says the device does. Bus
//! addresses are host addresses here: the "IOMMU" is the identity.
//!
//! A first cut for issue 11: one poll step processes every doorbell, and signalled vectors are
//! recorded for the caller (the NDIS interrupt path is not wired yet). Where the page leaves a
//! choice (the order of signals), this model takes the simplest.
use common::hw::regs::*;

/// Where a frame enters or leaves the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    Wire,
    VPort(u16),
}

/// Which function (BAR) of the NIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Pf,
    Vf(u16),
}

/// One BAR 0 as plain memory, 8-byte aligned, at a fixed address.
pub struct Bar {
    mem: Box<[u64]>,
}

impl Bar {
    fn new(len: u32) -> Self {
        Bar {
            mem: vec![0u64; len as usize / 8].into_boxed_slice(),
        }
    }

    /// The base the driver side maps (`common::hw::Mmio::new`).
    pub fn base(&mut self) -> *mut u8 {
        self.mem.as_mut_ptr().cast()
    }

    pub fn len(&self) -> u32 {
        (self.mem.len() * 8) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    fn ptr(&self, off: u32, size: u32) -> Option<*mut u8> {
        let end = off.checked_add(size)?;
        (end <= self.len() && off.is_multiple_of(size)).then(|| {
            self.mem
                .as_ptr()
                .cast::<u8>()
                .cast_mut()
                .wrapping_add(off as usize)
        })
    }

    pub fn r32(&self, off: u32) -> u32 {
        // SAFETY: in bounds and aligned (`ptr`); the driver side writes with volatile stores.
        self.ptr(off, 4)
            .map_or(0, |p| unsafe { p.cast::<u32>().read_volatile() })
    }

    pub fn w32(&self, off: u32, v: u32) {
        if let Some(p) = self.ptr(off, 4) {
            // SAFETY: in bounds and aligned.
            unsafe { p.cast::<u32>().write_volatile(v) }
        }
    }

    pub fn r64(&self, off: u32) -> u64 {
        // SAFETY: in bounds and aligned.
        self.ptr(off, 8)
            .map_or(0, |p| unsafe { p.cast::<u64>().read_volatile() })
    }

    pub fn w64(&self, off: u32, v: u64) {
        if let Some(p) = self.ptr(off, 8) {
            // SAFETY: in bounds and aligned.
            unsafe { p.cast::<u64>().write_volatile(v) }
        }
    }

    fn add64(&self, off: u32, v: u64) {
        self.w64(off, self.r64(off).wrapping_add(v));
    }
}

#[derive(Clone, Copy, Default)]
struct Ring {
    enabled: bool,
    base: u64,
    len: u32,
    head: u32,
}

/// One function: its BAR and what the device keeps of it internally.
pub struct Function {
    pub bar: Bar,
    kind: Func,
    tx: [Ring; 4],
    rx: [Ring; 4],
    latched: u32,
}

/// A VPort or filter entry as the device took it at the last commit.
#[derive(Clone, Copy, Default)]
struct VPortEntry {
    ctrl: u32,
    vlan: u32,
}

#[derive(Clone, Copy, Default)]
struct FilterEntry {
    mac: [u8; 6],
    vlan: u32,
    ctrl: u32,
}

/// The whole NIC: PF, VFs, the switch's committed tables, the wire.
pub struct RefNicModel {
    pub pf: Function,
    pub vfs: Vec<Function>,
    vports: Vec<VPortEntry>,
    filters: Vec<FilterEntry>,
    pub link_up: bool,
    pub link_mbps: u32,
    link_seq: u32,
    /// Frames the NIC put on the wire.
    pub wire: Vec<Vec<u8>>,
    /// Every vector signalled: (function, vector).
    pub signals: Vec<(Func, u8)>,
    /// The PF's MAC from "NVM".
    pub pf_mac: [u8; 6],
}

fn read_bytes(addr: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    // SAFETY: bus addresses are host addresses of buffers the test keeps alive (identity IOMMU).
    unsafe { std::ptr::copy_nonoverlapping(addr as usize as *const u8, v.as_mut_ptr(), len) };
    v
}

fn write_bytes(addr: u64, bytes: &[u8]) {
    // SAFETY: as for read_bytes; the driver posted the buffer with at least this many bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as usize as *mut u8, bytes.len()) };
}

/// Descriptor field access in ring memory (bus address = host address).
fn d8(addr: u64) -> u8 {
    // SAFETY: inside a ring the driver gave the device.
    unsafe { (addr as usize as *const u8).read_volatile() }
}
fn wd8(addr: u64, v: u8) {
    // SAFETY: as for d8.
    unsafe { (addr as usize as *mut u8).write_volatile(v) }
}
fn d16(addr: u64) -> u16 {
    u16::from_le_bytes([d8(addr), d8(addr + 1)])
}
fn wd16(addr: u64, v: u16) {
    let [a, b] = v.to_le_bytes();
    wd8(addr, a);
    wd8(addr + 1, b);
}
fn d64(addr: u64) -> u64 {
    (0..8).fold(0u64, |acc, i| acc | (u64::from(d8(addr + i)) << (8 * i)))
}

impl Function {
    fn new(kind: Func) -> Self {
        let len = if kind == Func::Pf {
            PF_BAR0_LEN
        } else {
            VF_BAR0_LEN
        };
        let mut f = Function {
            bar: Bar::new(len),
            kind,
            tx: [Ring::default(); 4],
            rx: [Ring::default(); 4],
            latched: 0,
        };
        f.reset();
        f
    }

    /// Section 9's function reset of the function window.
    fn reset(&mut self) {
        let b = &self.bar;
        for off in (0..0x2000).step_by(4) {
            if off != ID && off != MAC_LO && off != MAC_HI {
                b.w32(off, 0);
            }
        }
        b.w32(MAX_FRAME, MAX_FRAME_RESET);
        self.tx = [Ring::default(); 4];
        self.rx = [Ring::default(); 4];
        self.latched = 0;
    }

    fn vectors(&self) -> u8 {
        if self.kind == Func::Pf {
            PF_VECTORS
        } else {
            VF_VECTORS
        }
    }

    fn qp(&self) -> u32 {
        self.bar.r32(QP_COUNT).clamp(1, 4)
    }

    /// Queue enable/disable transitions (section 5, "Start" and "Stop").
    fn queues(&mut self) {
        let qp = self.qp();
        for q in 0..4u8 {
            for rx in [false, true] {
                let off = if rx { RXQ } else { 0 };
                let reg = |r| queue_reg(q, r + off);
                let want = u32::from(q) < qp && self.bar.r32(reg(TXQ_CTRL)) & Q_ENABLE != 0;
                let ring = if rx {
                    &mut self.rx[q as usize]
                } else {
                    &mut self.tx[q as usize]
                };
                let faulted = self.bar.r32(reg(TXQ_STATUS)) & Q_FAULT != 0;
                if want && !ring.enabled && !faulted {
                    let base = self.bar.r64(reg(TXQ_BASE));
                    let len = self.bar.r32(reg(TXQ_LEN));
                    let ok = base.is_multiple_of(RING_ALIGN)
                        && len.is_power_of_two()
                        && (u32::from(RING_MIN)..=u32::from(RING_MAX)).contains(&len);
                    if ok {
                        *ring = Ring {
                            enabled: true,
                            base,
                            len,
                            head: 0,
                        };
                        self.bar.w32(reg(TXQ_HEAD), 0);
                        self.bar.w32(reg(TXQ_STATUS), Q_ACTIVE);
                    } else {
                        self.bar.w32(reg(TXQ_STATUS), Q_FAULT);
                    }
                } else if !want {
                    ring.enabled = false;
                    self.bar.w32(reg(TXQ_STATUS), 0);
                }
            }
        }
    }

    fn tail(&mut self, q: usize, rx: bool) -> Option<u32> {
        let reg = queue_reg(q as u8, TXQ_TAIL + if rx { RXQ } else { 0 });
        let tail = self.bar.r32(reg);
        let ring = if rx { &mut self.rx[q] } else { &mut self.tx[q] };
        if tail >= ring.len {
            ring.enabled = false;
            self.bar.w32(reg - TXQ_TAIL + TXQ_STATUS, Q_FAULT);
            return None;
        }
        Some(tail)
    }

    fn count(&self, rx: bool, frame: &[u8]) {
        let (pkts, octets) = match (rx, frame.first().copied().unwrap_or(0)) {
            (_, 0xFF) if frame.get(..6) == Some(&[0xFF; 6]) => {
                if rx {
                    (RX_BCAST_PKTS, RX_BCAST_OCTETS)
                } else {
                    (TX_BCAST_PKTS, TX_BCAST_OCTETS)
                }
            }
            (_, b) if b & 1 != 0 => {
                if rx {
                    (RX_MCAST_PKTS, RX_MCAST_OCTETS)
                } else {
                    (TX_MCAST_PKTS, TX_MCAST_OCTETS)
                }
            }
            _ => {
                if rx {
                    (RX_UCAST_PKTS, RX_UCAST_OCTETS)
                } else {
                    (TX_UCAST_PKTS, TX_UCAST_OCTETS)
                }
            }
        };
        self.bar.add64(pkts, 1);
        self.bar.add64(octets, frame.len() as u64);
    }

    /// Delivers one frame into RX queue `q` (section 5, RX descriptor); false if dropped.
    fn deliver(&mut self, q: u8, frame: &[u8], tci: Option<u16>) -> bool {
        let Some(ring) = self.rx.get(q as usize).copied().filter(|r| r.enabled) else {
            self.bar.add64(RX_DISCARDS, 1);
            return false;
        };
        let Some(tail) = self.tail(q as usize, true) else {
            return false;
        };
        if ring.head == tail {
            self.bar.add64(RX_DISCARDS, 1);
            return false;
        }
        let d = ring.base + u64::from(ring.head) * DESC_BYTES as u64;
        let max = self.bar.r32(MAX_FRAME).clamp(MAX_FRAME_MIN, MAX_FRAME_MAX) as usize;
        if frame.len() > max || frame.len() > usize::from(d16(d + RXD_BUF_LEN as u64)) {
            self.bar.add64(RX_ERRORS, 1);
            return false;
        }
        write_bytes(d64(d), frame);
        wd16(d + RXD_FRAME_LEN as u64, frame.len() as u16);
        wd16(d + RXD_VLAN_TCI as u64, tci.unwrap_or(0));
        let mut status = RXD_STATUS_DD;
        if tci.is_some() {
            status |= RXD_STATUS_VLAN;
        }
        if frame.get(..6) == Some(&[0xFF; 6]) {
            status |= RXD_STATUS_BCAST;
        } else if frame.first().is_some_and(|b| b & 1 != 0) {
            status |= RXD_STATUS_MCAST;
        }
        wd8(d + RXD_STATUS as u64, status);
        let head = (ring.head + 1) % ring.len;
        self.rx[q as usize].head = head;
        self.bar.w32(queue_reg(q, RXQ + TXQ_HEAD), head);
        self.count(true, frame);
        self.latched |= 1 << (CAUSE_RX0 + u32::from(q));
        true
    }

    /// Section 6: signal every enabled vector with a latched cause routed to it.
    fn interrupts(&mut self, out: &mut Vec<(Func, u8)>) {
        let mut routes = Vec::new();
        for q in 0..4u8 {
            routes.push((
                CAUSE_TX0 + u32::from(q),
                self.bar.r32(queue_reg(q, TXQ_IVAR)),
            ));
            routes.push((
                CAUSE_RX0 + u32::from(q),
                self.bar.r32(queue_reg(q, RXQ + TXQ_IVAR)),
            ));
        }
        routes.push((16, self.bar.r32(MISC_IVAR)));
        for v in 0..self.vectors() {
            if self.bar.r32(VEC_EN + 4 * u32::from(v)) & VEC_ENABLE == 0 {
                continue;
            }
            let mine: u32 = routes
                .iter()
                .filter(|(_, ivar)| {
                    ivar & IVAR_VALID != 0 && ivar & IVAR_VECTOR_MASK == u32::from(v)
                })
                .map(|(bit, _)| 1u32 << bit)
                .fold(0, |a, b| a | b);
            if self.latched & mine != 0 {
                self.latched &= !mine;
                out.push((self.kind, v));
            }
        }
        self.bar.w32(INT_CAUSE, self.latched);
    }
}

impl RefNicModel {
    pub fn new(vfs: u16, pf_mac: [u8; 6]) -> Self {
        let mut m = RefNicModel {
            pf: Function::new(Func::Pf),
            vfs: (0..vfs).map(|v| Function::new(Func::Vf(v))).collect(),
            vports: vec![VPortEntry::default(); VPORTS as usize],
            filters: vec![FilterEntry::default(); FILTERS as usize],
            link_up: true,
            link_mbps: 10_000,
            link_seq: 0,
            wire: Vec::new(),
            signals: Vec::new(),
            pf_mac,
        };
        for v in 0..vfs {
            m.pf.bar.w32(VF_TABLE + VF_STRIDE * u32::from(v) + VF_QP, 1);
        }
        m.poll();
        m
    }

    pub fn function(&mut self, f: Func) -> Option<&mut Function> {
        match f {
            Func::Pf => Some(&mut self.pf),
            Func::Vf(v) => self.vfs.get_mut(v as usize),
        }
    }

    fn vf_ctrl(&self, v: u16) -> u32 {
        self.pf
            .bar
            .r32(VF_TABLE + VF_STRIDE * u32::from(v) + VF_CTRL)
    }

    /// The identity, status and mirrored registers (sections 4 and 8).
    fn mirror(&mut self) {
        let link = |up: bool| if up { LINK_UP | LINK_FULL_DUPLEX } else { 0 };
        let pf = &self.pf.bar;
        pf.w32(
            ID,
            (u32::from(KIND_PF) << 24) | (u32::from(SPEC_REV) << 16) | u32::from(PF_DEVICE_ID),
        );
        let (lo, hi) = mac_regs(self.pf_mac);
        pf.w32(MAC_LO, lo);
        pf.w32(MAC_HI, hi);
        pf.w32(QP_COUNT, 4);
        pf.w32(LINK, link(self.link_up));
        pf.w32(LINK_SPEED, if self.link_up { self.link_mbps } else { 0 });
        pf.w32(LINK_SEQ, self.link_seq);
        pf.w32(
            STATUS,
            STATUS_READY | STATUS_ENABLED | if self.link_up { STATUS_LINK_UP } else { 0 },
        );
        pf.w32(SW_CAPS, u32::from(VPORTS) | (u32::from(FILTERS) << 16));
        for v in 0..self.vfs.len() as u16 {
            let base = VF_TABLE + VF_STRIDE * u32::from(v);
            let ctrl = self.pf.bar.r32(base + VF_CTRL);
            let (lo, hi, qp) = (
                self.pf.bar.r32(base + VF_MAC_LO),
                self.pf.bar.r32(base + VF_MAC_HI),
                self.pf.bar.r32(base + VF_QP),
            );
            let up = self.link_up && ctrl & VF_CTRL_LINK_DOWN == 0;
            let b = &self.vfs[v as usize].bar;
            b.w32(
                ID,
                (u32::from(KIND_VF) << 24) | (u32::from(SPEC_REV) << 16) | u32::from(VF_DEVICE_ID),
            );
            b.w32(MAC_LO, lo);
            b.w32(MAC_HI, hi & 0xFFFF);
            b.w32(QP_COUNT, if (1..=4).contains(&qp) { qp } else { 1 });
            b.w32(LINK, link(up));
            b.w32(LINK_SPEED, if up { self.link_mbps } else { 0 });
            b.w32(LINK_SEQ, self.link_seq);
            let enabled = if ctrl & VF_CTRL_ENABLE != 0 {
                STATUS_ENABLED
            } else {
                0
            };
            b.w32(
                STATUS,
                STATUS_READY | enabled | if up { STATUS_LINK_UP } else { 0 },
            );
        }
    }

    /// Changes the wire's link (section 9: LINK_SEQ and the LINK cause).
    pub fn set_link(&mut self, up: bool) {
        if up != self.link_up {
            self.link_up = up;
            self.link_seq = self.link_seq.wrapping_add(1);
            self.pf.latched |= CAUSE_LINK;
            for f in &mut self.vfs {
                f.latched |= CAUSE_LINK;
            }
        }
    }

    /// One step of the device: resets, queue transitions, table commits, every TX doorbell,
    /// interrupts.
    pub fn poll(&mut self) {
        // Resets (section 9).
        if self.pf.bar.r32(CTRL) & CTRL_RESET != 0 {
            self.pf.reset();
            for off in (0x2000..0xC000).step_by(4) {
                self.pf.bar.w32(off, 0);
            }
            for v in 0..self.vfs.len() as u32 {
                self.pf.bar.w32(VF_TABLE + VF_STRIDE * v + VF_QP, 1);
            }
            self.vports.fill(VPortEntry::default());
            self.filters.fill(FilterEntry::default());
            self.vfs.iter_mut().for_each(Function::reset);
        }
        for v in 0..self.vfs.len() {
            let reg = VF_TABLE + VF_STRIDE * v as u32 + VF_CTRL;
            let ctrl = self.pf.bar.r32(reg);
            if ctrl & VF_CTRL_RESET != 0 || self.vfs[v].bar.r32(CTRL) & CTRL_RESET != 0 {
                self.vfs[v].reset();
                self.pf.bar.w32(reg, ctrl & !VF_CTRL_RESET);
            }
        }
        self.mirror();
        self.pf.queues();
        self.vfs.iter_mut().for_each(Function::queues);
        // Section 7: commits.
        let commit = self.pf.bar.r32(SW_COMMIT);
        if commit != self.pf.bar.r32(SW_COMMIT_ACK) {
            for (p, e) in self.vports.iter_mut().enumerate() {
                let b = VPORT_TABLE + VPORT_STRIDE * p as u32;
                *e = VPortEntry {
                    ctrl: self.pf.bar.r32(b + VP_CTRL),
                    vlan: self.pf.bar.r32(b + VP_VLAN),
                };
            }
            for (f, e) in self.filters.iter_mut().enumerate() {
                let b = FILTER_TABLE + FILTER_STRIDE * f as u32;
                let mac = mac_of(
                    self.pf.bar.r32(b + FLT_MAC_LO),
                    self.pf.bar.r32(b + FLT_MAC_HI),
                );
                *e = FilterEntry {
                    mac,
                    vlan: self.pf.bar.r32(b + FLT_VLAN),
                    ctrl: self.pf.bar.r32(b + FLT_CTRL),
                };
            }
            self.pf.bar.w32(SW_COMMIT_ACK, commit);
        }
        // TX of every function.
        let funcs: Vec<Func> = std::iter::once(Func::Pf)
            .chain((0..self.vfs.len() as u16).map(Func::Vf))
            .collect();
        for f in funcs {
            for q in 0..4 {
                while let Some((frame, vle)) = self.take_tx(f, q) {
                    let ok = self.switch_from(f, frame.as_deref(), vle);
                    self.finish_tx(f, q, ok);
                }
            }
        }
        let mut out = Vec::new();
        self.pf.interrupts(&mut out);
        self.vfs.iter_mut().for_each(|f| f.interrupts(&mut out));
        self.signals.extend(out);
    }

    /// The next complete TX frame of queue `q` (bytes, VLE tag), without completing it; `None`
    /// when nothing (complete) is posted. A malformed frame comes back as `Some((None, _))`.
    fn take_tx(&mut self, f: Func, q: usize) -> Option<(Option<Vec<u8>>, Option<u16>)> {
        let func = self.function(f)?;
        if func.bar.r32(CTRL) & CTRL_DMA_EN == 0 {
            return None;
        }
        let ring = func.tx.get(q).copied().filter(|r| r.enabled)?;
        let tail = func.tail(q, false)?;
        let mut i = ring.head;
        let mut bytes = Vec::new();
        let mut vle = None;
        let mut bad = false;
        for n in 0..TX_MAX_FRAGS {
            if i == tail {
                return None; // the doorbell does not cover the whole frame yet
            }
            let d = ring.base + u64::from(i) * DESC_BYTES as u64;
            let len = d16(d + TXD_LEN as u64);
            let cmd = d8(d + TXD_CMD as u64);
            if n == 0 && cmd & TXD_CMD_VLE != 0 {
                vle = Some(d16(d + TXD_VLAN_TCI as u64));
            }
            if len == 0 || len > TXD_MAX_LEN {
                bad = true;
            } else {
                bytes.extend(read_bytes(d64(d + TXD_ADDR as u64), usize::from(len)));
            }
            i = (i + 1) % ring.len;
            if cmd & TXD_CMD_EOP != 0 {
                let max = func.bar.r32(MAX_FRAME).clamp(MAX_FRAME_MIN, MAX_FRAME_MAX) as usize;
                bad |= bytes.len() < 14 || bytes.len() > max;
                return Some((if bad { None } else { Some(bytes) }, vle));
            }
        }
        Some((None, vle)) // 16 descriptors without EOP
    }

    /// Writes back the frame at HEAD of queue `q` (every descriptor DD, ERR unless `ok`, the
    /// EOP one last) and advances HEAD.
    fn finish_tx(&mut self, f: Func, q: usize, ok: bool) {
        let Some(func) = self.function(f) else { return };
        let ring = func.tx[q];
        let mut i = ring.head;
        let status = TXD_STATUS_DD | if ok { 0 } else { TXD_STATUS_ERR };
        for _ in 0..TX_MAX_FRAGS {
            let d = ring.base + u64::from(i) * DESC_BYTES as u64;
            wd8(d + TXD_STATUS as u64, status);
            i = (i + 1) % ring.len;
            if d8(d + TXD_CMD as u64) & TXD_CMD_EOP != 0 {
                break;
            }
        }
        func.tx[q].head = i;
        func.bar.w32(queue_reg(q as u8, TXQ_HEAD), i);
        if !ok {
            func.bar.add64(TX_ERRORS, 1);
        }
        func.latched |= 1 << (CAUSE_TX0 + q as u32);
    }

    /// The VPort function `f` sends from: the PF's is the default VPort; a VF's the enabled
    /// VPort attached to it.
    fn source_vport(&self, f: Func) -> Option<u16> {
        match f {
            Func::Pf => Some(0),
            Func::Vf(v) => (1..VPORTS).find(|&p| {
                let c = self.vports[p as usize].ctrl;
                c & VP_EN != 0 && (c >> VP_FUNCTION_SHIFT) as u16 == v
            }),
        }
    }

    /// Section 7 for a frame sent by function `f`; false: the frame fails (`ERR`).
    fn switch_from(&mut self, f: Func, frame: Option<&[u8]>, vle: Option<u16>) -> bool {
        let Some(frame) = frame else { return false };
        let switch_on = self.pf.bar.r32(SW_CTRL) & SW_ENABLE != 0;
        if !switch_on {
            return match f {
                Func::Pf => {
                    self.pf.count(false, frame);
                    self.put_on_wire(frame, vle);
                    true
                }
                Func::Vf(_) => false,
            };
        }
        if let Func::Vf(v) = f
            && self.vf_ctrl(v) & VF_CTRL_ENABLE == 0
        {
            return false;
        }
        let Some(src) = self.source_vport(f) else {
            return false;
        };
        let e = self.vports[src as usize];
        let tagged = frame.get(12..14) == Some(&[0x81, 0x00]);
        let (vid, frame) = if e.vlan & VP_PORT_VLAN != 0 {
            if tagged || vle.is_some() {
                return false;
            }
            (Some((e.vlan & 0xFFF) as u16), frame.to_vec())
        } else if let Some(tci) = vle {
            (Some(tci & 0xFFF), insert_tag(frame, tci))
        } else if tagged {
            (
                Some(u16::from_be_bytes([frame[14], frame[15]]) & 0xFFF),
                frame.to_vec(),
            )
        } else {
            (None, frame.to_vec())
        };
        if let Some(func) = self.function(f) {
            func.count(false, &frame);
        }
        self.forward(Port::VPort(src), &frame, vid);
        true
    }

    /// A frame arriving from the wire.
    pub fn from_wire(&mut self, frame: &[u8]) {
        if self.pf.bar.r32(SW_CTRL) & SW_ENABLE == 0 {
            self.pf.deliver(0, frame, None);
        } else {
            let vid = (frame.get(12..14) == Some(&[0x81, 0x00]))
                .then(|| u16::from_be_bytes([frame[14], frame[15]]) & 0xFFF);
            self.forward(Port::Wire, frame, vid);
        }
        let mut out = Vec::new();
        self.pf.interrupts(&mut out);
        self.vfs.iter_mut().for_each(|f| f.interrupts(&mut out));
        self.signals.extend(out);
    }

    fn filter_matches(&self, e: &FilterEntry, vid: Option<u16>) -> bool {
        if e.vlan & FLT_VLAN_MATCH != 0 {
            vid == Some((e.vlan & 0xFFF) as u16)
        } else {
            vid.is_none_or(|v| v == 0)
        }
    }

    fn vport_ok(&self, p: u16) -> bool {
        self.vports
            .get(p as usize)
            .is_some_and(|e| e.ctrl & VP_EN != 0)
    }

    fn member(&self, p: u16, vid: Option<u16>) -> bool {
        let e = self.vports[p as usize];
        if e.vlan & VP_PORT_VLAN != 0 {
            return vid == Some((e.vlan & 0xFFF) as u16);
        }
        self.filters.iter().any(|f| {
            f.ctrl & FLT_VALID != 0
                && (f.ctrl >> FLT_VPORT_SHIFT) as u16 == p
                && self.filter_matches(f, vid)
        })
    }

    fn forward(&mut self, src: Port, frame: &[u8], vid: Option<u16>) {
        let dst: [u8; 6] = frame
            .get(..6)
            .and_then(|d| d.try_into().ok())
            .unwrap_or([0; 6]);
        let multi = dst[0] & 1 != 0;
        let from_vport = matches!(src, Port::VPort(_));
        if !multi {
            let hit = self.filters.iter().find(|f| {
                f.ctrl & FLT_VALID != 0
                    && f.mac == dst
                    && self.filter_matches(f, vid)
                    && self.vport_ok((f.ctrl >> FLT_VPORT_SHIFT) as u16)
            });
            match hit.map(|f| (f.ctrl >> FLT_VPORT_SHIFT) as u16) {
                Some(p) if Port::VPort(p) == src => self.count_src_discard(src),
                Some(p) => self.deliver_to_vport(p, frame, vid),
                None if from_vport => self.egress_from(src, frame, vid),
                None => {
                    let promisc: Vec<u16> = (0..VPORTS)
                        .filter(|&p| {
                            self.vport_ok(p) && self.vports[p as usize].ctrl & VP_PROMISC != 0
                        })
                        .collect();
                    if promisc.is_empty() {
                        self.pf.bar.add64(SW_DROPS, 1);
                    }
                    for p in promisc {
                        self.deliver_to_vport(p, frame, vid);
                    }
                }
            }
            return;
        }
        let bcast = dst == [0xFF; 6];
        let accept = if bcast {
            VP_ACCEPT_BCAST
        } else {
            VP_ACCEPT_MCAST
        };
        let targets: Vec<u16> = (0..VPORTS)
            .filter(|&p| Port::VPort(p) != src && self.vport_ok(p))
            .filter(|&p| self.vports[p as usize].ctrl & accept != 0 && self.member(p, vid))
            .collect();
        for p in targets {
            self.deliver_to_vport(p, frame, vid);
        }
        if from_vport {
            self.egress_from(src, frame, vid);
        }
    }

    fn count_src_discard(&mut self, src: Port) {
        if let Port::VPort(p) = src {
            let f = self.vport_function(p);
            if let Some(func) = f.and_then(|f| self.function(f)) {
                func.bar.add64(TX_DISCARDS, 1);
            }
        }
    }

    fn vport_function(&self, p: u16) -> Option<Func> {
        let c = self.vports.get(p as usize)?.ctrl;
        match (c >> VP_FUNCTION_SHIFT) as u16 {
            VP_FUNCTION_PF => Some(Func::Pf),
            v if v < VFS => Some(Func::Vf(v)),
            _ => None,
        }
    }

    fn deliver_to_vport(&mut self, p: u16, frame: &[u8], vid: Option<u16>) {
        let e = self.vports[p as usize];
        let q = ((e.ctrl >> VP_QUEUE_SHIFT) & 0xFF) as u8;
        let (bytes, tci) = if e.vlan & VP_PORT_VLAN != 0 {
            if frame.get(12..14) == Some(&[0x81, 0x00]) {
                let tci = u16::from_be_bytes([frame[14], frame[15]]);
                ([&frame[..12], &frame[16..]].concat(), Some(tci))
            } else {
                (
                    frame.to_vec(),
                    vid.map(|v| v | (((e.vlan >> VP_VLAN_PCP_SHIFT) & 7) as u16) << 13),
                )
            }
        } else {
            (frame.to_vec(), None)
        };
        let Some(f) = self.vport_function(p) else {
            return;
        };
        if let Func::Vf(v) = f
            && self.vf_ctrl(v) & VF_CTRL_ENABLE == 0
        {
            return;
        }
        if let Some(func) = self.function(f) {
            func.deliver(q, &bytes, tci);
        }
    }

    fn egress_from(&mut self, src: Port, frame: &[u8], vid: Option<u16>) {
        let port_vlan = match src {
            Port::VPort(p) => {
                let e = self.vports[p as usize];
                (e.vlan & VP_PORT_VLAN != 0).then(|| {
                    (vid.unwrap_or(0)) | ((((e.vlan >> VP_VLAN_PCP_SHIFT) & 7) as u16) << 13)
                })
            }
            Port::Wire => None,
        };
        if !self.link_up {
            self.count_src_discard(src);
            return;
        }
        self.put_on_wire(frame, port_vlan);
    }

    fn put_on_wire(&mut self, frame: &[u8], tag: Option<u16>) {
        self.wire.push(match tag {
            Some(tci) if frame.get(12..14) != Some(&[0x81, 0x00]) => insert_tag(frame, tci),
            _ => frame.to_vec(),
        });
    }
}

/// An 802.1Q tag (TPID 0x8100, `tci`) after the source MAC.
fn insert_tag(frame: &[u8], tci: u16) -> Vec<u8> {
    let split = frame.len().min(12);
    let mut out = frame[..split].to_vec();
    out.extend_from_slice(&[0x81, 0x00]);
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(&frame[split..]);
    out
}
