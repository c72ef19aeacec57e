//! What `ntoskrnl.exe` exports to the drivers: IRQL and spin locks, driver-object extensions,
//! DbgPrintEx; and what a loaded image needs beyond the NDIS surface.
#![allow(non_snake_case)]

use super::current_world;
use crate::irql;
use crate::world::SimDriverObject;
use common::ffi::*;
use common::ndis_fn;
use std::ffi::{CStr, c_char, c_void};

ndis_fn! {
    #[unsafe(no_mangle)]
    pub unsafe fn KeGetCurrentIrql() -> KIRQL {
        irql::current()
    }

    #[unsafe(no_mangle)]
    pub unsafe fn KeAcquireSpinLockRaiseToDpc(Lock: *mut KSPIN_LOCK) -> KIRQL {
        irql::acquire_raise_to_dpc(Lock)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn KeReleaseSpinLock(Lock: *mut KSPIN_LOCK, NewIrql: KIRQL) {
        irql::release(Lock, NewIrql)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn KeAcquireSpinLockAtDpcLevel(Lock: *mut KSPIN_LOCK) {
        irql::acquire_at_dpc(Lock)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn KeReleaseSpinLockFromDpcLevel(Lock: *mut KSPIN_LOCK) {
        irql::release_from_dpc(Lock)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn IoAllocateDriverObjectExtension(DriverObject: PDRIVER_OBJECT, Id: *mut c_void, Size: u32, Out: *mut *mut c_void) -> NTSTATUS {
        // SAFETY: driver objects are SimDriverObjects made by the world.
        let Some(obj) = (unsafe { (DriverObject as *const SimDriverObject).as_ref() }) else { return NDIS_STATUS_INVALID_PARAMETER };
        // SAFETY: the world outlives its driver objects.
        if unsafe { &*obj.world }.fails("IoAllocateDriverObjectExtension") {
            // STATUS_INSUFFICIENT_RESOURCES.
            return 0xC000_009Au32 as i32;
        }
        let mut ext = obj.extensions.lock().unwrap_or_else(|e| e.into_inner());
        if Size as usize > 32 || ext.iter().any(|(k, _)| *k == Id as usize) {
            // STATUS_OBJECT_NAME_COLLISION for a second allocation with the same id.
            return 0xC000_0035u32 as i32;
        }
        let mut b = Box::new([0u64; 4]);
        // SAFETY: out-pointer from the driver; the box lives as long as the driver object.
        unsafe { *Out = b.as_mut_ptr().cast() };
        ext.push((Id as usize, b));
        0
    }

    #[unsafe(no_mangle)]
    pub unsafe fn IoGetDriverObjectExtension(DriverObject: PDRIVER_OBJECT, Id: *mut c_void) -> *mut c_void {
        // SAFETY: as above.
        let Some(obj) = (unsafe { (DriverObject as *const SimDriverObject).as_ref() }) else { return std::ptr::null_mut() };
        let mut ext = obj.extensions.lock().unwrap_or_else(|e| e.into_inner());
        ext.iter_mut().find(|(k, _)| *k == Id as usize).map_or(std::ptr::null_mut(), |(_, b)| b.as_mut_ptr().cast())
    }

    /// Defined with four fixed arguments: the drivers always call it as ("%s", message), and
    /// in the Windows x64 ABI a variadic call passes those exactly like a fixed one.
    #[unsafe(no_mangle)]
    pub unsafe fn DbgPrintEx(_Component: u32, Level: u32, Format: *const c_char, Arg: *const c_char) -> u32 {
        // SAFETY: both are NUL-terminated strings from the driver.
        let fmt = unsafe { CStr::from_ptr(Format) };
        let text = if fmt.to_bytes() == b"%s" && !Arg.is_null() {
            // SAFETY: as above.
            unsafe { CStr::from_ptr(Arg) }.to_string_lossy().into_owned()
        } else {
            fmt.to_string_lossy().into_owned()
        };
        match current_world() {
            Some(w) => w.debug_print(Level, &text),
            None => if std::env::var_os("SIM_LOG").is_some() { eprint!("{text}") },
        }
        0
    }
}

// What a loaded image needs beyond the NDIS surface: the C memory routines and the kernel
// runtime (panic handler, allocator) that the host-linked drivers get from std. The pool
// routines are also exported by name, for `common::pool_alloc` on the host.
ndis_fn! {
    pub unsafe fn sim_memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
        // SAFETY: the image passes valid, non-overlapping buffers of n bytes (memcpy's contract).
        unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
        dst
    }

    pub unsafe fn sim_memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
        // SAFETY: valid buffers of n bytes that may overlap (memmove's contract).
        unsafe { std::ptr::copy(src.cast::<u8>(), dst.cast::<u8>(), n) };
        dst
    }

    pub unsafe fn sim_memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void {
        // SAFETY: a valid buffer of n bytes (memset's contract).
        unsafe { std::ptr::write_bytes(dst.cast::<u8>(), c as u8, n) };
        dst
    }

    pub unsafe fn sim_memcmp(a: *const c_void, b: *const c_void, n: usize) -> i32 {
        // SAFETY: two valid buffers of n bytes (memcmp's contract).
        let (a, b) = unsafe { (std::slice::from_raw_parts(a.cast::<u8>(), n), std::slice::from_raw_parts(b.cast::<u8>(), n)) };
        match a.cmp(b) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }
    }

    pub unsafe fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) {
        eprintln!("simulated bugcheck {code:#010x} ({p1:#x}, {p2:#x}, {p3:#x}, {p4:#x})");
        std::process::abort();
    }

    #[unsafe(no_mangle)]
    pub unsafe fn ExAllocatePoolWithTag(pool_type: i32, size: usize, tag: u32) -> *mut c_void {
        if pool_type != common::pool_alloc::NON_PAGED_POOL_NX {
            if let Some(w) = current_world() {
                w.violation(format!(
                    "ExAllocatePoolWithTag with pool type {pool_type}: a driver allocates NonPagedPoolNx (512), never executable pool"
                ));
            }
            return std::ptr::null_mut();
        }
        match (current_world(), u32::try_from(size)) {
            (Some(w), _) if w.fails("ExAllocatePoolWithTag") => std::ptr::null_mut(),
            (Some(w), Ok(n)) => w.allocate(n, tag),
            _ => std::ptr::null_mut(),
        }
    }

    #[unsafe(no_mangle)]
    pub unsafe fn ExFreePoolWithTag(p: *mut c_void, tag: u32) {
        if let Some(w) = current_world() {
            w.free(p, tag);
        }
    }
}
