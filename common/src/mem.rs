//! Nonpaged memory from NDIS (`NdisAllocateMemoryWithTagPriority`), owned by a box that frees
//! it with the same tag. Allocation can fail and says so; nothing here panics.
use crate::ffi::imports::{NdisAllocateMemoryWithTagPriority, NdisFreeMemoryWithTagPriority};
use crate::ffi::{NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_RESOURCES, NormalPoolPriority};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Types whose all-zero bit pattern is a valid value.
///
/// # Safety
/// Implement only for types made of integers, arrays, `bool`-free plain data, `Option` of
/// references/functions, or other `Zeroable` types.
pub unsafe trait Zeroable: Sized {}

/// Makes a four-character pool tag as the WDK's `'abcd'` literal does (little endian, so
/// `!pool` in WinDbg shows it as written).
pub const fn pool_tag(tag: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*tag)
}

pub struct PoolBox<T: Zeroable> {
    ptr: NonNull<T>,
    handle: NDIS_HANDLE,
    tag: u32,
}

// SAFETY: PoolBox owns its T like Box does.
unsafe impl<T: Zeroable + Send> Send for PoolBox<T> {}
// SAFETY: shared access only hands out &T.
unsafe impl<T: Zeroable + Sync> Sync for PoolBox<T> {}

impl<T: Zeroable> PoolBox<T> {
    /// Pool allocations are 16-byte aligned on x64; larger alignment is refused at compile time.
    const ALIGN_OK: () = assert!(core::mem::align_of::<T>() <= 16);

    /// A zeroed `T` in nonpaged pool, or `None` when the pool is exhausted. `<= DISPATCH_LEVEL`.
    ///
    /// # Safety
    /// `handle` is a valid NDIS handle (miniport adapter or driver) that outlives the box.
    pub unsafe fn new_zeroed(handle: NDIS_HANDLE, tag: u32) -> Option<Self> {
        let () = Self::ALIGN_OK;
        let size = u32::try_from(core::mem::size_of::<T>()).ok()?;
        // SAFETY: plain allocation call; a null return is handled below.
        let raw =
            unsafe { NdisAllocateMemoryWithTagPriority(handle, size, tag, NormalPoolPriority) };
        let ptr = NonNull::new(raw.cast::<T>())?;
        // SAFETY: fresh allocation of size_of::<T>() bytes, suitably aligned; zero is a valid T.
        unsafe { core::ptr::write_bytes(ptr.as_ptr().cast::<u8>(), 0, size as usize) };
        Some(Self { ptr, handle, tag })
    }

    /// The first step of each driver's MiniportInitializeEx: its adapter context, zeroed, in
    /// nonpaged pool under the adapter handle NDIS passed; NDIS_STATUS_RESOURCES (logged under
    /// the driver's prefix) when the pool is exhausted. PASSIVE_LEVEL.
    ///
    /// # Safety
    /// `handle` is the miniport adapter handle of the initialization in progress.
    pub unsafe fn adapter_context(
        handle: NDIS_HANDLE,
        tag: u32,
        log: &str,
    ) -> Result<Self, NDIS_STATUS> {
        // SAFETY: caller contract; the handle stays valid until halt, which frees the box.
        match unsafe { Self::new_zeroed(handle, tag) } {
            Some(b) => Ok(b),
            None => {
                crate::ndis_log!(ERROR, log, "initialize: no memory for the adapter");
                Err(NDIS_STATUS_RESOURCES)
            }
        }
    }
}

impl<T: Zeroable> PoolBox<T> {
    /// Gives up ownership; pair with [`from_raw`](Self::from_raw).
    pub fn into_raw(self) -> *mut T {
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// Takes back ownership of a pointer from [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    /// `ptr` came from `into_raw` with the same handle and tag, and is not used afterwards.
    pub unsafe fn from_raw(ptr: *mut T, handle: NDIS_HANDLE, tag: u32) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| Self { ptr, handle, tag })
    }

    pub fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T: Zeroable> Deref for PoolBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the pointer is valid and initialised for the box's lifetime.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Zeroable> DerefMut for PoolBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the box is the unique owner.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: Zeroable> Drop for PoolBox<T> {
    fn drop(&mut self) {
        // SAFETY: drop the value in place, then return the memory with the tag it was taken with.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            NdisFreeMemoryWithTagPriority(self.handle, self.ptr.as_ptr().cast(), self.tag);
        }
    }
}
