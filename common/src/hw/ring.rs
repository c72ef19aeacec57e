//! The reference NIC's TX and RX descriptor rings (docs/reference-nic.md section 5): the
//! driver's side of the ownership rules. A ring is a [`DmaRegion`] of `len` 16-byte
//! descriptors plus three indices the device never sees: `tail` (next to fill, what the
//! doorbell says), `clean` (oldest not yet reclaimed) and `in_use` (posted, not reclaimed).
//! At most `len - 1` are posted. Reclaiming goes by each descriptor's `DD` bit, in ring order.
//!
//! Values read back from shared memory are validated before use, and driver-owned descriptor
//! fields are never read back at all (the device can write the whole descriptor): each ring
//! keeps its own per-slot copy of what it posted -- the RX buffer length of each slot, the
//! number of descriptors of each TX frame -- and a frame length larger than the buffer posted
//! is reported as an error, never followed. The copies bound a ring at [`MAX_TRACKED`]
//! descriptors.
use super::mmio::{DmaRegion, Mmio};
use super::regs::*;
use super::{Frag, HwError, RxDone, RxQueue, TxDone, TxQueue};
use core::sync::atomic::{Ordering, fence};

/// The longest ring the driver starts (its per-slot copies are this long; the device allows
/// up to `RING_MAX`).
pub const MAX_TRACKED: u16 = 256;

/// Ring bookkeeping shared by both directions.
#[derive(Debug)]
struct Ring {
    mmio: Mmio,
    /// The doorbell register of this ring.
    tail_reg: u32,
    mem: DmaRegion,
    len: u16,
    tail: u16,
    clean: u16,
    in_use: u16,
    dirty: bool,
}

impl Ring {
    fn new(mmio: Mmio, tail_reg: u32, mem: DmaRegion, len: u16) -> Self {
        Self {
            mmio,
            tail_reg,
            mem,
            len,
            tail: 0,
            clean: 0,
            in_use: 0,
            dirty: false,
        }
    }

    fn free(&self) -> u16 {
        self.len.saturating_sub(1).saturating_sub(self.in_use)
    }

    fn next(&self, i: u16) -> u16 {
        // `len` is a power of two (checked when the queue started).
        i.wrapping_add(1) & self.len.wrapping_sub(1)
    }

    fn desc(&self, i: u16) -> usize {
        usize::from(i) * DESC_BYTES
    }

    fn flush(&mut self) {
        if self.dirty {
            // Descriptor stores before the doorbell (section 5, "Posting").
            fence(Ordering::Release);
            self.mmio.write32(self.tail_reg, u32::from(self.tail));
            self.dirty = false;
        }
    }

    /// The status byte at `off` of descriptor `i`, with acquire ordering: once `DD` is seen,
    /// the device's other fields are too.
    fn status(&self, i: u16, off: usize) -> u8 {
        let s = self.mem.read8(self.desc(i) + off);
        fence(Ordering::Acquire);
        s
    }
}

/// The driver's side of one TX ring.
#[derive(Debug)]
pub struct TxRing {
    ring: Ring,
    /// Descriptors of the frame posted starting at each slot (0 elsewhere): the driver's own
    /// copy, never `CMD.EOP` read back from shared memory the device can write.
    frame_descs: [u8; MAX_TRACKED as usize],
}

impl TxRing {
    /// `len <= MAX_TRACKED` (checked when the queue started).
    pub(crate) fn new(mmio: Mmio, tail_reg: u32, mem: DmaRegion, len: u16) -> Self {
        Self {
            ring: Ring::new(mmio, tail_reg, mem, len),
            frame_descs: [0; MAX_TRACKED as usize],
        }
    }

    /// Descriptors of the frame starting at `first`, as posted; `None` if the driver's copy
    /// holds no frame there within the posted descriptors.
    fn frame_len(&self, first: u16) -> Option<u16> {
        let n = u16::from(self.frame_descs.get(usize::from(first)).copied()?);
        (n != 0 && n <= self.ring.in_use && n <= TX_MAX_FRAGS as u16).then_some(n)
    }

    /// Reclaims the frame at `clean` (`n` descriptors, the last one `eop`).
    fn take(&mut self, n: u16, eop: u16) -> u16 {
        let first = self.ring.clean;
        if let Some(d) = self.frame_descs.get_mut(usize::from(first)) {
            *d = 0;
        }
        self.ring.clean = self.ring.next(eop);
        self.ring.in_use = self.ring.in_use.saturating_sub(n);
        first
    }
}

impl TxQueue for TxRing {
    fn free(&self) -> u16 {
        self.ring.free()
    }

    fn post(&mut self, frags: &[Frag], vlan_tci: Option<u16>) -> Result<u16, HwError> {
        let n = frags.len();
        if n == 0 || n > TX_MAX_FRAGS {
            return Err(HwError::InvalidArgument);
        }
        if frags.iter().any(|f| f.len == 0 || f.len > TXD_MAX_LEN) {
            return Err(HwError::InvalidArgument);
        }
        let n16 = n as u16;
        if self.ring.free() < n16 {
            return Err(HwError::RingFull);
        }
        let first = self.ring.tail;
        let mut i = first;
        for (k, f) in frags.iter().enumerate() {
            let d = self.ring.desc(i);
            let mut cmd = 0;
            if k + 1 == n {
                cmd |= TXD_CMD_EOP;
            }
            if k == 0 && vlan_tci.is_some() {
                cmd |= TXD_CMD_VLE;
            }
            let m = &self.ring.mem;
            m.write64(d + TXD_ADDR, f.addr);
            m.write16(d + TXD_LEN, f.len);
            m.write8(d + TXD_CMD, cmd);
            m.write8(d + TXD_STATUS, 0);
            m.write16(
                d + TXD_VLAN_TCI,
                if k == 0 { vlan_tci.unwrap_or(0) } else { 0 },
            );
            m.write16(d + 14, 0);
            i = self.ring.next(i);
        }
        if let Some(d) = self.frame_descs.get_mut(usize::from(first)) {
            *d = n as u8;
        }
        self.ring.tail = i;
        self.ring.in_use += n16;
        self.ring.dirty = true;
        Ok(first)
    }

    fn flush(&mut self) {
        self.ring.flush();
    }

    fn complete(&mut self) -> Option<TxDone> {
        if self.ring.in_use == 0 {
            return None;
        }
        let first = self.ring.clean;
        let Some(n) = self.frame_len(first) else {
            // The ring no longer holds the frame it was given: report it failed and drop
            // everything posted (the queue must be restarted).
            return self.corrupt();
        };
        let eop = first.wrapping_add(n - 1) & self.ring.len.wrapping_sub(1);
        let status = self.ring.status(eop, TXD_STATUS);
        if status & TXD_STATUS_DD == 0 {
            return None;
        }
        // The device writes the EOP descriptor's DD last; an ERR on any descriptor fails the frame.
        let mut error = false;
        let mut i = first;
        for _ in 0..n {
            let s = self.ring.status(i, TXD_STATUS);
            error |= s & TXD_STATUS_ERR != 0 || s & TXD_STATUS_DD == 0;
            i = self.ring.next(i);
        }
        let first = self.take(n, eop);
        Some(TxDone {
            slot: first,
            sent: !error,
        })
    }

    fn drain(&mut self) -> Option<TxDone> {
        if let Some(done) = self.complete() {
            return Some(done);
        }
        if self.ring.in_use == 0 {
            // Empty. A restarted queue is a new ring object (the device restarts at HEAD 0).
            return None;
        }
        let first = self.ring.clean;
        match self.frame_len(first) {
            Some(n) => {
                let eop = first.wrapping_add(n - 1) & self.ring.len.wrapping_sub(1);
                let first = self.take(n, eop);
                Some(TxDone {
                    slot: first,
                    sent: false,
                })
            }
            None => self.corrupt(),
        }
    }

    fn in_flight(&self) -> u16 {
        self.ring.in_use
    }
}

impl TxRing {
    fn corrupt(&mut self) -> Option<TxDone> {
        let first = self.ring.clean;
        self.frame_descs = [0; MAX_TRACKED as usize];
        self.ring.in_use = 0;
        self.ring.clean = self.ring.tail;
        Some(TxDone {
            slot: first,
            sent: false,
        })
    }
}

/// The driver's side of one RX ring.
#[derive(Debug)]
pub struct RxRing {
    ring: Ring,
    /// The buffer length posted at each slot: the driver's own copy, never `BUF_LEN` read back
    /// from shared memory the device can write.
    buf_len: [u16; MAX_TRACKED as usize],
}

impl RxRing {
    /// `len <= MAX_TRACKED` (checked when the queue started).
    pub(crate) fn new(mmio: Mmio, tail_reg: u32, mem: DmaRegion, len: u16) -> Self {
        Self {
            ring: Ring::new(mmio, tail_reg, mem, len),
            buf_len: [0; MAX_TRACKED as usize],
        }
    }
}

impl RxQueue for RxRing {
    fn free(&self) -> u16 {
        self.ring.free()
    }

    fn post(&mut self, addr: u64, buf_len: u16) -> Result<u16, HwError> {
        if buf_len == 0 {
            return Err(HwError::InvalidArgument);
        }
        if self.ring.free() == 0 {
            return Err(HwError::RingFull);
        }
        let slot = self.ring.tail;
        let d = self.ring.desc(slot);
        let m = &self.ring.mem;
        m.write64(d + RXD_ADDR, addr);
        m.write16(d + RXD_BUF_LEN, buf_len);
        m.write16(d + RXD_FRAME_LEN, 0);
        m.write8(d + RXD_STATUS, 0);
        m.write8(d + 13, 0);
        m.write16(d + RXD_VLAN_TCI, 0);
        let Some(posted) = self.buf_len.get_mut(usize::from(slot)) else {
            return Err(HwError::InvalidArgument);
        };
        *posted = buf_len;
        self.ring.tail = self.ring.next(slot);
        self.ring.in_use += 1;
        self.ring.dirty = true;
        Ok(slot)
    }

    fn flush(&mut self) {
        self.ring.flush();
    }

    fn complete(&mut self) -> Option<RxDone> {
        if self.ring.in_use == 0 {
            return None;
        }
        let slot = self.ring.clean;
        let status = self.ring.status(slot, RXD_STATUS);
        if status & RXD_STATUS_DD == 0 {
            return None;
        }
        let d = self.ring.desc(slot);
        let m = &self.ring.mem;
        let buf_len = self.buf_len.get(usize::from(slot)).copied().unwrap_or(0);
        let len = m.read16(d + RXD_FRAME_LEN);
        let vlan_tci = (status & RXD_STATUS_VLAN != 0).then(|| m.read16(d + RXD_VLAN_TCI));
        self.ring.clean = self.ring.next(slot);
        self.ring.in_use -= 1;
        Some(RxDone {
            slot,
            len,
            vlan_tci,
            broadcast: status & RXD_STATUS_BCAST != 0,
            multicast: status & RXD_STATUS_MCAST != 0,
            valid: len != 0 && len <= buf_len,
        })
    }

    fn drain(&mut self) -> Option<u16> {
        if self.ring.in_use == 0 {
            return None;
        }
        let slot = self.ring.clean;
        self.ring.clean = self.ring.next(slot);
        self.ring.in_use -= 1;
        Some(slot)
    }

    fn posted(&self) -> u16 {
        self.ring.in_use
    }
}
