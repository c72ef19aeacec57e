//! What `ndis.sys` exports for a bus-master NIC's resources (issue 11): I/O space mapping,
//! message-signalled interrupts, scatter-gather DMA and shared memory. Each checks the rules
//! of its DDI page (the page named on it) and keeps the ledger of `world::resources`, which
//! the halt and failed-initialize checks read. Where a page is silent, the comment says so and
//! the harsher reading is taken.
#![allow(non_snake_case)]

use super::{adapter, irql_max};
use crate::world::SimAdapter;
use common::ffi::*;
use common::ndis_fn;
use std::ffi::c_void;

/// A call only MiniportInitializeEx may make: a violation elsewhere.
fn during_initialize(a: &SimAdapter, what: &str, page: &str) -> bool {
    let w = a.world();
    let init = w.with_hw(a, |e, _| e.initializing).unwrap_or(false);
    if !init {
        w.violation(format!(
            "{}: {what} outside MiniportInitializeEx (\"{page}\")",
            a.name
        ));
    }
    init
}

ndis_fn! {
    /// "NdisMMapIoSpace function": PASSIVE_LEVEL; maps a range of the adapter's assigned
    /// memory resources. A range outside them is a driver bug (a violation here) and fails
    /// with NDIS_STATUS_RESOURCE_CONFLICT, one of the page's statuses; an injected failure
    /// returns NDIS_STATUS_RESOURCES. The device model's BAR is plain memory, so the virtual
    /// address is the physical one.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMMapIoSpace(VirtualAddress: *mut *mut c_void, Handle: NDIS_HANDLE, PhysicalAddress: i64, Length: u32) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMMapIoSpace") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMMapIoSpace");
        if VirtualAddress.is_null() {
            w.violation(format!("{}: NdisMMapIoSpace with a null VirtualAddress", a.name));
            return NDIS_STATUS_FAILURE;
        }
        let Some((base, len)) = w.with_hw(a, |e, _| e.bar) else { return NDIS_STATUS_FAILURE };
        let start = PhysicalAddress as u64;
        // docs/reference-nic.md section 3: the switch, filter, VPort and VF-control registers
        // are in the PF's BAR 0 only; a VF's driver (in a guest) has its own BAR and never
        // maps the PF's. Named on its own, before the general rule below.
        let pf_bar = w.with_hw(a, |e, nic| (e.func != crate::device::Func::Pf).then(|| nic.bar_of(crate::device::Func::Pf)).flatten()).flatten();
        if let Some((pf_base, pf_len)) = pf_bar
            && start < pf_base + u64::from(pf_len)
            && start.saturating_add(u64::from(Length)) > pf_base
        {
            w.violation(format!(
                "{}: a VF's driver mapped the PF's BAR 0 ({start:#x}+{Length:#x}): the switch is the PF's (reference NIC section 3)",
                a.name
            ));
            return NDIS_STATUS_RESOURCE_CONFLICT;
        }
        let inside = Length != 0 && start >= base && start.checked_add(u64::from(Length)).is_some_and(|end| end <= base + u64::from(len));
        if !inside {
            w.violation(format!(
                "{}: NdisMMapIoSpace({start:#x}, {Length:#x}) outside its assigned memory resource {base:#x}+{len:#x}",
                a.name
            ));
            return NDIS_STATUS_RESOURCE_CONFLICT;
        }
        if w.fails("NdisMMapIoSpace") {
            return NDIS_STATUS_RESOURCES;
        }
        let va = start as usize;
        w.with_hw(a, |e, _| e.mappings.push((va, Length)));
        // SAFETY: out-pointer from the driver (checked non-null).
        unsafe { *VirtualAddress = va as *mut c_void };
        NDIS_STATUS_SUCCESS
    }

    /// "NdisMUnmapIoSpace function": PASSIVE_LEVEL; the address and length of a mapping
    /// NdisMMapIoSpace made for this adapter, each unmapped once.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMUnmapIoSpace(Handle: NDIS_HANDLE, VirtualAddress: *mut c_void, Length: u32) {
        let Some(a) = adapter(Handle, "NdisMUnmapIoSpace") else { return };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMUnmapIoSpace");
        let va = VirtualAddress as usize;
        let found = w.with_hw(a, |e, _| {
            let i = e.mappings.iter().position(|&m| m == (va, Length))?;
            Some(e.mappings.swap_remove(i))
        }).flatten();
        if found.is_none() {
            w.violation(format!("{}: NdisMUnmapIoSpace({va:#x}, {Length:#x}) of no mapping it holds", a.name));
        }
    }

    /// "NdisMRegisterInterruptEx function" and "NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS
    /// structure": PASSIVE_LEVEL, from MiniportInitializeEx; the header must be
    /// NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT revision 1. The function's resources hold only
    /// message-signalled interrupts (the reference NIC is MSI-X only), so a driver must set
    /// MsiSupported and give MessageInterruptHandler and MessageInterruptDpcHandler; NDIS then
    /// sets InterruptType to NDIS_CONNECT_MESSAGE_BASED and MessageInfoTable to the
    /// IO_INTERRUPT_MESSAGE_INFO of the connected messages. One interrupt per adapter (the page
    /// describes a single registration; a second is taken as a bug, the harsher reading).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMRegisterInterruptEx(Handle: NDIS_HANDLE, Context: NDIS_HANDLE, Chars: *mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, InterruptHandle: *mut NDIS_HANDLE) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMRegisterInterruptEx") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMRegisterInterruptEx");
        if !during_initialize(a, "NdisMRegisterInterruptEx", "NdisMRegisterInterruptEx function") {
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: the driver's characteristics, valid for the call (or null).
        let Some(chars) = (unsafe { Chars.as_mut() }) else { return NDIS_STATUS_INVALID_PARAMETER };
        let h = chars.Header;
        if h.Type != NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT || h.Revision < NDIS_MINIPORT_INTERRUPT_REVISION_1 || h.Size < NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1 {
            w.violation(format!("{}: interrupt characteristics header {h:?}", a.name));
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        if chars.MsiSupported == FALSE || chars.MessageInterruptHandler.is_none() || chars.MessageInterruptDpcHandler.is_none() {
            w.violation(format!("{}: NdisMRegisterInterruptEx without message handlers on a function with only message-signalled interrupts", a.name));
            return NDIS_STATUS_RESOURCE_CONFLICT;
        }
        if w.with_hw(a, |e, _| e.interrupt.is_some()).unwrap_or(false) {
            w.violation(format!("{}: NdisMRegisterInterruptEx twice", a.name));
            return NDIS_STATUS_FAILURE;
        }
        if InterruptHandle.is_null() {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        // A function whose AllocatedResources hold no message-signalled interrupt (a hostile
        // assignment, `world::pnp`) has nothing to connect: the page's "NDIS_STATUS_RESOURCES:
        // NdisMRegisterInterruptEx failed due to insufficient resources". What NDIS does then
        // the page does not say; failing is the harsher reading (a driver must cope with it).
        if w.with_hw(a, |e, _| e.messages).unwrap_or(0) == 0 {
            return NDIS_STATUS_RESOURCES;
        }
        // The page's failure statuses: the generic one when injected.
        if w.fails("NdisMRegisterInterruptEx") {
            return NDIS_STATUS_RESOURCES;
        }
        let handle = w.connect_interrupt(a, Context, chars);
        // SAFETY: out-pointer from the driver (checked non-null).
        unsafe { *InterruptHandle = handle };
        NDIS_STATUS_SUCCESS
    }

    /// "NdisMDeregisterInterruptEx function": PASSIVE_LEVEL, a handle NdisMRegisterInterruptEx
    /// gave, once. No ISR or DPC of it runs afterwards.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMDeregisterInterruptEx(InterruptHandle: NDIS_HANDLE) {
        let Some(w) = super::current_world() else { return };
        irql_max(w, PASSIVE_LEVEL, "NdisMDeregisterInterruptEx");
        if !w.disconnect_interrupt(InterruptHandle) {
            w.violation(format!("NdisMDeregisterInterruptEx of unknown handle {InterruptHandle:p}"));
        }
    }

    /// "NdisMRegisterScatterGatherDma function": PASSIVE_LEVEL, from MiniportInitializeEx,
    /// for a bus-master adapter: its registration attributes must carry
    /// NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER (a violation otherwise). The description (the same
    /// page, members of NDIS_SG_DMA_DESCRIPTION): the header NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION,
    /// NDIS_SG_DMA_DESCRIPTION_REVISION_1, NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1; Flags
    /// NDIS_SG_DMA_64_BIT_ADDRESS or zero (the only flag the page defines: any other bit is
    /// taken as a bug, the harsher reading); MaximumPhysicalMapping "the maximum number of bytes
    /// that the NIC can transfer in a single DMA operation" (zero is no NIC's: a violation);
    /// ProcessSGListHandler required. Each is reported on its own and fails with
    /// NDIS_STATUS_INVALID_PARAMETER. NDIS sets ScatterGatherListSize (here: a
    /// SCATTER_GATHER_LIST with one element per page of MaximumPhysicalMapping, plus one).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMRegisterScatterGatherDma(Handle: NDIS_HANDLE, Desc: *mut NDIS_SG_DMA_DESCRIPTION, DmaHandle: *mut NDIS_HANDLE) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMRegisterScatterGatherDma") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMRegisterScatterGatherDma");
        if !during_initialize(a, "NdisMRegisterScatterGatherDma", "NdisMRegisterScatterGatherDma function") {
            return NDIS_STATUS_FAILURE;
        }
        let flags = w.with_hw(a, |e, _| e.attribute_flags).unwrap_or(0);
        if flags & NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER == 0 {
            w.violation(format!("{}: NdisMRegisterScatterGatherDma without NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER in its registration attributes", a.name));
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        // SAFETY: the driver's description, valid for the call (or null).
        let Some(d) = (unsafe { Desc.as_mut() }) else { return NDIS_STATUS_INVALID_PARAMETER };
        let h = d.Header;
        let wrong = if h.Type != NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION || h.Revision < NDIS_SG_DMA_DESCRIPTION_REVISION_1 || h.Size < NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1 {
            Some(format!("SG DMA description header {h:?}"))
        } else if d.Flags & !NDIS_SG_DMA_64_BIT_ADDRESS != 0 {
            Some(format!("SG DMA description Flags {:#x} (only NDIS_SG_DMA_64_BIT_ADDRESS is defined)", d.Flags))
        } else if d.MaximumPhysicalMapping == 0 {
            Some("SG DMA description with MaximumPhysicalMapping 0".into())
        } else if d.ProcessSGListHandler.is_none() {
            Some("SG DMA description without ProcessSGListHandler (MiniportProcessSGList)".into())
        } else if DmaHandle.is_null() {
            Some("NdisMRegisterScatterGatherDma with a null NdisMiniportDmaHandle".into())
        } else {
            None
        };
        if let Some(m) = wrong {
            w.violation(format!("{}: {m}", a.name));
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        if w.with_hw(a, |e, _| e.sg_dma.is_some()).unwrap_or(false) {
            w.violation(format!("{}: NdisMRegisterScatterGatherDma twice", a.name));
            return NDIS_STATUS_FAILURE;
        }
        if w.fails("NdisMRegisterScatterGatherDma") {
            return NDIS_STATUS_RESOURCES;
        }
        let pages = d.MaximumPhysicalMapping.div_ceil(4096) + 1;
        d.ScatterGatherListSize = 16 + 24 * pages;
        let token = Box::new(0u8);
        let handle = &*token as *const u8 as NDIS_HANDLE;
        let process = d.ProcessSGListHandler;
        w.with_hw(a, |e, _| {
            e.sg_dma = Some(token);
            e.process_sg = process;
        });
        w.hw().dma_owner.insert(handle as usize, a as *const _ as usize);
        // SAFETY: out-pointer from the driver (checked non-null).
        unsafe { *DmaHandle = handle };
        NDIS_STATUS_SUCCESS
    }

    /// "NdisMDeregisterScatterGatherDma function": PASSIVE_LEVEL, the handle the
    /// registration gave, once.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMDeregisterScatterGatherDma(DmaHandle: NDIS_HANDLE) {
        let Some(w) = super::current_world() else { return };
        irql_max(w, PASSIVE_LEVEL, "NdisMDeregisterScatterGatherDma");
        if !w.drop_sg_dma(DmaHandle) {
            w.violation(format!("NdisMDeregisterScatterGatherDma of unknown handle {DmaHandle:p}"));
        }
    }

    /// "NdisMAllocateSharedMemory function": PASSIVE_LEVEL, and only after
    /// NdisMRegisterScatterGatherDma (the page's note: "A miniport driver must have already
    /// called NdisMRegisterScatterGatherDma or NdisMRegisterDmaChannel ... before calling
    /// NdisMAllocateSharedMemory"); a violation otherwise.
    ///
    /// Only while MiniportInitializeEx runs: the NDIS 6 page does not say so. It names its
    /// handle "the handle input to MiniportInitializeEx" and states no rule for a PASSIVE_LEVEL
    /// call after initialization; "NdisMAllocateSharedMemoryAsyncEx function" says miniport
    /// drivers call that one "to allocate additional memory shared between the driver and its
    /// bus-master DMA NIC, usually when the miniport driver is running low on available NIC
    /// receive buffers", next to "the shared memory space that the driver allocated during
    /// initialization"; the NDIS 5 edition of "NdisMAllocateSharedMemory" said it "can be
    /// called only from MiniportInitialize". The current pages being silent, the simulator
    /// keeps that older rule as the harsher reading: a call outside MiniportInitializeEx is a
    /// violation and allocates nothing. A failure returns a null VirtualAddress. Physical =
    /// host address (identity IOMMU).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMAllocateSharedMemory(Handle: NDIS_HANDLE, Length: u32, _Cached: BOOLEAN, VirtualAddress: *mut *mut c_void, PhysicalAddress: *mut i64) {
        // SAFETY: out-pointers from the driver, written first so every failure leaves NULL.
        unsafe {
            if let Some(v) = VirtualAddress.as_mut() { *v = std::ptr::null_mut(); }
            if let Some(p) = PhysicalAddress.as_mut() { *p = 0; }
        }
        let Some(a) = adapter(Handle, "NdisMAllocateSharedMemory") else { return };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMAllocateSharedMemory");
        if !during_initialize(a, "NdisMAllocateSharedMemory", "NdisMAllocateSharedMemory function") {
            return;
        }
        if !w.with_hw(a, |e, _| e.sg_dma.is_some()).unwrap_or(false) {
            w.violation(format!("{}: NdisMAllocateSharedMemory before NdisMRegisterScatterGatherDma", a.name));
            return;
        }
        if Length == 0 || VirtualAddress.is_null() || PhysicalAddress.is_null() || w.fails("NdisMAllocateSharedMemory") {
            return;
        }
        if let Some((va, pa)) = w.allocate_shared(a, Length) {
            // SAFETY: checked non-null above.
            unsafe {
                *VirtualAddress = va as *mut c_void;
                *PhysicalAddress = pa;
            }
        }
    }

    /// "NdisMFreeSharedMemory function": PASSIVE_LEVEL; the same length and both addresses
    /// NdisMAllocateSharedMemory returned (the Cached flag is ignored on x64), each block once.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMFreeSharedMemory(Handle: NDIS_HANDLE, Length: u32, _Cached: BOOLEAN, VirtualAddress: *mut c_void, PhysicalAddress: i64) {
        let Some(a) = adapter(Handle, "NdisMFreeSharedMemory") else { return };
        let w = a.world();
        irql_max(w, PASSIVE_LEVEL, "NdisMFreeSharedMemory");
        if !w.free_shared(a, Length, VirtualAddress as usize, PhysicalAddress) {
            w.violation(format!(
                "{}: NdisMFreeSharedMemory({Length:#x}, {VirtualAddress:p}, {PhysicalAddress:#x}) of no block it holds",
                a.name
            ));
        }
    }
}
