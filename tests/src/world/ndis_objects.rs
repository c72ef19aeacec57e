//! The NDIS objects: what the I/O manager hands DriverEntry (driver objects and their
//! extensions), the miniport drivers registered with NDIS, and the adapters, whose addresses
//! are the NDIS miniport adapter handles the drivers get.
use super::{Machine, lock, vstack};
use common::ffi::*;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;

const MAGIC: u64 = 0x5349_4D5F_4144_5054; // "SIM_ADPT"

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Pf,
    Vf { vf_id: u16 },
}

/// A registered miniport driver in one partition.
pub struct SimDriver {
    pub world: *const Machine,
    pub chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    pub deregistered: AtomicBool,
}

/// What the I/O manager hands DriverEntry; holds driver-object extensions.
pub struct SimDriverObject {
    pub world: *const Machine,
    pub extensions: Mutex<Vec<(usize, Box<[u64; 4]>)>>,
}

/// One miniport adapter instance; its address is the NDIS miniport adapter handle.
pub struct SimAdapter {
    magic: u64,
    pub world: *const Machine,
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
    /// OID requests issued and not yet finished (`pending.rs`).
    pub in_flight: Mutex<Vec<usize>>,
    /// MiniportDevicePnPEventNotify(SurpriseRemoved) was delivered.
    pub surprise_removed: AtomicBool,
    pub sends_completed: AtomicU64,
    /// The send ledger (`exports::NdisMSendNetBufferListsComplete` checks against it): NBLs
    /// handed to MiniportSendNetBufferLists and not yet completed, and every completion
    /// (NBL address, Status) in order.
    pub sends_out: Mutex<std::collections::BTreeSet<usize>>,
    pub sends_done: Mutex<Vec<(usize, NDIS_STATUS)>>,
    /// Completed NBLs whose miniport fields were poisoned (`sg_lists.rs`).
    pub sends_after: Mutex<std::collections::BTreeSet<usize>>,
    /// The receive ledger (`receive.rs`): NBLs the overlying drivers hold, what they saw,
    /// where a pause stands.
    pub recv: super::receive::RecvLedger,
    /// What the Hyper-V side tracks of the adapter: filter and switch capabilities, the PCI
    /// model (`hyperv.rs`, `pci.rs`).
    pub ext: crate::hyperv::AdapterExt,
    /// NDIS's serialization of this adapter's OID requests ([`OidGate`]).
    pub oid_gate: OidGate,
}

/// "Miniport Adapter OID Request Serialization" (learn.microsoft.com, network/
/// miniport-adapter-oid-request-serialization): "All OID requests to a miniport adapter are
/// serialized by NDIS except for direct OID requests ... A miniport adapter will not receive a
/// new OID request until any pending request is completed." (Neither driver registers a direct
/// OID handler.) A second OID to the adapter waits here until the first one has completed,
/// whichever CPU it comes from.
///
/// The one exception is an OID issued on the thread that is inside this adapter's OID
/// already: only the simulator does that (its oracle reading a loaded PF image's blocks as a
/// PF OID ends, or a test's hook running inside a driver's call), never a driver, and waiting
/// would deadlock the thread on itself; it goes through.
#[derive(Default)]
pub struct OidGate {
    owner: Mutex<Option<ThreadId>>,
    freed: Condvar,
    /// OID requests that found another one in progress and waited for it.
    pub waited: AtomicU64,
    /// OID requests that entered the miniport.
    pub entered: AtomicU64,
}

impl OidGate {
    /// Waits for this adapter's OID in progress (if another thread's) to complete; returns
    /// whether this one is nested on the owning thread (then `leave` must get `true`).
    pub fn enter(&self) -> bool {
        let me = std::thread::current().id();
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        if *owner == Some(me) {
            return true;
        }
        if owner.is_some() {
            self.waited.fetch_add(1, Ordering::Relaxed);
        }
        while owner.is_some() {
            owner = self.freed.wait(owner).unwrap_or_else(|e| e.into_inner());
        }
        *owner = Some(me);
        self.entered.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// The OID request completed: the next one may enter.
    pub fn leave(&self, nested: bool) {
        if nested {
            return;
        }
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.freed.notify_one();
    }
}

/// A copy of what a miniport declared in its general attributes.
#[derive(Clone, Debug)]
pub struct GeneralAttrs {
    pub current_mac: [u8; 6],
    pub mtu: u32,
    pub supported_oids: Vec<NDIS_OID>,
    pub media_connected: bool,
    /// `XmitLinkSpeed` of the general attributes.
    pub link_speed: u64,
    /// NDIS_STATISTICS_FLAGS_VALID_* the miniport declared (what OID_GEN_STATISTICS must match).
    pub supported_statistics: u32,
}

impl SimAdapter {
    /// # Safety
    /// `h` is a handle this simulator handed out (checked by a magic number).
    pub unsafe fn from_handle<'a>(h: NDIS_HANDLE) -> Option<&'a SimAdapter> {
        // SAFETY: handles are addresses of boxed SimAdapters owned by a live world.
        let a = unsafe { (h as *const SimAdapter).as_ref() }?;
        (a.magic == MAGIC).then_some(a)
    }

    pub fn world(&self) -> &Machine {
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

// SAFETY: an adapter's mutable state is in mutexes/atomics; its pointers are world-owned.
unsafe impl Sync for SimAdapter {}
// SAFETY: as above.
unsafe impl Send for SimAdapter {}
impl Machine {
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

    /// Replaces handlers of the registered PF (or VF) driver: the mutation tests' way of making
    /// a driver that lacks a behaviour. Call it while nothing runs on that driver.
    pub fn mutate_driver(
        &self,
        pf: bool,
        f: impl FnOnce(&mut NDIS_MINIPORT_DRIVER_CHARACTERISTICS),
    ) {
        let mut st = lock(&self.state);
        let i = if pf { st.pf_driver } else { st.vf_driver };
        if let Some(d) = i.and_then(|i| st.drivers.get_mut(i)) {
            f(&mut d.chars);
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
    pub(super) fn new_adapter(
        &self,
        role: Role,
        name: String,
        driver: *const SimDriver,
    ) -> &SimAdapter {
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
            in_flight: Mutex::new(Vec::new()),
            surprise_removed: AtomicBool::new(false),
            sends_completed: AtomicU64::new(0),
            sends_out: Mutex::new(Default::default()),
            sends_done: Mutex::new(Vec::new()),
            sends_after: Mutex::new(Default::default()),
            recv: Default::default(),
            ext: Default::default(),
            oid_gate: OidGate::default(),
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

    /// Registers a miniport the way NdisMRegisterMiniportDriver would, for a test's own
    /// characteristics; returns its index for [`start_adapter`](Machine::start_adapter).
    pub fn register_test_driver(&self, chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS) -> usize {
        self.register_driver(chars);
        lock(&self.state).drivers.len() - 1
    }

    pub fn driver_index(&self, pf: bool) -> Option<usize> {
        let st = lock(&self.state);
        if pf { st.pf_driver } else { st.vf_driver }
    }
    pub(super) fn forget_adapter(&self, role: Role) {
        let mut st = lock(&self.state);
        match role {
            Role::Pf => st.pf = None,
            Role::Vf { vf_id } => {
                st.vfs.remove(&vf_id);
                vstack::ioctl_gone(&mut st, vf_id);
            }
        }
    }
}
