//! The prototypes of the functions issue 10 imports, transcribed from their sources, against
//! both the drivers' declarations (`common::ffi::imports`) and the simulator's definitions
//! (`sim::exports`): a parameter of the wrong width or order fails to compile here.
//!
//! - WDK 22621 `km/ndis.h` l.12694: `ULONG NdisMGetVirtualFunctionBusData(NDIS_HANDLE,
//!   NDIS_SRIOV_FUNCTION_ID VFId, PVOID Buffer, ULONG Offset, ULONG Length)`; l.12705 the same
//!   for `NdisMSetVirtualFunctionBusData`.
//! - WDK 22621 `km/ndis.h`: `NDIS_STATUS NdisMQueryProbedBars(NDIS_HANDLE, PULONG
//!   BaseRegisterValues)`.
//! - DDI "NdisMGetBusData function": `ULONG NdisMGetBusData(NDIS_HANDLE, ULONG WhichSpace,
//!   ULONG Offset, PVOID Buffer, ULONG Length)`.
use common::ffi::imports;
use common::ffi::*;
use std::ffi::c_void;

type BusData =
    common::ndis_fn_type!(fn(NDIS_HANDLE, NDIS_SRIOV_FUNCTION_ID, *mut c_void, u32, u32) -> u32);
type ProbedBars = common::ndis_fn_type!(fn(NDIS_HANDLE, *mut u32) -> NDIS_STATUS);
type GetBusData = common::ndis_fn_type!(fn(NDIS_HANDLE, u32, u32, *mut c_void, u32) -> u32);

#[test]
fn driver_declarations_match_the_wdk_prototypes() {
    let _: BusData = imports::NdisMGetVirtualFunctionBusData;
    let _: BusData = imports::NdisMSetVirtualFunctionBusData;
    let _: ProbedBars = imports::NdisMQueryProbedBars;
    let _: GetBusData = imports::NdisMGetBusData;
}

#[test]
fn simulator_definitions_match_the_wdk_prototypes() {
    let _: BusData = sim::exports::NdisMGetVirtualFunctionBusData;
    let _: BusData = sim::exports::NdisMSetVirtualFunctionBusData;
    let _: ProbedBars = sim::exports::NdisMQueryProbedBars;
    let _: GetBusData = sim::exports::NdisMGetBusData;
    for name in [
        "NdisMGetVirtualFunctionBusData",
        "NdisMSetVirtualFunctionBusData",
        "NdisMQueryProbedBars",
        "NdisMGetBusData",
    ] {
        assert!(
            sim::exports::resolve("ndis.sys", name).is_some(),
            "{name} not bound for images"
        );
    }
}
