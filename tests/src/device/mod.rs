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
    /// MSI-X pending bits (bit v: vector v): a message the device sent while `VEC_EN[v]` was 1
    /// that reaches the CPU only after the driver held the vector again is kept pending and
    /// sent once the vector is enabled again, as MSI-X masking does (the PCI Express
    /// specification's Pending Bit Array; the NDIS pages are silent on in-flight messages, so
    /// the model neither delivers it to a driver that has masked the vector nor loses it).
    pending: u32,
    /// A VF's `VF_CTRL.LINK_DOWN` as last seen, and the link changes it made (section 9: each
    /// change of `LINK` increments `LINK_SEQ` and latches the `LINK` cause, the wire's or this).
    admin_down: bool,
    admin_changes: u32,
    /// Surprise-removed: the model leaves it alone and its BAR reads all ones (`presence`).
    gone: bool,
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
    /// A fault a test injects: the device takes no new table snapshot and acknowledges no
    /// commit (section 7 bounds the acknowledgement at 1 ms; a device past it is broken).
    pub stall_commits: bool,
    /// A fault a test injects: the PF's function ignores queue disables (its queues stay
    /// ACTIVE) and its function reset (`CTRL.RESET` never clears), past section 5's 1 ms and
    /// section 9's bounds.
    pub stall_pf_stops: bool,
    /// A fault a test injects: a VF's own function reset (its `CTRL.RESET`) never clears and
    /// changes nothing, past section 9's 10 ms (a dead VF).
    pub stall_vf_resets: bool,
    /// Section 7's lookups, derived from `vports` and `filters` whenever they change.
    index: tables::Index,
    /// The frame being switched (reused: the model allocates nothing per frame).
    scratch: Vec<u8>,
}

/// Appends `len` bytes at bus address `addr` to `out` (a DMA read).
fn read_into(addr: u64, len: usize, out: &mut Vec<u8>) {
    // SAFETY: bus addresses are host addresses of buffers the test keeps alive (identity IOMMU).
    let src = unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) };
    out.extend_from_slice(src);
}

fn write_bytes(addr: u64, bytes: &[u8]) {
    // SAFETY: as for read_into; the driver posted the buffer with at least this many bytes.
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

/// An 802.1Q tag (TPID 0x8100, `tci`) after the source MAC.
fn insert_tag(frame: &[u8], tci: u16) -> Vec<u8> {
    let split = frame.len().min(12);
    let mut out = frame[..split].to_vec();
    out.extend_from_slice(&[0x81, 0x00]);
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(&frame[split..]);
    out
}

mod function;
mod model;
mod presence;
mod tables;
pub use tables::{FilterRow, VPortRow, VfRow};
