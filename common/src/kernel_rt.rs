//! What a `no_std` Rust image needs to be a Windows kernel driver without the WDK crates: a
//! panic handler that bugchecks, the global allocator ([`PoolAllocator`](crate::pool_alloc)), `_fltused`, and the
//! C memory routines (imported from ntoskrnl, like the WDK's own CRT-less drivers).
//! Instantiated per driver with [`kernel_runtime!`](crate::kernel_runtime) so that each one
//! has its own bugcheck code and pool tag. On the WDK path (`feature = "wdk"` in the driver),
//! `wdk-panic` provides the panic handler instead (the allocator is the same on both paths).
use core::ffi::c_void;

crate::ndis_imports! {
    module = "ntoskrnl.exe";

    pub fn KeBugCheckEx(BugCheckCode: u32, P1: usize, P2: usize, P3: usize, P4: usize) -> !;
    pub fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void;
    pub fn memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void;
    pub fn memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void;
    pub fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> i32;
}

/// Instantiates the kernel runtime in a driver crate (Windows targets only).
#[macro_export]
macro_rules! kernel_runtime {
    (bugcheck_code = $code:expr, pool_tag = $tag:expr) => {
        #[cfg(not(feature = "wdk"))]
        mod kernel_runtime {
            /// A panic is a bug in the driver: stop the machine with a code that names this
            /// driver and the source line, rather than run on in an unknown state.
            #[panic_handler]
            fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
                let line = info.location().map_or(0, |l| l.line()) as usize;
                // SAFETY: KeBugCheckEx never returns; its arguments are plain integers.
                unsafe { $crate::kernel_rt::KeBugCheckEx($code, line, 0, 0, 0) }
            }

            #[global_allocator]
            static ALLOCATOR: $crate::pool_alloc::PoolAllocator =
                $crate::pool_alloc::PoolAllocator::new($crate::mem::pool_tag($tag));

            /// Named only by the unwind tables of the prebuilt `core`: cargo builds this package
            /// as rlib + cdylib, which turns LTO off, so those tables stay in the image. With
            /// `panic = "abort"` nothing ever unwinds; if something did, stop the machine.
            #[unsafe(no_mangle)]
            pub extern "C" fn __CxxFrameHandler3() -> ! {
                // SAFETY: KeBugCheckEx never returns.
                unsafe { $crate::kernel_rt::KeBugCheckEx($code, usize::MAX, 0, 0, 0) }
            }

            /// The MSVC ABI expects this symbol in any image that uses floating point.
            #[unsafe(no_mangle)]
            pub static _fltused: i32 = 0;
        }

        #[cfg(feature = "wdk")]
        mod kernel_runtime {
            use wdk_panic as _;

            // Not wdk-alloc: it allocates with ExAllocatePool2, which Windows before 10 version
            // 2004 does not export (see `pool_alloc`); both paths ship the same imports.
            #[global_allocator]
            static ALLOCATOR: $crate::pool_alloc::PoolAllocator =
                $crate::pool_alloc::PoolAllocator::new($crate::mem::pool_tag($tag));
        }
    };
}
