//! The MiniportXxx handlers both drivers implement the same way, and the characteristics table
//! that combines them with each driver's own. Neither driver has a data path of its own or
//! pends an OID, so these are the same no-ops for both.
// Their safety contract is NDIS's calling contract for each MiniportXxx handler.
#![allow(clippy::missing_safety_doc)]
use crate::ffi::*;
use crate::ndis_fn;
use core::ffi::c_void;

ndis_fn! {
    pub unsafe fn set_options(_driver: NDIS_HANDLE, _ctx: NDIS_HANDLE) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }

    /// MiniportDriverUnload.
    pub unsafe fn unload(driver_object: PDRIVER_OBJECT) {
        // SAFETY: the driver object DriverEntry registered with.
        unsafe { crate::miniport::deregister_driver(driver_object) }
    }

    pub unsafe fn cancel_oid_request(_ctx: NDIS_HANDLE, _request_id: *mut c_void) {
        // Every OID completes synchronously: nothing is ever pending to cancel.
    }

    pub unsafe fn return_net_buffer_lists(_ctx: NDIS_HANDLE, _nbl: *mut NET_BUFFER_LIST, _flags: u32) {
        // No receives are indicated, so nothing comes back.
    }

    pub unsafe fn cancel_send(_ctx: NDIS_HANDLE, _cancel_id: *mut c_void) {
        // Sends are never queued.
    }

    pub unsafe fn shutdown_ex(_ctx: NDIS_HANDLE, _action: NDIS_SHUTDOWN_ACTION) {
        // May run at HIGH_LEVEL on bugcheck: touch no lock. There is no hardware to quiesce.
    }

    pub unsafe fn check_for_hang(_ctx: NDIS_HANDLE) -> BOOLEAN {
        FALSE
    }
}

/// The handlers each driver provides itself.
pub struct DriverHandlers {
    pub initialize: MINIPORT_INITIALIZE,
    pub halt: MINIPORT_HALT,
    pub pause: MINIPORT_PAUSE,
    pub restart: MINIPORT_RESTART,
    pub oid_request: MINIPORT_OID_REQUEST,
    pub send: MINIPORT_SEND_NET_BUFFER_LISTS,
    pub reset: MINIPORT_RESET,
    pub pnp_event: MINIPORT_DEVICE_PNP_EVENT_NOTIFY,
}

/// The full handler table DriverEntry registers. No direct OID handler: none of the OIDs these
/// drivers handle travels the direct path.
pub fn characteristics(h: DriverHandlers) -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        SetOptionsHandler: Some(set_options),
        InitializeHandlerEx: Some(h.initialize),
        HaltHandlerEx: Some(h.halt),
        UnloadHandler: Some(unload),
        PauseHandler: Some(h.pause),
        RestartHandler: Some(h.restart),
        OidRequestHandler: Some(h.oid_request),
        SendNetBufferListsHandler: Some(h.send),
        ReturnNetBufferListsHandler: Some(return_net_buffer_lists),
        CancelSendHandler: Some(cancel_send),
        CheckForHangHandlerEx: Some(check_for_hang),
        ResetHandlerEx: Some(h.reset),
        DevicePnPEventNotifyHandler: Some(h.pnp_event),
        ShutdownHandlerEx: Some(shutdown_ex),
        CancelOidRequestHandler: Some(cancel_oid_request),
        ..Default::default()
    }
}
