//! What the host and the guests do to the machine: the NIC switch, VF allocation, a guest
//! attaching and losing its VF, pause, restart, reset and halt, host-side changes, and
//! running the machine until it settles.
use super::World;
use crate::mac_text;
use crate::payloads;
use crate::timeline::{self, Event};
use crate::world::Role;
use common::ffi::*;
use common::oid::RequestKind;

impl World {
    /// OID_NIC_SWITCH_CREATE_SWITCH with `num_vfs`.
    pub fn create_switch(&self, num_vfs: u16) -> NDIS_STATUS {
        let mut p = payloads::nic_switch_parameters(num_vfs);
        let n = p.len() as u32;
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Method,
            OID_NIC_SWITCH_CREATE_SWITCH,
            &mut p,
            n,
            n,
        );
        self.machine.record(Event::Lifecycle {
            who: "PF".into(),
            what: format!(
                "OID_NIC_SWITCH_CREATE_SWITCH({num_vfs} VFs) -> {}",
                timeline::status_text(o.status)
            ),
        });
        o.status
    }

    /// OID_NIC_SWITCH_ALLOCATE_VF; returns the VFId the PF assigned.
    pub fn allocate_vf(&self) -> Result<u16, NDIS_STATUS> {
        let mut p = payloads::vf_parameters(None);
        let n = p.len() as u32;
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Method,
            OID_NIC_SWITCH_ALLOCATE_VF,
            &mut p,
            n,
            n,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(o.status);
        }
        let vf = payloads::read::<NDIS_NIC_SWITCH_VF_PARAMETERS>(&p).VFId;
        self.machine.record(Event::Lifecycle {
            who: "PF".into(),
            what: format!("OID_NIC_SWITCH_ALLOCATE_VF -> VF {vf}"),
        });
        Ok(vf)
    }

    /// Starts a guest VM holding `vf`: loads the VF driver there and initializes the adapter.
    pub fn attach_vf(&self, vf: u16) -> Result<(), NDIS_STATUS> {
        if self.machine.driver_index(false).is_none() {
            let status = self.run_driver_entry(false);
            if status != NDIS_STATUS_SUCCESS {
                return Err(status);
            }
        }
        let idx = self
            .machine
            .driver_index(false)
            .ok_or(NDIS_STATUS_FAILURE)?;
        self.machine
            .start_adapter(Role::Vf { vf_id: vf }, format!("VF {vf}"), idx)?;
        self.note_applied(vf);
        Ok(())
    }

    /// The VF leaves its guest (surprise removal): guest NDIS calls
    /// MiniportDevicePnPEventNotify(NdisDevicePnPEventSurpriseRemoved), then pauses and
    /// halts it (NdisHaltDeviceSurpriseRemoved).
    pub fn detach_vf(&self, vf: u16) {
        if let Some(a) = self.machine.vf_adapter(vf) {
            self.machine.surprise_remove(a);
            // No flush first: the VF must itself wait for a refresh work item still queued.
            self.machine.halt(a, NdisHaltDeviceSurpriseRemoved);
        }
    }

    /// Removes the VF from its guest, then OID_NIC_SWITCH_FREE_VF on the host; the
    /// virtualization stack forgets whatever was cached for it.
    pub fn free_vf(&self, vf: u16) -> NDIS_STATUS {
        self.detach_vf(vf);
        let mut p = payloads::free_vf_parameters(vf);
        let n = p.len() as u32;
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Set,
            OID_NIC_SWITCH_FREE_VF,
            &mut p,
            n,
            n,
        );
        self.machine.drop_channel(vf);
        self.machine.record(Event::Lifecycle {
            who: "PF".into(),
            what: format!(
                "OID_NIC_SWITCH_FREE_VF(VF {vf}) -> {}",
                timeline::status_text(o.status)
            ),
        });
        o.status
    }

    /// Halts the PF (every guest VF is removed first, as the host would).
    pub fn halt_pf(&self) {
        let vfs: Vec<u16> = (0..pf_miniport::MAX_VFS as u16)
            .filter(|v| self.machine.vf_adapter(*v).is_some())
            .collect();
        for vf in vfs {
            self.detach_vf(vf);
        }
        if let Some(pf) = self.machine.pf_adapter() {
            self.machine.halt(pf, NdisHaltDeviceDisabled);
        }
    }

    pub fn pause_vf(&self, vf: u16) -> NDIS_STATUS {
        self.machine
            .vf_adapter(vf)
            .map_or(NDIS_STATUS_FAILURE, |a| self.machine.pause(a))
    }

    pub fn restart_vf(&self, vf: u16) -> NDIS_STATUS {
        let s = self
            .machine
            .vf_adapter(vf)
            .map_or(NDIS_STATUS_FAILURE, |a| self.machine.restart(a));
        self.note_applied(vf);
        s
    }

    pub fn reset_vf_in_guest(&self, vf: u16) -> NDIS_STATUS {
        self.machine
            .vf_adapter(vf)
            .map_or(NDIS_STATUS_FAILURE, |a| self.machine.reset(a))
    }

    /// A host-side change, recorded on the timeline and run against the PF's API.
    pub fn host_change<R>(
        &self,
        what: impl Into<String>,
        f: impl FnOnce(&pf_miniport::Adapter) -> R,
    ) -> R {
        self.machine.record(Event::HostChange { what: what.into() });
        f(self.pf())
    }

    /// One step of the machine; notes what VFs applied.
    pub fn step(&self) -> bool {
        let progressed = self.machine.step();
        for vf in self.vf_ids() {
            self.note_applied(vf);
        }
        progressed
    }

    /// Runs until nothing is left to deliver or do.
    pub fn settle(&self) -> u64 {
        let mut steps = 0;
        let mut quiet = 0;
        while quiet < 2 {
            steps += 1;
            // A delivery held back by the seeded delay is still work to do.
            if self.step() || self.machine.has_pending_work() {
                quiet = 0
            } else {
                quiet += 1
            }
            if steps > 100_000 {
                self.machine
                    .violation("simulation did not settle after 100000 steps".into());
                break;
            }
        }
        steps
    }

    pub fn vf_ids(&self) -> Vec<u16> {
        (0..pf_miniport::MAX_VFS as u16)
            .filter(|v| self.machine.vf_adapter(*v).is_some())
            .collect()
    }

    fn note_applied(&self, vf: u16) {
        let Some(a) = self.vf(vf) else { return };
        let s = a.snapshot();
        let mut seen = self.applied_seen.lock().unwrap_or_else(|e| e.into_inner());
        let last = seen.get(&vf).copied();
        if last != Some(s.applied_generation) && s.applied_generation != 0 {
            seen.insert(vf, s.applied_generation);
            let ap = s.applied;
            let summary = format!(
                "mac {} vlan {} mtu {} link {} {} Gb/s, policy {:#x} qp {}",
                mac_text(&ap.mac),
                ap.vlan_id,
                ap.mtu,
                if ap.link_up { "up" } else { "down" },
                ap.speed_bps / 1_000_000_000,
                ap.policy_flags,
                ap.queue_pairs
            );
            drop(seen);
            self.machine.record(Event::Applied {
                vf,
                generation: s.applied_generation,
                summary,
            });
        }
    }
}
