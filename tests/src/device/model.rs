//! The whole NIC: its functions, the embedded switch and how a poll step moves frames.
use super::*;

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
            stall_commits: false,
            stall_pf_stops: false,
            stall_vf_resets: false,
            index: Default::default(),
            scratch: Vec::new(),
        };
        // Every VF-control entry (all 256, whether or not its function is modelled yet) at
        // its reset values: `VF_QP` 1 (section 8).
        for v in 0..u32::from(VFS) {
            m.pf.bar.w32(VF_TABLE + VF_STRIDE * v + VF_QP, 1);
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
            if self.vfs[v as usize].gone {
                continue;
            }
            let own = self.vfs[v as usize].admin_link(ctrl & VF_CTRL_LINK_DOWN != 0);
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
            b.w32(LINK_SEQ, self.link_seq.wrapping_add(own));
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
        if self.pf.gone {
            return;
        }
        // Resets (section 9).
        if self.pf.bar.r32(CTRL) & CTRL_RESET != 0 && !self.stall_pf_stops {
            self.pf.reset();
            for off in (0x2000..0xC000).step_by(4) {
                self.pf.bar.w32(off, 0);
            }
            for v in 0..u32::from(VFS) {
                self.pf.bar.w32(VF_TABLE + VF_STRIDE * v + VF_QP, 1);
            }
            self.vports.fill(VPortEntry::default());
            self.filters.fill(FilterEntry::default());
            self.reindex();
            self.vfs
                .iter_mut()
                .filter(|f| !f.gone)
                .for_each(Function::reset);
        }
        for v in 0..usize::from(VFS) {
            let reg = VF_TABLE + VF_STRIDE * v as u32 + VF_CTRL;
            let ctrl = self.pf.bar.r32(reg);
            // A VF gone from its guest, or not modelled yet (its window at reset values), is
            // still a function of the device: a reset through the PF's VF-control entry
            // completes (nothing of its window is reachable to reset).
            if self.vfs.get(v).is_none_or(|f| f.gone) {
                self.pf.bar.w32(reg, ctrl & !VF_CTRL_RESET);
                continue;
            }
            let own = self.vfs[v].bar.r32(CTRL) & CTRL_RESET != 0 && !self.stall_vf_resets;
            if ctrl & VF_CTRL_RESET != 0 || own {
                self.vfs[v].reset();
                self.pf.bar.w32(reg, ctrl & !VF_CTRL_RESET);
            }
        }
        self.mirror();
        self.pf.queues(self.stall_pf_stops);
        self.vfs.iter_mut().for_each(|f| f.queues(false));
        // Section 7: commits.
        let commit = self.pf.bar.r32(SW_COMMIT);
        if commit != self.pf.bar.r32(SW_COMMIT_ACK) && !self.stall_commits {
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
            self.reindex();
        }
        // TX of every function.
        let mut buf = std::mem::take(&mut self.scratch);
        for f in std::iter::once(Func::Pf).chain((0..self.vfs.len() as u16).map(Func::Vf)) {
            for q in 0..4 {
                while let Some((good, vle)) = self.take_tx(f, q, &mut buf) {
                    let ok = self.switch_from(f, good.then_some(&buf[..]), vle);
                    self.finish_tx(f, q, ok);
                }
            }
        }
        self.scratch = buf;
        let mut out = Vec::new();
        self.pf.interrupts(&mut out);
        self.vfs.iter_mut().for_each(|f| f.interrupts(&mut out));
        self.signals.extend(out);
    }

    /// The next complete TX frame of queue `q` into `bytes` (well-formed?, VLE tag), without
    /// completing it; `None` when nothing (complete) is posted.
    fn take_tx(&mut self, f: Func, q: usize, bytes: &mut Vec<u8>) -> Option<(bool, Option<u16>)> {
        let func = self.function(f)?;
        let ring = func.tx.get(q).copied().filter(|r| r.enabled)?;
        if func.gone || func.bar.r32(CTRL) & CTRL_DMA_EN == 0 {
            return None;
        }
        let tail = func.tail(q, false)?;
        if tail == ring.head {
            return None; // nothing posted
        }
        let mut i = ring.head;
        bytes.clear();
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
                read_into(d64(d + TXD_ADDR as u64), usize::from(len), bytes);
            }
            i = (i + 1) % ring.len;
            if cmd & TXD_CMD_EOP != 0 {
                let max = func.max_frame();
                bad |= bytes.len() < 14 || bytes.len() > max;
                return Some((!bad, vle));
            }
        }
        Some((false, vle)) // 16 descriptors without EOP
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
    pub(super) fn source_vport(&self, f: Func) -> Option<u16> {
        match f {
            Func::Pf => Some(0),
            Func::Vf(v) => self.index.vf_vport.get(usize::from(v)).copied().flatten(),
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
        let with_tag;
        let (vid, frame) = if e.vlan & VP_PORT_VLAN != 0 {
            if tagged || vle.is_some() {
                return false;
            }
            (Some((e.vlan & 0xFFF) as u16), frame)
        } else if let Some(tci) = vle {
            with_tag = insert_tag(frame, tci);
            (Some(tci & 0xFFF), &with_tag[..])
        } else if tagged {
            (
                Some(u16::from_be_bytes([frame[14], frame[15]]) & 0xFFF),
                frame,
            )
        } else {
            (None, frame)
        };
        if let Some(func) = self.function(f) {
            func.count(false, frame);
        }
        self.forward(Port::VPort(src), frame, vid);
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

    pub(super) fn filter_matches(&self, e: &FilterEntry, vid: Option<u16>) -> bool {
        if e.vlan & FLT_VLAN_MATCH != 0 {
            vid == Some((e.vlan & 0xFFF) as u16)
        } else {
            vid.is_none_or(|v| v == 0)
        }
    }

    pub(super) fn vport_ok(&self, p: u16) -> bool {
        self.vports
            .get(p as usize)
            .is_some_and(|e| e.ctrl & VP_EN != 0)
    }

    fn member(&self, p: u16, vid: Option<u16>) -> bool {
        let e = self.vports[p as usize];
        if e.vlan & VP_PORT_VLAN != 0 {
            return vid == Some((e.vlan & 0xFFF) as u16);
        }
        // Section 7, forwarding step 3: a PROMISC VPort is a member of every VLAN.
        if e.ctrl & VP_PROMISC != 0 {
            return true;
        }
        self.filters.iter().any(|f| {
            f.ctrl & FLT_VALID != 0
                && (f.ctrl >> FLT_VPORT_SHIFT) as u16 == p
                && self.filter_matches(f, vid)
        })
    }

    /// Section 7, unicast: the VPort of the lowest valid filter entry matching `dst` and `vid`
    /// whose VPort is enabled (through the index built at the last commit).
    pub(super) fn unicast_hit(&self, dst: [u8; 6], vid: Option<u16>) -> Option<u16> {
        let entries = self.index.by_mac.get(&dst)?;
        entries
            .iter()
            .map(|&i| &self.filters[usize::from(i)])
            .find(|f| {
                self.filter_matches(f, vid) && self.vport_ok((f.ctrl >> FLT_VPORT_SHIFT) as u16)
            })
            .map(|f| (f.ctrl >> FLT_VPORT_SHIFT) as u16)
    }

    fn forward(&mut self, src: Port, frame: &[u8], vid: Option<u16>) {
        let dst: [u8; 6] = frame
            .get(..6)
            .and_then(|d| d.try_into().ok())
            .unwrap_or([0; 6]);
        let multi = dst[0] & 1 != 0;
        let from_vport = matches!(src, Port::VPort(_));
        if !multi {
            match self.unicast_hit(dst, vid) {
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

    pub(super) fn vport_function(&self, p: u16) -> Option<Func> {
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
        let stripped;
        let (bytes, tci) = if e.vlan & VP_PORT_VLAN != 0 {
            if frame.get(12..14) == Some(&[0x81, 0x00]) {
                let tci = u16::from_be_bytes([frame[14], frame[15]]);
                stripped = [&frame[..12], &frame[16..]].concat();
                (&stripped[..], Some(tci))
            } else {
                (
                    frame,
                    vid.map(|v| v | (((e.vlan >> VP_VLAN_PCP_SHIFT) & 7) as u16) << 13),
                )
            }
        } else {
            (frame, None)
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
            func.deliver(q, bytes, tci);
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
