//! Scalar typedefs (`ndis.h`, `ntddndis.h`) and the object header every NDIS structure starts with.
use core::ffi::c_void;

pub type NDIS_HANDLE = *mut c_void;
/// `int` in the WDK (`ndis.h`); negative values are errors.
pub type NDIS_STATUS = i32;
pub type NDIS_OID = u32;
pub type NDIS_PORT_NUMBER = u32;
pub type NDIS_SRIOV_FUNCTION_ID = u16;
pub type NDIS_NIC_SWITCH_ID = u32;
pub type NDIS_NIC_SWITCH_VPORT_ID = u32;
pub type NDIS_VF_RID = u32;
pub type BOOLEAN = u8;
pub type KIRQL = u8;
/// `ULONG_PTR` (`wdm.h`; ndis.sys symbols `_NDIS_SPIN_LOCK.SpinLock`).
pub type KSPIN_LOCK = usize;
/// C enums are `int`-sized (MSVC); kept as plain integers so a hostile value is never UB.
pub type NDIS_REQUEST_TYPE = u32;
pub type NDIS_HALT_ACTION = u32;
pub type NDIS_SHUTDOWN_ACTION = u32;
pub type NDIS_DEVICE_PNP_EVENT = u32;
pub type NDIS_MEDIUM = u32;
pub type NDIS_PHYSICAL_MEDIUM = u32;
pub type NDIS_INTERFACE_TYPE = u32;
pub type EX_POOL_PRIORITY = u32;

pub const FALSE: BOOLEAN = 0;
pub const TRUE: BOOLEAN = 1;

/// IRQLs (wdm.h).
pub const PASSIVE_LEVEL: KIRQL = 0;
pub const APC_LEVEL: KIRQL = 1;
pub const DISPATCH_LEVEL: KIRQL = 2;
/// `HIGH_LEVEL` (`wdm.h`, AMD64): where MiniportShutdownEx runs on a bugcheck.
pub const HIGH_LEVEL: KIRQL = 15;

/// `NormalPoolPriority` (mingw-w64 `ddk/wdm.h` l.1749).
pub const NormalPoolPriority: EX_POOL_PRIORITY = 16;

/// `DbgPrintEx` component and levels (mingw-w64 `dpfilter.h` l.23-26, l.110).
pub const DPFLTR_IHVNETWORK_ID: u32 = 80;
pub const DPFLTR_ERROR_LEVEL: u32 = 0;
pub const DPFLTR_WARNING_LEVEL: u32 = 1;
pub const DPFLTR_TRACE_LEVEL: u32 = 2;
pub const DPFLTR_INFO_LEVEL: u32 = 3;

/// NDIS_OBJECT_HEADER (`ntddndis.h`): size 4, align 2.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OBJECT_HEADER {
    pub Type: u8,
    pub Revision: u8,
    pub Size: u16,
}

impl NDIS_OBJECT_HEADER {
    pub const fn new(ty: u8, revision: u8, size: u16) -> Self {
        Self {
            Type: ty,
            Revision: revision,
            Size: size,
        }
    }
}

/// UNICODE_STRING (wdm.h): size 16 on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    pub Length: u16,
    pub MaximumLength: u16,
    pub Buffer: *mut u16,
}

/// Opaque to the drivers: they only pass it back to NDIS.
pub type PDRIVER_OBJECT = *mut c_void;
pub type PUNICODE_STRING = *mut UNICODE_STRING;
pub type NTSTATUS = i32;

/// IF_COUNTED_STRING (`ifdef.h`: `{u16 Length; u16 String[257]}`, 0x204 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_IF_COUNTED_STRING {
    pub Length: u16,
    pub String: [u16; 257],
}

pub const NDIS_MAX_PHYS_ADDRESS_LENGTH: usize = 32;
