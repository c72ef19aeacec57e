//! NDIS I/O work items: allocated and queued by the drivers, run at PASSIVE_LEVEL by the
//! system worker thread (here: each step of the machine, or a driver's NdisMSleep).
use super::{Machine, SimAdapter, lock};
use crate::irql;
use common::ffi::*;
use std::ffi::c_void;

/// An NDIS I/O work item.
pub struct SimWorkItem {
    pub adapter: *const SimAdapter,
}

/// The routine a driver queues with a work item.
pub(super) type WorkRoutine = common::ndis_fn_type!(fn(*mut c_void, NDIS_HANDLE));

thread_local! {
    static IN_WORK_ITEM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is running a work item's routine now.
pub fn in_work_item() -> bool {
    IN_WORK_ITEM.with(|c| c.get())
}

impl Machine {
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

    /// The work items queued now (their handles), oldest first.
    pub(crate) fn queued_items(&self) -> Vec<usize> {
        lock(&self.state)
            .queued_work
            .iter()
            .map(|(i, _, _)| *i)
            .collect()
    }

    /// Runs work item `item` if it is still queued (no other); whether it ran.
    pub(crate) fn run_work_item(&self, item: usize) -> bool {
        let found = {
            let mut st = lock(&self.state);
            let at = st.queued_work.iter().position(|(i, _, _)| *i == item);
            at.and_then(|at| st.queued_work.remove(at))
        };
        self.run_batch(found.into_iter().collect())
    }

    /// Runs the oldest queued work item only (a test's worker thread that is to block in it
    /// while the others stay queued for another thread). Whether one ran.
    pub fn run_one_work_item(&self) -> bool {
        let first = lock(&self.state).queued_work.pop_front();
        self.run_batch(first.into_iter().collect())
    }

    /// Runs the queued NDIS I/O work items at PASSIVE_LEVEL, as the system worker thread does:
    /// as many as were queued, taken one at a time, so that no thread holds back items behind
    /// one that waits (another thread's worker takes them meanwhile, as the system's pool of
    /// worker threads would).
    pub fn run_work_items(&self) -> bool {
        let n = lock(&self.state).queued_work.len();
        let mut ran = false;
        for _ in 0..n {
            if !self.run_one_work_item() {
                break;
            }
            ran = true;
        }
        ran
    }

    fn run_batch(&self, work: Vec<(usize, WorkRoutine, usize)>) -> bool {
        let ran = !work.is_empty();
        for (item, routine, ctx) in work {
            // The routine's handle-less calls (NdisMSleep) belong to this machine.
            let _calling = crate::exports::Calling::new(self);
            let outer = IN_WORK_ITEM.with(|c| c.replace(true));
            // SAFETY: the routine and context the driver queued, called at PASSIVE_LEVEL.
            let ((), v) = irql::call_at(PASSIVE_LEVEL, "NDIS_IO_WORKITEM_ROUTINE", || unsafe {
                routine(ctx as *mut c_void, item as NDIS_HANDLE)
            });
            IN_WORK_ITEM.with(|c| c.set(outer));
            if let Some(v) = v {
                self.violation(v);
            }
        }

        ran
    }
}
