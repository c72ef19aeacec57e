//! The prototypes of the data-path imports (issue 11), transcribed from their DDI reference
//! pages (learn.microsoft.com, "<name> function (ndis.h)", Syntax), against the drivers'
//! declarations in `common::ffi::imports`: a parameter of the wrong width or order fails to
//! compile here. Checked as constants, so nothing needs the simulator to define them yet.
//!
//! - `NDIS_STATUS NdisMMapIoSpace(PVOID *VirtualAddress, NDIS_HANDLE, NDIS_PHYSICAL_ADDRESS,
//!   UINT Length)`; `VOID NdisMUnmapIoSpace(NDIS_HANDLE, PVOID, UINT)`.
//! - `NDIS_STATUS NdisMRegisterInterruptEx(NDIS_HANDLE, NDIS_HANDLE,
//!   PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, PNDIS_HANDLE)`; `VOID
//!   NdisMDeregisterInterruptEx(NDIS_HANDLE)`.
//! - `NDIS_STATUS NdisMRegisterScatterGatherDma(NDIS_HANDLE, PNDIS_SG_DMA_DESCRIPTION,
//!   PNDIS_HANDLE)`; `VOID NdisMDeregisterScatterGatherDma(NDIS_HANDLE)`.
//! - `NDIS_STATUS NdisMAllocateNetBufferSGList(NDIS_HANDLE, PNET_BUFFER, PVOID, ULONG Flags,
//!   PVOID, ULONG)`; `VOID NdisMFreeNetBufferSGList(NDIS_HANDLE, PSCATTER_GATHER_LIST,
//!   PNET_BUFFER)`.
//! - `VOID NdisMAllocateSharedMemory(NDIS_HANDLE, ULONG, BOOLEAN Cached, PVOID *,
//!   PNDIS_PHYSICAL_ADDRESS)`; `VOID NdisMFreeSharedMemory(NDIS_HANDLE, ULONG, BOOLEAN, PVOID,
//!   NDIS_PHYSICAL_ADDRESS)`.
//! - `NDIS_HANDLE NdisAllocateNetBufferListPool(NDIS_HANDLE,
//!   PNET_BUFFER_LIST_POOL_PARAMETERS)`; `VOID NdisFreeNetBufferListPool(NDIS_HANDLE)`;
//!   `PNET_BUFFER_LIST NdisAllocateNetBufferAndNetBufferList(NDIS_HANDLE, USHORT
//!   ContextSize, USHORT ContextBackFill, PMDL, ULONG DataOffset, SIZE_T DataLength)`; `VOID
//!   NdisFreeNetBufferList(PNET_BUFFER_LIST)`; `PMDL NdisAllocateMdl(NDIS_HANDLE, PVOID,
//!   UINT)`; `VOID NdisFreeMdl(PMDL)`.
//! - `VOID NdisMIndicateReceiveNetBufferLists(NDIS_HANDLE, PNET_BUFFER_LIST,
//!   NDIS_PORT_NUMBER, ULONG NumberOfNetBufferLists, ULONG ReceiveFlags)`; `VOID
//!   NdisMSendNetBufferListsComplete(NDIS_HANDLE, PNET_BUFFER_LIST, ULONG
//!   SendCompleteFlags)`; `VOID NdisMPauseComplete(NDIS_HANDLE)`.
use common::ffi::imports as i;
use common::ffi::*;
use common::ndis_fn_type as f;
use std::ffi::c_void;

const _: f!(fn(*mut *mut c_void, NDIS_HANDLE, i64, u32) -> NDIS_STATUS) = i::NdisMMapIoSpace;
const _: f!(fn(NDIS_HANDLE, *mut c_void, u32)) = i::NdisMUnmapIoSpace;
const _: f!(
    fn(
        NDIS_HANDLE,
        NDIS_HANDLE,
        *mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
        *mut NDIS_HANDLE,
    ) -> NDIS_STATUS
) = i::NdisMRegisterInterruptEx;
const _: f!(fn(NDIS_HANDLE)) = i::NdisMDeregisterInterruptEx;
const _: f!(fn(NDIS_HANDLE, *mut NDIS_SG_DMA_DESCRIPTION, *mut NDIS_HANDLE) -> NDIS_STATUS) =
    i::NdisMRegisterScatterGatherDma;
const _: f!(fn(NDIS_HANDLE)) = i::NdisMDeregisterScatterGatherDma;
const _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER, *mut c_void, u32, *mut c_void, u32) -> NDIS_STATUS) =
    i::NdisMAllocateNetBufferSGList;
const _: f!(fn(NDIS_HANDLE, *mut SCATTER_GATHER_LIST, *mut NET_BUFFER)) =
    i::NdisMFreeNetBufferSGList;
const _: f!(fn(NDIS_HANDLE, u32, BOOLEAN, *mut *mut c_void, *mut i64)) =
    i::NdisMAllocateSharedMemory;
const _: f!(fn(NDIS_HANDLE, u32, BOOLEAN, *mut c_void, i64)) = i::NdisMFreeSharedMemory;
const _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE) =
    i::NdisAllocateNetBufferListPool;
const _: f!(fn(NDIS_HANDLE)) = i::NdisFreeNetBufferListPool;
const _: f!(fn(NDIS_HANDLE, u16, u16, *mut MDL, u32, usize) -> *mut NET_BUFFER_LIST) =
    i::NdisAllocateNetBufferAndNetBufferList;
const _: f!(fn(*mut NET_BUFFER_LIST)) = i::NdisFreeNetBufferList;
const _: f!(fn(NDIS_HANDLE, *mut c_void, u32) -> *mut MDL) = i::NdisAllocateMdl;
const _: f!(fn(*mut MDL)) = i::NdisFreeMdl;
const _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, NDIS_PORT_NUMBER, u32, u32)) =
    i::NdisMIndicateReceiveNetBufferLists;
const _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32)) = i::NdisMSendNetBufferListsComplete;
const _: f!(fn(NDIS_HANDLE)) = i::NdisMPauseComplete;

/// The simulator's definition of the one the drivers call today has the same prototype.
#[test]
fn simulator_send_complete_matches() {
    let _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32)) =
        sim::exports::NdisMSendNetBufferListsComplete;
    assert!(sim::exports::resolve("ndis.sys", "NdisMSendNetBufferListsComplete").is_some());
}

/// The simulator's definitions of the receive path (common::recv) have the drivers'
/// prototypes, and a loaded image's imports resolve to them.
#[test]
fn simulator_receive_exports_match() {
    use sim::exports as x;
    let _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE) =
        x::NdisAllocateNetBufferListPool;
    let _: f!(fn(NDIS_HANDLE)) = x::NdisFreeNetBufferListPool;
    let _: f!(fn(NDIS_HANDLE, u16, u16, *mut MDL, u32, usize) -> *mut NET_BUFFER_LIST) =
        x::NdisAllocateNetBufferAndNetBufferList;
    let _: f!(fn(*mut NET_BUFFER_LIST)) = x::NdisFreeNetBufferList;
    let _: f!(fn(NDIS_HANDLE, *mut c_void, u32) -> *mut MDL) = x::NdisAllocateMdl;
    let _: f!(fn(*mut MDL)) = x::NdisFreeMdl;
    let _: f!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, NDIS_PORT_NUMBER, u32, u32)) =
        x::NdisMIndicateReceiveNetBufferLists;
    let _: f!(fn(NDIS_HANDLE)) = x::NdisMPauseComplete;
    for name in [
        "NdisAllocateNetBufferListPool",
        "NdisFreeNetBufferListPool",
        "NdisAllocateNetBufferAndNetBufferList",
        "NdisFreeNetBufferList",
        "NdisAllocateMdl",
        "NdisFreeMdl",
        "NdisMIndicateReceiveNetBufferLists",
        "NdisMPauseComplete",
    ] {
        assert!(sim::exports::resolve("ndis.sys", name).is_some(), "{name}");
    }
}
