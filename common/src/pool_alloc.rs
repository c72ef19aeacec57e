//! The drivers' global allocator: no-execute nonpaged pool through `ExAllocatePoolWithTag`, with a
//! pool tag so `!poolused` and Driver Verifier attribute every block.
//!
//! Not `ExAllocatePool2`: its page ("ExAllocatePool2 function (wdm.h)") says it is available
//! starting with Windows 10 version 2004, and an image that imports it does not load on an
//! older system (Windows Server 2019, build 17763, a common Hyper-V host), even if the import is
//! never called. `ExAllocatePoolWithTag` is the older routine (its page states no minimum and
//! marks it deprecated in favour of ExAllocatePool2); the `NonPagedPoolNx` pool type exists
//! since Windows 8 ("POOL_TYPE enumeration (wdm.h)"). docs/imports.md lists both. Unlike
//! ExAllocatePool2 it does not zero the block, which `GlobalAlloc::alloc` does not promise.
//!
//! Built on every target so the simulator (which exports the two pool routines and tracks
//! blocks by tag) can test it; only the kernel images install it as `#[global_allocator]` (see
//! `kernel_runtime!`).
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

/// `NonPagedPoolNx` of the `POOL_TYPE` enumeration (wdm.h: `NonPagedPoolNx = 512`): nonpaged,
/// not executable.
pub const NON_PAGED_POOL_NX: i32 = 512;

/// Pool blocks of at least this size are 16-byte aligned on x64 (ExAllocatePoolWithTag remarks:
/// blocks of a page or more are page-aligned, smaller ones aligned on an 8-byte boundary on
/// 32-bit and 16-byte on 64-bit systems).
pub const POOL_ALIGNMENT: usize = 16;

crate::ndis_imports! {
    module = "ntoskrnl.exe";

    pub fn ExAllocatePoolWithTag(PoolType: i32, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    pub fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
}

/// `ExAllocatePoolWithTag(NonPagedPoolNx, ...)` with one tag. Alignments above
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
        unsafe { ExAllocatePoolWithTag(NON_PAGED_POOL_NX, layout.size(), self.tag) }.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with the same tag.
        unsafe { ExFreePoolWithTag(ptr.cast(), self.tag) }
    }
}
