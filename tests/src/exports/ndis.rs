//! What `ndis.sys` exports to the drivers: registration and attributes, OID completion and
//! status indications, the SR-IOV backchannel (virtualization, invalidate, read and write
//! config blocks), pool memory, I/O work items, registry configuration, NdisMSleep.
#![allow(non_snake_case)]

use super::{adapter, current_world, irql_max, vf_of};
use crate::irql;
use crate::timeline::Event;
use crate::world::{GeneralAttrs, Machine, Role, SimDriverObject, lock};
use common::ffi::*;
use common::ndis_fn;
use std::ffi::c_void;
use std::sync::atomic::Ordering;

/// An open registry configuration: the value NdisReadConfiguration hands out lives here.
struct SimConfiguration {
    world: *const Machine,
    value: NDIS_CONFIGURATION_PARAMETER,
}

ndis_fn! {
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMRegisterMiniportDriver(
        DriverObject: PDRIVER_OBJECT,
        _RegistryPath: PUNICODE_STRING,
        _MiniportDriverContext: NDIS_HANDLE,
        Characteristics: *const NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        DriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS {
        // SAFETY: driver objects are SimDriverObjects made by the world.
        let Some(obj) = (unsafe { (DriverObject as *const SimDriverObject).as_ref() }) else { return NDIS_STATUS_FAILURE };
        // SAFETY: the world outlives its driver objects.
        let w = unsafe { &*obj.world };
        irql_max(w, PASSIVE_LEVEL, "NdisMRegisterMiniportDriver");
        if w.fails("NdisMRegisterMiniportDriver") { return NDIS_STATUS_FAILURE; }
        // SAFETY: the driver passes a valid characteristics structure (NDIS copies it).
        let Some(chars) = (unsafe { Characteristics.as_ref() }) else { return NDIS_STATUS_INVALID_PARAMETER };
        let h = chars.Header;
        if h.Type != NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS || h.Revision < 2 || h.Size < NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 {
            w.violation(format!("characteristics header {h:?}"));
            return NDIS_STATUS_BAD_CHARACTERISTICS;
        }
        if (chars.MajorNdisVersion, chars.MinorNdisVersion) < (6, 30) {
            return NDIS_STATUS_BAD_VERSION;
        }
        let required = [
            chars.InitializeHandlerEx.is_some(), chars.HaltHandlerEx.is_some(), chars.UnloadHandler.is_some(),
            chars.PauseHandler.is_some(), chars.RestartHandler.is_some(), chars.OidRequestHandler.is_some(),
            chars.SendNetBufferListsHandler.is_some(), chars.ReturnNetBufferListsHandler.is_some(),
            chars.CancelSendHandler.is_some(), chars.DevicePnPEventNotifyHandler.is_some(),
            chars.ShutdownHandlerEx.is_some(), chars.CancelOidRequestHandler.is_some(),
        ];
        if required.iter().any(|ok| !ok) || (chars.CheckForHangHandlerEx.is_some() && chars.ResetHandlerEx.is_none()) {
            w.violation("a required Miniport handler is missing".into());
            return NDIS_STATUS_BAD_CHARACTERISTICS;
        }
        let handle = w.register_driver(*chars);
        if let Some(set_options) = chars.SetOptionsHandler {
            // SAFETY: NDIS calls MiniportSetOptions inside registration ("Initializing a
            // Miniport Driver").
            let status = unsafe { set_options(handle, std::ptr::null_mut()) };
            if status != NDIS_STATUS_SUCCESS {
                return status;
            }
        }
        // SAFETY: out-pointer from the driver.
        unsafe { *DriverHandle = handle };
        NDIS_STATUS_SUCCESS
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMDeregisterMiniportDriver(DriverHandle: NDIS_HANDLE) {
        if let Some(w) = current_world() {
            w.deregister_driver(DriverHandle);
        }
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSetMiniportAttributes(Handle: NDIS_HANDLE, Attributes: *mut NDIS_MINIPORT_ADAPTER_ATTRIBUTES) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMSetMiniportAttributes") else { return NDIS_STATUS_INVALID_PARAMETER };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMSetMiniportAttributes");
        // The page lists no particular failure: the generic one.
        if w.fails("NdisMSetMiniportAttributes") { return NDIS_STATUS_FAILURE; }
        // SAFETY: every attribute structure starts with its header.
        let Some(h) = (unsafe { Attributes.as_ref() }).copied() else { return NDIS_STATUS_INVALID_PARAMETER };
        match h.Type {
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES => {
                // SAFETY: the type says which structure this is.
                let r = unsafe { &*(Attributes as *const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES) };
                if h.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2 { return NDIS_STATUS_INVALID_PARAMETER; }
                a.context.store(r.MiniportAdapterContext, Ordering::Release);
                let flags = r.AttributeFlags;
                w.with_hw(a, |e, _| e.attribute_flags = flags);
            }
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES => {
                if a.ctx().is_null() {
                    w.violation(format!("{}: general attributes before registration attributes", a.name));
                    return NDIS_STATUS_INVALID_PARAMETER;
                }
                // SAFETY: as above.
                let g = unsafe { &*(Attributes as *const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES) };
                if h.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2 { return NDIS_STATUS_INVALID_PARAMETER; }
                let n = g.SupportedOidListLength as usize / 4;
                // SAFETY: the driver promises SupportedOidList holds SupportedOidListLength bytes.
                let oids = if g.SupportedOidList.is_null() { Vec::new() } else { unsafe { std::slice::from_raw_parts(g.SupportedOidList, n) }.to_vec() };
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&g.CurrentMacAddress[..6]);
                *a.general.lock().unwrap_or_else(|e| e.into_inner()) = Some(GeneralAttrs {
                    current_mac: mac,
                    mtu: g.MtuSize,
                    supported_oids: oids,
                    media_connected: g.MediaConnectState == MediaConnectStateConnected,
                    link_speed: g.XmitLinkSpeed,
                    supported_statistics: g.SupportedStatistics,
                });
            }
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES => {
                // SAFETY: as above.
                let hw = unsafe { &*(Attributes as *const NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES) };
                if h.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3 { return NDIS_STATUS_INVALID_PARAMETER; }
                if matches!(a.role, Role::Vf { .. }) {
                    for e in crate::hyperv::vf_hardware_assist_errors(hw) { w.violation(format!("{}: {e}", a.name)); }
                }
                // SAFETY: valid for the call, if present.
                if let Some(c) = unsafe { hw.HardwareSriovCapabilities.as_ref() } {
                    *a.sriov_caps.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.SriovCapabilities);
                }
                // SAFETY: valid for the call, if present.
                *a.sriov_current.lock().unwrap_or_else(|e| e.into_inner()) =
                    unsafe { hw.CurrentSriovCapabilities.as_ref() }.map(|c| c.SriovCapabilities);
                // SAFETY: valid for the call, if present.
                if let Some(c) = unsafe { hw.HardwareNicSwitchCapabilities.as_ref() } {
                    *a.nic_switch_max_vfs.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.MaxNumVFs);
                }
                // SAFETY: the attribute pointers are valid for the call, or null.
                unsafe { a.ext.record_hardware_assist(hw) };
            }
            other => {
                w.violation(format!("unknown attribute type {other:#x}"));
                return NDIS_STATUS_INVALID_PARAMETER;
            }
        }
        NDIS_STATUS_SUCCESS
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMOidRequestComplete(Handle: NDIS_HANDLE, Request: *mut NDIS_OID_REQUEST, Status: NDIS_STATUS) {
        let Some(a) = adapter(Handle, "NdisMOidRequestComplete") else { return };
        irql_max(a.world(), DISPATCH_LEVEL, "NdisMOidRequestComplete");
        a.world().complete_oid(a, Request, Status);
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMIndicateStatusEx(Handle: NDIS_HANDLE, Indication: *mut NDIS_STATUS_INDICATION) {
        let Some(a) = adapter(Handle, "NdisMIndicateStatusEx") else { return };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisMIndicateStatusEx");
        // SAFETY: valid for the call.
        let Some(ind) = (unsafe { Indication.as_ref() }) else { return };
        if ind.Header.Type != NDIS_OBJECT_TYPE_STATUS_INDICATION || ind.Header.Size < NDIS_SIZEOF_STATUS_INDICATION_REVISION_1 {
            w.violation(format!("{}: malformed status indication header", a.name));
            return;
        }
        if ind.StatusCode == NDIS_STATUS_LINK_STATE {
            if (ind.StatusBufferSize as usize) < std::mem::size_of::<NDIS_LINK_STATE>() || ind.StatusBuffer.is_null() {
                w.violation(format!("{}: LINK_STATE indication without an NDIS_LINK_STATE", a.name));
                return;
            }
            // SAFETY: checked size and non-null above.
            let link = unsafe { &*(ind.StatusBuffer as *const NDIS_LINK_STATE) };
            let up = link.MediaConnectState == MediaConnectStateConnected;
            // "NDIS_STATUS_LINK_STATE": the StatusBuffer is an NDIS_LINK_STATE, whose header is
            // NDIS_OBJECT_TYPE_DEFAULT, NDIS_LINK_STATE_REVISION_1, NDIS_SIZEOF_LINK_STATE_REVISION_1
            // ("NDIS_LINK_STATE structure"); a connect state is one of the three values.
            let h = link.Header;
            if h.Type != NDIS_OBJECT_TYPE_DEFAULT || h.Revision < NDIS_LINK_STATE_REVISION_1 || h.Size < NDIS_SIZEOF_LINK_STATE_REVISION_1 {
                w.violation(format!("{}: NDIS_LINK_STATE with a malformed header ({}, {}, {})", a.name, h.Type, h.Revision, h.Size));
            }
            if ![MediaConnectStateUnknown, MediaConnectStateConnected, MediaConnectStateDisconnected].contains(&link.MediaConnectState) {
                w.violation(format!("{}: NDIS_LINK_STATE MediaConnectState {}", a.name, link.MediaConnectState));
            }
            if up && link.XmitLinkSpeed == 0 {
                w.violation(format!("{}: NDIS_LINK_STATE connected at speed 0", a.name));
            }
            // "NDIS_STATUS_LINK_STATE": miniports should avoid the indication when the medium did
            // not change (the page calls avoiding it no requirement: the harsher reading makes a
            // repeat of the link last indicated, or declared in the general attributes, a
            // violation).
            let previous = a.link.lock().unwrap_or_else(|e| e.into_inner()).last().copied().or_else(|| {
                a.general.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|g| (g.media_connected, g.link_speed))
            });
            if let Some((was_up, was_speed)) = previous
                && was_up == up
                && (!up || was_speed == link.XmitLinkSpeed)
            {
                w.violation(format!(
                    "{}: NDIS_STATUS_LINK_STATE repeats the link already indicated ({}, {} b/s)",
                    a.name,
                    if up { "connected" } else { "disconnected" },
                    link.XmitLinkSpeed
                ));
            }
            a.link.lock().unwrap_or_else(|e| e.into_inner()).push((up, link.XmitLinkSpeed));
            w.record(Event::LinkState { who: a.name.clone(), up, speed_bps: link.XmitLinkSpeed });
        }
    }

    /// The Verifier-style send checks ("NdisMSendNetBufferListsComplete function"; "Sending
    /// Network Data"): `<= DISPATCH_LEVEL`; `NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL` set
    /// exactly when the IRQL is DISPATCH_LEVEL (the page says the flag means the IRQL is
    /// DISPATCH_LEVEL; that it must be set whenever it is, the page leaves open: the harsher
    /// reading); every NBL of the chain was sent to this adapter and not completed before
    /// (exactly once), with its Status set (the poison of `frames.rs` gone).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSendNetBufferListsComplete(Handle: NDIS_HANDLE, Nbl: *mut NET_BUFFER_LIST, Flags: u32) {
        let Some(a) = adapter(Handle, "NdisMSendNetBufferListsComplete") else { return };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisMSendNetBufferListsComplete");
        let at_dispatch = crate::irql::current() == DISPATCH_LEVEL;
        if (Flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0) != at_dispatch {
            w.violation(format!(
                "{}: NdisMSendNetBufferListsComplete flags {Flags:#x} at {}",
                a.name,
                crate::irql::name(crate::irql::current())
            ));
        }
        if Nbl.is_null() {
            w.violation(format!("{}: NdisMSendNetBufferListsComplete with no NBL", a.name));
        }
        let mut nbl = Nbl;
        let mut n = 0u32;
        while !nbl.is_null() {
            n += 1;
            if n > 1_000_000 {
                w.violation(format!("{}: completed NBL chain does not end", a.name));
                break;
            }
            let key = nbl as usize;
            if !lock(&a.sends_out).remove(&key) {
                w.violation(format!(
                    "{}: NBL {key:#x} completed twice, or never sent to this adapter",
                    a.name
                ));
                break;
            }
            // SAFETY: an NBL the test sent to this adapter and still owns.
            let (status, next) = unsafe { ((*nbl).Status, (*nbl).Next) };
            w.sends_completed_check(a, nbl);
            if status == crate::frames::STATUS_POISON {
                w.violation(format!("{}: NBL {key:#x} completed without its Status set", a.name));
            }
            lock(&a.sends_done).push((key, status));
            a.sends_completed.fetch_add(1, Ordering::Relaxed);
            nbl = next;
        }
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMEnableVirtualization(Handle: NDIS_HANDLE, NumVFs: u16, _Mig: BOOLEAN, _MigInt: BOOLEAN, Enable: BOOLEAN) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMEnableVirtualization") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMEnableVirtualization");
        if w.fails("NdisMEnableVirtualization") { return NDIS_STATUS_FAILURE; }
        if a.role != Role::Pf {
            w.violation("NdisMEnableVirtualization from a VF".into());
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        let status = w.enable_virtualization(NumVFs, Enable != 0);
        if status == NDIS_STATUS_SUCCESS {
            a.ext.pci().set_num_vfs(if Enable != 0 { NumVFs } else { 0 });
        }
        status
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMGetVirtualFunctionLocation(Handle: NDIS_HANDLE, VFId: u16, Segment: *mut u16, Bus: *mut u8, Function: *mut u8) {
        let Some(a) = adapter(Handle, "NdisMGetVirtualFunctionLocation") else { return };
        irql_max(a.world(), PASSIVE_LEVEL, "NdisMGetVirtualFunctionLocation");
        // Simulated topology: segment 0, bus 1 + VFId / 256, function VFId % 256.
        // SAFETY: out-pointers from the driver.
        unsafe {
            *Segment = 0;
            *Bus = 1 + (VFId >> 8) as u8;
            *Function = VFId as u8;
        }
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMInvalidateConfigBlock(Handle: NDIS_HANDLE, VFId: u16, BlockMask: u64) {
        let Some(a) = adapter(Handle, "NdisMInvalidateConfigBlock") else { return };
        let w = a.world();
        irql_max(w, DISPATCH_LEVEL, "NdisMInvalidateConfigBlock");
        if a.role != Role::Pf {
            w.violation("NdisMInvalidateConfigBlock from a VF (PF-only)".into());
            return;
        }
        w.invalidate(VFId, BlockMask);
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMReadConfigBlock(Handle: NDIS_HANDLE, BlockId: u32, Buffer: *mut c_void, Length: u32) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMReadConfigBlock") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        if !irql_max(w, APC_LEVEL, "NdisMReadConfigBlock") { return NDIS_STATUS_FAILURE; }
        // "NDIS_STATUS_FAILURE: the read failed" (NdisMReadConfigBlock).
        if w.fails("NdisMReadConfigBlock") { return NDIS_STATUS_FAILURE; }
        let Some(vf) = vf_of(a, "NdisMReadConfigBlock") else { return NDIS_STATUS_FAILURE };
        if Buffer.is_null() || Length == 0 || Length > VPCI_MAX_READ_WRITE_BLOCK_SIZE {
            w.violation(format!("NdisMReadConfigBlock(block {BlockId}, len {Length}): length outside 1..=128 or no buffer"));
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: the VF passes a buffer of Length bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(Buffer.cast::<u8>(), Length as usize) };
        w.read_block(vf, BlockId, out)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisMWriteConfigBlock(Handle: NDIS_HANDLE, BlockId: u32, Buffer: *mut c_void, Length: u32) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMWriteConfigBlock") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        if !irql_max(w, APC_LEVEL, "NdisMWriteConfigBlock") { return NDIS_STATUS_FAILURE; }
        if w.fails("NdisMWriteConfigBlock") { return NDIS_STATUS_FAILURE; }
        let Some(vf) = vf_of(a, "NdisMWriteConfigBlock") else { return NDIS_STATUS_FAILURE };
        if Buffer.is_null() || Length == 0 || Length > VPCI_MAX_READ_WRITE_BLOCK_SIZE {
            w.violation(format!("NdisMWriteConfigBlock(block {BlockId}, len {Length}): length outside 1..=128 or no buffer"));
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: the VF passes a buffer of Length bytes.
        let data = unsafe { std::slice::from_raw_parts(Buffer.cast::<u8>(), Length as usize) };
        w.write_block(vf, BlockId, data)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateMemoryWithTagPriority(Handle: NDIS_HANDLE, Length: u32, Tag: u32, _Priority: u32) -> *mut c_void {
        let Some(a) = adapter(Handle, "NdisAllocateMemoryWithTagPriority") else { return std::ptr::null_mut() };
        irql_max(a.world(), DISPATCH_LEVEL, "NdisAllocateMemoryWithTagPriority");
        // NULL when no memory is available (NdisAllocateMemoryWithTagPriority).
        if a.world().fails("NdisAllocateMemoryWithTagPriority") { return std::ptr::null_mut(); }
        a.world().allocate(Length, Tag)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeMemoryWithTagPriority(Handle: NDIS_HANDLE, Address: *mut c_void, Tag: u32) {
        let Some(a) = adapter(Handle, "NdisFreeMemoryWithTagPriority") else { return };
        irql_max(a.world(), DISPATCH_LEVEL, "NdisFreeMemoryWithTagPriority");
        a.world().free(Address, Tag);
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateIoWorkItem(Handle: NDIS_HANDLE) -> NDIS_HANDLE {
        let Some(a) = adapter(Handle, "NdisAllocateIoWorkItem") else { return std::ptr::null_mut() };
        irql_max(a.world(), DISPATCH_LEVEL, "NdisAllocateIoWorkItem");
        // NULL "if the allocation fails" (NdisAllocateIoWorkItem).
        if a.world().fails("NdisAllocateIoWorkItem") { return std::ptr::null_mut(); }
        a.world().new_work_item(a)
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisQueueIoWorkItem(Item: NDIS_HANDLE, Routine: common::ffi::imports::NDIS_IO_WORKITEM_ROUTINE, Context: *mut c_void) {
        // SAFETY: work item handles are SimWorkItems made by a world.
        let Some(wi) = (unsafe { (Item as *const crate::world::SimWorkItem).as_ref() }) else { return };
        // SAFETY: the adapter outlives its work items.
        let a = unsafe { &*wi.adapter };
        irql_max(a.world(), DISPATCH_LEVEL, "NdisQueueIoWorkItem");
        match Routine {
            Some(r) => a.world().queue_work(Item, r, Context),
            None => a.world().violation("NdisQueueIoWorkItem without a routine".into()),
        }
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeIoWorkItem(Item: NDIS_HANDLE) {
        // SAFETY: as above.
        let Some(wi) = (unsafe { (Item as *const crate::world::SimWorkItem).as_ref() }) else { return };
        // SAFETY: as above.
        let a = unsafe { &*wi.adapter };
        a.world().free_work_item(Item);
    }

    /// The adapter's registry configuration: the world's `Config::keywords`.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisOpenConfigurationEx(Object: *mut NDIS_CONFIGURATION_OBJECT, Handle: *mut NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: the driver passes a valid configuration object.
        let Some(obj) = (unsafe { Object.as_ref() }) else { return NDIS_STATUS_INVALID_PARAMETER };
        let Some(a) = adapter(obj.NdisHandle, "NdisOpenConfigurationEx") else { return NDIS_STATUS_INVALID_PARAMETER };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisOpenConfigurationEx");
        if w.fails("NdisOpenConfigurationEx") { return NDIS_STATUS_RESOURCES; }
        let h = obj.Header;
        if h.Type != NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT || h.Revision < 1 || h.Size < NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1 {
            w.violation(format!("{}: malformed NDIS_CONFIGURATION_OBJECT {h:?}", a.name));
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        let config = Box::new(SimConfiguration { world: w, value: NDIS_CONFIGURATION_PARAMETER { ParameterType: 0, ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: 0 } } });
        // SAFETY: out-pointer from the driver; the box is reclaimed by NdisCloseConfiguration.
        unsafe { *Handle = Box::into_raw(config).cast() };
        NDIS_STATUS_SUCCESS
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisReadConfiguration(
        Status: *mut NDIS_STATUS,
        Value: *mut *mut NDIS_CONFIGURATION_PARAMETER,
        Handle: NDIS_HANDLE,
        Keyword: *mut UNICODE_STRING,
        _Type: u32,
    ) {
        // SAFETY: a handle from NdisOpenConfigurationEx and the driver's keyword string.
        let (Some(config), Some(keyword)) = (unsafe { Handle.cast::<SimConfiguration>().as_mut() }, unsafe { Keyword.as_ref() }) else {
            // SAFETY: out-pointer from the driver.
            unsafe { *Status = NDIS_STATUS_FAILURE };
            return;
        };
        // SAFETY: the world outlives the configuration handle.
        let w = unsafe { &*config.world };
        // SAFETY: Length bytes of UTF-16 at Buffer.
        let name = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(keyword.Buffer, keyword.Length as usize / 2) });
        if w.fails("NdisReadConfiguration") {
            // SAFETY: out-pointer from the driver.
            unsafe { *Status = NDIS_STATUS_FAILURE };
            return;
        }
        // Every read is on the timeline: the order of the standardized keywords is a rule
        // ("Handling SR-IOV, VMQ, and RSS Standardized INF Keywords").
        w.record(crate::timeline::Event::Lifecycle { who: "registry".into(), what: format!("read {name}") });
        // Config::keywords first (ABSENT removes a value), then what Windows itself writes.
        let value = match w.cfg.keywords.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)) {
            Some((_, v)) => (*v != crate::hyperv::ABSENT).then_some(*v),
            None => crate::hyperv::host_registry_default(&name),
        };
        match value {
            Some(v) => {
                config.value = NDIS_CONFIGURATION_PARAMETER { ParameterType: NdisParameterInteger, ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: v } };
                // SAFETY: out-pointers from the driver; the value lives until close.
                unsafe {
                    *Value = &mut config.value;
                    *Status = NDIS_STATUS_SUCCESS;
                }
            }
            // SAFETY: out-pointer from the driver.
            None => unsafe { *Status = NDIS_STATUS_FAILURE },
        }
    }

    #[unsafe(no_mangle)]
    pub unsafe fn NdisCloseConfiguration(Handle: NDIS_HANDLE) {
        if !Handle.is_null() {
            // SAFETY: the box NdisOpenConfigurationEx made, closed once.
            drop(unsafe { Box::from_raw(Handle.cast::<SimConfiguration>()) });
        }
    }

    /// "NdisMSleep function" (DDI): delays the caller for at least the given interval,
    /// PASSIVE_LEVEL. A driver that sleeps lets the system worker thread run the queued work
    /// items, which is what it is waiting for; when none is queued (another CPU may be running
    /// it, in a threaded run) the thread really waits the interval.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSleep(Microseconds: u32) {
        if let Some(w) = current_world() {
            w.check(irql::require_max(PASSIVE_LEVEL, "NdisMSleep"));
            w.sleep_us(Microseconds);
            // The device acts meanwhile (a driver polling a self-clearing bit sees it clear);
            // the system worker runs; with nothing to run, the sleeper yields.
            w.poll_device();
            // A work item that sleeps holds its worker thread: other items wait for another
            // worker ("NdisQueueIoWorkItem": system worker threads), never run nested in it.
            if crate::world::in_work_item() || !w.run_work_items() {
                std::thread::yield_now();
            }
        }
    }

}
