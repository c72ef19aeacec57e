//! Calling a driver: each Miniport handler NDIS calls (OID requests, initialize, restart,
//! pause, reset, halt) run at the IRQL NDIS calls it at (`irql::call_at`), its Verifier-style
//! violations kept and its outcome recorded on the timeline.
use super::{Machine, PauseState, Role, SimAdapter, SimDriver, lock, vstack};
use crate::irql;
use crate::timeline::Event;
use common::ffi::*;
use common::oid::RequestKind;
use std::ffi::c_void;
use std::sync::atomic::Ordering;

/// Outcome of one OID request the simulator issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidOutcome {
    pub status: NDIS_STATUS,
    pub bytes_written: u32,
    pub bytes_read: u32,
    pub bytes_needed: u32,
}

impl Machine {
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
    /// Returns the final status: a PENDING request's is the one NdisMOidRequestComplete gives.
    /// OID requests to one adapter are serialized as NDIS serializes them ([`OidGate`](super::ndis_objects::OidGate)):
    /// this waits for the adapter's OID in progress on another thread to complete first.
    pub fn call_oid_raw(&self, adapter: &SimAdapter, req: &mut NDIS_OID_REQUEST) -> NDIS_STATUS {
        let nested = adapter.oid_gate.enter();
        let status = self.call_oid_serialized(adapter, req);
        adapter.oid_gate.leave(nested);
        status
    }

    fn call_oid_serialized(&self, adapter: &SimAdapter, req: &mut NDIS_OID_REQUEST) -> NDIS_STATUS {
        let Some(handler) = adapter.chars().OidRequestHandler else {
            return NDIS_STATUS_NOT_SUPPORTED;
        };
        let ctx = adapter.ctx();
        let key = req as *mut NDIS_OID_REQUEST as usize;
        let to_pf = adapter.role == Role::Pf;
        if to_pf {
            self.pf_oid_begins();
        }
        self.oid_in_flight(adapter, key);
        let calling = crate::exports::Calling::new(self);
        // SAFETY: calls the driver's registered handler with its own context and a valid request.
        let (status, v) = irql::call_at(PASSIVE_LEVEL, "MiniportOidRequest", || unsafe {
            handler(ctx, req)
        });
        drop(calling);
        if let Some(v) = v {
            self.violation(v);
        }
        if to_pf {
            if status == NDIS_STATUS_SUCCESS {
                match oid_of(req) {
                    OID_NIC_SWITCH_ALLOCATE_VF => {
                        if let Some(vf) = allocated_vf(req) {
                            self.vf_allocated(vf);
                        }
                    }
                    OID_NIC_SWITCH_FREE_VF => {
                        if let Some(vf) = freed_vf(req) {
                            self.forget_history(vf);
                        }
                    }
                    OID_NIC_SWITCH_DELETE_SWITCH => self.forget_all_history(),
                    _ => {}
                }
            }
            self.pf_oid_ends();
        }
        // PENDING waits for NdisMOidRequestComplete; the surprise-removal rule (pending.rs).
        self.oid_returned(adapter, key, status)
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
                    vstack::post_first_ioctl(&mut st, vf_id);
                }
            }
        }
        let chars = adapter.chars();
        let Some(init) = chars.InitializeHandlerEx else {
            return Err(NDIS_STATUS_BAD_CHARACTERISTICS);
        };
        // "NDIS_MINIPORT_INIT_PARAMETERS structure": AllocatedResources, the hardware
        // resources the PnP manager assigned (`resources.rs`).
        let mut params = NDIS_MINIPORT_INIT_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS, 1, 0x40),
            AllocatedResources: self.assign_resources(adapter),
            ..Default::default()
        };
        // SAFETY: the driver's registered InitializeHandlerEx with our handle.
        let (status, v) = irql::call_at(PASSIVE_LEVEL, "MiniportInitializeEx", || unsafe {
            init(adapter.handle(), std::ptr::null_mut(), &mut params)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        // "MINIPORT_INITIALIZE callback function": MiniportInitializeEx returns one of
        // NDIS_STATUS_SUCCESS, NDIS_STATUS_NOT_ACCEPTED, NDIS_STATUS_RESOURCES or
        // NDIS_STATUS_FAILURE (the page's list; any other value is outside it).
        if ![
            NDIS_STATUS_SUCCESS,
            NDIS_STATUS_NOT_ACCEPTED,
            NDIS_STATUS_RESOURCES,
            NDIS_STATUS_FAILURE,
        ]
        .contains(&status)
        {
            self.violation(format!(
                "{}: MiniportInitializeEx returned {}, not one of the statuses its page lists",
                adapter.name,
                crate::timeline::status_text(status)
            ));
        }
        self.initialize_returned(adapter, status == NDIS_STATUS_SUCCESS);
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: format!(
                "MiniportInitializeEx -> {}",
                crate::timeline::status_text(status)
            ),
        });
        if status != NDIS_STATUS_SUCCESS {
            // A failed initialization ends the adapter: "NDIS can call MiniportHaltEx at any
            // time after the driver's MiniportInitializeEx function has successfully returned"
            // (MINIPORT_HALT callback function), so never for this one, and it holds nothing
            // that would keep its driver from deregistering.
            adapter.halted.store(true, Ordering::Release);
            adapter
                .context
                .store(std::ptr::null_mut(), Ordering::Release);
            self.check_pool_objects_freed(adapter, "a failed MiniportInitializeEx");
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
        *lock(&adapter.recv.pause) = PauseState::InCall;
        // SAFETY: registered handler, own context.
        let (s, v) = irql::call_at(PASSIVE_LEVEL, "MiniportPause", || unsafe { h(ctx, &mut p) });
        if let Some(v) = v {
            self.violation(v);
        }
        // "Pausing an Adapter": the pause is complete only once every outstanding send is and
        // every received NBL is back: now (SUCCESS), or at NdisMPauseComplete (PENDING).
        let state = std::mem::take(&mut *lock(&adapter.recv.pause));
        match (s, state) {
            (NDIS_STATUS_SUCCESS, PauseState::InCall) => self.check_pause_completed(adapter),
            (NDIS_STATUS_PENDING, PauseState::InCall) => {
                *lock(&adapter.recv.pause) = PauseState::Pending;
            }
            (NDIS_STATUS_PENDING, PauseState::CompletedInCall) => {}
            (status, state) => self.violation(format!(
                "{}: MiniportPause returned {} with the pause {state:?}",
                adapter.name,
                crate::timeline::status_text(status)
            )),
        }
        adapter.running.store(false, Ordering::Release);
        self.record(Event::Lifecycle {
            who: adapter.name.clone(),
            what: format!("MiniportPause -> {}", crate::timeline::status_text(s)),
        });
        s
    }

    /// MiniportSendNetBufferLists with `nbls` linked into one chain (the caller keeps them
    /// alive), at DISPATCH_LEVEL with NDIS_SEND_FLAGS_DISPATCH_LEVEL when `at_dispatch`, at
    /// PASSIVE_LEVEL without it otherwise ("MINIPORT_SEND_NET_BUFFER_LISTS":
    /// `<= DISPATCH_LEVEL`). Each NBL is entered in the adapter's send ledger first.
    pub fn send(
        &self,
        adapter: &SimAdapter,
        nbls: &mut [crate::frames::TestNbl],
        at_dispatch: bool,
    ) {
        let head = crate::frames::chain(nbls);
        let Some(h) = adapter.chars().SendNetBufferListsHandler else {
            self.violation(format!("{}: no MiniportSendNetBufferLists", adapter.name));
            return;
        };
        let mut nbl = head;
        while !nbl.is_null() {
            self.check_completed_untouched(adapter, Some(nbl as usize));
            lock(&adapter.sends_out).insert(nbl as usize);
            // SAFETY: the test's NBLs, alive across the call.
            nbl = unsafe { (*nbl).Next };
        }
        let (irql, flags) = if at_dispatch {
            (DISPATCH_LEVEL, NDIS_SEND_FLAGS_DISPATCH_LEVEL)
        } else {
            (PASSIVE_LEVEL, 0)
        };
        let ctx = adapter.ctx();
        // SAFETY: registered handler, own context, a valid chain.
        let ((), v) = irql::call_at(irql, "MiniportSendNetBufferLists", || unsafe {
            h(ctx, head, NDIS_DEFAULT_PORT_NUMBER, flags)
        });
        if let Some(v) = v {
            self.violation(v);
        }
    }

    /// MiniportCancelSend (`<= DISPATCH_LEVEL`; called here at DISPATCH_LEVEL, the harsher).
    pub fn cancel_send(&self, adapter: &SimAdapter, cancel_id: usize) {
        let Some(h) = adapter.chars().CancelSendHandler else {
            self.violation(format!("{}: no MiniportCancelSend", adapter.name));
            return;
        };
        let ctx = adapter.ctx();
        // SAFETY: registered handler, own context.
        let ((), v) = irql::call_at(DISPATCH_LEVEL, "MiniportCancelSend", || unsafe {
            h(ctx, cancel_id as *mut c_void)
        });
        if let Some(v) = v {
            self.violation(v);
        }
    }

    /// MiniportResetEx, which NDIS may call at DISPATCH_LEVEL.
    pub fn reset(&self, adapter: &SimAdapter) -> NDIS_STATUS {
        let Some(h) = adapter.chars().ResetHandlerEx else {
            return NDIS_STATUS_NOT_SUPPORTED;
        };
        let mut addressing: BOOLEAN = TRUE;
        let ctx = adapter.ctx();
        self.reset_acquire(adapter);
        let queued = self.queued_items();
        // SAFETY: registered handler, own context.
        let (s, v) = irql::call_at(DISPATCH_LEVEL, "MiniportResetEx", || unsafe {
            h(ctx, &mut addressing)
        });
        if let Some(v) = v {
            self.violation(v);
        }
        let mine = self
            .queued_items()
            .into_iter()
            .rfind(|i| !queued.contains(i));
        let s = self.reset_completes(adapter, s, mine);
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
        if adapter.recv.pause_state() == PauseState::Pending {
            // The stack above is paused first and returns what it holds; NDIS then waits for
            // the sends still in flight (the device runs, the DPC completes them).
            self.return_all_received(adapter);
            if adapter.recv.pause_state() != PauseState::None {
                self.run_device();
            }
            if adapter.recv.pause_state() != PauseState::None {
                self.violation(format!(
                    "{}: MiniportPause never completed after every NBL came back",
                    adapter.name
                ));
                *lock(&adapter.recv.pause) = PauseState::None;
            }
        }
        if let Some(h) = adapter.chars().HaltHandlerEx {
            let ctx = adapter.ctx();
            let calling = crate::exports::Calling::new(self);
            // SAFETY: registered handler, own context; nothing else runs on it afterwards.
            let ((), v) = irql::call_at(PASSIVE_LEVEL, "MiniportHaltEx", || unsafe {
                h(ctx, action)
            });
            drop(calling);
            if let Some(v) = v {
                self.violation(v);
            }
            self.check_pool_objects_freed(adapter, "MiniportHaltEx");
        }
        self.check_released(adapter, "MiniportHaltEx");
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

fn oid_of(req: &NDIS_OID_REQUEST) -> NDIS_OID {
    // SAFETY: every arm of the DATA union starts with the OID.
    unsafe { req.DATA.QUERY_INFORMATION.Oid }
}

/// The VFId an OID_NIC_SWITCH_FREE_VF (set) named.
fn freed_vf(req: &NDIS_OID_REQUEST) -> Option<u16> {
    // SAFETY: a set request's arm, read only for a set request.
    let s = unsafe { req.DATA.SET_INFORMATION };
    let size = std::mem::size_of::<NDIS_NIC_SWITCH_FREE_VF_PARAMETERS>();
    if req.RequestType != NdisRequestSetInformation
        || s.InformationBuffer.is_null()
        || (s.InformationBufferLength as usize) < size
    {
        return None;
    }
    // SAFETY: the caller's buffer holds at least one NDIS_NIC_SWITCH_FREE_VF_PARAMETERS.
    let p = unsafe {
        std::ptr::read_unaligned(s.InformationBuffer as *const NDIS_NIC_SWITCH_FREE_VF_PARAMETERS)
    };
    Some(p.VFId)
}

/// The VFId a successful OID_NIC_SWITCH_ALLOCATE_VF returned in its parameters.
fn allocated_vf(req: &NDIS_OID_REQUEST) -> Option<u16> {
    if req.RequestType != NdisRequestMethod {
        return None;
    }
    // SAFETY: a method request: the METHOD_INFORMATION arm is the one in use.
    let m = unsafe { req.DATA.METHOD_INFORMATION };
    let size = std::mem::size_of::<NDIS_NIC_SWITCH_VF_PARAMETERS>();
    if m.Oid != OID_NIC_SWITCH_ALLOCATE_VF
        || m.InformationBuffer.is_null()
        || (m.OutputBufferLength as usize) < size
    {
        return None;
    }
    // SAFETY: the caller's buffer holds at least one NDIS_NIC_SWITCH_VF_PARAMETERS.
    let p = unsafe {
        std::ptr::read_unaligned(m.InformationBuffer as *const NDIS_NIC_SWITCH_VF_PARAMETERS)
    };
    Some(p.VFId)
}
