//! Traffic through the device model (issue 11, "A real data path"): frames enter at the wire
//! port or a function's TX ring and leave at the wire or a function's RX ring, moved by the
//! model's embedded switch (docs/reference-nic.md section 7), and each step's MSI-X messages
//! reach the miniports (`interrupts.rs`), so the receive DPC indicates them.
//!
//! [`Machine::program_switch`] is the one place that programs the switch tables the way the
//! PF driver will once its OIDs do (another branch): it writes the PF BAR 0 registers the
//! specification defines (VPort and filter entries, `VF_CTRL.ENABLE`, `SW_COMMIT`,
//! `SW_CTRL.ENABLE`). Replace its callers' use of it when the PF programs the tables itself.
use super::Machine;
use crate::device::Func;
use common::hw::regs::*;

/// How the switch is programmed: the PF's MAC on the default VPort (0), and each VF's MAC on
/// VPort `vf + 1`, attached to that VF (queue 0), with optional port VLAN.
#[derive(Clone, Debug, Default)]
pub struct SwitchPlan {
    pub pf_mac: [u8; 6],
    /// The default VPort receives wire unicast that matches no filter.
    pub pf_promiscuous: bool,
    /// This VF's VPort receives wire unicast that matches no filter.
    pub promiscuous_vf: Option<u16>,
    /// (VF id, MAC, port VLAN id).
    pub vfs: Vec<(u16, [u8; 6], Option<u16>)>,
}

fn mac_words(mac: [u8; 6]) -> (u32, u32) {
    (
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        u32::from(u16::from_le_bytes([mac[4], mac[5]])),
    )
}

impl Machine {
    /// Programs the embedded switch as the PF would (section 10's bring-up step for the
    /// default VPort, one VPort and one MAC filter per VF), commits and waits for the
    /// device's acknowledgement (one poll step), then turns forwarding on.
    pub fn program_switch(&self, plan: &SwitchPlan) {
        let mut hw = self.hw();
        let nic = &mut hw.nic;
        let token = {
            let Some(pf) = nic.function(Func::Pf) else {
                return;
            };
            let bar = &pf.bar;
            let accept = VP_EN | VP_ACCEPT_BCAST | VP_ACCEPT_MCAST;
            let promisc = if plan.pf_promiscuous { VP_PROMISC } else { 0 };
            bar.w32(
                VPORT_TABLE + VP_CTRL,
                accept | promisc | (u32::from(VP_FUNCTION_PF) << VP_FUNCTION_SHIFT),
            );
            bar.w32(VPORT_TABLE + VP_VLAN, 0);
            let filter = |f: u32, mac: [u8; 6], vport: u16, vlan: Option<u16>| {
                let b = FILTER_TABLE + FILTER_STRIDE * f;
                let (lo, hi) = mac_words(mac);
                bar.w32(b + FLT_MAC_LO, lo);
                bar.w32(b + FLT_MAC_HI, hi);
                bar.w32(
                    b + FLT_VLAN,
                    vlan.map_or(0, |v| FLT_VLAN_MATCH | u32::from(v & 0xFFF)),
                );
                bar.w32(
                    b + FLT_CTRL,
                    FLT_VALID | (u32::from(vport) << FLT_VPORT_SHIFT),
                );
            };
            filter(0, plan.pf_mac, 0, None);
            for (i, &(vf, mac, vlan)) in plan.vfs.iter().enumerate() {
                let p = vf + 1;
                let vb = VPORT_TABLE + VPORT_STRIDE * u32::from(p);
                let promisc = if plan.promiscuous_vf == Some(vf) {
                    VP_PROMISC
                } else {
                    0
                };
                bar.w32(
                    vb + VP_CTRL,
                    accept | promisc | (u32::from(vf) << VP_FUNCTION_SHIFT),
                );
                bar.w32(
                    vb + VP_VLAN,
                    vlan.map_or(0, |v| VP_PORT_VLAN | u32::from(v & 0xFFF)),
                );
                filter(i as u32 + 1, mac, p, vlan);
                let vfb = VF_TABLE + VF_STRIDE * u32::from(vf);
                let (lo, hi) = mac_words(mac);
                bar.w32(vfb + VF_MAC_LO, lo);
                bar.w32(vfb + VF_MAC_HI, hi);
                let ctrl = bar.r32(vfb + VF_CTRL);
                bar.w32(vfb + VF_CTRL, ctrl | VF_CTRL_ENABLE);
            }
            let token = bar.r32(SW_COMMIT).wrapping_add(1);
            bar.w32(SW_COMMIT, token);
            token
        };
        nic.poll();
        if let Some(pf) = nic.function(Func::Pf) {
            assert_eq!(
                pf.bar.r32(SW_COMMIT_ACK),
                token,
                "the model took the commit"
            );
            pf.bar.w32(SW_CTRL, SW_ENABLE);
        }
    }

    /// The switch back in bypass (`SW_CTRL.ENABLE` 0, the state after reset): every wire
    /// frame goes to the PF's RX queue 0.
    pub fn bypass_switch(&self) {
        if let Some(pf) = self.hw().nic.function(Func::Pf) {
            pf.bar.w32(SW_CTRL, 0);
        }
    }

    /// RX buffers `adapter`'s queue 0 has posted to the device and not yet filled.
    pub fn rx_posted(&self, adapter: &super::SimAdapter) -> Option<u32> {
        let func = self.func_of(adapter)?;
        self.hw().nic.function(func)?.rx_posted(0)
    }

    /// A 32-bit register of `adapter`'s function window (section 4), e.g. `MAX_FRAME`.
    pub fn register(&self, adapter: &super::SimAdapter, reg: u32) -> u32 {
        let Some(func) = self.func_of(adapter) else {
            return 0;
        };
        self.hw().nic.function(func).map_or(0, |f| f.bar.r32(reg))
    }

    /// A 64-bit counter register of `adapter`'s function (section 4), e.g. `RX_DISCARDS`.
    pub fn counter(&self, adapter: &super::SimAdapter, reg: u32) -> u64 {
        let Some(func) = self.func_of(adapter) else {
            return 0;
        };
        self.hw().nic.function(func).map_or(0, |f| f.bar.r64(reg))
    }

    /// Frames arriving from the wire, one device step each; then the machine services the
    /// device until no message is left (each DPC indicates what its RX ring completed).
    pub fn from_wire(&self, frames: &[&[u8]]) {
        {
            let mut hw = self.hw();
            for f in frames {
                hw.nic.from_wire(f);
            }
        }
        self.run_device();
    }

    /// Services the device (poll, messages, ISRs and DPCs) until it signals nothing more
    /// (bounded: a device that keeps signalling is reported).
    pub fn run_device(&self) {
        for _ in 0..1_000 {
            if !self.service_device() {
                return;
            }
        }
        self.violation("the device kept signalling for 1000 steps".into());
    }

    /// Frames the wire carried away since the last call.
    pub fn take_wire(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.hw().nic.wire)
    }
}
