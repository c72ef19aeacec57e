//! The two kinds of memory the hardware layer touches, each with bounded volatile access:
//! a mapped BAR ([`Mmio`], from `NdisMMapIoSpace`) and shared memory the device reads and
//! writes by DMA ([`DmaRegion`], from `NdisMAllocateSharedMemory`). An offset outside the
//! region or misaligned is never dereferenced: a BAR read gives all ones (what a vanished
//! device reads), a write or a DMA access is dropped. Nothing here panics.
use core::ptr::NonNull;

/// A mapped register BAR.
#[derive(Clone, Copy, Debug)]
pub struct Mmio {
    base: NonNull<u8>,
    len: u32,
}

// SAFETY: the mapping is device memory shared with the device by design; every access is a
// single volatile load or store, and the register rules (docs/reference-nic.md section 2)
// give each register one writer.
unsafe impl Send for Mmio {}
// SAFETY: as for Send.
unsafe impl Sync for Mmio {}

impl Mmio {
    /// `None` for a null or not 8-byte aligned base.
    ///
    /// # Safety
    /// `base` maps `len` bytes of device registers (or memory standing in for them) that stay
    /// mapped while this value or a copy of it is used.
    pub unsafe fn new(base: *mut u8, len: u32) -> Option<Self> {
        let base = NonNull::new(base)?;
        if !(base.as_ptr() as usize).is_multiple_of(8) {
            return None;
        }
        Some(Self { base, len })
    }

    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn at<T>(&self, off: u32) -> Option<*mut T> {
        let size = core::mem::size_of::<T>() as u32;
        let end = off.checked_add(size)?;
        if end > self.len || !off.is_multiple_of(size) {
            return None;
        }
        // SAFETY: `off + size <= len`, inside the mapping `new` was given.
        Some(unsafe { self.base.as_ptr().add(off as usize) }.cast())
    }

    /// A 32-bit register; all ones for an offset outside the BAR or misaligned.
    pub fn read32(&self, off: u32) -> u32 {
        match self.at::<u32>(off) {
            // SAFETY: in bounds and aligned (`at`); a register read has no side effects.
            Some(p) => u32::from_le(unsafe { p.read_volatile() }),
            None => u32::MAX,
        }
    }

    /// A 32-bit register write; dropped outside the BAR.
    pub fn write32(&self, off: u32, value: u32) {
        if let Some(p) = self.at::<u32>(off) {
            // SAFETY: in bounds and aligned (`at`).
            unsafe { p.write_volatile(value.to_le()) }
        }
    }

    /// A 64-bit register, read with one access; all ones outside the BAR.
    pub fn read64(&self, off: u32) -> u64 {
        match self.at::<u64>(off) {
            // SAFETY: in bounds and 8-byte aligned (`at`).
            Some(p) => u64::from_le(unsafe { p.read_volatile() }),
            None => u64::MAX,
        }
    }

    /// A 64-bit register write, one access; dropped outside the BAR.
    pub fn write64(&self, off: u32, value: u64) {
        if let Some(p) = self.at::<u64>(off) {
            // SAFETY: in bounds and 8-byte aligned (`at`).
            unsafe { p.write_volatile(value.to_le()) }
        }
    }
}

/// Shared memory: its virtual address for the CPU and its bus address for the device.
#[derive(Clone, Copy, Debug)]
pub struct DmaRegion {
    va: NonNull<u8>,
    pa: u64,
    len: u32,
}

// SAFETY: memory shared with the device; accessed only with volatile loads and stores under
// the ownership rules of the rings (docs/reference-nic.md section 5).
unsafe impl Send for DmaRegion {}
// SAFETY: as for Send.
unsafe impl Sync for DmaRegion {}

impl DmaRegion {
    /// `None` for a null or not 16-byte aligned virtual address.
    ///
    /// # Safety
    /// `va` is valid for reads and writes of `len` bytes, and the device sees the same bytes
    /// at bus address `pa`, for as long as this value or a copy of it is used.
    pub unsafe fn new(va: *mut u8, pa: u64, len: u32) -> Option<Self> {
        let va = NonNull::new(va)?;
        if !(va.as_ptr() as usize).is_multiple_of(16) {
            return None;
        }
        Some(Self { va, pa, len })
    }

    pub fn va(&self) -> *mut u8 {
        self.va.as_ptr()
    }

    pub fn pa(&self) -> u64 {
        self.pa
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn at<T>(&self, off: usize) -> Option<*mut T> {
        let size = core::mem::size_of::<T>();
        let end = off.checked_add(size)?;
        if end > self.len as usize || !off.is_multiple_of(size) {
            return None;
        }
        // SAFETY: `off + size <= len`, inside the region `new` was given.
        Some(unsafe { self.va.as_ptr().add(off) }.cast())
    }

    pub fn read8(&self, off: usize) -> u8 {
        // SAFETY: in bounds (`at`).
        self.at::<u8>(off)
            .map_or(0, |p| unsafe { p.read_volatile() })
    }

    pub fn write8(&self, off: usize, v: u8) {
        if let Some(p) = self.at::<u8>(off) {
            // SAFETY: in bounds (`at`).
            unsafe { p.write_volatile(v) }
        }
    }

    pub fn read16(&self, off: usize) -> u16 {
        // SAFETY: in bounds and aligned (`at`).
        self.at::<u16>(off)
            .map_or(0, |p| u16::from_le(unsafe { p.read_volatile() }))
    }

    pub fn write16(&self, off: usize, v: u16) {
        if let Some(p) = self.at::<u16>(off) {
            // SAFETY: in bounds and aligned (`at`).
            unsafe { p.write_volatile(v.to_le()) }
        }
    }

    pub fn read64(&self, off: usize) -> u64 {
        // SAFETY: in bounds and aligned (`at`).
        self.at::<u64>(off)
            .map_or(0, |p| u64::from_le(unsafe { p.read_volatile() }))
    }

    pub fn write64(&self, off: usize, v: u64) {
        if let Some(p) = self.at::<u64>(off) {
            // SAFETY: in bounds and aligned (`at`).
            unsafe { p.write_volatile(v.to_le()) }
        }
    }
}
