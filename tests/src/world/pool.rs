//! Pool memory: what the drivers allocate with a tag (NdisAllocateMemoryWithTagPriority,
//! ExAllocatePoolWithTag), counted per tag so that tests see leaks, and checked on free.
use super::{Machine, lock};
use crate::timeline::Event;
use std::collections::BTreeMap;
use std::ffi::c_void;

/// The live pool blocks: address -> (length, tag).
#[derive(Default)]
pub(super) struct Memory {
    live: BTreeMap<usize, (usize, u32)>,
    allocations: u64,
    peak: usize,
}

impl Machine {
    pub fn allocate(&self, len: u32, tag: u32) -> *mut c_void {
        let mut m = lock(&self.memory);
        m.allocations += 1;
        if self.cfg.fail_allocation == Some(m.allocations) {
            drop(m);
            self.record(Event::Fault {
                what: format!("pool allocation of {len} B (tag {}) fails", tag_text(tag)),
            });
            return std::ptr::null_mut();
        }
        let Ok(layout) = std::alloc::Layout::from_size_align((len as usize).max(1), 16) else {
            return std::ptr::null_mut();
        };
        // SAFETY: non-zero size, valid alignment.
        let p = unsafe { std::alloc::alloc(layout) };
        if !p.is_null() {
            m.live.insert(p as usize, (len as usize, tag));
            let total: usize = m.live.values().map(|v| v.0).sum();
            m.peak = m.peak.max(total);
        }
        p.cast()
    }

    pub fn free(&self, p: *mut c_void, tag: u32) {
        let mut m = lock(&self.memory);
        match m.live.remove(&(p as usize)) {
            Some((len, t)) => {
                drop(m);
                if t != tag {
                    self.violation(format!(
                        "pool block freed with tag {} but allocated with {}",
                        tag_text(tag),
                        tag_text(t)
                    ));
                }
                let layout = std::alloc::Layout::from_size_align(len.max(1), 16)
                    .expect("layout was valid at allocation");
                // SAFETY: allocated above with this layout.
                unsafe { std::alloc::dealloc(p.cast(), layout) };
            }
            None => {
                drop(m);
                self.violation(format!("free of {p:p}, not a live pool block"));
            }
        }
    }

    /// Bytes of pool currently allocated with `tag`.
    pub fn pool_bytes(&self, tag: u32) -> usize {
        lock(&self.memory)
            .live
            .values()
            .filter(|(_, t)| *t == tag)
            .map(|(l, _)| *l)
            .sum()
    }

    pub fn pool_blocks(&self) -> usize {
        lock(&self.memory).live.len()
    }

    /// Returns every block still live (the machine is going away).
    pub(super) fn release_pool(&mut self) {
        let live: Vec<_> = std::mem::take(&mut lock(&self.memory).live)
            .into_iter()
            .collect();
        for (p, (len, _)) in live {
            if let Ok(layout) = std::alloc::Layout::from_size_align(len.max(1), 16) {
                // SAFETY: allocated by `allocate` with this layout.
                unsafe { std::alloc::dealloc(p as *mut u8, layout) };
            }
        }
    }
}

pub fn tag_text(tag: u32) -> String {
    tag.to_le_bytes()
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect()
}
