//! A test miniport for showing the simulator's checks fire: its MiniportInitializeEx runs a
//! script the test gives ([`start`]), made of the steps below (registration attributes, BAR
//! mapping, SG DMA, shared memory, interrupt), each correct by default, or of raw export calls
//! that break a rule. What the steps acquire is remembered and released, correctly and in
//! reverse order, by its MiniportHaltEx, or at once if the script fails initialize; so a test
//! can assert that exactly the violation it provoked, and nothing else, was reported.
//!
//! One thread runs one world (`exports::enter`), and NDIS calls the miniport on the thread
//! that drives it, so the script and the ledger are per thread: tests may run in parallel.
use crate::World;
use crate::world::{Role, SimAdapter};
use common::ffi::*;
use std::cell::RefCell;
use std::ffi::c_void;

/// The adapter being initialized: its handle and its AllocatedResources.
pub struct Rogue {
    pub handle: NDIS_HANDLE,
    pub resources: *const CM_PARTIAL_RESOURCE_LIST,
}

type Script = Box<dyn FnOnce(&Rogue) -> NDIS_STATUS>;

/// What the steps acquired (and halt releases).
#[derive(Default)]
struct Held {
    handle: usize,
    maps: Vec<(usize, u32)>,
    sg: Vec<usize>,
    shared: Vec<(usize, i64, u32)>,
    interrupts: Vec<usize>,
}

thread_local! {
    static SCRIPT: RefCell<Option<Script>> = RefCell::new(None);
    static HELD: RefCell<Held> = RefCell::new(Held::default());
}

static CONTEXT: u8 = 0;

fn held<R>(f: impl FnOnce(&mut Held) -> R) -> R {
    HELD.with(|h| f(&mut h.borrow_mut()))
}

/// Releases what the steps acquired, shared memory first, the mapping last.
fn release_all() {
    let h = held(std::mem::take);
    let handle = h.handle as NDIS_HANDLE;
    // SAFETY: each handle, block and mapping as the export gave it to this adapter, once.
    unsafe {
        for i in h.interrupts.into_iter().rev() {
            crate::exports::NdisMDeregisterInterruptEx(i as NDIS_HANDLE);
        }
        for (va, pa, len) in h.shared.into_iter().rev() {
            crate::exports::NdisMFreeSharedMemory(handle, len, FALSE, va as *mut c_void, pa);
        }
        for d in h.sg.into_iter().rev() {
            crate::exports::NdisMDeregisterScatterGatherDma(d as NDIS_HANDLE);
        }
        for (va, len) in h.maps.into_iter().rev() {
            crate::exports::NdisMUnmapIoSpace(handle, va as *mut c_void, len);
        }
    }
}

common::ndis_fn! {
    unsafe fn initialize(h: NDIS_HANDLE, _d: NDIS_HANDLE, p: *mut NDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        held(|x| *x = Held { handle: h as usize, ..Held::default() });
        // SAFETY: NDIS's parameters, valid for the call.
        let resources = unsafe { p.as_ref() }.map_or(std::ptr::null(), |p| p.AllocatedResources.cast_const().cast());
        let script = SCRIPT.with(|s| s.borrow_mut().take());
        let status = script.map_or(NDIS_STATUS_FAILURE, |s| s(&Rogue { handle: h, resources }));
        if status != NDIS_STATUS_SUCCESS {
            release_all();
        }
        status
    }

    unsafe fn halt(_c: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {
        release_all();
    }

    unsafe fn pause(_c: NDIS_HANDLE, _p: *mut NDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }

    unsafe fn restart(_c: NDIS_HANDLE, _p: *mut NDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }

    /// Claims the message and asks for no DPC.
    unsafe fn isr(_c: NDIS_HANDLE, _m: u32, q: *mut BOOLEAN, _t: *mut u32) -> BOOLEAN {
        // SAFETY: NDIS's out-pointer.
        unsafe { *q = FALSE };
        TRUE
    }

    unsafe fn dpc(_c: NDIS_HANDLE, _m: u32, _x: *mut c_void, _y: *mut c_void, _z: *mut c_void) {}

    unsafe fn process_sg(_d: *mut c_void, _r: *mut c_void, _l: *mut SCATTER_GATHER_LIST, _c: *mut c_void) {}
}

/// Registers the rogue driver in `w` and starts one adapter of it as `role`, its
/// MiniportInitializeEx running `script`.
pub fn start(
    w: &World,
    role: Role,
    script: impl FnOnce(&Rogue) -> NDIS_STATUS + 'static,
) -> Result<&SimAdapter, NDIS_STATUS> {
    SCRIPT.with(|s| *s.borrow_mut() = Some(Box::new(script)));
    let idx = w
        .machine()
        .register_test_driver(NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
            InitializeHandlerEx: Some(initialize),
            HaltHandlerEx: Some(halt),
            RestartHandler: Some(restart),
            PauseHandler: Some(pause),
            ..Default::default()
        });
    w.machine().start_adapter(role, "rogue".into(), idx)
}

/// A rogue PF in a fresh world running `script`, halted afterwards: the violations reported.
pub fn violations_of(script: impl FnOnce(&Rogue) -> NDIS_STATUS + 'static) -> Vec<String> {
    let w = World::new(crate::Config::default());
    if let Ok(a) = start(&w, Role::Pf, script) {
        w.machine().halt(a, NdisHaltDeviceDisabled);
    }
    w.violations()
}

/// A valid NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS with the rogue's message handlers.
pub fn interrupt_characteristics() -> NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
    NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT,
            NDIS_MINIPORT_INTERRUPT_REVISION_1,
            NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1,
        ),
        MsiSupported: TRUE,
        MessageInterruptHandler: Some(isr),
        MessageInterruptDpcHandler: Some(dpc),
        ..Default::default()
    }
}

/// A valid NDIS_SG_DMA_DESCRIPTION with the rogue's MiniportProcessSGList.
pub fn sg_description() -> NDIS_SG_DMA_DESCRIPTION {
    NDIS_SG_DMA_DESCRIPTION {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION,
            NDIS_SG_DMA_DESCRIPTION_REVISION_1,
            NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1,
        ),
        Flags: NDIS_SG_DMA_64_BIT_ADDRESS,
        MaximumPhysicalMapping: 0x1_0000,
        ProcessSGListHandler: Some(process_sg),
        SharedMemAllocateCompleteHandler: None,
        ScatterGatherListSize: 0,
    }
}

/// Forgets what the steps acquired so far: halt then keeps it (a leak, for the halt checks).
pub fn forget() {
    held(|h| {
        let handle = h.handle;
        *h = Held {
            handle,
            ..Held::default()
        }
    });
}

impl Rogue {
    /// Registration attributes (hardware device, bus master) and general attributes.
    pub fn attributes(&self) {
        self.attributes_with(
            NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER,
        );
    }

    /// Registration attributes with `flags` as AttributeFlags, and general attributes.
    pub fn attributes_with(&self, flags: u32) {
        let mut reg = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
                2,
                NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
            ),
            MiniportAdapterContext: &CONTEXT as *const u8 as *mut _,
            AttributeFlags: flags,
            CheckForHangTimeInSeconds: 0,
            InterfaceType: NdisInterfacePci,
        };
        let info = common::miniport::EthernetInfo {
            permanent_mac: [2, 0, 0, 0, 0, 1],
            current_mac: [2, 0, 0, 0, 0, 1],
            mtu: 1500,
            link_up: true,
            speed_bps: 1,
            max_speed_bps: 1,
        };
        // SAFETY: the handle of the initialization in progress; the structures live across
        // the calls.
        unsafe {
            crate::exports::NdisMSetMiniportAttributes(
                self.handle,
                (&mut reg as *mut NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES).cast(),
            );
            common::miniport::set_general_attributes(self.handle, &info, &[]);
        }
    }

    /// The first memory resource of AllocatedResources ((0, 0) if none).
    pub fn bar(&self) -> (i64, u32) {
        // SAFETY: NDIS's list for this adapter (or null).
        unsafe { common::hw::find_memory_resource(self.resources, 1) }.unwrap_or((0, 0))
    }

    /// NdisMMapIoSpace(`pa`, `len`); kept for halt when it succeeds.
    pub fn map(&self, pa: i64, len: u32) -> (NDIS_STATUS, *mut u8) {
        let mut va = std::ptr::null_mut();
        // SAFETY: the adapter's handle; `va` is a valid out-pointer.
        let s = unsafe { crate::exports::NdisMMapIoSpace(&mut va, self.handle, pa, len) };
        if s == NDIS_STATUS_SUCCESS {
            held(|h| h.maps.push((va as usize, len)));
        }
        (s, va.cast())
    }

    /// NdisMRegisterScatterGatherDma with `d`; kept for halt when it succeeds.
    pub fn sg_dma(&self, d: &mut NDIS_SG_DMA_DESCRIPTION) -> (NDIS_STATUS, NDIS_HANDLE) {
        let mut dma = std::ptr::null_mut();
        // SAFETY: the adapter's handle; `d` and `dma` live across the call.
        let s = unsafe { crate::exports::NdisMRegisterScatterGatherDma(self.handle, d, &mut dma) };
        if s == NDIS_STATUS_SUCCESS {
            held(|h| h.sg.push(dma as usize));
        }
        (s, dma)
    }

    /// NdisMAllocateSharedMemory(`len`): (virtual, physical), kept for halt, or None.
    pub fn shared(&self, len: u32) -> Option<(usize, i64)> {
        let (mut va, mut pa) = (std::ptr::null_mut(), 0i64);
        // SAFETY: the adapter's handle; valid out-pointers.
        unsafe {
            crate::exports::NdisMAllocateSharedMemory(self.handle, len, FALSE, &mut va, &mut pa)
        };
        if va.is_null() {
            return None;
        }
        held(|h| h.shared.push((va as usize, pa, len)));
        Some((va as usize, pa))
    }

    /// NdisMRegisterInterruptEx with `c`; kept for halt when it succeeds.
    pub fn interrupt(
        &self,
        c: &mut NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS,
    ) -> (NDIS_STATUS, NDIS_HANDLE) {
        let mut ih = std::ptr::null_mut();
        // SAFETY: the adapter's handle; `c` and `ih` live across the call.
        let s = unsafe {
            crate::exports::NdisMRegisterInterruptEx(self.handle, std::ptr::null_mut(), c, &mut ih)
        };
        if s == NDIS_STATUS_SUCCESS {
            held(|h| h.interrupts.push(ih as usize));
        }
        (s, ih)
    }

    /// The whole correct bring-up: attributes, the BAR mapped, SG DMA, one page of shared
    /// memory, the interrupt. Returns the BAR's virtual address (null if the mapping failed).
    pub fn bring_up(&self) -> *mut u8 {
        self.bring_up_with(interrupt_characteristics())
    }

    /// [`bring_up`](Self::bring_up) registering the interrupt with `c`.
    pub fn bring_up_with(&self, mut c: NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS) -> *mut u8 {
        self.attributes();
        let (pa, len) = self.bar();
        let (_, va) = self.map(pa, len);
        self.sg_dma(&mut sg_description());
        self.shared(4096);
        self.interrupt(&mut c);
        va
    }
}
