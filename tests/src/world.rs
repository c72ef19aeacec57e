//! The simulated machine: a Hyper-V host partition running the PF miniport, guest partitions
//! each running the VF miniport on one VF, and between them the virtualization stack's
//! per-VF mask cache and each guest's VPCI `IOCTL_VPCI_INVALIDATE_BLOCK`.
//!
//! Everything a driver calls arrives through the exported symbols in `exports.rs`, which find
//! their way back here from the handle they are given. Nothing holds a lock of this module
//! while a driver callback runs, because drivers call back in.
use crate::irql;
use crate::rng::Rng;
use crate::timeline::Event;
use common::ffi::*;
use common::oid::RequestKind;
use std::collections::{BTreeMap, VecDeque};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

const MAGIC: u64 = 0x5349_4D5F_4144_5054; // "SIM_ADPT"

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Pf,
    Vf { vf_id: u16 },
}

/// A registered miniport driver in one partition.
pub struct SimDriver {
    pub world: *const WorldInner,
    pub chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    pub deregistered: AtomicBool,
}

/// What the I/O manager hands DriverEntry; holds driver-object extensions.
pub struct SimDriverObject {
    pub world: *const WorldInner,
    pub extensions: Mutex<Vec<(usize, Box<[u64; 4]>)>>,
}

/// One miniport adapter instance; its address is the NDIS miniport adapter handle.
pub struct SimAdapter {
    magic: u64,
    pub world: *const WorldInner,
    pub role: Role,
    pub name: String,
    pub driver: *const SimDriver,
    pub context: AtomicPtr<c_void>,
    pub initialized: AtomicBool,
    pub halted: AtomicBool,
    pub running: AtomicBool,
    pub general: Mutex<Option<GeneralAttrs>>,
    pub sriov_caps: Mutex<Option<u32>>,
    /// `CurrentSriovCapabilities` (NULL when SR-IOV is disabled).
    pub sriov_current: Mutex<Option<u32>>,
    pub nic_switch_max_vfs: Mutex<Option<u32>>,
    pub link: Mutex<Vec<(bool, u64)>>,
    pub completions: Mutex<Vec<(usize, NDIS_STATUS)>>,
    pub sends_completed: AtomicU64,
    /// Issue 10: filter/switch capabilities and the PCI model (`hyperv.rs`, `pci.rs`).
    pub ext: crate::hyperv::AdapterExt,
}

/// A copy of what a miniport declared in its general attributes.
#[derive(Clone, Debug)]
pub struct GeneralAttrs {
    pub current_mac: [u8; 6],
    pub mtu: u32,
    pub supported_oids: Vec<NDIS_OID>,
    pub media_connected: bool,
}

impl SimAdapter {
    /// # Safety
    /// `h` is a handle this simulator handed out (checked by a magic number).
    pub unsafe fn from_handle<'a>(h: NDIS_HANDLE) -> Option<&'a SimAdapter> {
        // SAFETY: handles are addresses of boxed SimAdapters owned by a live world.
        let a = unsafe { (h as *const SimAdapter).as_ref() }?;
        (a.magic == MAGIC).then_some(a)
    }

    pub fn world(&self) -> &WorldInner {
        // SAFETY: the world outlives every adapter it owns.
        unsafe { &*self.world }
    }

    pub fn handle(&self) -> NDIS_HANDLE {
        self as *const SimAdapter as NDIS_HANDLE
    }

    pub fn chars(&self) -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        // SAFETY: the driver record lives as long as the world.
        unsafe { (*self.driver).chars }
    }

    pub fn ctx(&self) -> NDIS_HANDLE {
        self.context.load(Ordering::Acquire)
    }
}

/// An NDIS I/O work item.
pub struct SimWorkItem {
    pub adapter: *const SimAdapter,
}

type WorkRoutine = common::ndis_fn_type!(fn(*mut c_void, NDIS_HANDLE));

/// What a read-path fault hook asks the simulator to do with the read in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFault {
    Proceed,
    /// The backchannel answers with an error.
    Fail,
    /// OID_SRIOV_RESET_VF reaches the PF now; this read fails and the guest resets the VF.
    ResetVf,
}

/// Given to a read hook: the PF to act on, and which read this is.
pub struct ReadCtx<'a> {
    pub pf: &'a pf_miniport::Adapter,
    pub vf: u16,
    pub block: u32,
    /// Reads this VF has issued so far, this one included.
    pub nth: u64,
}

pub type ReadHook = Box<dyn FnMut(&ReadCtx<'_>) -> ReadFault + Send>;

#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// Probability (0..=1) that a ready delivery is held back for one step.
    pub delivery_delay: f64,
    /// Every block read and write fails, as on hosts without the backchannel.
    pub backchannel_absent: bool,
    /// The pool allocation with this number (1-based) fails.
    pub fail_allocation: Option<u64>,
    /// Print driver debug output as it happens.
    pub echo_log: bool,
    /// Keep the timeline and the debug log (benchmarks turn this off so that millions of
    /// operations do not grow them).
    pub record: bool,
    /// The adapters' registry keywords (NdisReadConfiguration), e.g. `("*SRIOV", 0)`.
    pub keywords: Vec<(String, u32)>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            delivery_delay: 0.0,
            backchannel_absent: false,
            fail_allocation: None,
            echo_log: false,
            record: true,
            keywords: Vec::new(),
        }
    }
}

/// Per-VF state of the virtualization stack and the guest VPCI driver.
#[derive(Default, Clone, Copy, Debug)]
pub struct VfChannel {
    /// ORed BlockMask waiting for the guest (the documented per-VF cache).
    pub cache: u64,
    /// Guest NDIS has an IOCTL_VPCI_INVALIDATE_BLOCK outstanding.
    pub ioctl_pending: bool,
    pub reads: u64,
    pub writes: u64,
    pub deliveries: u64,
}

/// Boxed so that each object's address (its NDIS handle) stays put as the vectors grow.
#[derive(Default)]
#[allow(clippy::vec_box)]
struct State {
    objects: Vec<Box<SimDriverObject>>,
    drivers: Vec<Box<SimDriver>>,
    adapters: Vec<Box<SimAdapter>>,
    work_items: Vec<Box<SimWorkItem>>,
    queued_work: VecDeque<(usize, WorkRoutine, usize)>,
    pending_resets: VecDeque<u16>,
    pf: Option<usize>,
    pf_driver: Option<usize>,
    vf_driver: Option<usize>,
    vfs: BTreeMap<u16, usize>,
    channels: BTreeMap<u16, VfChannel>,
    virtualization: Option<u16>,
    step: u64,
}

#[derive(Default)]
struct Memory {
    live: BTreeMap<usize, (usize, u32)>,
    allocations: u64,
    peak: usize,
}

pub struct WorldInner {
    pub cfg: Config,
    state: Mutex<State>,
    pub rng: Mutex<Rng>,
    timeline: Mutex<Vec<(u64, Event)>>,
    violations: Mutex<Vec<String>>,
    log: Mutex<Vec<String>>,
    memory: Mutex<Memory>,
    read_hook: Mutex<Option<ReadHook>>,
    /// The PF is a loaded image: its adapter is not a `pf_miniport::Adapter` of this build,
    /// so read hooks (which get one) are not run.
    pub pf_is_image: AtomicBool,
}

// SAFETY: raw pointers inside point to objects owned by this world; all mutable state is
// behind mutexes or atomics.
unsafe impl Sync for WorldInner {}
// SAFETY: as above.
unsafe impl Send for WorldInner {}
// SAFETY: an adapter's mutable state is in mutexes/atomics; its pointers are world-owned.
unsafe impl Sync for SimAdapter {}
// SAFETY: as above.
unsafe impl Send for SimAdapter {}

/// Outcome of one OID request the simulator issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidOutcome {
    pub status: NDIS_STATUS,
    pub bytes_written: u32,
    pub bytes_read: u32,
    pub bytes_needed: u32,
}

impl WorldInner {
    pub fn record(&self, event: Event) {
        if !self.cfg.record {
            return;
        }
        let step = lock(&self.state).step;
        lock(&self.timeline).push((step, event));
    }

    pub fn violation(&self, msg: String) {
        if self.cfg.echo_log {
            eprintln!("VIOLATION: {msg}");
        }
        lock(&self.violations).push(msg);
    }

    pub fn check(&self, r: Result<(), String>) -> bool {
        match r {
            Ok(()) => true,
            Err(m) => {
                self.violation(m);
                false
            }
        }
    }

    pub fn debug_print(&self, level: u32, msg: &str) {
        if !self.cfg.record && !self.cfg.echo_log {
            return;
        }
        let line = format!(
            "[{}] {}",
            ["ERROR", "WARN", "TRACE", "INFO"]
                .get(level as usize)
                .unwrap_or(&"?"),
            msg.trim_end()
        );
        if self.cfg.echo_log {
            eprintln!("{line}");
        }
        if self.cfg.record {
            lock(&self.log).push(line);
        }
    }

    // ---- objects -------------------------------------------------------------------------

    pub fn new_driver_object(&self) -> *mut SimDriverObject {
        let mut obj = Box::new(SimDriverObject {
            world: self,
            extensions: Mutex::new(Vec::new()),
        });
        let ptr: *mut SimDriverObject = &mut *obj;
        lock(&self.state).objects.push(obj);
        ptr
    }

    pub fn register_driver(&self, chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS) -> NDIS_HANDLE {
        let drv = Box::new(SimDriver {
            world: self,
            chars,
            deregistered: AtomicBool::new(false),
        });
        let ptr = &*drv as *const SimDriver as NDIS_HANDLE;
        lock(&self.state).drivers.push(drv);
        ptr
    }

    pub fn deregister_driver(&self, handle: NDIS_HANDLE) {
        let st = lock(&self.state);
        let Some(d) = st
            .drivers
            .iter()
            .find(|d| std::ptr::eq(&***d, handle as *const SimDriver))
        else {
            drop(st);
            self.violation("NdisMDeregisterMiniportDriver with an unknown handle".into());
            return;
        };
        let live = st
            .adapters
            .iter()
            .any(|a| std::ptr::eq(a.driver, &**d) && !a.halted.load(Ordering::Acquire));
        if d.deregistered.swap(true, Ordering::AcqRel) {
            drop(st);
            self.violation("NdisMDeregisterMiniportDriver called twice".into());
        } else if live {
            drop(st);
            self.violation("NdisMDeregisterMiniportDriver with adapters not yet halted".into());
        }
    }

    /// The handler table the driver at this index registered.
    pub fn driver_chars(&self, index: usize) -> Option<NDIS_MINIPORT_DRIVER_CHARACTERISTICS> {
        lock(&self.state).drivers.get(index).map(|d| d.chars)
    }

    /// Whether the driver registered by this handle index has deregistered.
    pub fn driver_deregistered(&self, index: usize) -> bool {
        lock(&self.state)
            .drivers
            .get(index)
            .is_some_and(|d| d.deregistered.load(Ordering::Acquire))
    }

    fn new_adapter(&self, role: Role, name: String, driver: *const SimDriver) -> &SimAdapter {
        let a = Box::new(SimAdapter {
            magic: MAGIC,
            world: self,
            role,
            name,
            driver,
            context: AtomicPtr::new(std::ptr::null_mut()),
            initialized: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            running: AtomicBool::new(false),
            general: Mutex::new(None),
            sriov_caps: Mutex::new(None),
            sriov_current: Mutex::new(None),
            nic_switch_max_vfs: Mutex::new(None),
            link: Mutex::new(Vec::new()),
            completions: Mutex::new(Vec::new()),
            sends_completed: AtomicU64::new(0),
            ext: Default::default(),
        });
        let ptr: *const SimAdapter = &*a;
        lock(&self.state).adapters.push(a);
        // SAFETY: boxed and owned by the world until it drops.
        unsafe { &*ptr }
    }

    pub fn pf_adapter(&self) -> Option<&SimAdapter> {
        let st = lock(&self.state);
        let i = st.pf?;
        let ptr: *const SimAdapter = &*st.adapters[i];
        // SAFETY: adapters are never removed before the world drops.
        Some(unsafe { &*ptr })
    }

    pub fn vf_adapter(&self, vf: u16) -> Option<&SimAdapter> {
        let st = lock(&self.state);
        let i = *st.vfs.get(&vf)?;
        let ptr: *const SimAdapter = &*st.adapters[i];
        // SAFETY: as above.
        Some(unsafe { &*ptr })
    }

    pub fn channel(&self, vf: u16) -> Option<VfChannel> {
        lock(&self.state).channels.get(&vf).copied()
    }

    // ---- memory --------------------------------------------------------------------------

    pub fn allocate(&self, len: u32, tag: u32) -> *mut c_void {
        let mut m = lock(&self.memory);
        m.allocations += 1;
        if self.cfg.fail_allocation == Some(m.allocations) {
            drop(m);
            self.record(Event::Fault {
                what: format!("pool allocation of {len} B (tag {}) fails", tag_text(tag)),
            });
            return std::ptr::null_mut();
        }
        let Ok(layout) = std::alloc::Layout::from_size_align((len as usize).max(1), 16) else {
            return std::ptr::null_mut();
        };
        // SAFETY: non-zero size, valid alignment.
        let p = unsafe { std::alloc::alloc(layout) };
        if !p.is_null() {
            m.live.insert(p as usize, (len as usize, tag));
            let total: usize = m.live.values().map(|v| v.0).sum();
            m.peak = m.peak.max(total);
        }
        p.cast()
    }

    pub fn free(&self, p: *mut c_void, tag: u32) {
        let mut m = lock(&self.memory);
        match m.live.remove(&(p as usize)) {
            Some((len, t)) => {
                drop(m);
                if t != tag {
                    self.violation(format!(
                        "pool block freed with tag {} but allocated with {}",
                        tag_text(tag),
                        tag_text(t)
                    ));
                }
                let layout = std::alloc::Layout::from_size_align(len.max(1), 16)
                    .expect("layout was valid at allocation");
                // SAFETY: allocated above with this layout.
                unsafe { std::alloc::dealloc(p.cast(), layout) };
            }
            None => {
                drop(m);
                self.violation(format!("free of {p:p}, not a live pool block"));
            }
        }
    }

    /// Bytes of pool currently allocated with `tag`.
    pub fn pool_bytes(&self, tag: u32) -> usize {
        lock(&self.memory)
            .live
            .values()
            .filter(|(_, t)| *t == tag)
            .map(|(l, _)| *l)
            .sum()
    }

    pub fn pool_blocks(&self) -> usize {
        lock(&self.memory).live.len()
    }

    // ---- work items ----------------------------------------------------------------------

    pub fn new_work_item(&self, adapter: *const SimAdapter) -> NDIS_HANDLE {
        let wi = Box::new(SimWorkItem { adapter });
        let ptr = &*wi as *const SimWorkItem as NDIS_HANDLE;
        lock(&self.state).work_items.push(wi);
        ptr
    }

    pub fn queue_work(&self, item: NDIS_HANDLE, routine: WorkRoutine, ctx: *mut c_void) {
        lock(&self.state)
            .queued_work
            .push_back((item as usize, routine, ctx as usize));
    }

    pub fn free_work_item(&self, item: NDIS_HANDLE) {
        let mut st = lock(&self.state);
        if st.queued_work.iter().any(|(i, _, _)| *i == item as usize) {
            drop(st);
            self.violation("NdisFreeIoWorkItem while the item is queued".into());
            return;
        }
        st.work_items
            .retain(|w| !std::ptr::eq(&**w, item as *const SimWorkItem));
    }

    // ---- virtualization stack ------------------------------------------------------------

    pub fn enable_virtualization(&self, num_vfs: u16, enable: bool) -> NDIS_STATUS {
        let mut st = lock(&self.state);
        match (enable, st.virtualization) {
            (true, Some(_)) => NDIS_STATUS_FAILURE,
            (false, _) if num_vfs != 0 => NDIS_STATUS_INVALID_PARAMETER,
            (true, None) => {
                st.virtualization = Some(num_vfs);
                NDIS_STATUS_SUCCESS
            }
            (false, _) => {
                st.virtualization = None;
                NDIS_STATUS_SUCCESS
            }
        }
    }

    /// The PF's NdisMInvalidateConfigBlock: OR the mask into the VF's cache.
    pub fn invalidate(&self, vf: u16, mask: u64) {
        let mut st = lock(&self.state);
        let present = st.vfs.contains_key(&vf) || st.channels.contains_key(&vf);
        if !present {
            drop(st);
            self.record(Event::InvalidateDropped { vf, mask });
            return;
        }
        let ch = st.channels.entry(vf).or_default();
        ch.cache |= mask;
        let cache = ch.cache;
        drop(st);
        self.record(Event::Invalidate { vf, mask, cache });
    }

    /// VF NdisMReadConfigBlock: routed to the PF as OID_SRIOV_READ_VF_CONFIG_BLOCK (method),
    /// with the VF id filled in by the host side.
    pub fn read_block(&self, vf: u16, block: u32, out: &mut [u8]) -> NDIS_STATUS {
        let nth = {
            let mut st = lock(&self.state);
            let ch = st.channels.entry(vf).or_default();
            ch.reads += 1;
            ch.reads
        };
        let len = out.len() as u32;
        let fault = if self.cfg.backchannel_absent {
            ReadFault::Fail
        } else {
            self.run_read_hook(vf, block, nth)
        };
        let status = match fault {
            ReadFault::Fail => NDIS_STATUS_FAILURE,
            ReadFault::ResetVf => {
                self.record(Event::Fault {
                    what: format!("VF {vf} reset while its read of block {block} is in flight"),
                });
                self.host_reset_vf(vf);
                lock(&self.state).pending_resets.push_back(vf);
                NDIS_STATUS_FAILURE
            }
            ReadFault::Proceed => match self.pf_adapter() {
                None => NDIS_STATUS_FAILURE,
                Some(pf) => {
                    let mut buf = vec![0u8; 20 + out.len()];
                    write_params(&mut buf, vf, block, len, 20);
                    let o = self.call_oid(
                        pf,
                        RequestKind::Method,
                        OID_SRIOV_READ_VF_CONFIG_BLOCK,
                        &mut buf,
                        20,
                        20 + len,
                    );
                    if o.status == NDIS_STATUS_SUCCESS {
                        out.copy_from_slice(&buf[20..]);
                    }
                    o.status
                }
            },
        };
        self.record(Event::Read {
            vf,
            block,
            len,
            status,
        });
        // NdisMReadConfigBlock documents SUCCESS or FAILURE only.
        if status == NDIS_STATUS_SUCCESS {
            status
        } else {
            NDIS_STATUS_FAILURE
        }
    }

    fn run_read_hook(&self, vf: u16, block: u32, nth: u64) -> ReadFault {
        if self.pf_is_image.load(Ordering::Acquire) {
            return ReadFault::Proceed;
        }
        let Some(mut hook) = lock(&self.read_hook).take() else {
            return ReadFault::Proceed;
        };
        let fault = match self.pf_adapter().and_then(|a| {
            // SAFETY: the PF context is live while its adapter is not halted.
            unsafe { common::handlers::adapter_from_context::<pf_miniport::Adapter>(a.ctx()) }
        }) {
            Some(pf) => hook(&ReadCtx { pf, vf, block, nth }),
            None => ReadFault::Proceed,
        };
        *lock(&self.read_hook) = Some(hook);
        fault
    }

    pub fn set_read_hook(&self, hook: Option<ReadHook>) {
        *lock(&self.read_hook) = hook;
    }

    /// VF NdisMWriteConfigBlock: routed to the PF as OID_SRIOV_WRITE_VF_CONFIG_BLOCK (set).
    pub fn write_block(&self, vf: u16, block: u32, data: &[u8]) -> NDIS_STATUS {
        lock(&self.state).channels.entry(vf).or_default().writes += 1;
        let len = data.len() as u32;
        let status = if self.cfg.backchannel_absent {
            NDIS_STATUS_FAILURE
        } else {
            match self.pf_adapter() {
                None => NDIS_STATUS_FAILURE,
                Some(pf) => {
                    let mut buf = vec![0u8; 20 + data.len()];
                    write_params(&mut buf, vf, block, len, 20);
                    buf[20..].copy_from_slice(data);
                    let n = buf.len() as u32;
                    self.call_oid(
                        pf,
                        RequestKind::Set,
                        OID_SRIOV_WRITE_VF_CONFIG_BLOCK,
                        &mut buf,
                        n,
                        n,
                    )
                    .status
                }
            }
        };
        self.record(Event::Write {
            vf,
            block,
            len,
            status,
        });
        if status == NDIS_STATUS_SUCCESS {
            status
        } else {
            NDIS_STATUS_FAILURE
        }
    }

    /// The host's side of a VF reset: OID_SRIOV_RESET_VF to the PF.
    pub fn host_reset_vf(&self, vf: u16) -> NDIS_STATUS {
        let Some(pf) = self.pf_adapter() else {
            return NDIS_STATUS_FAILURE;
        };
        let mut buf = vec![0u8; 6];
        buf[0] = NDIS_OBJECT_TYPE_DEFAULT;
        buf[1] = NDIS_SRIOV_RESET_VF_PARAMETERS_REVISION_1;
        buf[2..4].copy_from_slice(&NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1.to_le_bytes());
        buf[4..6].copy_from_slice(&vf.to_le_bytes());
        self.call_oid(pf, RequestKind::Set, OID_SRIOV_RESET_VF, &mut buf, 6, 6)
            .status
    }

    // ---- calls into drivers --------------------------------------------------------------

    /// Issues one OID request to a miniport at PASSIVE_LEVEL, as NDIS does.
    pub fn call_oid(
        &self,
        adapter: &SimAdapter,
        kind: RequestKind,
        oid: NDIS_OID,
        buf: &mut [u8],
        input_len: u32,
        output_len: u32,
    ) -> OidOutcome {
        let ptr: *mut c_void = if buf.is_empty() {
            std::ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast()
        };
        let mut req = oid_request(kind, oid, ptr, input_len, output_len);
        let status = self.call_oid_raw(adapter, &mut req);
        // SAFETY: reads back the variant this function wrote.
        unsafe {
            match kind {
                RequestKind::Query => OidOutcome {
                    status,
                    bytes_written: req.DATA.QUERY_INFORMATION.BytesWritten,
                    bytes_read: 0,
                    bytes_needed: req.DATA.QUERY_INFORMATION.BytesNeeded,
                },
                RequestKind::Set => OidOutcome {
                    status,
                    bytes_written: 0,
                    bytes_read: req.DATA.SET_INFORMATION.BytesRead,
                    bytes_needed: req.DATA.SET_INFORMATION.BytesNeeded,
                },
                RequestKind::Method => OidOutcome {
                    status,
                    bytes_written: req.DATA.METHOD_INFORMATION.BytesWritten,
                    bytes_read: req.DATA.METHOD_INFORMATION.BytesRead,
                    bytes_needed: req.DATA.METHOD_INFORMATION.BytesNeeded,
                },
            }
        }
    }

    /// Calls MiniportOidRequest with a caller-built request (hostile-input tests use this).
    /// The status is also returned; a PENDING request must be completed before this returns.
    pub fn call_oid_raw(&self, adapter: &SimAdapter, req: &mut NDIS_OID_REQUEST) -> NDIS_STATUS {
        let Some(handler) = adapter.chars().OidRequestHandler else {
            return NDIS_STATUS_NOT_SUPPORTED;
        };
        let ctx = adapter.ctx();
        let key = req as *mut NDIS_OID_REQUEST as usize;
        // SAFETY: calls the driver's registered handler with its own context and a valid request.
        let (status, v) = irql::call_at(PASSIVE_LEVEL, "MiniportOidRequest", || unsafe {
            handler(ctx, req)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        if status == NDIS_STATUS_PENDING {
            let done = lock(&adapter.completions)
                .iter()
                .find(|(k, _)| *k == key)
                .map(|c| c.1);
            match done {
                Some(s) => {
                    lock(&adapter.completions).retain(|(k, _)| *k != key);
                    s
                }
                None => {
                    self.violation(format!("{}: OID pended and never completed", adapter.name));
                    NDIS_STATUS_FAILURE
                }
            }
        } else {
            status
        }
    }

    pub fn complete_oid(
        &self,
        adapter: &SimAdapter,
        req: *mut NDIS_OID_REQUEST,
        status: NDIS_STATUS,
    ) {
        lock(&adapter.completions).push((req as usize, status));
    }

    /// Brings up an adapter: MiniportInitializeEx, then MiniportRestart (NDIS leaves a freshly
    /// initialized adapter Paused and restarts it).
    pub fn start_adapter(
        &self,
        role: Role,
        name: String,
        driver_index: usize,
    ) -> Result<&SimAdapter, NDIS_STATUS> {
        let driver: *const SimDriver = {
            let st = lock(&self.state);
            &*st.drivers[driver_index]
        };
        let adapter = self.new_adapter(role, name, driver);
        {
            let mut st = lock(&self.state);
            let i = st.adapters.len() - 1;
            match role {
                Role::Pf => st.pf = Some(i),
                Role::Vf { vf_id } => {
                    st.vfs.insert(vf_id, i);
                    // Guest NDIS posts its first IOCTL_VPCI_INVALIDATE_BLOCK with the device.
                    st.channels.entry(vf_id).or_default().ioctl_pending = true;
                }
            }
        }
        let chars = adapter.chars();
        let Some(init) = chars.InitializeHandlerEx else {
            return Err(NDIS_STATUS_BAD_CHARACTERISTICS);
        };
        let mut params = NDIS_MINIPORT_INIT_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS, 1, 0x40),
            ..Default::default()
        };
        // SAFETY: the driver's registered InitializeHandlerEx with our handle.
        let (status, v) = irql::call_at(PASSIVE_LEVEL, "MiniportInitializeEx", || unsafe {
            init(adapter.handle(), std::ptr::null_mut(), &mut params)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: format!(
                "MiniportInitializeEx -> {}",
                crate::timeline::status_text(status)
            ),
        });
        if status != NDIS_STATUS_SUCCESS {
            self.forget_adapter(role);
            return Err(status);
        }
        if adapter.ctx().is_null() || adapter.general.lock().map(|g| g.is_none()).unwrap_or(true) {
            self.violation(format!(
                "{}: initialized without registration and general attributes",
                adapter.name
            ));
        }
        adapter.initialized.store(true, Ordering::Release);
        self.restart(adapter);
        Ok(adapter)
    }

    fn forget_adapter(&self, role: Role) {
        let mut st = lock(&self.state);
        match role {
            Role::Pf => st.pf = None,
            Role::Vf { vf_id } => {
                st.vfs.remove(&vf_id);
                if let Some(ch) = st.channels.get_mut(&vf_id) {
                    ch.ioctl_pending = false;
                }
            }
        }
    }

    pub fn restart(&self, adapter: &SimAdapter) -> NDIS_STATUS {
        let Some(h) = adapter.chars().RestartHandler else {
            return NDIS_STATUS_FAILURE;
        };
        let mut p = NDIS_MINIPORT_RESTART_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(0x80, 1, 0x14),
            ..Default::default()
        };
        let ctx = adapter.ctx();
        // SAFETY: registered handler, own context.
        let (s, v) = irql::call_at(PASSIVE_LEVEL, "MiniportRestart", || unsafe {
            h(ctx, &mut p)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        adapter
            .running
            .store(s == NDIS_STATUS_SUCCESS, Ordering::Release);
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: format!("MiniportRestart -> {}", crate::timeline::status_text(s)),
        });
        s
    }

    pub fn pause(&self, adapter: &SimAdapter) -> NDIS_STATUS {
        let Some(h) = adapter.chars().PauseHandler else {
            return NDIS_STATUS_FAILURE;
        };
        let mut p = NDIS_MINIPORT_PAUSE_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(0x80, 1, 0xC),
            ..Default::default()
        };
        let ctx = adapter.ctx();
        // SAFETY: registered handler, own context.
        let (s, v) = irql::call_at(PASSIVE_LEVEL, "MiniportPause", || unsafe { h(ctx, &mut p) });
        if let Some(v) = v {
            self.violation(v);
        }
        adapter.running.store(false, Ordering::Release);
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: format!("MiniportPause -> {}", crate::timeline::status_text(s)),
        });
        s
    }

    /// MiniportResetEx, which NDIS may call at DISPATCH_LEVEL.
    pub fn reset(&self, adapter: &SimAdapter) -> NDIS_STATUS {
        let Some(h) = adapter.chars().ResetHandlerEx else {
            return NDIS_STATUS_NOT_SUPPORTED;
        };
        let mut addressing: BOOLEAN = TRUE;
        let ctx = adapter.ctx();
        // SAFETY: registered handler, own context.
        let (s, v) = irql::call_at(DISPATCH_LEVEL, "MiniportResetEx", || unsafe {
            h(ctx, &mut addressing)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: format!("MiniportResetEx -> {}", crate::timeline::status_text(s)),
        });
        s
    }

    /// Pause (if running) and halt, as NDIS does when a device goes away.
    pub fn halt(&self, adapter: &SimAdapter, action: NDIS_HALT_ACTION) {
        if adapter.halted.load(Ordering::Acquire) {
            return;
        }
        if adapter.running.load(Ordering::Acquire) {
            self.pause(adapter);
        }
        if let Some(h) = adapter.chars().HaltHandlerEx {
            let ctx = adapter.ctx();
            // SAFETY: registered handler, own context; nothing else runs on it afterwards.
            let ((), v) = irql::call_at(PASSIVE_LEVEL, "MiniportHaltEx", || unsafe {
                h(ctx, action)
            });
            if let Some(v) = v {
                self.violation(v);
            }
        }
        adapter.halted.store(true, Ordering::Release);
        adapter
            .context
            .store(std::ptr::null_mut(), Ordering::Release);
        self.forget_adapter(adapter.role);
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: "MiniportHaltEx".into(),
        });
    }

    // ---- delivery ------------------------------------------------------------------------

    /// Runs the queued NDIS I/O work items at PASSIVE_LEVEL, as the system worker thread does.
    pub fn run_work_items(&self) -> bool {
        let work: Vec<_> = lock(&self.state).queued_work.drain(..).collect();
        let ran = !work.is_empty();
        for (item, routine, ctx) in work {
            // SAFETY: the routine and context the driver queued, called at PASSIVE_LEVEL.
            let ((), v) = irql::call_at(PASSIVE_LEVEL, "NDIS_IO_WORKITEM_ROUTINE", || unsafe {
                routine(ctx as *mut c_void, item as NDIS_HANDLE)
            });
            if let Some(v) = v {
                self.violation(v);
            }
        }

        ran
    }

    /// One round of the machine: queued work items, guest resets, and invalidation
    /// deliveries (some held back under the seed). Returns whether anything happened.
    pub fn step(&self) -> bool {
        lock(&self.state).step += 1;
        let mut progressed = false;

        progressed |= self.run_work_items();

        let resets: Vec<u16> = lock(&self.state).pending_resets.drain(..).collect();
        for vf in resets {
            if let Some(a) = self.vf_adapter(vf) {
                progressed = true;
                self.reset(a);
            }
        }

        let ready: Vec<u16> = {
            let st = lock(&self.state);
            st.channels
                .iter()
                .filter(|(vf, ch)| ch.cache != 0 && ch.ioctl_pending && st.vfs.contains_key(vf))
                .map(|(vf, _)| *vf)
                .collect()
        };
        let mut order = ready;
        lock(&self.rng).shuffle(&mut order);
        for vf in order {
            if self.cfg.delivery_delay > 0.0 && lock(&self.rng).chance(self.cfg.delivery_delay) {
                continue;
            }
            progressed |= self.deliver(vf);
        }
        progressed
    }

    /// Guest VPCI completes the pending IOCTL with the cached mask (clearing the cache);
    /// guest NDIS re-issues the IOCTL and sends OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK.
    pub fn deliver(&self, vf: u16) -> bool {
        let Some(adapter) = self.vf_adapter(vf) else {
            return false;
        };
        if !adapter.initialized.load(Ordering::Acquire) {
            return false;
        }
        let mask = {
            let mut st = lock(&self.state);
            let Some(ch) = st.channels.get_mut(&vf) else {
                return false;
            };
            if ch.cache == 0 || !ch.ioctl_pending {
                return false;
            }
            ch.deliveries += 1;
            std::mem::take(&mut ch.cache)
        };
        let out = VPCI_INVALIDATE_BLOCK_OUTPUT { BlockMask: mask };
        self.record(Event::IoctlComplete {
            vf,
            mask: out.BlockMask,
        });
        let mut buf = vec![0u8; 16];
        buf[0] = NDIS_OBJECT_TYPE_DEFAULT;
        buf[1] = NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1;
        buf[2..4].copy_from_slice(&16u16.to_le_bytes());
        buf[8..16].copy_from_slice(&out.BlockMask.to_le_bytes());
        let o = self.call_oid(
            adapter,
            RequestKind::Method,
            OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK,
            &mut buf,
            16,
            16,
        );
        self.record(Event::OidInvalidate {
            vf,
            mask,
            status: o.status,
        });
        true
    }

    pub fn has_pending_work(&self) -> bool {
        let st = lock(&self.state);
        !st.queued_work.is_empty()
            || !st.pending_resets.is_empty()
            || st
                .channels
                .iter()
                .any(|(vf, ch)| ch.cache != 0 && ch.ioctl_pending && st.vfs.contains_key(vf))
    }

    pub fn drop_channel(&self, vf: u16) {
        lock(&self.state).channels.remove(&vf);
    }

    pub fn timeline(&self) -> Vec<(u64, Event)> {
        lock(&self.timeline).clone()
    }

    pub fn violations(&self) -> Vec<String> {
        let mut v = lock(&self.violations);
        v.extend(irql::take_orphans());
        v.clone()
    }

    pub fn log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    pub fn set_driver_index(&self, role: Role, handle: NDIS_HANDLE) {
        let mut st = lock(&self.state);
        let Some(i) = st
            .drivers
            .iter()
            .position(|d| std::ptr::eq(&**d, handle as *const SimDriver))
        else {
            return;
        };
        match role {
            Role::Pf => st.pf_driver = Some(i),
            Role::Vf { .. } => st.vf_driver = Some(i),
        }
    }

    pub fn driver_index(&self, pf: bool) -> Option<usize> {
        let st = lock(&self.state);
        if pf { st.pf_driver } else { st.vf_driver }
    }

    pub fn virtualization(&self) -> Option<u16> {
        lock(&self.state).virtualization
    }

    pub fn new_world(cfg: Config) -> Box<WorldInner> {
        Box::new(WorldInner {
            rng: Mutex::new(Rng::new(cfg.seed)),
            cfg,
            state: Mutex::new(State::default()),
            timeline: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            memory: Mutex::new(Memory::default()),
            read_hook: Mutex::new(None),
            pf_is_image: AtomicBool::new(false),
        })
    }
}

impl Drop for WorldInner {
    fn drop(&mut self) {
        // Return whatever the drivers still hold, so a failed scenario does not leak into
        // the next one in the same process.
        let live: Vec<_> = std::mem::take(&mut lock(&self.memory).live)
            .into_iter()
            .collect();
        for (p, (len, _)) in live {
            if let Ok(layout) = std::alloc::Layout::from_size_align(len.max(1), 16) {
                // SAFETY: allocated by `allocate` with this layout.
                unsafe { std::alloc::dealloc(p as *mut u8, layout) };
            }
        }
    }
}

/// An `NDIS_OID_REQUEST` as NDIS builds one: header, request type, and the shape's fields
/// over `buffer` (not owned: it must outlive the request).
pub fn oid_request(
    kind: RequestKind,
    oid: NDIS_OID,
    buffer: *mut c_void,
    input_len: u32,
    output_len: u32,
) -> NDIS_OID_REQUEST {
    let mut req = NDIS_OID_REQUEST {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_OID_REQUEST,
            NDIS_OID_REQUEST_REVISION_2,
            NDIS_SIZEOF_OID_REQUEST_REVISION_2,
        ),
        ..Default::default()
    };
    match kind {
        RequestKind::Query => {
            req.RequestType = NdisRequestQueryInformation;
            req.DATA.QUERY_INFORMATION = NDIS_OID_QUERY_INFORMATION {
                Oid: oid,
                InformationBuffer: buffer,
                InformationBufferLength: output_len,
                BytesWritten: 0,
                BytesNeeded: 0,
            };
        }
        RequestKind::Set => {
            req.RequestType = NdisRequestSetInformation;
            req.DATA.SET_INFORMATION = NDIS_OID_SET_INFORMATION {
                Oid: oid,
                InformationBuffer: buffer,
                InformationBufferLength: input_len,
                BytesRead: 0,
                BytesNeeded: 0,
            };
        }
        RequestKind::Method => {
            req.RequestType = NdisRequestMethod;
            req.DATA.METHOD_INFORMATION = NDIS_OID_METHOD_INFORMATION {
                Oid: oid,
                InformationBuffer: buffer,
                InputBufferLength: input_len,
                OutputBufferLength: output_len,
                MethodId: 0,
                BytesWritten: 0,
                BytesRead: 0,
                BytesNeeded: 0,
            };
        }
    }
    req
}

/// Writes NDIS_SRIOV_{READ,WRITE}_VF_CONFIG_BLOCK_PARAMETERS at the start of `buf`.
pub fn write_params(buf: &mut [u8], vf: u16, block: u32, len: u32, offset: u32) {
    buf[0] = NDIS_OBJECT_TYPE_DEFAULT;
    buf[1] = NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1;
    buf[2..4].copy_from_slice(
        &NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1.to_le_bytes(),
    );
    buf[4..6].copy_from_slice(&vf.to_le_bytes());
    buf[6..8].fill(0);
    buf[8..12].copy_from_slice(&block.to_le_bytes());
    buf[12..16].copy_from_slice(&len.to_le_bytes());
    buf[16..20].copy_from_slice(&offset.to_le_bytes());
}

pub fn tag_text(tag: u32) -> String {
    tag.to_le_bytes()
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect()
}
