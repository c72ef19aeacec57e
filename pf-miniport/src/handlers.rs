//! The MiniportXxx entry points NDIS calls, with the NDIS ABI. Each one recovers the adapter
//! from its context and delegates; none can panic.
use crate::LOG;
use crate::adapter::Adapter;
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_fn;
use common::ndis_log;
use common::oid::OidRequest;
use common::state::AdapterEvent;

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
        // No sends are ever outstanding, so the pause completes synchronously.
        if a.event(AdapterEvent::Pause) && a.event(AdapterEvent::PauseDone) { NDIS_STATUS_SUCCESS } else { NDIS_STATUS_FAILURE }
    }

    pub unsafe fn restart(ctx: NDIS_HANDLE, _params: *mut NDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        if a.event(AdapterEvent::Restart) && a.event(AdapterEvent::RestartDone) { NDIS_STATUS_SUCCESS } else { NDIS_STATUS_FAILURE }
    }

    pub unsafe fn oid_request(ctx: NDIS_HANDLE, req: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: NDIS hands us a valid request that stays valid until we complete it.
        let Some(mut req) = (unsafe { OidRequest::from_raw(req) }) else { return NDIS_STATUS_NOT_SUPPORTED };
        a.oid_request(&mut req)
    }

    pub unsafe fn send_net_buffer_lists(ctx: NDIS_HANDLE, nbl: *mut NET_BUFFER_LIST, _port: NDIS_PORT_NUMBER, flags: u32) {
        let Some(a) = adapter(ctx) else { return };
        // This reference PF has no data path: sends are completed at once, unsent. An IHV
        // driver replaces this with its transmit ring.
        let complete_flags = flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL;
        // SAFETY: returns the NBL chain NDIS gave us, with our adapter handle.
        unsafe { NdisMSendNetBufferListsComplete(a.handle(), nbl, complete_flags) };
    }

    pub unsafe fn device_pnp_event_notify(ctx: NDIS_HANDLE, event: *mut NET_DEVICE_PNP_EVENT) {
        let Some(a) = adapter(ctx) else { return };
        // SAFETY: NDIS passes a valid event for the duration of the call.
        let Some(ev) = (unsafe { event.as_ref() }) else { return };
        if ev.DevicePnPEvent == NdisDevicePnPEventSurpriseRemoved {
            a.inner.lock().surprise_removed = true;
            ndis_log!(WARN, LOG, "surprise removal");
        }
    }

    pub unsafe fn reset_ex(ctx: NDIS_HANDLE, addressing_reset: *mut BOOLEAN) -> NDIS_STATUS {
        let Some(a) = adapter(ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: NDIS passes a valid out-pointer.
        if let Some(out) = unsafe { addressing_reset.as_mut() } { *out = FALSE; }
        if a.event(AdapterEvent::Reset) && a.event(AdapterEvent::ResetDone) { NDIS_STATUS_SUCCESS } else { NDIS_STATUS_FAILURE }
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
