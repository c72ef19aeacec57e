//! The hardware each adapter gets and what it holds of it: the reference NIC's device model
//! (`crate::device`) behind the PF and its VFs, the resource list the PnP manager assigns each
//! function, and the ledger of mappings, interrupts, scatter-gather DMA and shared memory the
//! exports in `crate::exports::dma` hand out. Driver Verifier's rules on these, as this module
//! enforces them:
//! - "MINIPORT_HALT callback function": MiniportHaltEx "must free all resources that were
//!   allocated in MiniportInitializeEx"; and a MiniportInitializeEx that fails must have freed
//!   what it took ("MINIPORT_INITIALIZE callback function": NDIS does not call MiniportHaltEx
//!   for it). Checked when either returns ([`Machine::check_released`]); whatever is left is
//!   reported and reclaimed.
//! - After surprise removal the function's registers read all ones; a register written after
//!   it is reported at halt (`device::presence`).
use super::{Machine, Role, SimAdapter, lock};
use crate::device::{Func, RefNicModel};
use common::ffi::*;
use std::ffi::c_void;

/// The IRQL the simulated MSI-X messages are delivered at: vector `0x60 + n` on x64, whose
/// IRQL is the vector's upper nibble (a DIRQL, above DISPATCH_LEVEL).
pub const DIRQL: KIRQL = 6;
/// The first interrupt vector the simulated PnP manager assigns a function's messages.
pub const FIRST_VECTOR: u32 = 0x60;

/// One NdisMAllocateSharedMemory block.
pub struct SharedAlloc {
    pub va: usize,
    pub pa: i64,
    pub len: u32,
    pub(super) base: *mut u8,
    pub(super) layout: std::alloc::Layout,
}

/// One NdisMRegisterInterruptEx registration.
pub struct Interrupt {
    /// Its address is the NdisInterruptHandle.
    token: Box<u8>,
    pub ctx: usize,
    pub chars: NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    /// The IO_INTERRUPT_MESSAGE_INFO NDIS hands back (8-byte aligned storage).
    table: Vec<u64>,
}

impl Interrupt {
    /// The IO_INTERRUPT_MESSAGE_INFO handed back in `MessageInfoTable`.
    pub fn message_info(&self) -> *const IO_INTERRUPT_MESSAGE_INFO {
        self.table.as_ptr().cast()
    }
}

/// What one adapter was assigned and holds.
pub struct AdapterHw {
    pub func: Func,
    pub name: String,
    /// The CM_PARTIAL_RESOURCE_LIST given as AllocatedResources (8-byte aligned storage;
    /// empty: AllocatedResources was NULL).
    list: Vec<u64>,
    /// The memory resource holding its register BAR (the range it may map) and its messages
    /// (`super::pnp::granted`).
    pub bar: (u64, u32),
    pub messages: u8,
    /// MiniportInitializeEx is running for it.
    pub initializing: bool,
    /// `AttributeFlags` of its registration attributes.
    pub attribute_flags: u32,
    pub mappings: Vec<(usize, u32)>,
    pub interrupt: Option<Interrupt>,
    /// Its address is the NdisMiniportDmaHandle.
    pub sg_dma: Option<Box<u8>>,
    pub shared: Vec<SharedAlloc>,
    /// The MiniportProcessSGList its SG DMA registration gave.
    pub process_sg: Option<MINIPORT_PROCESS_SG_LIST>,
    /// SG lists NdisMAllocateNetBufferSGList built and NdisMFreeNetBufferSGList has not freed.
    pub sg_lists: Vec<super::sg_lists::SgRecord>,
    pub isrs: u64,
    pub dpcs: u64,
    /// NBLs it indicated (NdisMIndicateReceiveNetBufferLists' NumberOfNetBufferLists).
    pub nbls_indicated: u64,
    /// DPCs NDIS ran again because the last one set MoreNblsPending.
    pub dpc_reruns: u64,
    /// MiniportResetEx returned NDIS_STATUS_PENDING (or is running) and NdisMResetComplete has
    /// not come yet; what it brought.
    pub reset_pending: bool,
    pub reset_result: Option<NDIS_STATUS>,
}

impl AdapterHw {
    /// What is still held, in words (empty: nothing).
    pub fn held(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.mappings.is_empty() {
            v.push(format!(
                "{} I/O space mapping(s) (NdisMUnmapIoSpace)",
                self.mappings.len()
            ));
        }
        if self.interrupt.is_some() {
            v.push("an interrupt (NdisMDeregisterInterruptEx)".into());
        }
        if self.sg_dma.is_some() {
            v.push("scatter-gather DMA (NdisMDeregisterScatterGatherDma)".into());
        }
        if !self.sg_lists.is_empty() {
            v.push(format!(
                "{} scatter-gather list(s) (NdisMFreeNetBufferSGList)",
                self.sg_lists.len()
            ));
        }
        if !self.shared.is_empty() {
            v.push(format!(
                "{} shared-memory block(s) (NdisMFreeSharedMemory)",
                self.shared.len()
            ));
        }
        v
    }
}

/// The machine's hardware: the NIC and the ledger, by adapter address.
pub struct Hw {
    pub nic: RefNicModel,
    pub adapters: crate::digest::AddrMap<usize, AdapterHw>,
    pub sg_timing: super::sg_lists::SgTiming,
    pub deferred_sg: Vec<super::sg_lists::DeferredSg>,
    /// SG DMA handle -> the adapter key owning it (a lookup per SG list, flat in adapters).
    pub dma_owner: crate::digest::AddrMap<usize, usize>,
    /// The functions a test gave a resource assignment of its own (`super::pnp`).
    pub assignments: Vec<(Func, super::pnp::Assignment)>,
    /// `MaxNblsToIndicate` of the NDIS_RECEIVE_THROTTLE_PARAMETERS each DPC gets.
    pub throttle: u32,
}

impl Default for Hw {
    fn default() -> Self {
        Hw {
            nic: RefNicModel::new(0, [0x02, 0x15, 0x5D, 0x00, 0x00, 0x01]),
            adapters: Default::default(),
            sg_timing: Default::default(),
            deferred_sg: Vec::new(),
            dma_owner: Default::default(),
            assignments: Vec::new(),
            throttle: NDIS_INDICATE_ALL_NBLS,
        }
    }
}

fn key(a: &SimAdapter) -> usize {
    a as *const SimAdapter as usize
}

impl Machine {
    pub(crate) fn hw(&self) -> std::sync::MutexGuard<'_, Hw> {
        lock(&self.hw)
    }

    /// Runs `f` on the device model (tests inject frames and link changes through it).
    pub fn nic<R>(&self, f: impl FnOnce(&mut RefNicModel) -> R) -> R {
        f(&mut self.hw().nic)
    }

    /// One step of the device model, delivering nothing (NdisMSleep's: a driver polling a
    /// self-clearing bit sees the device act).
    pub fn poll_device(&self) {
        self.hw().nic.poll();
    }

    /// The PnP manager's assignment for `adapter`'s function, before MiniportInitializeEx: the
    /// host's PF, or the VF that the guest's VPCI bus driver exposes (its BAR as the guest
    /// sees it: the model's identity IOMMU makes guest-physical equal host-physical).
    /// Returns the AllocatedResources pointer, valid until the machine drops.
    pub(crate) fn assign_resources(&self, adapter: &SimAdapter) -> *mut c_void {
        let mut hw = self.hw();
        let func = match adapter.role {
            Role::Pf => Func::Pf,
            Role::Vf { vf_id } => {
                hw.nic.grow_vfs(vf_id.saturating_add(1));
                Func::Vf(vf_id)
            }
        };
        hw.nic.restore(func);
        let (mut list, bar, messages) = self.assignment_of(&mut hw, func);
        let ptr = if list.is_empty() {
            std::ptr::null_mut()
        } else {
            list.as_mut_ptr().cast()
        };
        hw.adapters.insert(
            key(adapter),
            AdapterHw {
                func,
                name: adapter.name.clone(),
                list,
                bar,
                messages,
                initializing: true,
                attribute_flags: 0,
                mappings: Vec::new(),
                interrupt: None,
                sg_dma: None,
                shared: Vec::new(),
                process_sg: None,
                sg_lists: Vec::new(),
                isrs: 0,
                dpcs: 0,
                nbls_indicated: 0,
                dpc_reruns: 0,
                reset_pending: false,
                reset_result: None,
            },
        );
        ptr
    }

    /// MiniportInitializeEx returned.
    pub(crate) fn initialize_returned(&self, adapter: &SimAdapter, ok: bool) {
        if let Some(e) = self.hw().adapters.get_mut(&key(adapter)) {
            e.initializing = false;
        }
        if !ok {
            self.check_released(adapter, "a failed MiniportInitializeEx");
        }
    }

    /// The adapter's function is surprise-removed: its BAR reads all ones from now on.
    pub(crate) fn device_gone(&self, adapter: &SimAdapter) {
        let mut hw = self.hw();
        if let Some(func) = hw.adapters.get(&key(adapter)).map(|e| e.func) {
            hw.nic.vanish(func);
        }
    }

    /// After `when` (MiniportHaltEx, or a failed MiniportInitializeEx): the adapter holds no
    /// hardware resource and wrote no register of a removed device. What it still holds is
    /// reported and reclaimed.
    pub(crate) fn check_released(&self, adapter: &SimAdapter, when: &str) {
        let (held, shared, touched) = {
            let mut hw = self.hw();
            let Some(func) = hw.adapters.get(&key(adapter)).map(|e| e.func) else {
                return;
            };
            let touched = !hw.nic.untouched_since_removal(func);
            let Some(e) = hw.adapters.get_mut(&key(adapter)) else {
                return;
            };
            let held = e.held();
            e.mappings.clear();
            e.interrupt = None;
            let dma = e.sg_dma.take();
            e.sg_lists.clear();
            let shared = std::mem::take(&mut e.shared);
            if let Some(t) = dma {
                hw.dma_owner.remove(&(&*t as *const u8 as usize));
            }
            (held, shared, touched)
        };
        for s in shared {
            // SAFETY: allocated by `allocate_shared` with this layout, now unreachable.
            unsafe { std::alloc::dealloc(s.base, s.layout) };
        }
        if !held.is_empty() {
            self.violation(format!(
                "{}: after {when} still holds {} (\"MINIPORT_HALT callback function\": free every resource MiniportInitializeEx allocated)",
                adapter.name,
                held.join(", ")
            ));
        }
        if touched {
            self.violation(format!(
                "{}: wrote a register after surprise removal (its BAR must be left alone)",
                adapter.name
            ));
        }
    }

    /// Hardware resources still held by any adapter (an end-of-run check: zero once every
    /// adapter halted).
    pub fn resources_outstanding(&self) -> usize {
        self.hw().adapters.values().map(|e| e.held().len()).sum()
    }

    /// What `adapter` holds now (tests).
    pub fn held_by(&self, adapter: &SimAdapter) -> Vec<String> {
        self.hw()
            .adapters
            .get(&key(adapter))
            .map(AdapterHw::held)
            .unwrap_or_default()
    }

    /// The AllocatedResources `adapter` was given.
    pub fn resources_of(&self, adapter: &SimAdapter) -> Option<*const CM_PARTIAL_RESOURCE_LIST> {
        self.hw().adapters.get(&key(adapter)).map(resource_list_of)
    }

    /// (ISRs, DPCs) the machine ran for `adapter`.
    pub fn interrupts_run(&self, adapter: &SimAdapter) -> (u64, u64) {
        self.hw()
            .adapters
            .get(&key(adapter))
            .map_or((0, 0), |e| (e.isrs, e.dpcs))
    }

    /// The adapter's function in the device model.
    /// The I/O space mappings the adapter holds (virtual address = physical here, length).
    pub fn mappings_of(&self, adapter: &SimAdapter) -> Vec<(usize, u32)> {
        self.hw()
            .adapters
            .get(&key(adapter))
            .map_or_else(Vec::new, |e| e.mappings.clone())
    }

    pub fn func_of(&self, adapter: &SimAdapter) -> Option<Func> {
        self.hw().adapters.get(&key(adapter)).map(|e| e.func)
    }

    /// Runs `f` on the adapter's ledger entry.
    pub(crate) fn with_hw<R>(
        &self,
        adapter: &SimAdapter,
        f: impl FnOnce(&mut AdapterHw, &mut RefNicModel) -> R,
    ) -> Option<R> {
        let mut hw = self.hw();
        let hw = &mut *hw;
        hw.adapters
            .get_mut(&key(adapter))
            .map(|e| f(e, &mut hw.nic))
    }

    /// Registers an interrupt: the table NDIS fills in. Returns the handle.
    pub(crate) fn connect_interrupt(
        &self,
        adapter: &SimAdapter,
        ctx: NDIS_HANDLE,
        chars: &mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    ) -> NDIS_HANDLE {
        self.with_hw(adapter, |e, _| {
            let mut table = super::pnp::message_table(e.messages);
            chars.InterruptType = NDIS_CONNECT_MESSAGE_BASED;
            chars.MessageInfoTable = table.as_mut_ptr().cast();
            let token = Box::new(0u8);
            let h = &*token as *const u8 as NDIS_HANDLE;
            e.interrupt = Some(Interrupt {
                token,
                ctx: ctx as usize,
                chars: *chars,
                table,
            });
            h
        })
        .unwrap_or(std::ptr::null_mut())
    }

    /// Deregisters the interrupt `h`; false if no adapter has it.
    pub(crate) fn disconnect_interrupt(&self, h: NDIS_HANDLE) -> bool {
        let mut hw = self.hw();
        for e in hw.adapters.values_mut() {
            if e.interrupt
                .as_ref()
                .is_some_and(|i| std::ptr::eq(&*i.token, h as *const u8))
            {
                e.interrupt = None;
                return true;
            }
        }
        false
    }

    /// The ledger entry owning the SG DMA handle `h`, its registration dropped; false if none.
    pub(crate) fn drop_sg_dma(&self, h: NDIS_HANDLE) -> bool {
        let mut hw = self.hw();
        let Some(owner) = hw.dma_owner.remove(&(h as usize)) else {
            return false;
        };
        hw.adapters
            .get_mut(&owner)
            .and_then(|e| e.sg_dma.take())
            .is_some()
    }
}

/// The resource list an adapter was given (tests).
pub fn resource_list_of(e: &AdapterHw) -> *const CM_PARTIAL_RESOURCE_LIST {
    if e.list.is_empty() {
        return std::ptr::null();
    }
    e.list.as_ptr().cast()
}
