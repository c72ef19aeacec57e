//! What `ndis.sys` exports for the receive path: NET_BUFFER_LIST pools and their NBLs, MDLs,
//! NdisMIndicateReceiveNetBufferLists and NdisMPauseComplete. Each checks the IRQL its page
//! gives and hands over to [`crate::world::nbl_pool`] and [`crate::world::receive`], where the
//! rules are cited. A failed allocation returns NULL, as each allocator's page documents
//! ("NdisAllocateNetBufferListPool returns NULL if the allocation was unsuccessful", and the same
//! of NdisAllocateNetBufferAndNetBufferList and NdisAllocateMdl).
#![allow(non_snake_case)]

use super::{adapter, current_world, irql_max};
use common::ffi::*;
use common::ndis_fn;
use std::ffi::c_void;

ndis_fn! {
    /// "NdisAllocateNetBufferListPool function": `<= DISPATCH_LEVEL`; NdisHandle is the handle
    /// the caller got at initialization (a miniport: its adapter handle).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateNetBufferListPool(NdisHandle: NDIS_HANDLE, Parameters: *mut NET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE {
        let Some(a) = adapter(NdisHandle, "NdisAllocateNetBufferListPool") else { return std::ptr::null_mut() };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisAllocateNetBufferListPool");
        if w.fails("NdisAllocateNetBufferListPool") { return std::ptr::null_mut(); }
        // SAFETY: the driver passes valid parameters for the call.
        let Some(p) = (unsafe { Parameters.as_ref() }) else {
            w.violation(format!("{}: NdisAllocateNetBufferListPool without parameters", a.name));
            return std::ptr::null_mut();
        };
        w.nbl_pool_new(a, p)
    }

    /// "NdisFreeNetBufferListPool function": `<= DISPATCH_LEVEL`, every NBL freed first.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE) {
        let Some(w) = current_world() else { return };
        irql_max(w, DISPATCH_LEVEL, "NdisFreeNetBufferListPool");
        w.nbl_pool_free(PoolHandle);
    }

    /// "NdisAllocateNetBufferAndNetBufferList function": `<= DISPATCH_LEVEL`; one NBL with one
    /// NET_BUFFER describing `MdlChain` from `DataOffset` for `DataLength` bytes.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateNetBufferAndNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: u16,
        _ContextBackFill: u16,
        MdlChain: *mut MDL,
        DataOffset: u32,
        DataLength: usize,
    ) -> *mut NET_BUFFER_LIST {
        let Some(w) = current_world() else { return std::ptr::null_mut() };
        irql_max(w, DISPATCH_LEVEL, "NdisAllocateNetBufferAndNetBufferList");
        if w.fails("NdisAllocateNetBufferAndNetBufferList") { return std::ptr::null_mut(); }
        w.nbl_new(PoolHandle, ContextSize, MdlChain, DataOffset, DataLength)
    }

    /// "NdisFreeNetBufferList function": `<= DISPATCH_LEVEL`.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeNetBufferList(NetBufferList: *mut NET_BUFFER_LIST) {
        let Some(w) = current_world() else { return };
        irql_max(w, DISPATCH_LEVEL, "NdisFreeNetBufferList");
        w.nbl_free(NetBufferList);
    }

    /// "NdisAllocateMdl function": `<= DISPATCH_LEVEL`; an MDL for nonpaged memory.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateMdl(NdisHandle: NDIS_HANDLE, VirtualAddress: *mut c_void, Length: u32) -> *mut MDL {
        let Some(a) = adapter(NdisHandle, "NdisAllocateMdl") else { return std::ptr::null_mut() };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisAllocateMdl");
        if w.fails("NdisAllocateMdl") { return std::ptr::null_mut(); }
        w.mdl_new(a, VirtualAddress, Length)
    }

    /// "NdisFreeMdl function": `<= DISPATCH_LEVEL`.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeMdl(Mdl: *mut MDL) {
        let Some(w) = current_world() else { return };
        irql_max(w, DISPATCH_LEVEL, "NdisFreeMdl");
        w.mdl_free(Mdl);
    }

    /// "NdisMIndicateReceiveNetBufferLists function": `<= DISPATCH_LEVEL`; the checks in
    /// `world/receive.rs`.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMIndicateReceiveNetBufferLists(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferLists: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: u32,
        ReceiveFlags: u32,
    ) {
        let Some(a) = adapter(MiniportAdapterHandle, "NdisMIndicateReceiveNetBufferLists") else { return };
        let w = a.world();
        if !irql_max(w, DISPATCH_LEVEL, "NdisMIndicateReceiveNetBufferLists") { return; }
        w.indicate_receive(a, NetBufferLists, PortNumber, NumberOfNetBufferLists, ReceiveFlags);
    }

    /// "NdisMPauseComplete function": `<= DISPATCH_LEVEL`, once, after MiniportPause returned
    /// NDIS_STATUS_PENDING, when NDIS holds none of the adapter's NBLs.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE) {
        let Some(a) = adapter(MiniportAdapterHandle, "NdisMPauseComplete") else { return };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisMPauseComplete");
        w.pause_complete(a);
    }

    /// "NdisMResetComplete function (NDIS 6.x)": `<= DISPATCH_LEVEL`, once, after MiniportResetEx
    /// returned NDIS_STATUS_PENDING (`world/pending.rs`).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMResetComplete(MiniportAdapterHandle: NDIS_HANDLE, Status: NDIS_STATUS, _AddressingReset: BOOLEAN) {
        let Some(a) = adapter(MiniportAdapterHandle, "NdisMResetComplete") else { return };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisMResetComplete");
        w.reset_complete(a, Status);
    }
}
