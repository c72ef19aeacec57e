//! What tests look at: whether a VF holds exactly what the PF serves (through the host APIs,
//! or through NDIS alone for loaded images), the Verifier-style violations, the timeline and
//! the drivers' debug log.
use super::World;
use crate::mac_text;
use crate::payloads::{CONFIG_BLOCK_PARAMS_LEN, write_config_block_params};
use crate::timeline::{self, Event};
use common::blocks::wire;
use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use std::sync::atomic::Ordering;

impl World {
    /// Checks that a VF holds exactly the PF's current data for every host block and has
    /// applied the PF's latest generation.
    pub fn check_consistent(&self, vf: u16) -> Result<(), String> {
        let Some(a) = self.vf(vf) else {
            return Err(format!("VF {vf} is not attached"));
        };
        let snap = a.snapshot();
        let (commit, n) = self
            .pf()
            .vf_block(vf, CommitBlock::id())
            .ok_or(format!("PF has no VF {vf}"))?;
        let defined = CommitBlock::decode(&commit[..n])
            .map_err(|e| format!("PF commit block: {e:?}"))?
            .0
            .present;
        for id in defined {
            let (pf_bytes, len) = self
                .pf()
                .vf_block(vf, id)
                .ok_or(format!("PF has no block {} for VF {vf}", id.get()))?;
            let vf_bytes = snap.view.block(id).ok_or(format!(
                "VF {vf} holds no block {}: its view defines {:#x}, the PF's {:#x}; pending {:#x}, channel {:?}, {:?}",
                id.get(),
                snap.view.defined().bits(),
                defined.bits(),
                snap.pending.bits(),
                self.machine.channel(vf),
                snap.counters
            ))?;
            if vf_bytes != &pf_bytes[..len] {
                let g = |b: &[u8]| wire::decode(b).map(|(h, _)| (h.generation, h.writes)).ok();
                return Err(format!(
                    "VF {vf} block {} differs from the PF's: VF holds (generation, writes) {:?}, PF {:?}; VF {:?} pending {:#x}, channel {:?}",
                    id.get(),
                    g(vf_bytes),
                    g(&pf_bytes[..len]),
                    snap.state,
                    snap.pending.bits(),
                    self.machine.channel(vf)
                ));
            }
        }
        let pf_gen = self.pf().vf_generation(vf).unwrap_or(0);
        if snap.applied_generation != pf_gen {
            return Err(format!(
                "VF {vf} applied generation {} but the PF is at {pf_gen}",
                snap.applied_generation
            ));
        }
        if !snap.pending.is_empty() {
            return Err(format!(
                "VF {vf} still has pending blocks {:#x}",
                snap.pending.bits()
            ));
        }
        Ok(())
    }

    /// The consistency check through NDIS alone (for loaded images): the VF reports the MAC the
    /// PF serves, and its status block names the PF's latest generation, that MAC, and the
    /// digest of exactly the blocks the PF holds.
    pub fn check_consistent_via_oids(&self, vf: u16) -> Result<(), String> {
        let mac = MacVlanBlock::decode(&self.pf_block_via_oid(vf, MacVlanBlock::id())?)
            .map_err(|e| format!("{e:?}"))?
            .0
            .mac;
        let reported = self.vf_mac_via_oid(vf)?;
        if reported != mac {
            return Err(format!(
                "VF {vf} reports MAC {} but the PF serves {}",
                mac_text(&reported),
                mac_text(&mac)
            ));
        }
        // The PF's state: its commit block, then every block it names (OIDs are serialized,
        // and nothing else runs meanwhile, so these reads see one state).
        let commit = CommitBlock::decode(&self.pf_block_via_oid(vf, CommitBlock::id())?)
            .map_err(|e| format!("{e:?}"))?
            .0;
        let generation = commit.generation;
        let mut blocks = Vec::new();
        for id in commit.present {
            blocks.push((id, self.pf_block_via_oid(vf, id)?));
        }
        let digest = view_digest(blocks.iter().map(|(id, b)| (*id, b.as_slice())));
        let status = VfStatusBlock::decode(&self.pf_block_via_oid(vf, VfStatusBlock::id())?)
            .map_err(|e| format!("{e:?}"))?
            .0;
        if (
            status.applied_generation,
            status.applied_mac,
            status.applied_digest,
        ) != (generation, mac, digest)
        {
            return Err(format!(
                "VF {vf} reported generation {} MAC {} digest {:#x}, the PF is at {generation} with {} digest {digest:#x}",
                status.applied_generation,
                mac_text(&status.applied_mac),
                status.applied_digest,
                mac_text(&mac)
            ));
        }
        Ok(())
    }

    /// A block as the PF serves it to `vf` (OID_SRIOV_READ_VF_CONFIG_BLOCK), whatever the PF is.
    pub fn pf_block_via_oid(&self, vf: u16, id: BlockId) -> Result<Vec<u8>, String> {
        let len = descriptor_of(id).len;
        let at = CONFIG_BLOCK_PARAMS_LEN;
        let mut buf = vec![0u8; at + len];
        write_config_block_params(&mut buf, vf, id.get() as u32, len as u32, at as u32);
        let n = buf.len() as u32;
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Method,
            OID_SRIOV_READ_VF_CONFIG_BLOCK,
            &mut buf,
            at as u32,
            n,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(format!(
                "PF read of VF {vf} block {}: {}",
                id.get(),
                timeline::status_text(o.status)
            ));
        }
        Ok(buf.split_off(at))
    }

    /// The MAC a VF reports to NDIS (OID_802_3_CURRENT_ADDRESS).
    pub fn vf_mac_via_oid(&self, vf: u16) -> Result<[u8; 6], String> {
        let a = self.vf_sim(vf).ok_or(format!("VF {vf} is not attached"))?;
        let mut buf = [0u8; 6];
        let o = self.oid(
            a,
            RequestKind::Query,
            OID_802_3_CURRENT_ADDRESS,
            &mut buf,
            0,
            6,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(format!(
                "VF {vf} MAC query: {}",
                timeline::status_text(o.status)
            ));
        }
        Ok(buf)
    }

    pub fn violations(&self) -> Vec<String> {
        self.machine.violations()
    }

    /// Panics unless a violation containing `what` was reported (a check shown to fire).
    #[track_caller]
    pub fn assert_violation(&self, what: &str) {
        let v = self.violations();
        assert!(
            v.iter().any(|m| m.contains(what)),
            "expected a violation containing {what:?}, got {v:?}"
        );
    }

    /// Panics (in test code, outside any driver frame) if a Verifier-style rule was broken.
    pub fn assert_clean(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "driver verifier violations:\n  {}",
            v.join("\n  ")
        );
    }

    pub fn timeline(&self) -> Vec<(u64, Event)> {
        self.machine.timeline()
    }

    pub fn log(&self) -> Vec<String> {
        self.machine.log()
    }

    /// How many times a VF read `block` from the PF, per the timeline.
    pub fn reads_of(&self, vf: u16, block: u32) -> usize {
        self.timeline().iter().filter(|(_, e)| matches!(e, Event::Read { vf: v, block: b, .. } if *v == vf && *b == block)).count()
    }

    pub fn deliveries(&self, vf: u16) -> u64 {
        self.machine.channel(vf).map_or(0, |c| c.deliveries)
    }

    pub fn is_running(&self, vf: u16) -> bool {
        self.machine
            .vf_adapter(vf)
            .is_some_and(|a| a.running.load(Ordering::Acquire))
    }
}
