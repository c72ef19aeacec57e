//! The MiniportXxx handlers, written once for both drivers: the no-ops (neither driver pends
//! an OID) and, generic over the [`Miniport`] trait each driver's adapter implements, the ones
//! that recover the adapter from its context and delegate; the send side for both is
//! [`crate::send::SendQueue`], the receive side [`crate::recv::RecvQueue`].
//!
//! One pause rule covers both sides ("Pausing an Adapter"): MiniportPause completes once no
//! send is outstanding and every receive indication has returned with its NBLs. The send side
//! completes what it holds inside MiniportPause (sends fail with NDIS_STATUS_PAUSED from then
//! on, so none can become outstanding again); the receive side may have NBLs with NDIS, and
//! then MiniportPause returns NDIS_STATUS_PENDING and whoever takes the last one back (in
//! MiniportReturnNetBufferLists, or the receive DPC after a RESOURCES indication) moves the
//! adapter to Paused and calls NdisMPauseComplete ([`finish_pause`]).
// Their safety contract is NDIS's calling contract for each MiniportXxx handler.
#![allow(clippy::missing_safety_doc)]
use crate::ffi::*;
use crate::hw::resources::{Completions, DataPath};
use crate::hw::{RxDone, TxDone};
use crate::ndis_fn;
use crate::oid::OidRequest;
use crate::recv::{PauseOutcome, RecvQueue, RxFrame};
use crate::send::SendQueue;
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
        // A pended request (the PF's VF reset or power change, waiting the hardware's
        // recovery time in a work item) completes on its own within a few hundred
        // milliseconds; it is not cut short ("MiniportCancelOidRequest": a request that
        // cannot be cancelled completes normally).
    }

    pub unsafe fn check_for_hang(_ctx: NDIS_HANDLE) -> BOOLEAN {
        FALSE
    }
}

/// What a driver's adapter (its MiniportAdapterContext) offers the handlers below; the
/// handlers themselves (ABI, context recovery, the request wrapper) are written once here.
pub trait Miniport: Sized + Sync + 'static {
    /// MiniportInitializeEx: allocate the adapter, set its attributes, return the context.
    ///
    /// `resources` is `NDIS_MINIPORT_INIT_PARAMETERS.AllocatedResources` (null or the list
    /// the PnP manager assigned the function).
    fn initialize(
        handle: NDIS_HANDLE,
        resources: *const CM_PARTIAL_RESOURCE_LIST,
    ) -> Result<*mut Self, NDIS_STATUS>;
    /// MiniportHaltEx.
    ///
    /// # Safety
    /// `this` came from [`initialize`](Self::initialize) and NDIS calls nothing else on it.
    unsafe fn halt(this: *mut Self);
    /// The miniport adapter handle NDIS gave [`initialize`](Self::initialize).
    fn miniport_handle(&self) -> NDIS_HANDLE;
    fn oid_request(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS;
    /// MiniportPause begins (Running to Pausing). PASSIVE_LEVEL.
    fn pause(&self) -> NDIS_STATUS;
    /// The pause is complete (Pausing to Paused): at once inside MiniportPause, or later from
    /// MiniportReturnNetBufferLists at up to DISPATCH_LEVEL (so no PASSIVE-only work here).
    fn pause_done(&self);
    fn restart(&self) -> NDIS_STATUS;
    /// MiniportResetEx; may run at DISPATCH_LEVEL.
    fn reset(&self) -> NDIS_STATUS;
    fn surprise_removed(&self) {}
    /// The adapter's send side (MiniportSendNetBufferLists, MiniportCancelSend, and what
    /// pause, restart and surprise removal do to sends).
    fn sends(&self) -> &SendQueue;
    /// The adapter's receive side (its NBL pool, indications, MiniportReturnNetBufferLists).
    fn receives(&self) -> &RecvQueue;
    /// The adapter's hardware resources (BAR, DMA, shared memory, interrupts, rings).
    fn data_path(&self) -> &DataPath;
    /// The function's hardware link, from the interrupt DPC (DISPATCH_LEVEL) when `LINK_SEQ`
    /// moved (docs/reference-nic.md section 9) and at the first DPC: the driver indicates
    /// NDIS_STATUS_LINK_STATE if what it reports changes.
    fn link_changed(&self, _link: crate::hw::LinkState) {}
}

/// The adapter as the DPC's [`Completions`] sink.
struct Sink<'a, A: Miniport>(&'a A);

impl<A: Miniport> Completions for Sink<'_, A> {
    fn link(&self, link: crate::hw::LinkState) {
        self.0.link_changed(link);
    }

    fn completions(&self, rx: &[RxDone], tx: &[TxDone]) {
        let mut frames = [RxFrame {
            slot: 0,
            len: 0,
            valid: false,
            vlan_tci: None,
        }; crate::hw::resources::DPC_BUDGET];
        let mut n = 0usize;
        for (f, d) in frames.iter_mut().zip(rx) {
            *f = RxFrame {
                slot: d.slot,
                len: u32::from(d.len),
                valid: d.valid,
                vlan_tci: d.vlan_tci,
            };
            n += 1;
        }
        if n > 0 {
            receive(self.0, frames.get(..n).unwrap_or(&[]));
        }
        let a = self.0;
        if a.sends().tx_done(a.miniport_handle(), tx, a.data_path()) {
            side_paused(a);
        }
    }
}

/// Most NET_BUFFER_LISTs, and NET_BUFFERs per list, one send walks: NDIS chains are never that
/// long, and a chain that were (a corrupt one) must not hold the CPU for ever.
const MAX_CHAIN: u64 = 1 << 20;

/// The NET_BUFFERs of a NET_BUFFER_LIST chain (the packets of a send).
///
/// # Safety
/// `nbl` is null or the first of a chain of valid NET_BUFFER_LISTs, each with a null or valid
/// chain of NET_BUFFERs (what NDIS passes MiniportSendNetBufferLists).
pub unsafe fn count_net_buffers(mut nbl: *mut NET_BUFFER_LIST) -> u64 {
    let mut packets = 0u64;
    let mut lists = 0u64;
    while !nbl.is_null() && lists < MAX_CHAIN {
        lists = lists.wrapping_add(1);
        // SAFETY: a valid NET_BUFFER_LIST (caller contract).
        let (next, mut nb) = unsafe { ((*nbl).Next, (*nbl).FirstNetBuffer) };
        let mut in_list = 0u64;
        while !nb.is_null() && in_list < MAX_CHAIN {
            in_list = in_list.wrapping_add(1);
            // SAFETY: a valid NET_BUFFER (caller contract).
            nb = unsafe { (*nb).Next };
        }
        packets = packets.wrapping_add(in_list);
        nbl = next;
    }
    packets
}

/// The adapter behind a MiniportAdapterContext (for the handlers below, and for host-side
/// code such as the simulator's tests).
///
/// # Safety
/// `ctx` is null or a context [`Miniport::initialize`] of this `A` returned, not yet halted.
pub unsafe fn adapter_from_context<'a, A: Miniport>(ctx: NDIS_HANDLE) -> Option<&'a A> {
    // SAFETY: caller contract.
    unsafe { ctx.cast::<A>().as_ref() }
}

fn adapter<'a, A: Miniport>(ctx: NDIS_HANDLE) -> Option<&'a A> {
    // SAFETY: NDIS passes back the context registered in initialize, valid until halt.
    unsafe { adapter_from_context(ctx) }
}

ndis_fn! {
    pub unsafe fn initialize_ex<A: Miniport>(handle: NDIS_HANDLE, _driver_ctx: NDIS_HANDLE, params: *mut NDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        // SAFETY: NDIS passes valid parameters for the duration of the call (or null).
        let resources = unsafe { params.as_ref() }.map_or(core::ptr::null(), |p| p.AllocatedResources.cast_const().cast());
        match A::initialize(handle, resources) {
            Ok(_) => NDIS_STATUS_SUCCESS,
            // "MINIPORT_INITIALIZE callback function" lists these four; a hardware failure
            // (no such device, a reset that never completes) is "other reasons": FAILURE.
            Err(s @ (NDIS_STATUS_NOT_ACCEPTED | NDIS_STATUS_RESOURCES | NDIS_STATUS_FAILURE)) => s,
            Err(status) => {
                crate::ndis_log!(ERROR, "init", "MiniportInitializeEx failed with {:#x}: NDIS_STATUS_FAILURE", status as u32);
                NDIS_STATUS_FAILURE
            }
        }
    }

    pub unsafe fn halt_ex<A: Miniport>(ctx: NDIS_HANDLE, _action: NDIS_HALT_ACTION) {
        // SAFETY: NDIS halts a context once, after every other call on it has returned.
        unsafe { A::halt(ctx.cast()) }
    }

    /// MiniportPause: sends fail with NDIS_STATUS_PAUSED from here on and none is outstanding
    /// when it returns; no receive is indicated from here on, and the pause completes now if
    /// NDIS holds none of the adapter's NBLs, else (NDIS_STATUS_PENDING) when the last comes
    /// back ("Pausing an Adapter"; the rule in this module's page).
    pub unsafe fn pause<A: Miniport>(ctx: NDIS_HANDLE, _params: *mut NDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
        let Some(a) = adapter::<A>(ctx) else { return NDIS_STATUS_FAILURE };
        let join = a.data_path();
        join.pause_join_start();
        if a.sends().pause(a.miniport_handle()) == PauseOutcome::Done {
            join.pause_join_done();
        }
        let status = a.pause();
        if a.receives().pause() == PauseOutcome::Done {
            join.pause_join_done();
        }
        if join.pause_join_done() {
            a.pause_done();
            status
        } else {
            NDIS_STATUS_PENDING
        }
    }

    pub unsafe fn restart<A: Miniport>(ctx: NDIS_HANDLE, _params: *mut NDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
        let Some(a) = adapter::<A>(ctx) else { return NDIS_STATUS_FAILURE };
        let status = a.restart();
        if status == NDIS_STATUS_SUCCESS {
            a.sends().restart();
            a.receives().restart();
        }
        status
    }

    /// MiniportReturnNetBufferLists: the NBLs (possibly of several indications) are the
    /// driver's again; their buffers are posted again, and the last one back completes a
    /// pending pause. `<= DISPATCH_LEVEL`.
    pub unsafe fn return_net_buffer_lists<A: Miniport>(ctx: NDIS_HANDLE, nbl: *mut NET_BUFFER_LIST, _flags: u32) {
        let Some(a) = adapter::<A>(ctx) else { return };
        // SAFETY: the chain NDIS returns to this adapter.
        if unsafe { a.receives().returned(nbl, a.data_path()) } {
            side_paused(a);
        }
    }

    pub unsafe fn oid_request<A: Miniport>(ctx: NDIS_HANDLE, req: *mut NDIS_OID_REQUEST) -> NDIS_STATUS {
        let Some(a) = adapter::<A>(ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: NDIS hands us a valid request that stays valid until we complete it.
        let Some(mut req) = (unsafe { OidRequest::from_raw(req) }) else { return NDIS_STATUS_NOT_SUPPORTED };
        a.oid_request(&mut req)
    }

    /// MiniportSendNetBufferLists: every NBL is completed exactly once with its Status set
    /// (`send.rs`); `flags` may say the caller runs at DISPATCH_LEVEL.
    pub unsafe fn send_net_buffer_lists<A: Miniport>(ctx: NDIS_HANDLE, nbl: *mut NET_BUFFER_LIST, _port: NDIS_PORT_NUMBER, flags: u32) {
        let Some(a) = adapter::<A>(ctx) else { return };
        // SAFETY: the chain NDIS passed to this adapter.
        if unsafe { a.sends().submit(a.miniport_handle(), nbl, flags, a.data_path()) } {
            side_paused(a);
        }
    }

    /// MiniportCancelSend: queued NBLs with this cancel id complete with
    /// NDIS_STATUS_SEND_ABORTED.
    pub unsafe fn cancel_send<A: Miniport>(ctx: NDIS_HANDLE, cancel_id: *mut c_void) {
        let Some(a) = adapter::<A>(ctx) else { return };
        a.sends().cancel(a.miniport_handle(), cancel_id);
    }

    pub unsafe fn device_pnp_event_notify<A: Miniport>(ctx: NDIS_HANDLE, event: *mut NET_DEVICE_PNP_EVENT) {
        let Some(a) = adapter::<A>(ctx) else { return };
        // SAFETY: NDIS passes a valid event for the duration of the call.
        if let Some(ev) = unsafe { event.as_ref() } && ev.DevicePnPEvent == NdisDevicePnPEventSurpriseRemoved {
            // The device is gone: no register access from here on (its BAR reads all ones).
            a.data_path().surprise_removed();
            a.surprise_removed();
            if a.sends().surprise_removed(a.miniport_handle(), a.data_path()) {
                side_paused(a);
            }
        }
    }

    /// MiniportResetEx (`<= DISPATCH_LEVEL`, "Miniport Driver Hardware Reset"): the driver's
    /// own state ([`Miniport::reset`]), queued sends completed with
    /// NDIS_STATUS_REQUEST_ABORTED, interrupts off and the queues stopped
    /// ([`DataPath::reset_begin`]); the hardware reset itself waits for the device, so it runs in
    /// a work item ([`reset_work`]) and the reset completes with NdisMResetComplete
    /// (NDIS_STATUS_PENDING here, "MINIPORT_RESET callback function"). The driver restores
    /// everything itself: AddressingReset FALSE.
    pub unsafe fn reset_ex<A: Miniport>(ctx: NDIS_HANDLE, addressing_reset: *mut BOOLEAN) -> NDIS_STATUS {
        let Some(a) = adapter::<A>(ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: NDIS passes a valid out-pointer.
        if let Some(out) = unsafe { addressing_reset.as_mut() } {
            *out = FALSE;
        }
        let status = a.reset();
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        a.sends().abort_queued(a.miniport_handle());
        // SAFETY: `reset_work::<A>` finishes the reset of this adapter, which NDIS does not halt
        // while its reset is pending.
        match unsafe { a.data_path().reset_begin(Some(reset_work::<A>), ctx) } {
            Ok(true) => NDIS_STATUS_PENDING,
            Ok(false) => NDIS_STATUS_SUCCESS,
            Err(status) => status,
        }
    }

    /// NDIS_IO_WORKITEM_ROUTINE (PASSIVE_LEVEL) of a pending MiniportResetEx: the hardware
    /// part ([`DataPath::reset_finish`]), the frames the old TX ring held completed (not sent:
    /// NDIS_STATUS_FAILURE), then NdisMResetComplete with no lock held.
    pub unsafe fn reset_work<A: Miniport>(ctx: *mut c_void, _item: NDIS_HANDLE) {
        let Some(a) = adapter::<A>(ctx) else { return };
        let mut unsent = [TxDone { slot: 0, sent: false }; crate::hw::resources::DPC_BUDGET];
        let (status, n) = a.data_path().reset_finish(&mut unsent);
        if n > 0 && a.sends().tx_done(a.miniport_handle(), unsent.get(..n).unwrap_or(&[]), a.data_path()) {
            side_paused(a);
        }
        crate::ndis_log!(INFO, "hw", "reset done: {:#010x}", status);
        // SAFETY: our adapter handle; MiniportResetEx returned NDIS_STATUS_PENDING and this is
        // its one completion.
        unsafe { crate::ffi::imports::NdisMResetComplete(a.miniport_handle(), status, FALSE) };
    }

    /// MiniportShutdownEx: may run at HIGH_LEVEL on a bugcheck, so register writes only (DMA
    /// and every vector off): no lock, no wait, no allocation.
    pub unsafe fn shutdown_ex<A: Miniport>(ctx: NDIS_HANDLE, _action: NDIS_SHUTDOWN_ACTION) {
        let Some(a) = adapter::<A>(ctx) else { return };
        a.data_path().shutdown();
    }

    /// MiniportMessageInterrupt (DIRQL): the interrupt context is the adapter context. TRUE,
    /// with the DPC asked for, only when the NIC sent the message; FALSE and no DPC otherwise
    /// ("MINIPORT_MESSAGE_INTERRUPT callback function"; how the ISR tells: [`DataPath::isr`]).
    pub unsafe fn message_isr<A: Miniport>(ctx: NDIS_HANDLE, message_id: u32, queue_dpc: *mut BOOLEAN, target_processors: *mut u32) -> BOOLEAN {
        let ours = adapter::<A>(ctx).is_some_and(|a| a.data_path().isr(message_id));
        // SAFETY: NDIS passes valid out-pointers.
        if let Some(q) = unsafe { queue_dpc.as_mut() } {
            *q = if ours { TRUE } else { FALSE };
        }
        // SAFETY: as above. NDIS 6.20 and later drivers set it to zero (the same page).
        if let Some(t) = unsafe { target_processors.as_mut() } {
            *t = 0;
        }
        if ours { TRUE } else { FALSE }
    }

    /// MiniportMessageInterruptDpc (DISPATCH_LEVEL): at most `MaxNblsToIndicate` receives
    /// indicated, and `MoreNblsPending` set when some may remain so that NDIS runs the DPC again
    /// ("MINIPORT_MESSAGE_INTERRUPT_DPC callback function", "Receive Side Throttle"). A null
    /// throttle structure (none given) is no limit.
    pub unsafe fn message_dpc<A: Miniport>(ctx: NDIS_HANDLE, message_id: u32, _dpc_ctx: *mut c_void, throttle: *mut c_void, _reserved: *mut c_void) {
        let Some(a) = adapter::<A>(ctx) else { return };
        // SAFETY: NDIS passes its NDIS_RECEIVE_THROTTLE_PARAMETERS (or null), valid for the call.
        let t = unsafe { throttle.cast::<NDIS_RECEIVE_THROTTLE_PARAMETERS>().as_mut() };
        let max = t.as_ref().map_or(NDIS_INDICATE_ALL_NBLS, |t| t.MaxNblsToIndicate);
        let more = a.data_path().dpc(message_id, &Sink(a), max);
        if let Some(t) = t {
            // MoreNblsPending is bit 0 of the ULONG; the rest is NDIS's (left as it is).
            t.Flags = (t.Flags & !RECEIVE_THROTTLE_MORE_NBLS_PENDING) | if more { RECEIVE_THROTTLE_MORE_NBLS_PENDING } else { 0 };
        }
    }

    /// MiniportDisableMessageInterrupt (DIRQL): holds the vector.
    pub unsafe fn disable_message<A: Miniport>(ctx: NDIS_HANDLE, message_id: u32) {
        let Some(a) = adapter::<A>(ctx) else { return };
        if let (Some(nic), Ok(v)) = (a.data_path().nic(), u8::try_from(message_id)) {
            crate::hw::NicHw::set_vector(nic, v, false);
        }
    }

    /// MiniportEnableMessageInterrupt (DIRQL): lets the vector fire again.
    pub unsafe fn enable_message<A: Miniport>(ctx: NDIS_HANDLE, message_id: u32) {
        let Some(a) = adapter::<A>(ctx) else { return };
        if let (Some(nic), Ok(v)) = (a.data_path().nic(), u8::try_from(message_id)) {
            crate::hw::NicHw::set_vector(nic, v, true);
        }
    }

    /// MiniportProcessSGList (DISPATCH_LEVEL, before or after NdisMAllocateNetBufferSGList
    /// returns): the Context is the send context's tag, which names the adapter; the frame
    /// goes to the TX ring (`send.rs`).
    pub unsafe fn process_sg_list<A: Miniport>(_device: *mut c_void, _reserved: *mut c_void, sgl: *mut SCATTER_GATHER_LIST, context: *mut c_void) {
        // SAFETY: NDIS passes back the Context given to NdisMAllocateNetBufferSGList: a tag of
        // a bound send queue inside a live adapter of type `A`.
        let Some((owner, index)) = (unsafe { SendQueue::tag_target(context) }) else { return };
        let Some(a) = adapter::<A>(owner.cast_mut()) else { return };
        // SAFETY: the list NDIS built for this context's mapping.
        if unsafe { a.sends().process_sg(a.miniport_handle(), index, sgl, a.data_path()) } {
            side_paused(a);
        }
    }
}

/// `NDIS_RECEIVE_THROTTLE_PARAMETERS.MoreNblsPending`: bit 0 of the ULONG after
/// `MaxNblsToIndicate` (the bit field's place in the WDK layout, `common/tests/layouts.rs`).
pub const RECEIVE_THROTTLE_MORE_NBLS_PENDING: u32 = 1;

/// What the drivers pass NdisMRegisterInterruptEx ("NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS
/// structure"): message-signalled only (the reference NIC has no INTx), the four message
/// handlers over adapter type `A`; NDIS fills `InterruptType` and `MessageInfoTable`.
pub fn interrupt_characteristics<A: Miniport>() -> NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
    NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT,
            NDIS_MINIPORT_INTERRUPT_REVISION_1,
            NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1,
        ),
        MsiSupported: TRUE,
        MsiSyncWithAllMessages: FALSE,
        MessageInterruptHandler: Some(message_isr::<A>),
        MessageInterruptDpcHandler: Some(message_dpc::<A>),
        DisableMessageInterruptHandler: Some(disable_message::<A>),
        EnableMessageInterruptHandler: Some(enable_message::<A>),
        ..Default::default()
    }
}

/// What the drivers pass NdisMRegisterScatterGatherDma ("NDIS_SG_DMA_DESCRIPTION structure"):
/// a 64-bit bus master; NDIS fills `ScatterGatherListSize`.
pub fn sg_dma_description<A: Miniport>() -> NDIS_SG_DMA_DESCRIPTION {
    NDIS_SG_DMA_DESCRIPTION {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION,
            NDIS_SG_DMA_DESCRIPTION_REVISION_1,
            NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1,
        ),
        Flags: NDIS_SG_DMA_64_BIT_ADDRESS,
        MaximumPhysicalMapping: crate::hw::resources::MAX_PHYSICAL_MAPPING,
        ProcessSGListHandler: Some(process_sg_list::<A>),
        SharedMemAllocateCompleteHandler: None,
        ScatterGatherListSize: 0,
    }
}

/// MiniportInitializeEx's hardware part for adapter type `A`: every resource of
/// [`DataPath::bring_up`], with this module's interrupt and DMA characteristics.
///
/// # Safety
/// As [`DataPath::bring_up`]; `ctx` is the `A` whose `data_path` is `dp`.
pub unsafe fn bring_up<A: Miniport>(
    dp: &mut DataPath,
    handle: NDIS_HANDLE,
    resources: *const CM_PARTIAL_RESOURCE_LIST,
    kind: crate::hw::FunctionKind,
    ctx: *mut A,
) -> Result<(), NDIS_STATUS> {
    let mut interrupt = interrupt_characteristics::<A>();
    let mut sg = sg_dma_description::<A>();
    // SAFETY: forwarded caller contract.
    unsafe { dp.bring_up(handle, resources, kind, ctx.cast(), &mut interrupt, &mut sg) }
}

/// The adapter's traffic counters for OID_GEN_STATISTICS, OID_GEN_XMIT_OK and OID_GEN_RCV_OK:
/// the hardware's (docs/reference-nic.md section 4, through the data path, which keeps the last
/// values read once the device is gone) plus the frames the driver itself dropped: receives it
/// did not indicate (paused, invalid) in ifInDiscards, sends it completed without giving them
/// to the hardware (paused, removed, cancelled, not mappable) in ifOutDiscards.
pub fn traffic_counters<A: Miniport>(a: &A) -> crate::hw::Counters {
    let mut c = a.data_path().counters();
    let rx = a.receives().counters();
    let tx = a.sends().counters();
    c.rx_discards = c.rx_discards.saturating_add(rx.dropped());
    c.tx_discards = c.tx_discards.saturating_add(tx.dropped);
    c
}

/// One side (send or receive) finished a pending pause: the last party completes it.
pub fn side_paused<A: Miniport>(a: &A) {
    if a.data_path().pause_join_done() {
        finish_pause(a);
    }
}

/// A pending pause is complete: the adapter is Paused, then NDIS is told
/// (NdisMPauseComplete, `<= DISPATCH_LEVEL`), in that order, since NDIS may restart the
/// adapter as soon as it knows.
pub fn finish_pause<A: Miniport>(a: &A) {
    a.pause_done();
    // SAFETY: our adapter handle; MiniportPause returned NDIS_STATUS_PENDING and this is the
    // one completion (the receive queue hands out `true` once per pending pause).
    unsafe { crate::ffi::imports::NdisMPauseComplete(a.miniport_handle()) };
}

/// What the receive DPC does with the frames the device wrote into posted buffers: indicated
/// as [`RecvQueue::indicate`] says, the buffers going back to the RX ring through the data
/// path. `<= DISPATCH_LEVEL` (DISPATCH_LEVEL from a DPC).
pub fn receive<A: Miniport>(a: &A, frames: &[RxFrame]) {
    // SAFETY: the adapter's own handle, which its queue was allocated with.
    if unsafe {
        a.receives()
            .indicate(a.miniport_handle(), frames, a.data_path())
    } {
        side_paused(a);
    }
}

/// A step of [`bring_up_with_receive`] that failed ("hardware" or "receive resources"), with
/// its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BringUpFailed {
    pub step: &'static str,
    pub status: NDIS_STATUS,
}

impl BringUpFailed {
    /// The debugger line under the driver's `prefix`; the status initialize fails with.
    pub fn logged(self, prefix: &str) -> NDIS_STATUS {
        crate::ndis_log!(
            ERROR,
            prefix,
            "initialize: {} failed, status {:#010x}",
            self.step,
            self.status
        );
        self.status
    }
}

/// MiniportInitializeEx's data path for adapter type `A`: the hardware ([`bring_up`]), then the
/// receive queue over the RX buffers in its shared memory, every buffer posted to the RX ring.
/// On failure everything is released, and the error names the step that failed with its
/// status. PASSIVE_LEVEL.
///
/// # Safety
/// As [`bring_up`]; `rx` and `tx` are `ctx`'s receive and send queues; undo with
/// [`tear_down`].
pub unsafe fn bring_up_with_receive<A: Miniport>(
    dp: &mut DataPath,
    (rx, tx): (&RecvQueue, &SendQueue),
    handle: NDIS_HANDLE,
    resources: *const CM_PARTIAL_RESOURCE_LIST,
    kind: crate::hw::FunctionKind,
    ctx: *mut A,
    tag: u32,
) -> Result<(), BringUpFailed> {
    tx.bind(ctx.cast_const().cast());
    // SAFETY: forwarded caller contract.
    unsafe { bring_up(dp, handle, resources, kind, ctx) }.map_err(|status| BringUpFailed {
        step: "hardware",
        status,
    })?;
    let buffers = dp.rx_buffers();
    // SAFETY: the adapter being initialized; the buffers are the data path's shared memory,
    // freed only by `tear_down` after the queue's MDLs.
    if let Err(status) = unsafe { rx.setup(handle, &buffers, dp, tag) } {
        dp.release();
        return Err(BringUpFailed {
            step: "receive resources",
            status,
        });
    }
    Ok(())
}

/// MiniportHaltEx's data path: the device stopped and its interrupt gone, the receive queue's
/// NBLs, MDLs and pool freed, then the hardware resources (the shared memory the MDLs
/// described among them). PASSIVE_LEVEL.
///
/// # Safety
/// Halt: NDIS holds none of the queue's NBLs and calls nothing else on the adapter.
pub unsafe fn tear_down(dp: &mut DataPath, rx: &RecvQueue) {
    dp.stop();
    // SAFETY: caller contract; no DPC runs after `stop`.
    unsafe { rx.free() };
    dp.release();
}

/// The full handler table DriverEntry registers for adapter type `A`. No direct OID handler:
/// none of the OIDs these drivers handle travels the direct path.
pub fn characteristics<A: Miniport>() -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        SetOptionsHandler: Some(set_options),
        InitializeHandlerEx: Some(initialize_ex::<A>),
        HaltHandlerEx: Some(halt_ex::<A>),
        UnloadHandler: Some(unload),
        PauseHandler: Some(pause::<A>),
        RestartHandler: Some(restart::<A>),
        OidRequestHandler: Some(oid_request::<A>),
        SendNetBufferListsHandler: Some(send_net_buffer_lists::<A>),
        ReturnNetBufferListsHandler: Some(return_net_buffer_lists::<A>),
        CancelSendHandler: Some(cancel_send::<A>),
        CheckForHangHandlerEx: Some(check_for_hang),
        ResetHandlerEx: Some(reset_ex::<A>),
        DevicePnPEventNotifyHandler: Some(device_pnp_event_notify::<A>),
        ShutdownHandlerEx: Some(shutdown_ex::<A>),
        CancelOidRequestHandler: Some(cancel_oid_request),
        ..Default::default()
    }
}

/// The skeleton every miniport driver here shares, instantiated once in each driver's
/// `lib.rs`: `DriverEntry` (exported under that name only in the Windows image, so that both
/// drivers can link into one test process), registration of the shared handler table over
/// the driver's [`Miniport`] adapter, and, in the image, the kernel runtime (panic handler
/// that bugchecks with the driver's code, global allocator with its pool tag).
#[macro_export]
macro_rules! miniport_driver {
    (
        adapter = $adapter:ty,
        ndis_driver_version = ($major:expr, $minor:expr),
        bugcheck_code = $code:expr,
        pool_tag = $tag:expr $(,)?
    ) => {
        /// The handler table DriverEntry registers.
        pub fn characteristics() -> $crate::ffi::NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
            $crate::handlers::characteristics::<$adapter>()
        }

        $crate::ndis_fn! {
            /// DriverEntry: registers the miniport with NDIS.
            ///
            /// # Safety
            /// Called once by the I/O manager (or the simulator) with a valid driver object.
            #[cfg_attr(kernel_image, unsafe(export_name = "DriverEntry"))]
            pub unsafe fn driver_entry(
                driver_object: $crate::ffi::PDRIVER_OBJECT,
                registry_path: $crate::ffi::PUNICODE_STRING,
            ) -> $crate::ffi::NTSTATUS {
                // SAFETY: forwarded from the I/O manager.
                unsafe {
                    $crate::miniport::register_driver(
                        driver_object,
                        registry_path,
                        characteristics(),
                        ($major, $minor),
                    )
                }
            }
        }

        #[cfg(kernel_image)]
        $crate::kernel_runtime!(bugcheck_code = $code, pool_tag = $tag);
    };
}
