//! Functions the drivers import. Prototypes from WDK 22621 `km/ndis.h`, plus
//! memory (`NdisAllocateMemoryWithTagPriority` / `NdisFreeMemoryWithTagPriority`, checked
//! against public NDIS driver sources and mingw-w64's `libndis.a` export list) and the
//! ntoskrnl spin-lock, IRQL, pool, bugcheck and debug-print exports (`wdm.h`, mingw-w64
//! `libntoskrnl.a`). On Windows these are `raw-dylib` imports; on the host the simulator in
//! `tests/` defines the same symbols.
use super::structs::*;
use super::types::*;
use core::ffi::c_void;

/// `NDIS_IO_WORKITEM_ROUTINE` (`ndis.h`): runs at PASSIVE_LEVEL.
pub type NDIS_IO_WORKITEM_ROUTINE = Option<crate::ndis_fn_type!(fn(*mut c_void, NDIS_HANDLE))>;

crate::ndis_imports! {
    module = "ndis.sys";

    pub fn NdisMRegisterMiniportDriver(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: PUNICODE_STRING,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportDriverCharacteristics: *const NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        NdisMiniportDriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    pub fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE);
    pub fn NdisMSetMiniportAttributes(
        NdisMiniportHandle: NDIS_HANDLE,
        MiniportAttributes: *mut NDIS_MINIPORT_ADAPTER_ATTRIBUTES,
    ) -> NDIS_STATUS;
    pub fn NdisMOidRequestComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        OidRequest: *mut NDIS_OID_REQUEST,
        Status: NDIS_STATUS,
    );
    pub fn NdisMIndicateStatusEx(
        MiniportAdapterHandle: NDIS_HANDLE,
        StatusIndication: *mut NDIS_STATUS_INDICATION,
    );
    pub fn NdisMSendNetBufferListsComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        SendCompleteFlags: u32,
    );
    pub fn NdisMEnableVirtualization(
        NdisMiniportHandle: NDIS_HANDLE,
        NumVFs: u16,
        EnableVFMigration: BOOLEAN,
        EnableMigrationInterrupt: BOOLEAN,
        EnableVirtualization: BOOLEAN,
    ) -> NDIS_STATUS;
    pub fn NdisMGetVirtualFunctionLocation(
        NdisMiniportHandle: NDIS_HANDLE,
        VFId: NDIS_SRIOV_FUNCTION_ID,
        SegmentNumber: *mut u16,
        BusNumber: *mut u8,
        FunctionNumber: *mut u8,
    );
    pub fn NdisMInvalidateConfigBlock(
        NdisMiniportHandle: NDIS_HANDLE,
        VFId: NDIS_SRIOV_FUNCTION_ID,
        BlockMask: u64,
    );
    pub fn NdisMReadConfigBlock(
        NdisMiniportHandle: NDIS_HANDLE,
        BlockId: u32,
        Buffer: *mut c_void,
        Length: u32,
    ) -> NDIS_STATUS;
    pub fn NdisMWriteConfigBlock(
        NdisMiniportHandle: NDIS_HANDLE,
        BlockId: u32,
        Buffer: *mut c_void,
        Length: u32,
    ) -> NDIS_STATUS;
    pub fn NdisAllocateMemoryWithTagPriority(
        NdisHandle: NDIS_HANDLE,
        Length: u32,
        Tag: u32,
        Priority: EX_POOL_PRIORITY,
    ) -> *mut c_void;
    pub fn NdisFreeMemoryWithTagPriority(NdisHandle: NDIS_HANDLE, VirtualAddress: *mut c_void, Tag: u32);
    pub fn NdisAllocateIoWorkItem(NdisObjectHandle: NDIS_HANDLE) -> NDIS_HANDLE;
    pub fn NdisQueueIoWorkItem(NdisIoWorkItemHandle: NDIS_HANDLE, Routine: NDIS_IO_WORKITEM_ROUTINE, WorkItemContext: *mut c_void);
    pub fn NdisFreeIoWorkItem(NdisIoWorkItemHandle: NDIS_HANDLE);
    /// Blocks the calling thread; PASSIVE_LEVEL only.
    pub fn NdisMSleep(MicrosecondsToSleep: u32);
    /// The adapter's registry configuration; PASSIVE_LEVEL.
    pub fn NdisOpenConfigurationEx(ConfigObject: *mut NDIS_CONFIGURATION_OBJECT, ConfigurationHandle: *mut NDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisReadConfiguration(
        Status: *mut NDIS_STATUS,
        ParameterValue: *mut *mut NDIS_CONFIGURATION_PARAMETER,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: *mut UNICODE_STRING,
        ParameterType: u32,
    );
    pub fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE);
}

crate::ndis_imports! {
    module = "ntoskrnl.exe";

    pub fn KeGetCurrentIrql() -> KIRQL;
    pub fn IoAllocateDriverObjectExtension(
        DriverObject: PDRIVER_OBJECT,
        ClientIdentificationAddress: *mut c_void,
        DriverObjectExtensionSize: u32,
        DriverObjectExtension: *mut *mut c_void,
    ) -> NTSTATUS;
    pub fn IoGetDriverObjectExtension(DriverObject: PDRIVER_OBJECT, ClientIdentificationAddress: *mut c_void) -> *mut c_void;
    pub fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut KSPIN_LOCK) -> KIRQL;
    pub fn KeReleaseSpinLock(SpinLock: *mut KSPIN_LOCK, NewIrql: KIRQL);
    pub fn KeAcquireSpinLockAtDpcLevel(SpinLock: *mut KSPIN_LOCK);
    pub fn KeReleaseSpinLockFromDpcLevel(SpinLock: *mut KSPIN_LOCK);
    /// Variadic; the drivers always call it as `("%s", message)` so that the host simulator
    /// can define it with four fixed arguments (identical in the Windows x64 ABI).
    pub fn DbgPrintEx(ComponentId: u32, Level: u32, Format: *const u8, ...) -> u32;
}

// Issue 10: PCI virtualization through the PF. Prototypes from WDK 22621 `km/ndis.h`
// (l.12694, l.12705 and NdisMQueryProbedBars beside them; NdisMGetBusData: its DDI page); all four are in mingw-w64's
// `libndis.a` export list, which `tests/tests/images.rs` checks every import against.
crate::ndis_imports! {
    module = "ndis.sys";

    /// Bytes read from a VF's PCI configuration space, 0 on failure; `<= DISPATCH_LEVEL`.
    pub fn NdisMGetVirtualFunctionBusData(
        NdisMiniportHandle: NDIS_HANDLE,
        VFId: NDIS_SRIOV_FUNCTION_ID,
        Buffer: *mut c_void,
        Offset: u32,
        Length: u32,
    ) -> u32;
    /// Bytes written to a VF's PCI configuration space, 0 on failure; `<= DISPATCH_LEVEL`.
    pub fn NdisMSetVirtualFunctionBusData(
        NdisMiniportHandle: NDIS_HANDLE,
        VFId: NDIS_SRIOV_FUNCTION_ID,
        Buffer: *mut c_void,
        Offset: u32,
        Length: u32,
    ) -> u32;
    /// The PF's BAR values as the PCI driver probed them (`PCI_TYPE0_ADDRESSES` ULONGs);
    /// PASSIVE_LEVEL.
    /// Bytes read from the adapter's own bus data (`PCI_WHICHSPACE_CONFIG`: its PCI
    /// configuration space), 0 on failure (DDI page "NdisMGetBusData function").
    pub fn NdisMGetBusData(NdisMiniportHandle: NDIS_HANDLE, WhichSpace: u32, Offset: u32, Buffer: *mut c_void, Length: u32) -> u32;
    pub fn NdisMQueryProbedBars(NdisMiniportHandle: NDIS_HANDLE, BaseRegisterValues: *mut u32) -> NDIS_STATUS;
}

// Issue 11: the data path. Prototypes from each routine's DDI page (learn.microsoft.com,
// "NdisMMapIoSpace function (ndis.h)" ...), the same in mingw-w64 `ddk/ndis.h`; every one
// is in mingw-w64's `libndis.a` export list and in docs/imports.md (checked by
// `tests/tests/images.rs`).
crate::ndis_imports! {
    module = "ndis.sys";

    /// Maps `Length` bytes of device memory at bus-relative `PhysicalAddress`
    /// (`NDIS_PHYSICAL_ADDRESS`, a LARGE_INTEGER passed by value); PASSIVE_LEVEL.
    pub fn NdisMMapIoSpace(
        VirtualAddress: *mut *mut c_void,
        MiniportAdapterHandle: NDIS_HANDLE,
        PhysicalAddress: i64,
        Length: u32,
    ) -> NDIS_STATUS;
    /// Releases a mapping NdisMMapIoSpace made; PASSIVE_LEVEL.
    pub fn NdisMUnmapIoSpace(MiniportAdapterHandle: NDIS_HANDLE, VirtualAddress: *mut c_void, Length: u32);

    /// Registers the adapter's interrupt (line or message based, NDIS chooses and says in
    /// `InterruptType`); PASSIVE_LEVEL, from MiniportInitializeEx.
    pub fn NdisMRegisterInterruptEx(
        MiniportAdapterHandle: NDIS_HANDLE,
        MiniportInterruptContext: NDIS_HANDLE,
        MiniportInterruptCharacteristics: *mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
        NdisInterruptHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// PASSIVE_LEVEL (halt, or a failed initialize).
    pub fn NdisMDeregisterInterruptEx(NdisInterruptHandle: NDIS_HANDLE);
    /// PASSIVE_LEVEL, from MiniportInitializeEx; NDIS sets `ScatterGatherListSize`.
    pub fn NdisMRegisterScatterGatherDma(
        MiniportAdapterHandle: NDIS_HANDLE,
        DmaDescription: *mut NDIS_SG_DMA_DESCRIPTION,
        NdisMiniportDmaHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// PASSIVE_LEVEL.
    pub fn NdisMDeregisterScatterGatherDma(NdisMiniportDmaHandle: NDIS_HANDLE);
    /// Maps one NET_BUFFER for DMA; MiniportProcessSGList gets the list, possibly before this
    /// returns; DISPATCH_LEVEL.
    pub fn NdisMAllocateNetBufferSGList(
        NdisMiniportDmaHandle: NDIS_HANDLE,
        NetBuffer: *mut NET_BUFFER,
        Context: *mut c_void,
        Flags: u32,
        ScatterGatherListBuffer: *mut c_void,
        ScatterGatherListBufferSize: u32,
    ) -> NDIS_STATUS;
    /// DISPATCH_LEVEL.
    pub fn NdisMFreeNetBufferSGList(NdisMiniportDmaHandle: NDIS_HANDLE, pSGL: *mut SCATTER_GATHER_LIST, NetBuffer: *mut NET_BUFFER);
    /// Shared memory for rings and receive buffers; PASSIVE_LEVEL, during
    /// MiniportInitializeEx (after it, NdisMAllocateSharedMemoryAsyncEx).
    pub fn NdisMAllocateSharedMemory(
        MiniportAdapterHandle: NDIS_HANDLE,
        Length: u32,
        Cached: BOOLEAN,
        VirtualAddress: *mut *mut c_void,
        PhysicalAddress: *mut i64,
    );
    /// PASSIVE_LEVEL; the same length, caching, and both addresses as allocated.
    pub fn NdisMFreeSharedMemory(
        MiniportAdapterHandle: NDIS_HANDLE,
        Length: u32,
        Cached: BOOLEAN,
        VirtualAddress: *mut c_void,
        PhysicalAddress: i64,
    );
    /// `<= DISPATCH_LEVEL`; null when out of resources.
    pub fn NdisAllocateNetBufferListPool(NdisHandle: NDIS_HANDLE, Parameters: *mut NET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE;
    /// `<= DISPATCH_LEVEL`, every NBL of the pool freed first.
    pub fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE);
    /// One NBL with one NB describing `MdlChain`; `<= DISPATCH_LEVEL`; null when out of resources.
    pub fn NdisAllocateNetBufferAndNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: u16,
        ContextBackFill: u16,
        MdlChain: *mut MDL,
        DataOffset: u32,
        DataLength: usize,
    ) -> *mut NET_BUFFER_LIST;
    /// `<= DISPATCH_LEVEL`.
    pub fn NdisFreeNetBufferList(NetBufferList: *mut NET_BUFFER_LIST);
    /// An MDL for nonpaged memory (a receive buffer); `<= DISPATCH_LEVEL`; null on failure.
    pub fn NdisAllocateMdl(NdisHandle: NDIS_HANDLE, VirtualAddress: *mut c_void, Length: u32) -> *mut MDL;
    pub fn NdisFreeMdl(Mdl: *mut MDL);
    /// `<= DISPATCH_LEVEL`; with NDIS_RECEIVE_FLAGS_RESOURCES the NBLs are the miniport's
    /// again when it returns.
    pub fn NdisMIndicateReceiveNetBufferLists(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferLists: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: u32,
        ReceiveFlags: u32,
    );
    /// Completes a MiniportPause that returned NDIS_STATUS_PENDING; `<= DISPATCH_LEVEL`
    /// ("NdisMPauseComplete function (ndis.h)").
    pub fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE);
    /// Completes a MiniportResetEx that returned NDIS_STATUS_PENDING; `<= DISPATCH_LEVEL`, no
    /// spin lock held ("NdisMResetComplete function (NDIS 6.x)").
    pub fn NdisMResetComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        Status: NDIS_STATUS,
        AddressingReset: BOOLEAN,
    );
}
