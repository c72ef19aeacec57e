//! Shared memory for the miniports' DMA ("NdisMAllocateSharedMemory function",
//! "NdisMFreeSharedMemory function"): blocks of host memory whose physical address is their
//! host address (the identity IOMMU the device model assumes), in the ledger of
//! [`resources`](super::resources).
use super::resources::SharedAlloc;
use super::{Machine, SimAdapter, lock};

impl Machine {
    /// A block of shared memory: physical address = host address (the identity IOMMU the
    /// device model assumes). The pages promise no alignment, so the simulator gives the
    /// harsher one: 16-byte aligned and never 128-byte aligned; nor do they promise zeroed
    /// memory, so it comes filled with 0xCC.
    pub(crate) fn allocate_shared(&self, adapter: &SimAdapter, len: u32) -> Option<(usize, i64)> {
        let layout = std::alloc::Layout::from_size_align(len as usize + 64, 4096).ok()?;
        // SAFETY: non-zero size.
        let base = unsafe { std::alloc::alloc(layout) };
        if base.is_null() {
            return None;
        }
        // SAFETY: the allocation is `len + 64` bytes.
        unsafe { std::ptr::write_bytes(base, 0xCC, len as usize + 64) };
        let va = base as usize + 16;
        let pa = va as i64;
        let ok = self.with_hw(adapter, |e, _| {
            e.shared.push(SharedAlloc {
                va,
                pa,
                len,
                base,
                layout,
            })
        });
        if ok.is_none() {
            // SAFETY: just allocated with this layout.
            unsafe { std::alloc::dealloc(base, layout) };
            return None;
        }
        Some((va, pa))
    }

    /// Frees a block `allocate_shared` gave `adapter`; false unless length and both
    /// addresses are exactly the ones it gave.
    pub(crate) fn free_shared(&self, adapter: &SimAdapter, len: u32, va: usize, pa: i64) -> bool {
        let found = self.with_hw(adapter, |e, _| {
            let i = e
                .shared
                .iter()
                .position(|s| s.va == va && s.pa == pa && s.len == len)?;
            Some(e.shared.swap_remove(i))
        });
        match found.flatten() {
            Some(s) => {
                // SAFETY: allocated by `allocate_shared` with this layout; now unreachable.
                unsafe { std::alloc::dealloc(s.base, s.layout) };
                true
            }
            None => false,
        }
    }

    /// Releases the device memory of every adapter (the machine is going away).
    pub(super) fn release_hw(&mut self) {
        let mut hw = lock(&self.hw);
        for e in hw.adapters.values_mut() {
            for s in std::mem::take(&mut e.shared) {
                // SAFETY: allocated by `allocate_shared` with this layout.
                unsafe { std::alloc::dealloc(s.base, s.layout) };
            }
        }
    }
}
