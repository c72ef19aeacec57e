//! One PCI function of the model (the PF or a VF): its BAR 0, queues and interrupt causes.
use super::*;

impl Function {
    pub(super) fn new(kind: Func) -> Self {
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
            pending: 0,
            admin_down: false,
            admin_changes: 0,
            gone: false,
        };
        f.reset();
        f
    }

    /// Section 9's function reset of the function window.
    pub(super) fn reset(&mut self) {
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
        self.pending = 0;
    }

    /// A message for vector `v` reached the CPU while the vector is held (`VEC_EN[v]` 0):
    /// pending until it is enabled again. Returns whether it was held (not delivered now).
    pub fn hold_if_masked(&mut self, v: u8) -> bool {
        if self.gone || self.bar.r32(VEC_EN + 4 * u32::from(v)) & VEC_ENABLE != 0 {
            return false;
        }
        self.pending |= 1 << v;
        true
    }

    /// Section 9 for a VF: `VF_CTRL.LINK_DOWN` changing is a change of its `LINK`. Returns the
    /// changes it made so far (the VF's `LINK_SEQ` counts them on top of the wire's).
    pub(super) fn admin_link(&mut self, down: bool) -> u32 {
        if down != self.admin_down {
            self.admin_down = down;
            self.admin_changes = self.admin_changes.wrapping_add(1);
            self.latched |= CAUSE_LINK;
        }
        self.admin_changes
    }

    pub(super) fn vectors(&self) -> u8 {
        if self.kind == Func::Pf {
            PF_VECTORS
        } else {
            VF_VECTORS
        }
    }

    pub(super) fn qp(&self) -> u32 {
        self.bar.r32(QP_COUNT).clamp(1, 4)
    }

    /// Queue enable/disable transitions (section 5, "Start" and "Stop"); `stalled`: a
    /// disable is ignored (a device fault a test injects).
    pub(super) fn queues(&mut self, stalled: bool) {
        if self.gone {
            return;
        }
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
                if want && ring.enabled {
                    continue; // running, and staying so: nothing changes
                }
                if u32::from(q) >= qp && !ring.enabled {
                    // Past QP_COUNT and stopped: its STATUS was written 0 when it stopped (or
                    // at reset) and only a write to this read-only register could change it.
                    continue;
                }
                let status = self.bar.r32(reg(TXQ_STATUS));
                let faulted = status & Q_FAULT != 0;
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
                } else if !want && !stalled {
                    ring.enabled = false;
                    if status != 0 {
                        self.bar.w32(reg(TXQ_STATUS), 0);
                    }
                }
            }
        }
    }

    /// RX descriptors of queue `q` the driver posted and the device has not yet filled
    /// (`TAIL - HEAD` modulo the ring); `None` while the queue is not enabled.
    pub fn rx_posted(&self, q: usize) -> Option<u32> {
        let ring = self.rx.get(q).filter(|r| r.enabled && r.len > 0)?;
        let tail = self.bar.r32(queue_reg(q as u8, TXQ_TAIL + RXQ));
        Some((tail + ring.len - ring.head) % ring.len)
    }

    pub(super) fn tail(&mut self, q: usize, rx: bool) -> Option<u32> {
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

    pub(super) fn count(&self, rx: bool, frame: &[u8]) {
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

    /// `MAX_FRAME` as the device applies it (section 4: 60..=9014, other values act as 1514).
    pub(super) fn max_frame(&self) -> usize {
        let v = self.bar.r32(MAX_FRAME);
        let v = if (MAX_FRAME_MIN..=MAX_FRAME_MAX).contains(&v) {
            v
        } else {
            MAX_FRAME_RESET
        };
        v as usize
    }

    /// Delivers one frame into RX queue `q` (section 5, RX descriptor); false if dropped.
    pub(super) fn deliver(&mut self, q: u8, frame: &[u8], tci: Option<u16>) -> bool {
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
        let max = self.max_frame();
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
    pub(super) fn interrupts(&mut self, out: &mut Vec<(Func, u8)>) {
        if self.gone {
            return;
        }
        if self.latched == 0 && self.pending == 0 {
            // Nothing to signal (the loop below would find nothing either).
            self.bar.w32(INT_CAUSE, 0);
            return;
        }
        let mut routes = [(16, self.bar.r32(MISC_IVAR)); 9];
        for q in 0..4u8 {
            routes[usize::from(q) * 2] = (
                CAUSE_TX0 + u32::from(q),
                self.bar.r32(queue_reg(q, TXQ_IVAR)),
            );
            routes[usize::from(q) * 2 + 1] = (
                CAUSE_RX0 + u32::from(q),
                self.bar.r32(queue_reg(q, RXQ + TXQ_IVAR)),
            );
        }
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
            if self.latched & mine != 0 || self.pending & (1 << v) != 0 {
                self.latched &= !mine;
                self.pending &= !(1 << v);
                out.push((self.kind, v));
            }
        }
        self.bar.w32(INT_CAUSE, self.latched);
    }
}
