//! How NDIS reaches the VF: its adapter as a [`Miniport`], behind the shared handlers, and
//! the work item that re-reads blocks at PASSIVE_LEVEL.
use crate::LOG;
use crate::adapter::Adapter;
use common::blocks::{BlockMask, CommitBlock, ConfigBlock};
use common::ffi::*;
use common::handlers::Miniport;
use common::ndis_fn;
use common::ndis_log;
use common::oid::OidRequest;
use common::state::AdapterEvent;
use core::ffi::c_void;
use core::sync::atomic::Ordering;

impl Miniport for Adapter {
    fn initialize(
        handle: NDIS_HANDLE,
        resources: *const CM_PARTIAL_RESOURCE_LIST,
    ) -> Result<*mut Self, NDIS_STATUS> {
        Adapter::initialize(handle, resources)
    }

    unsafe fn halt(this: *mut Self) {
        // SAFETY: forwarded under the same contract.
        unsafe { Adapter::halt(this) }
    }

    fn sends(&self) -> &common::send::SendQueue {
        &self.sends
    }

    fn receives(&self) -> &common::recv::RecvQueue {
        &self.rx
    }

    fn miniport_handle(&self) -> NDIS_HANDLE {
        self.handle
    }

    fn oid_request(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        Adapter::oid_request(self, req)
    }

    /// Running to Pausing, and the status report (PASSIVE_LEVEL, so here: the report says
    /// paused from Pausing on). MiniportPause cannot fail ("MiniportPause"); an unexpected
    /// call is logged by the state machine.
    fn pause(&self) -> NDIS_STATUS {
        self.event(AdapterEvent::Pause);
        self.report_status();
        NDIS_STATUS_SUCCESS
    }

    /// Pausing to Paused; may run at DISPATCH_LEVEL (MiniportReturnNetBufferLists), so no
    /// report here.
    fn pause_done(&self) {
        self.event(AdapterEvent::PauseDone);
    }

    /// Invalidations that arrived while paused are applied now.
    fn restart(&self) -> NDIS_STATUS {
        if !self.events(&[AdapterEvent::Restart, AdapterEvent::RestartDone]) {
            return NDIS_STATUS_FAILURE;
        }
        self.refresh_if_running();
        self.report_status();
        NDIS_STATUS_SUCCESS
    }

    /// May run at DISPATCH_LEVEL, and leaves the adapter in the state it was in: every block
    /// is re-read (nothing cached may be trusted), from the work item, or at restart.
    fn reset(&self) -> NDIS_STATUS {
        if !self.event(AdapterEvent::Reset) {
            return NDIS_STATUS_FAILURE;
        }
        self.inner.lock().note_reset();
        self.mark_pending(BlockMask::of(CommitBlock::id()));
        self.queue_refresh();
        NDIS_STATUS_SUCCESS
    }

    /// "MiniportDevicePnPEventNotify": the VF is gone from its guest. OIDs are not accepted
    /// until halt, and no refresh touches the backchannel any more.
    fn surprise_removed(&self) {
        self.removed.store(true, Ordering::Release);
        ndis_log!(WARN, LOG, "VF surprise-removed");
    }

    /// The VF's own link from the interrupt DPC (`adapter.rs`: the link rule).
    fn link_changed(&self, link: common::hw::LinkState) {
        self.hardware_link(link);
    }

    fn data_path(&self) -> &common::hw::resources::DataPath {
        &self.dp
    }
}

ndis_fn! {
    /// NDIS_IO_WORKITEM_ROUTINE: the deferred refresh, at PASSIVE_LEVEL.
    pub unsafe fn refresh_work(ctx: *mut c_void, _item: NDIS_HANDLE) {
        // SAFETY: the context is the adapter that queued the item; halt frees it only after
        // the item's completion signal, the last thing run_queued_refresh does with it.
        if let Some(a) = unsafe { ctx.cast::<Adapter>().as_ref() } {
            a.run_queued_refresh();
        }
    }
}
