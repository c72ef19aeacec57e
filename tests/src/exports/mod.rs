//! The NDIS and ntoskrnl functions the drivers import, defined under their real names with
//! the NDIS ABI. Each is a thin check-and-forward: find the machine from the handle, check the
//! IRQL rule from the function's `ndis.h` annotation / DDI page, and hand over to [`crate::world`].
//! - [`ndis`]: what `ndis.sys` exports (registration, attributes, the SR-IOV backchannel,
//!   pool memory, work items, registry configuration).
//! - [`receive`]: the receive path (NBL pools, NBLs, MDLs, indications, NdisMPauseComplete).
//! - [`dma`]: a bus-master NIC's resources (I/O space, interrupts, SG DMA, shared memory).
//! - [`sg`]: the scatter-gather lists of the send path.
//! - [`kernel`]: what `ntoskrnl.exe` exports (IRQL and spin locks, driver-object extensions,
//!   DbgPrintEx, and the runtime a loaded image imports: mem*, bugcheck, pool).
//!
//! [`resolve`] is the import table a loaded image is bound against.
#![allow(non_snake_case)]

pub mod dma;
pub mod kernel;
pub mod ndis;
pub mod pci;
pub mod receive;
pub mod sg;

pub use dma::*;
pub use kernel::*;
pub use ndis::*;
pub use pci::*;
pub use receive::*;
pub use sg::*;

use crate::irql;
use crate::world::{Machine, Role, SimAdapter};
use common::ffi::*;
use std::cell::Cell;

thread_local! {
    /// The world whose drivers run on this thread (for calls that carry no handle).
    static CURRENT: Cell<*const Machine> = const { Cell::new(std::ptr::null()) };
}

pub fn enter(world: *const Machine) {
    CURRENT.with(|c| c.set(world));
}

pub fn leave(world: *const Machine) {
    CURRENT.with(|c| {
        if std::ptr::eq(c.get(), world) {
            c.set(std::ptr::null());
        }
    });
}

/// While a machine calls one of its drivers on this thread, the driver's handle-less calls
/// (NdisMSleep, DbgPrintEx) belong to that machine, even with several worlds on the thread
/// (the differential test runs two). Restores the previous world when dropped.
pub struct Calling(*const Machine);

impl Calling {
    pub fn new(world: *const Machine) -> Self {
        Calling(CURRENT.with(|c| c.replace(world)))
    }
}

impl Drop for Calling {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

fn current_world<'a>() -> Option<&'a Machine> {
    // SAFETY: set by a live World for this thread and cleared when it drops.
    CURRENT.with(|c| unsafe { c.get().as_ref() })
}

fn adapter<'a>(h: NDIS_HANDLE, what: &str) -> Option<&'a SimAdapter> {
    // SAFETY: handles come from this simulator; the magic number rejects strangers.
    let a = unsafe { SimAdapter::from_handle(h) };
    if a.is_none() {
        let msg = format!("{what}: invalid miniport adapter handle {h:p}");
        match current_world() {
            Some(w) => w.violation(msg),
            None => irql::orphan_violation(msg),
        }
    }
    a
}

fn irql_max(w: &Machine, max: KIRQL, what: &str) -> bool {
    w.check(irql::require_max(max, what))
}

fn pf_only(a: &SimAdapter, what: &str) -> bool {
    if a.role == Role::Pf {
        true
    } else {
        a.world()
            .violation(format!("{what} called by a VF (PF-only)"));
        false
    }
}

fn vf_of(a: &SimAdapter, what: &str) -> Option<u16> {
    match a.role {
        Role::Vf { vf_id } => Some(vf_id),
        Role::Pf => {
            a.world()
                .violation(format!("{what} called by the PF (VF-only)"));
            None
        }
    }
}

/// The simulator's definition of `module!name`, for a loaded image's import table.
pub fn resolve(module: &str, name: &str) -> Option<usize> {
    macro_rules! table {
        ($($f:ident),* $(,)?) => {
            match name { $(stringify!($f) => Some($f as *const () as usize),)* _ => None }
        };
    }
    let ndis = || {
        table!(
            NdisMRegisterMiniportDriver,
            NdisMDeregisterMiniportDriver,
            NdisMSetMiniportAttributes,
            NdisMOidRequestComplete,
            NdisMIndicateStatusEx,
            NdisMSendNetBufferListsComplete,
            NdisMEnableVirtualization,
            NdisMGetVirtualFunctionLocation,
            NdisMInvalidateConfigBlock,
            NdisMReadConfigBlock,
            NdisMWriteConfigBlock,
            NdisAllocateMemoryWithTagPriority,
            NdisFreeMemoryWithTagPriority,
            NdisAllocateIoWorkItem,
            NdisQueueIoWorkItem,
            NdisFreeIoWorkItem,
            NdisMSleep,
            NdisOpenConfigurationEx,
            NdisReadConfiguration,
            NdisCloseConfiguration,
            NdisMGetVirtualFunctionBusData,
            NdisMSetVirtualFunctionBusData,
            NdisMGetBusData,
            NdisMQueryProbedBars,
            NdisAllocateNetBufferListPool,
            NdisFreeNetBufferListPool,
            NdisAllocateNetBufferAndNetBufferList,
            NdisFreeNetBufferList,
            NdisAllocateMdl,
            NdisFreeMdl,
            NdisMIndicateReceiveNetBufferLists,
            NdisMPauseComplete,
            NdisMResetComplete,
            NdisMMapIoSpace,
            NdisMUnmapIoSpace,
            NdisMRegisterInterruptEx,
            NdisMDeregisterInterruptEx,
            NdisMRegisterScatterGatherDma,
            NdisMAllocateNetBufferSGList,
            NdisMFreeNetBufferSGList,
            NdisMDeregisterScatterGatherDma,
            NdisMAllocateSharedMemory,
            NdisMFreeSharedMemory,
        )
    };
    let ntoskrnl = || match name {
        "memcpy" => Some(sim_memcpy as *const () as usize),
        "memmove" => Some(sim_memmove as *const () as usize),
        "memset" => Some(sim_memset as *const () as usize),
        "memcmp" => Some(sim_memcmp as *const () as usize),
        _ => table!(
            KeGetCurrentIrql,
            KeAcquireSpinLockRaiseToDpc,
            KeReleaseSpinLock,
            KeAcquireSpinLockAtDpcLevel,
            KeReleaseSpinLockFromDpcLevel,
            IoAllocateDriverObjectExtension,
            IoGetDriverObjectExtension,
            DbgPrintEx,
            KeBugCheckEx,
            ExAllocatePoolWithTag,
            ExFreePoolWithTag,
        ),
    };
    match module {
        "ndis.sys" => ndis(),
        "ntoskrnl.exe" => ntoskrnl(),
        _ => None,
    }
}
