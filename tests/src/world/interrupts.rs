//! Delivering the device model's MSI-X messages to the miniports, as NDIS does for a
//! message-based interrupt ("NdisMRegisterInterruptEx function", "MINIPORT_MESSAGE_INTERRUPT
//! callback function", "MINIPORT_MESSAGE_INTERRUPT_DPC callback function"): the message's
//! MiniportMessageInterrupt at its DIRQL with the interrupt context the driver registered and
//! the message id (the index into `MessageInfoTable`, which is the MSI-X table entry); if that
//! sets `QueueDefaultInterruptDpc`, MiniportMessageInterruptDpc at DISPATCH_LEVEL. Calls the
//! ISR makes are checked against their IRQL rules by the usual export checks (`irql`): at
//! DIRQL, nothing capped at DISPATCH_LEVEL is allowed.
use super::Machine;
use super::resources::DIRQL;
use crate::device::Func;
use crate::irql;
use common::ffi::*;

/// One signalled message, resolved to its registration.
struct Target {
    /// The adapter's key in the hardware ledger.
    key: usize,
    name: String,
    ctx: usize,
    isr: Option<MINIPORT_MESSAGE_INTERRUPT>,
    dpc: Option<MINIPORT_MESSAGE_INTERRUPT_DPC>,
    messages: u8,
}

impl Machine {
    /// One device step: the model polls its registers, then each vector it signalled reaches
    /// its miniport. Returns whether any message was delivered.
    pub fn service_device(&self) -> bool {
        let deferred = self.deliver_deferred_sg();
        let signals = {
            let mut hw = self.hw();
            hw.nic.poll();
            std::mem::take(&mut hw.nic.signals)
        };
        for &(func, v) in &signals {
            // Sent while enabled, but the driver held the vector since (an earlier message's
            // ISR, MiniportResetEx): pending, sent again once the vector is enabled.
            let held = self
                .hw()
                .nic
                .function(func)
                .is_some_and(|f| f.hold_if_masked(v));
            if !held {
                self.deliver_message(func, v);
            }
        }
        deferred || !signals.is_empty()
    }

    fn target(&self, func: Func) -> Option<Target> {
        let hw = self.hw();
        hw.adapters.iter().find_map(|(&key, e)| {
            let i = e.interrupt.as_ref().filter(|_| e.func == func)?;
            Some(Target {
                key,
                name: e.name.clone(),
                ctx: i.ctx,
                isr: i.chars.MessageInterruptHandler,
                dpc: i.chars.MessageInterruptDpcHandler,
                messages: e.messages,
            })
        })
    }

    fn count(&self, func: Func, isr: bool) {
        let mut hw = self.hw();
        if let Some(e) = hw
            .adapters
            .values_mut()
            .find(|e| e.func == func && e.interrupt.is_some())
        {
            if isr {
                e.isrs += 1;
            } else {
                e.dpcs += 1;
            }
        }
    }

    fn deliver_message(&self, func: Func, v: u8) {
        self.message(func, v, true);
    }

    /// MiniportMessageInterrupt for message `v` of `adapter` without the device having sent it
    /// (a spurious or stray message, which the OS may deliver): the ISR must disown it. Returns
    /// what the ISR returned (`None`: no interrupt registered).
    pub fn spurious_message(&self, adapter: &super::SimAdapter, v: u8) -> Option<bool> {
        let func = self.func_of(adapter)?;
        self.message(func, v, false)
    }

    /// Sets `MaxNblsToIndicate` for every DPC from now on (`NDIS_INDICATE_ALL_NBLS`: no limit).
    pub fn set_receive_throttle(&self, max_nbls: u32) {
        self.hw().throttle = max_nbls;
    }

    /// DPCs run again because MoreNblsPending was set, for `adapter`.
    pub fn dpc_reruns(&self, adapter: &super::SimAdapter) -> u64 {
        self.with_hw(adapter, |e, _| e.dpc_reruns).unwrap_or(0)
    }

    fn nbls_indicated(&self, key: usize) -> u64 {
        self.hw().adapters.get(&key).map_or(0, |e| e.nbls_indicated)
    }

    fn message(&self, func: Func, v: u8, from_device: bool) -> Option<bool> {
        let Some(t) = self.target(func) else {
            if from_device {
                // The device signals only vectors the driver enabled (VEC_EN): with no interrupt
                // connected, the driver enabled one it could not service.
                self.violation(format!(
                    "{func:?}: MSI-X vector {v} signalled with no interrupt registered (enabled before NdisMRegisterInterruptEx or after NdisMDeregisterInterruptEx)"
                ));
            }
            return None;
        };
        // The device has more MSI-X vectors than the PnP manager may grant (a function given
        // fewer messages, `world::pnp`): a cause routed (IVAR) to a vector past the granted
        // messages has no IO_INTERRUPT_MESSAGE_INFO entry, and no ISR may be called for it
        // ("NdisMRegisterInterruptEx function": MessageInfoTable describes the connected
        // messages; the driver takes their count from it). The driver's bug.
        if v >= t.messages {
            self.violation(format!(
                "{}: MSI-X vector {v} signalled beyond the {} message(s) its function was granted (routed past MessageInfoTable.MessageCount)",
                t.name, t.messages
            ));
            return None;
        }
        let isr = t.isr?;
        self.count(func, true);
        let ctx = t.ctx as NDIS_HANDLE;
        let (mut queue_dpc, mut targets) = (FALSE, 0u32);
        // SAFETY: the handler and context the driver registered for this interrupt.
        let (claimed, viol) = irql::call_at(DIRQL, "MiniportMessageInterrupt", || unsafe {
            isr(ctx, u32::from(v), &mut queue_dpc, &mut targets)
        });
        if let Some(m) = viol {
            self.violation(format!("{}: {m}", t.name));
        }
        // "MINIPORT_MESSAGE_INTERRUPT callback function": TRUE if the NIC generated the
        // interrupt, otherwise FALSE. The model knows which it was.
        let claimed = claimed != FALSE;
        if from_device && !claimed {
            self.violation(format!(
                "{}: the ISR disowned message {v}, which the NIC sent",
                t.name
            ));
        }
        if !from_device && claimed {
            self.violation(format!(
                "{}: the ISR claimed message {v}, which the NIC did not send",
                t.name
            ));
        }
        if queue_dpc == FALSE {
            return Some(claimed);
        }
        // The page leaves a DPC for an interrupt the ISR disowns to NDIS; asking for one is
        // work for an interrupt that is not the NIC's (the harsher reading: reported).
        if !claimed {
            self.violation(format!(
                "{}: the ISR disowned message {v} but asked for its DPC",
                t.name
            ));
        }
        // docs/reference-nic.md section 6, the driver's pattern: the ISR holds the vector
        // (VEC_EN[v] = 0) and only its DPC lets it fire again, so the DPC never races a second
        // ISR of the same message.
        let held = self
            .hw()
            .nic
            .function(func)
            .is_none_or(|f| f.bar.r32(common::hw::regs::VEC_EN + 4 * u32::from(v)) == 0);
        if !held {
            self.violation(format!(
                "{}: the ISR of message {v} asked for its DPC with the vector still enabled",
                t.name
            ));
        }
        let dpc = t.dpc?;
        self.run_dpc(&t, func, v, dpc);
        Some(claimed)
    }

    /// MiniportMessageInterruptDpc, again as long as it sets MoreNblsPending ("Receive Side
    /// Throttle": NDIS calls the DPC again; "MINIPORT_MESSAGE_INTERRUPT_DPC callback function":
    /// at most MaxNblsToIndicate NBLs per call).
    fn run_dpc(&self, t: &Target, func: Func, v: u8, dpc: MINIPORT_MESSAGE_INTERRUPT_DPC) {
        const MORE_NBLS_PENDING: u32 = 1;
        /// More re-runs than any ring holds buffers: the DPC never stops asking.
        const MAX_RUNS: u32 = 1_000;
        let ctx = t.ctx as NDIS_HANDLE;
        let limit = self.hw().throttle;
        // Whether NDIS clears MoreNblsPending before each call the pages do not say: the
        // harsher reading hands it in set, so the DPC must write it either way.
        let mut throttle = NDIS_RECEIVE_THROTTLE_PARAMETERS {
            MaxNblsToIndicate: limit,
            Flags: MORE_NBLS_PENDING,
        };
        for run in 0..MAX_RUNS {
            self.count(func, false);
            if run > 0 {
                {
                    let mut hw = self.hw();
                    if let Some(e) = hw.adapters.get_mut(&t.key) {
                        e.dpc_reruns += 1;
                    }
                }
                self.dpc_rerun(run);
            }
            let before = self.nbls_indicated(t.key);
            throttle.MaxNblsToIndicate = limit;
            // SAFETY: the handler and context the driver registered; the throttle parameters
            // live across the call.
            let ((), viol) =
                irql::call_at(DISPATCH_LEVEL, "MiniportMessageInterruptDpc", || unsafe {
                    dpc(
                        ctx,
                        u32::from(v),
                        std::ptr::null_mut(),
                        (&mut throttle as *mut NDIS_RECEIVE_THROTTLE_PARAMETERS).cast(),
                        std::ptr::null_mut(),
                    )
                });
            if let Some(m) = viol {
                self.violation(format!("{}: {m}", t.name));
            }
            let n = self.nbls_indicated(t.key).saturating_sub(before);
            if limit != NDIS_INDICATE_ALL_NBLS && n > u64::from(limit) {
                self.violation(format!(
                    "{}: the DPC indicated {n} NBLs, over MaxNblsToIndicate {limit}",
                    t.name
                ));
            }
            if throttle.Flags & MORE_NBLS_PENDING == 0 {
                return;
            }
        }
        self.violation(format!(
            "{}: the DPC of message {v} set MoreNblsPending {MAX_RUNS} times running",
            t.name
        ));
    }
}
