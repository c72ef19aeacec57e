//! WDK path only (`feature = "wdk"`): this crate's hand-written FFI checked at compile time
//! against the WDK's own headers, as wdk-sys binds them. The simulator and the Linux
//! cross-build cannot see the WDK; this is where a wrong constant or layout stops the
//! `cargo make` build instead of reaching a machine. No code is generated.
use crate::ffi::*;
use core::mem::{align_of, size_of};

/// Compares two integer constants of any integer type (the bindings' types differ from
/// ours: bindgen makes `#define`s `u32`, wdk-sys's NTSTATUS constants are `i32`).
macro_rules! same_value {
    ($($ours:expr => $wdk:expr),* $(,)?) => {$(
        const _: () = assert!(
            ($ours as i128) == ($wdk as i128),
            concat!(stringify!($ours), " differs from the WDK's ", stringify!($wdk)),
        );
    )*};
}

macro_rules! same_layout {
    ($($ours:ty => $wdk:ty),* $(,)?) => {$(
        const _: () = assert!(
            size_of::<$ours>() == size_of::<$wdk>() && align_of::<$ours>() == align_of::<$wdk>(),
            concat!(stringify!($ours), " is not laid out like the WDK's ", stringify!($wdk)),
        );
    )*};
}

// ndis.h defines these NDIS_STATUS codes as the NTSTATUS of the same meaning
// (WDK 1709 `km/ndis.h`: `#define NDIS_STATUS_x ((NDIS_STATUS)STATUS_y)`).
same_value! {
    NDIS_STATUS_SUCCESS => wdk_sys::STATUS_SUCCESS,
    NDIS_STATUS_PENDING => wdk_sys::STATUS_PENDING,
    NDIS_STATUS_BUFFER_OVERFLOW => wdk_sys::STATUS_BUFFER_OVERFLOW,
    NDIS_STATUS_FAILURE => wdk_sys::STATUS_UNSUCCESSFUL,
    NDIS_STATUS_RESOURCES => wdk_sys::STATUS_INSUFFICIENT_RESOURCES,
    NDIS_STATUS_NOT_SUPPORTED => wdk_sys::STATUS_NOT_SUPPORTED,
    NDIS_STATUS_INVALID_PARAMETER => wdk_sys::STATUS_INVALID_PARAMETER,
    NDIS_STATUS_INVALID_DEVICE_REQUEST => wdk_sys::STATUS_INVALID_DEVICE_REQUEST,
    NDIS_STATUS_INVALID_STATE => wdk_sys::STATUS_INVALID_DEVICE_STATE,
}

// wdm.h: IRQLs, DbgPrintEx levels; the pool type of the global allocator.
same_value! {
    PASSIVE_LEVEL => wdk_sys::PASSIVE_LEVEL,
    APC_LEVEL => wdk_sys::APC_LEVEL,
    DISPATCH_LEVEL => wdk_sys::DISPATCH_LEVEL,
    DPFLTR_ERROR_LEVEL => wdk_sys::DPFLTR_ERROR_LEVEL,
    DPFLTR_WARNING_LEVEL => wdk_sys::DPFLTR_WARNING_LEVEL,
    DPFLTR_TRACE_LEVEL => wdk_sys::DPFLTR_TRACE_LEVEL,
    DPFLTR_INFO_LEVEL => wdk_sys::DPFLTR_INFO_LEVEL,
    crate::pool_alloc::NON_PAGED_POOL_NX => wdk_sys::_POOL_TYPE::NonPagedPoolNx,
}

same_layout! {
    UNICODE_STRING => wdk_sys::UNICODE_STRING,
    GUID => wdk_sys::GUID,
    KSPIN_LOCK => wdk_sys::KSPIN_LOCK,
    KIRQL => wdk_sys::KIRQL,
    NTSTATUS => wdk_sys::NTSTATUS,
}

// NDIS_STATUS is `_Return_type_success_(return >= 0)`: the drivers' success tests rely on
// NDIS codes following the NTSTATUS severity rule, which `NT_SUCCESS` encodes.
const _: () = assert!(
    wdk::nt_success(NDIS_STATUS_PENDING)
        && wdk::nt_success(NDIS_STATUS_LINK_STATE)
        && !wdk::nt_success(NDIS_STATUS_BUFFER_OVERFLOW)
        && !wdk::nt_success(NDIS_STATUS_INVALID_LENGTH),
    "NDIS_STATUS severities do not follow NT_SUCCESS",
);
