//! The drivers' global allocator: nonpaged pool through `ExAllocatePool2`, with a pool tag so
//! `!poolused` and Driver Verifier attribute every block. Built on every target so the
//! simulator (which exports the two pool routines and tracks blocks by tag) can test it; only
//! the kernel images install it as `#[global_allocator]` (see `kernel_runtime!`).
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

/// `POOL_FLAG_NON_PAGED` (learn.microsoft.com, kernel/pool_flags: 0x40, non-paged NX).
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;

/// Pool blocks are 16-byte aligned on x64 (ExAllocatePool2 remarks).
pub const POOL_ALIGNMENT: usize = 16;

crate::ndis_imports! {
    module = "ntoskrnl.exe";

    pub fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    pub fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
}

/// `ExAllocatePool2(POOL_FLAG_NON_PAGED, ...)` with one tag. Alignments above
/// [`POOL_ALIGNMENT`] and zero-size layouts get null (an allocation failure Rust handles),
/// never a misaligned pointer.
pub struct PoolAllocator {
    tag: u32,
}

impl PoolAllocator {
    pub const fn new(tag: u32) -> Self {
        Self { tag }
    }

    pub const fn tag(&self) -> u32 {
        self.tag
    }
}

// SAFETY: returns null or a fresh nonpaged block of at least `size` bytes, aligned as asked
// (alignment above 16 is refused), freed with the same tag.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > POOL_ALIGNMENT || layout.size() == 0 {
            return core::ptr::null_mut();
        }
        // SAFETY: plain allocation call with a non-zero size and a non-zero tag.
        unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, layout.size(), self.tag) }.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with the same tag.
        unsafe { ExFreePoolWithTag(ptr.cast(), self.tag) }
    }
}
