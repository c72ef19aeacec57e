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
            self.deliver_message(func, v);
        }
        deferred || !signals.is_empty()
    }

    fn target(&self, func: Func) -> Option<Target> {
        let hw = self.hw();
        hw.adapters.values().find_map(|e| {
            let i = e.interrupt.as_ref().filter(|_| e.func == func)?;
            Some(Target {
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
        let Some(t) = self.target(func) else {
            // The device signals only vectors the driver enabled (VEC_EN): with no interrupt
            // connected, the driver enabled one it could not service.
            self.violation(format!(
                "{func:?}: MSI-X vector {v} signalled with no interrupt registered (enabled before NdisMRegisterInterruptEx or after NdisMDeregisterInterruptEx)"
            ));
            return;
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
            return;
        }
        let Some(isr) = t.isr else { return };
        self.count(func, true);
        let ctx = t.ctx as NDIS_HANDLE;
        let (mut queue_dpc, mut targets) = (FALSE, 0u32);
        // SAFETY: the handler and context the driver registered for this interrupt.
        let (_claimed, viol) = irql::call_at(DIRQL, "MiniportMessageInterrupt", || unsafe {
            isr(ctx, u32::from(v), &mut queue_dpc, &mut targets)
        });
        if let Some(m) = viol {
            self.violation(format!("{}: {m}", t.name));
        }
        if queue_dpc == FALSE {
            return;
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
        let Some(dpc) = t.dpc else { return };
        self.count(func, false);
        let mut throttle = NDIS_RECEIVE_THROTTLE_PARAMETERS {
            MaxNblsToIndicate: NDIS_INDICATE_ALL_NBLS,
            Flags: 0,
        };
        // SAFETY: as above; the throttle parameters live across the call.
        let ((), viol) = irql::call_at(DISPATCH_LEVEL, "MiniportMessageInterruptDpc", || unsafe {
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
    }
}
