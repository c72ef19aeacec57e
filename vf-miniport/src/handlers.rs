//! The MiniportXxx entry points of the VF, with the NDIS ABI.
use crate::LOG;
use crate::adapter::Adapter;
use common::blocks::{HOST_BLOCKS, VfStatusBlock};
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_fn;
use common::ndis_log;
use common::oid::OidRequest;
use common::state::AdapterEvent;
use core::ffi::c_void;

fn adapter<'a>(ctx: NDIS_HANDLE) -> Option<&'a Adapter> {
    // SAFETY: NDIS passes back the context we registered in initialize, valid until halt.
    unsafe { ctx.cast::<Adapter>().as_ref() }
}

ndis_fn! {

    pub unsafe fn initialize_ex(handle: NDIS_HANDLE, _driver_ctx: NDIS_HANDLE, _params: *mut NDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        match Adapter::initialize(handle) {
            Ok(_) => NDIS_STATUS_SUCCESS,
            Err(status) => status,
        }
    }

    pub unsafe fn halt_ex(ctx: NDIS_HANDLE, _action: NDIS_HALT_ACTION) {
        // SAFETY: NDIS halts a context once, after every other call on it has returned.
        unsafe { Adapter::halt(ctx.cast()) }
    }

    pub unsafe fn pause(ctx: NDIS_HANDLE, _params: *mut NDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        if !(a.event(AdapterEvent::Pause) && a.event(AdapterEvent::PauseDone)) {
            return NDIS_STATUS_FAILURE;
        }
        a.report_status(VfStatusBlock::STATE_PAUSED);
        NDIS_STATUS_SUCCESS
    }

    pub unsafe fn restart(ctx: NDIS_HANDLE, _params: *mut NDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        if !a.event(AdapterEvent::Restart) {
            return NDIS_STATUS_FAILURE;
        }
        // Invalidations that arrived while paused are applied now.
        a.event(AdapterEvent::RestartDone);
        a.refresh_if_running();
        a.report_status(VfStatusBlock::STATE_RUNNING);
        NDIS_STATUS_SUCCESS
    }

    pub unsafe fn oid_request(ctx: NDIS_HANDLE, req: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: NDIS hands us a valid request that stays valid until we complete it.
        let Some(mut req) = (unsafe { OidRequest::from_raw(req) }) else { return NDIS_STATUS_NOT_SUPPORTED };
        a.oid_request(&mut req)
    }

    pub unsafe fn send_net_buffer_lists(ctx: NDIS_HANDLE, nbl: *mut NET_BUFFER_LIST, _port: NDIS_PORT_NUMBER, flags: u32) {
        let Some(a) = adapter(ctx) else { return };
        // No data path in this reference VF: sends complete at once, unsent.
        // SAFETY: returns the NBL chain NDIS gave us.
        unsafe { NdisMSendNetBufferListsComplete(a.handle, nbl, flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL) };
    }

    pub unsafe fn device_pnp_event_notify(_ctx: NDIS_HANDLE, event: *mut NET_DEVICE_PNP_EVENT) {
        // SAFETY: NDIS passes a valid event for the duration of the call.
        if let Some(ev) = unsafe { event.as_ref() } && ev.DevicePnPEvent == NdisDevicePnPEventSurpriseRemoved {
            ndis_log!(WARN, LOG, "VF surprise-removed");
        }
    }

    /// May run at DISPATCH_LEVEL: the re-read of every block is deferred to a work item.
    pub unsafe fn reset_ex(ctx: NDIS_HANDLE, addressing_reset: *mut BOOLEAN) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: NDIS passes a valid out-pointer.
        if let Some(out) = unsafe { addressing_reset.as_mut() } { *out = FALSE; }
        if !a.event(AdapterEvent::Reset) {
            return NDIS_STATUS_FAILURE;
        }
        a.mark_pending(HOST_BLOCKS);
        a.event(AdapterEvent::ResetDone);
        a.queue_refresh();
        NDIS_STATUS_SUCCESS
    }

    /// NDIS_IO_WORKITEM_ROUTINE: the deferred refresh, at PASSIVE_LEVEL.
    pub unsafe fn refresh_work(ctx: *mut c_void, _item: NDIS_HANDLE) {
        if let Some(a) = adapter(ctx) {
            a.run_queued_refresh();
        }
    }
}

/// The handler table DriverEntry registers: ours plus the shared no-ops.
pub fn characteristics() -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    common::handlers::characteristics(common::handlers::DriverHandlers {
        initialize: initialize_ex,
        halt: halt_ex,
        pause,
        restart,
        oid_request,
        send: send_net_buffer_lists,
        reset: reset_ex,
        pnp_event: device_pnp_event_notify,
    })
}
