//! The simulated machine: a Hyper-V host partition running the PF miniport, guest partitions
//! each running the VF miniport on one VF, and between them the virtualization stack's
//! per-VF mask cache and each guest's VPCI `IOCTL_VPCI_INVALIDATE_BLOCK`.
//!
//! [`Machine`] is the machine itself; tests hold it through the [`World`](crate::World)
//! handle. By concern:
//! - [`ndis_objects`]: driver objects, registered drivers, adapters (the NDIS handles).
//! - [`pool`]: pool memory and its tags.
//! - [`nbl_pool`]: NET_BUFFER_LIST pools, NBLs and MDLs the drivers allocate.
//! - [`receive`]: receive indications, NBLs the overlying drivers hold and return, pauses.
//! - [`work_items`]: NDIS I/O work items and the system worker thread that runs them.
//! - [`vstack`]: the virtualization stack and guest VPCI, the whole BlockMask story.
//! - [`calls`]: calling a driver's handler at its IRQL and recording what it did.
//! - [`mandatory`]: OIDs NDIS requires of every NDIS 6 miniport (OID_GEN_STATISTICS).
//! - [`pending`]: OID requests a driver pends (NdisMOidRequestComplete) and surprise removal.
//! - [`resources`]: the reference NIC's device model behind the functions, the resources
//!   assigned to each adapter and what it holds of them; [`interrupts`]: MSI-X delivery.
//! - [`faults`]: fault injection and interleaving at every fallible call site.
//! - [`history`]: every state the PF committed per VF, and the check that a VF applies only
//!   those (the test oracle, not part of the simulated NDIS).
//!
//! Everything a driver calls arrives through the exported symbols in [`crate::exports`], which
//! find their way back here from the handle they are given. Nothing holds a lock of this
//! module while a driver callback runs, because drivers call back in.
pub mod calls;
pub mod faults;
pub mod history;
pub mod interrupts;
pub mod mandatory;
pub mod nbl_pool;
pub mod ndis_objects;
pub mod pending;
pub mod pnp;
pub mod pool;
pub mod receive;
pub mod resources;
pub mod sg_lists;
pub mod shared_memory;
pub mod traffic;
pub mod vstack;
pub mod work_items;

/// Its former path, kept so that code written against it still builds.
pub use crate::payloads::write_config_block_params as write_params;
pub use calls::{OidOutcome, oid_request};
pub use faults::{CallFault, CallHook, FALLIBLE};
pub use nbl_pool::PoolObjects;
pub use ndis_objects::{GeneralAttrs, Role, SimAdapter, SimDriver, SimDriverObject};
pub use pool::tag_text;
pub use receive::{PauseState, RecvLedger, ReturnOrder, Seen};
pub use vstack::{ReadCtx, ReadFault, ReadHook, VfChannel};
pub use work_items::{SimWorkItem, in_work_item};

use crate::irql;
use crate::rng::Rng;
use crate::timeline::Event;
use pool::Memory;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use work_items::WorkRoutine;

/// The machine's former name, kept so that code written against it still builds.
pub type WorldInner = Machine;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

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
    /// The protocol major the guest sees in block 0, as if the host ran a PF of another
    /// release (our PF's host API cannot publish another major).
    pub foreign_pf_major: Option<u16>,
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
            foreign_pf_major: None,
        }
    }
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

/// The simulated machine: both partitions' NDIS, the pool, the work queue, the
/// virtualization stack, and what was recorded (timeline, violations, debug log).
pub struct Machine {
    pub cfg: Config,
    state: Mutex<State>,
    pub rng: Mutex<Rng>,
    timeline: Mutex<Vec<(u64, Event)>>,
    violations: Mutex<Vec<String>>,
    log: Mutex<Vec<String>>,
    memory: Mutex<Memory>,
    nbl_objects: Mutex<nbl_pool::NblObjects>,
    read_hook: Mutex<Option<ReadHook>>,
    history: Mutex<history::History>,
    faults: Mutex<faults::Faults>,
    hw: Mutex<resources::Hw>,
    /// Microseconds drivers have slept (NdisMSleep) so far: the simulated clock that hardware
    /// recovery times are measured on (`pci.rs`).
    slept_us: std::sync::atomic::AtomicU64,
    /// The PF is a loaded image: its adapter is not a `pf_miniport::Adapter` of this build,
    /// so read hooks (which get one) are not run.
    pub pf_is_image: AtomicBool,
}

// SAFETY: raw pointers inside point to objects owned by this world; all mutable state is
// behind mutexes or atomics.
unsafe impl Sync for Machine {}
// SAFETY: as above.
unsafe impl Send for Machine {}

impl Machine {
    /// NdisMSleep: the simulated clock moves on by the interval.
    pub fn sleep_us(&self, us: u32) {
        self.slept_us
            .fetch_add(u64::from(us), std::sync::atomic::Ordering::AcqRel);
    }

    pub fn slept_us(&self) -> u64 {
        self.slept_us.load(std::sync::atomic::Ordering::Acquire)
    }

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

    /// One round of the machine: queued work items, guest resets, and invalidation
    /// deliveries (some held back under the seed). Returns whether anything happened.
    pub fn step(&self) -> bool {
        lock(&self.state).step += 1;
        let mut progressed = false;

        progressed |= self.run_work_items();
        progressed |= self.run_guest_resets();
        progressed |= self.deliver_ready();
        progressed |= self.service_device();
        progressed
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

    /// Moves this thread's violations that carry no handle (spin-lock misuse, `irql`) into
    /// the machine's: a thread of a threaded run calls this before it ends, since the main
    /// thread only sees its own.
    pub fn absorb_thread_violations(&self) {
        for v in irql::take_orphans() {
            self.violation(v);
        }
    }

    /// OID requests that waited for another to the same adapter (NDIS's serialization,
    /// `ndis_objects::OidGate`), over every adapter of the machine.
    pub fn oid_waits(&self) -> u64 {
        lock(&self.state)
            .adapters
            .iter()
            .map(|a| a.oid_gate.waited.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    pub fn new(cfg: Config) -> Box<Machine> {
        pf_miniport::observe::set_commit_observer(Some(history::observe_commit));
        vf_miniport::observe::set_apply_observer(Some(history::observe_apply));
        Box::new(Machine {
            rng: Mutex::new(Rng::new(cfg.seed)),
            cfg,
            state: Mutex::new(State::default()),
            timeline: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            memory: Mutex::new(Memory::default()),
            nbl_objects: Mutex::new(Default::default()),
            read_hook: Mutex::new(None),
            history: Mutex::new(history::History::default()),
            faults: Mutex::new(faults::Faults::default()),
            hw: Mutex::new(resources::Hw::default()),
            slept_us: std::sync::atomic::AtomicU64::new(0),
            pf_is_image: AtomicBool::new(false),
        })
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        // Return whatever the drivers still hold, so a failed scenario does not leak into
        // the next one in the same process.
        self.release_pool();
        self.release_nbl_objects();
        self.release_hw();
    }
}
