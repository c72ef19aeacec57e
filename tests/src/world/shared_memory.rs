//! Shared memory for the miniports' DMA ("NdisMAllocateSharedMemory function",
//! "NdisMFreeSharedMemory function"): blocks of host memory whose physical address is their
//! host address (the identity IOMMU the device model assumes), in the ledger of
//! [`resources`](super::resources).
use super::resources::SharedAlloc;
use super::{Machine, SimAdapter, lock};
use crate::device::Bar;
use common::hw::regs::*;

/// Why the block `[va, va + len)` may not be freed yet: docs/reference-nic.md section 5, "The
/// driver must see ACTIVE = 0 before it frees or reuses a ring's memory or a buffer the ring
/// pointed at". It overlaps a ring of `bar` that is enabled or still active, or an RX buffer
/// posted to such a ring (a descriptor between HEAD and TAIL). Descriptors are read only from a
/// ring that lies inside one of `held` (still allocated).
fn in_use_by_device(bar: &Bar, held: &[SharedAlloc], va: usize, len: u32) -> Option<String> {
    let (lo, hi) = (va as u64, va as u64 + u64::from(len));
    let overlaps = |a: u64, n: u64| a < hi && lo < a.saturating_add(n);
    for q in 0..bar.r32(QP_COUNT).min(4) as u8 {
        for (dir, off) in [("TX", 0), ("RX", RXQ)] {
            let r = |o: u32| bar.r32(queue_reg(q, off + o));
            if r(TXQ_CTRL) & Q_ENABLE == 0 && r(TXQ_STATUS) & Q_ACTIVE == 0 {
                continue;
            }
            let base = u64::from(r(TXQ_BASE)) | (u64::from(r(TXQ_BASE + 4)) << 32);
            let n = r(TXQ_LEN);
            let bytes = u64::from(n) * DESC_BYTES as u64;
            if overlaps(base, bytes) {
                return Some(format!(
                    "the {dir} ring of queue pair {q} (still enabled or active)"
                ));
            }
            let inside = held
                .iter()
                .any(|s| s.va as u64 <= base && base + bytes <= s.va as u64 + u64::from(s.len));
            if off != RXQ || !n.is_power_of_two() || !inside {
                continue;
            }
            let (mut i, tail) = (r(TXQ_HEAD) % n, r(TXQ_TAIL) % n);
            while i != tail {
                let d = (base + u64::from(i) * DESC_BYTES as u64) as usize;
                // SAFETY: inside a shared block the adapter still holds (checked above).
                let (addr, blen) = unsafe {
                    (
                        ((d + RXD_ADDR) as *const u64).read_unaligned(),
                        ((d + RXD_BUF_LEN) as *const u16).read_unaligned(),
                    )
                };
                if overlaps(addr, u64::from(blen)) {
                    return Some(format!(
                        "an RX buffer ({addr:#x}, {blen} bytes) still posted to queue pair {q}"
                    ));
                }
                i = (i + 1) % n;
            }
        }
    }
    None
}

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
    /// addresses are exactly the ones it gave. A block the device may still write (section 5:
    /// [`in_use_by_device`]) is reported and left allocated (the device model would write
    /// into it at its next frame).
    pub(crate) fn free_shared(&self, adapter: &SimAdapter, len: u32, va: usize, pa: i64) -> bool {
        let found = self.with_hw(adapter, |e, nic| {
            let i = e
                .shared
                .iter()
                .position(|s| s.va == va && s.pa == pa && s.len == len)?;
            let busy = if nic.is_gone(e.func) {
                None
            } else {
                let held = &e.shared;
                nic.function(e.func)
                    .and_then(|f| in_use_by_device(&f.bar, held, va, len))
            };
            Some((e.shared.swap_remove(i), busy))
        });
        match found.flatten() {
            Some((_, Some(why))) => {
                self.violation(format!(
                    "{}: NdisMFreeSharedMemory({len:#x}, {va:#x}) of a block the device may still \
                     write: it holds {why} (reference-nic.md section 5: the driver must see \
                     ACTIVE = 0 before it frees a ring's memory or a buffer the ring pointed at)",
                    adapter.name
                ));
                true
            }
            Some((s, None)) => {
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
