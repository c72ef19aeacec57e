//! The PCI functions of the simulated SR-IOV NIC: the PF's configuration space with its
//! SR-IOV extended capability, each VF's configuration space, and the BAR values the PCI
//! driver probed. What `NdisMGetBusData`, `NdisMGetVirtualFunctionBusData`,
//! `NdisMSetVirtualFunctionBusData` and `NdisMQueryProbedBars` (exports.rs) read and write.
//!
//! The layout follows the PCI-SIG specifications the NDIS pages point to ("Single Root I/O
//! Virtualization and Sharing 1.1", PCI Express Base): a VF's Vendor ID and Device ID
//! registers read FFFFh and its BARs read 0 (the PF's SR-IOV capability holds the VF Device ID
//! and the VF BARs); extended capabilities start at 0x100.
use std::collections::BTreeMap;

/// Configuration space of one PCI Express function.
pub const CONFIG_LEN: usize = 4096;
/// Placeholder ids, the INF's (`VEN_FFFF&DEV_F1F0` PF, `VEN_FFFF&DEV_F1F1` VF).
pub const PF_VENDOR_ID: u16 = 0xFFFF;
pub const PF_DEVICE_ID: u16 = 0xF1F0;
pub const VF_DEVICE_ID: u16 = 0xF1F1;
/// An AER capability at 0x100 points on to the SR-IOV capability, so the PF must walk the list.
pub const AER_CAP_AT: usize = 0x100;
pub const SRIOV_CAP_AT: usize = 0x160;
/// VF BAR 0 of the SR-IOV capability: 64-bit prefetchable memory (type bits 10b, bit 3).
pub const VF_BAR0_BASE: u64 = 0x00F8_0000_0000;
/// Each VF's BAR 0: 64 KiB (docs/reference-nic.md section 1), VF n at VF BAR 0 + n x 64 KiB.
pub const VF_BAR0_LEN: u32 = 0x1_0000;
/// What the PCI driver probed on the PF's BARs: BAR 0/1 a 64-bit prefetchable 128 KiB
/// memory BAR, the others unimplemented.
pub const PROBED_BARS: [u32; 6] = [0xFFFE_000C, 0xFFFF_FFFF, 0, 0, 0, 0];
pub const TOTAL_VFS: u16 = 256;
/// A VF's capability list (docs/reference-nic.md section 1): PCI Express at 40h, MSI-X at
/// 80h, PCI Power Management at 90h (the last).
pub const VF_PCIE_CAP_AT: usize = 0x40;
pub const VF_MSIX_CAP_AT: usize = 0x80;
pub const VF_PM_CAP_AT: usize = 0x90;
/// The VF's PMC: version 011b, no D1 or D2, PME from D3hot only (PCI Bus Power Management
/// Interface 1.2: bits 2:0 version, 9 D1_Support, 10 D2_Support, 15:11 PME_Support D0..D3cold).
pub const VF_PMC: u16 = 0x0003 | (1 << 14);
/// PCI Express Device Capabilities bit 28, Function Level Reset Capability; Device Control
/// bit 15, Initiate Function Level Reset (PCI Express Base Specification).
const DEVCAP_FLR: u32 = 1 << 28;
const DEVCTL_INITIATE_FLR: u16 = 1 << 15;
const PMCSR_NO_SOFT_RESET: u16 = 1 << 3;
/// Recovery times (PCI Express Base: 100 ms after an FLR; PCI PM 1.2: 10 ms to or from D3hot,
/// 200 us to or from D2) during which software must not access the function.
const FLR_RECOVERY_US: u64 = 100_000;
const D3HOT_RECOVERY_US: u64 = 10_000;
const D2_RECOVERY_US: u64 = 200;

fn put(space: &mut [u8], at: usize, bytes: &[u8]) {
    space[at..at + bytes.len()].copy_from_slice(bytes);
}

pub struct PciModel {
    pf: Box<[u8; CONFIG_LEN]>,
    vfs: BTreeMap<u16, Box<[u8; CONFIG_LEN]>>,
    /// (VF, offset, length) of every access, for the tests.
    pub vf_reads: Vec<(u16, u32, u32)>,
    pub vf_writes: Vec<(u16, u32, u32)>,
    /// Function-level resets, in order (the VF each was initiated on).
    pub vf_resets: Vec<u16>,
    /// The simulated clock (microseconds slept by drivers), set before each access.
    pub clock_us: u64,
    /// VFs within a recovery time (after an FLR, or a power transition), until this clock.
    recovering: BTreeMap<u16, u64>,
}

impl Default for PciModel {
    fn default() -> Self {
        let mut pf = Box::new([0u8; CONFIG_LEN]);
        put(&mut *pf, 0x00, &PF_VENDOR_ID.to_le_bytes());
        put(&mut *pf, 0x02, &PF_DEVICE_ID.to_le_bytes());
        put(&mut *pf, 0x08, &[0x01, 0x00, 0x00, 0x02]); // revision 1, class 02h network
        // AER (id 0x0001, version 1) whose next pointer is the SR-IOV capability.
        let aer = 0x0001u32 | (1 << 16) | ((SRIOV_CAP_AT as u32) << 20);
        put(&mut *pf, AER_CAP_AT, &aer.to_le_bytes());
        // SR-IOV (id 0x0010, version 1, last in the list).
        let s = SRIOV_CAP_AT;
        put(&mut *pf, s, &(0x0010u32 | (1 << 16)).to_le_bytes());
        put(&mut *pf, s + 0x0C, &TOTAL_VFS.to_le_bytes()); // InitialVFs
        put(&mut *pf, s + 0x0E, &TOTAL_VFS.to_le_bytes()); // TotalVFs
        put(&mut *pf, s + 0x14, &1u16.to_le_bytes()); // First VF Offset
        put(&mut *pf, s + 0x16, &1u16.to_le_bytes()); // VF Stride
        put(&mut *pf, s + 0x1A, &VF_DEVICE_ID.to_le_bytes());
        put(
            &mut *pf,
            s + 0x24,
            &((VF_BAR0_BASE as u32) | 0xC).to_le_bytes(),
        );
        put(
            &mut *pf,
            s + 0x28,
            &((VF_BAR0_BASE >> 32) as u32).to_le_bytes(),
        );
        Self {
            pf,
            vfs: BTreeMap::new(),
            vf_reads: Vec::new(),
            vf_writes: Vec::new(),
            vf_resets: Vec::new(),
            clock_us: 0,
            recovering: BTreeMap::new(),
        }
    }
}

fn range(offset: u32, len: usize) -> Option<std::ops::Range<usize>> {
    let start = offset as usize;
    let end = start.checked_add(len)?;
    (end <= CONFIG_LEN).then_some(start..end)
}

impl PciModel {
    /// NdisMEnableVirtualization: NumVFs and VF Enable / VF MSE in the SR-IOV control.
    pub fn set_num_vfs(&mut self, num_vfs: u16) {
        let s = SRIOV_CAP_AT;
        let control: u16 = if num_vfs == 0 { 0 } else { 0b1001 };
        put(&mut *self.pf, s + 0x08, &control.to_le_bytes());
        put(&mut *self.pf, s + 0x10, &num_vfs.to_le_bytes());
    }

    pub fn read_pf(&self, offset: u32, out: &mut [u8]) -> u32 {
        match range(offset, out.len()) {
            Some(r) => {
                out.copy_from_slice(&self.pf[r]);
                out.len() as u32
            }
            None => 0,
        }
    }

    fn vf_space(&mut self, vf: u16) -> &mut [u8; CONFIG_LEN] {
        self.vfs.entry(vf).or_insert_with(|| {
            let mut c = Box::new([0u8; CONFIG_LEN]);
            put(&mut *c, 0x00, &0xFFFF_FFFFu32.to_le_bytes()); // VF ids read FFFFh
            put(&mut *c, 0x08, &[0x01, 0x00, 0x00, 0x02]);
            put(&mut *c, 0x06, &(1u16 << 4).to_le_bytes()); // Status: Capabilities List
            put(&mut *c, 0x34, &[VF_PCIE_CAP_AT as u8]);
            // PCI Express (id 10h, version 2, endpoint), FLR capable.
            let p = VF_PCIE_CAP_AT;
            put(&mut *c, p, &[0x10, VF_MSIX_CAP_AT as u8, 0x02, 0x00]);
            put(&mut *c, p + 4, &DEVCAP_FLR.to_le_bytes());
            // MSI-X (id 11h): 8 vectors, table at BAR 0 + 2000h, PBA at BAR 0 + 3000h
            // (docs/reference-nic.md section 3).
            let m = VF_MSIX_CAP_AT;
            put(&mut *c, m, &[0x11, VF_PM_CAP_AT as u8]);
            put(&mut *c, m + 2, &7u16.to_le_bytes());
            put(&mut *c, m + 4, &0x2000u32.to_le_bytes());
            put(&mut *c, m + 8, &0x3000u32.to_le_bytes());
            // PCI Power Management (id 01h), the last capability.
            put(&mut *c, VF_PM_CAP_AT, &[0x01, 0x00]);
            put(&mut *c, VF_PM_CAP_AT + 2, &VF_PMC.to_le_bytes());
            // PMCSR No_Soft_Reset (bit 3, read-only): D3hot to D0 keeps the configuration.
            put(
                &mut *c,
                VF_PM_CAP_AT + 4,
                &PMCSR_NO_SOFT_RESET.to_le_bytes(),
            );
            c
        })
    }

    pub fn read_vf(&mut self, vf: u16, offset: u32, out: &mut [u8]) -> u32 {
        let Some(r) = range(offset, out.len()) else {
            return 0;
        };
        self.vf_reads.push((vf, offset, out.len() as u32));
        out.copy_from_slice(&self.vf_space(vf)[r]);
        out.len() as u32
    }

    /// Writes land except on read-only registers (PCI Local Bus, PCI Express Base, SR-IOV 1.1,
    /// PCI Bus Power Management Interface 1.2): the ids, Status, revision and class, header
    /// type, the VF's BARs (a VF's read 0: its memory comes from the PF's VF BARs), the
    /// Capabilities Pointer, each capability's id and next pointer, the PCI Express and
    /// Device Capabilities registers, the MSI-X table size and locations, and PMC. In the
    /// Command register a VF's I/O Space and Memory Space Enable are hardwired 0 (VF MSE in
    /// the PF's SR-IOV Control enables VF memory). PMCSR and Device Control as below.
    pub fn write_vf(&mut self, vf: u16, offset: u32, data: &[u8]) -> u32 {
        let Some(r) = range(offset, data.len()) else {
            return 0;
        };
        self.vf_writes.push((vf, offset, data.len() as u32));
        let space = self.vf_space(vf);
        let pmcsr = VF_PM_CAP_AT + 4;
        let devctl = VF_PCIE_CAP_AT + 8;
        let before = u16::from_le_bytes([space[pmcsr], space[pmcsr + 1]]);
        let read_only = |i: usize| {
            matches!(i, 0x00..=0x03 | 0x06..=0x0B | 0x0E | 0x10..=0x27 | 0x34)
                || (VF_PCIE_CAP_AT..VF_PCIE_CAP_AT + 8).contains(&i)
                || (VF_MSIX_CAP_AT..VF_MSIX_CAP_AT + 2).contains(&i)
                || (VF_MSIX_CAP_AT + 4..VF_MSIX_CAP_AT + 12).contains(&i)
                || (VF_PM_CAP_AT..VF_PM_CAP_AT + 4).contains(&i)
        };
        for (i, b) in r.zip(data) {
            if !read_only(i) {
                space[i] = *b;
            }
        }
        space[0x04] &= !0b11;
        // MSI-X Message Control: only MSI-X Enable (15) and Function Mask (14) are writable.
        let mc = VF_MSIX_CAP_AT + 2;
        space[mc] = 7;
        space[mc + 1] &= 0xC0;
        // PMCSR: PowerState (1:0) and PME_En (8) are read-write, PME_Status (15) is
        // write-one-to-clear, the rest read-only; a state the PMC does not support is
        // discarded ("no state change occurs").
        let written = u16::from_le_bytes([space[pmcsr], space[pmcsr + 1]]);
        let pmc = u16::from_le_bytes([space[VF_PM_CAP_AT + 2], space[VF_PM_CAP_AT + 3]]);
        let state = match written & 3 {
            1 if pmc & (1 << 9) == 0 => before & 3,
            2 if pmc & (1 << 10) == 0 => before & 3,
            s => s,
        };
        let mut v = (before & !0x0103) | state | (written & 0x0100);
        if written & 0x8000 != 0 {
            v &= !0x8000;
        }
        put(&mut *space, pmcsr, &v.to_le_bytes());
        let from = before & 3;
        let recovery = match (from, state) {
            (a, b) if a == b => 0,
            (3, _) | (_, 3) => D3HOT_RECOVERY_US,
            (2, _) | (_, 2) => D2_RECOVERY_US,
            _ => 0,
        };
        // D3hot to D0 without No_Soft_Reset resets the function (PCI PM 1.2).
        let soft_reset = from == 3 && state == 0 && before & PMCSR_NO_SOFT_RESET == 0;
        // Device Control: Initiate Function Level Reset starts an FLR (and reads 0).
        let flr = u16::from_le_bytes([space[devctl], space[devctl + 1]]) & DEVCTL_INITIATE_FLR != 0;
        if flr || soft_reset {
            self.vfs.remove(&vf);
        }
        if flr {
            self.vf_resets.push(vf);
            self.recovering.insert(vf, self.clock_us + FLR_RECOVERY_US);
        } else if recovery > 0 {
            self.recovering.insert(vf, self.clock_us + recovery);
        }
        data.len() as u32
    }

    /// The VF is within a recovery time at the current clock: software must not access it.
    pub fn in_recovery(&mut self, vf: u16) -> bool {
        match self.recovering.get(&vf) {
            Some(&until) if self.clock_us < until => true,
            Some(_) => {
                self.recovering.remove(&vf);
                false
            }
            None => false,
        }
    }

    /// The PF's SR-IOV Control VF MSE bit (bit 3): VF memory space decoding enabled.
    pub fn vf_memory_enabled(&self) -> bool {
        self.pf[SRIOV_CAP_AT + 0x08] & 0b1000 != 0
    }

    /// A VF's configuration space as the host sees it (a fresh one when never touched).
    pub fn vf_config(&mut self, vf: u16) -> Vec<u8> {
        self.vf_space(vf).to_vec()
    }

    /// Test hook: sets bytes of a VF's configuration space as a different device would have
    /// them (read-only registers included), without recording an access.
    pub fn poke_vf(&mut self, vf: u16, offset: usize, data: &[u8]) {
        put(&mut *self.vf_space(vf), offset, data);
    }

    /// A VF's PowerState field (PMCSR bits 1:0): 0 = D0 .. 3 = D3hot; and its PME_En bit.
    pub fn vf_power(&mut self, vf: u16) -> (u8, bool) {
        let space = self.vf_space(vf);
        let v = u16::from_le_bytes([space[VF_PM_CAP_AT + 4], space[VF_PM_CAP_AT + 5]]);
        ((v & 3) as u8, v & 0x100 != 0)
    }
}
