//! How NDIS reaches the PF: its adapter as a [`Miniport`], behind the shared handlers.
use crate::LOG;
use crate::adapter::Adapter;
use common::ffi::*;
use common::handlers::Miniport;
use common::ndis_log;
use common::oid::OidRequest;
use common::state::AdapterEvent;

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
        self.handle()
    }

    fn oid_request(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        Adapter::oid_request(self, req)
    }

    /// Running to Pausing; Paused once no receive is outstanding ([`pause_done`](Self::pause_done),
    /// common::handlers). MiniportPause cannot fail ("MiniportPause"): an unexpected call is
    /// logged by the state machine.
    fn pause(&self) -> NDIS_STATUS {
        self.event(AdapterEvent::Pause);
        NDIS_STATUS_SUCCESS
    }

    fn pause_done(&self) {
        self.event(AdapterEvent::PauseDone);
    }

    fn restart(&self) -> NDIS_STATUS {
        success(self.events(&[AdapterEvent::Restart, AdapterEvent::RestartDone]))
    }

    /// A reset leaves the adapter in the state it was in.
    fn reset(&self) -> NDIS_STATUS {
        success(self.event(AdapterEvent::Reset))
    }

    /// "MiniportDevicePnPEventNotify": the device is gone; OIDs are not accepted until halt.
    fn surprise_removed(&self) {
        self.removed
            .store(true, core::sync::atomic::Ordering::Release);
        self.inner.lock().surprise_removed = true;
        ndis_log!(WARN, LOG, "surprise removal");
    }

    /// The wire's link from the interrupt DPC: the PF's link and every VF's link block follow
    /// it (`host.rs`).
    fn link_changed(&self, link: common::hw::LinkState) {
        self.hardware_link(link);
    }

    fn data_path(&self) -> &common::hw::resources::DataPath {
        &self.dp
    }
}

fn success(ok: bool) -> NDIS_STATUS {
    if ok {
        NDIS_STATUS_SUCCESS
    } else {
        NDIS_STATUS_FAILURE
    }
}
