//! What the host flow checks: the PF's capabilities before a switch, and what its requests
//! did to each VM's VF, seen from outside the PF.
use super::{HostFlow, VmVf};
use crate::hyperv::*;
use crate::timeline;
use common::ffi::*;
use common::oid::RequestKind::Method;

impl HostFlow<'_> {
    /// What NDIS checks of the PF before it creates a switch ("Determining SR-IOV
    /// Capabilities", "Determining Receive Filtering Capabilities").
    pub fn check_pf_capabilities(&self) -> Result<(), String> {
        let a = self.w.pf_sim();
        let current_sriov = a.sriov_current.lock().map(|c| c.is_some()).unwrap_or(false);
        let current_switch = a
            .ext
            .cur_switch_caps
            .lock()
            .map(|c| c.is_some())
            .unwrap_or(false);
        if !current_sriov || !current_switch {
            return Err("Determining SR-IOV Capabilities: no current SR-IOV / NIC switch capabilities, so no NIC switch".into());
        }
        let filters = *a.ext.cur_filter_caps.lock().map_err(|e| e.to_string())?;
        // NDIS_RECEIVE_FILTER_CAPABILITIES: MSI_X_SUPPORTED "is mandatory for miniport drivers
        // that support the VMQ or SR-IOV interface", VM_QUEUE_SUPPORTED "must" be set by one
        // enabled for either.
        let queue_props =
            NDIS_RECEIVE_FILTER_MSI_X_SUPPORTED | NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED;
        match filters {
            Some(f) if f.SupportedQueueProperties & queue_props != queue_props => Err(format!(
                "NDIS_RECEIVE_FILTER_CAPABILITIES: SR-IOV needs MSI_X_SUPPORTED and VM_QUEUE_SUPPORTED in SupportedQueueProperties (got {:#x})",
                f.SupportedQueueProperties
            )),
            Some(f) if f.EnabledFilterTypes & NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED != 0 && f.NumQueues == 0 => Ok(()),
            Some(_) => Err("Determining Receive Filtering Capabilities: SR-IOV mode needs VMQ filters enabled and NumQueues 0".into()),
            None => Err("Determining Receive Filtering Capabilities: no current receive-filter capabilities, so no SR-IOV mode".into()),
        }
    }

    /// What the flow's requests must have done to a VM's VF, seen from outside the PF: its
    /// MAC/VLAN block holds the switch's address and VLAN (read with the backchannel OID),
    /// the guest's VF reports that address and applied the PF's state, the VF's function is
    /// in D0 by a write of its PMCSR, and the guest's command-register write landed (read back
    /// with OID_SRIOV_READ_VF_CONFIG_SPACE).
    pub fn check_vm(&self, vm: &VmVf) -> Result<(), String> {
        use common::blocks::{ConfigBlock, MacVlanBlock};
        let block = self.w.pf_block_via_oid(vm.vf, MacVlanBlock::id())?;
        let (b, _) = MacVlanBlock::decode(&block).map_err(|e| format!("{e:?}"))?;
        if (b.mac, b.vlan_id) != (vm.mac, vm.vlan.unwrap_or(0)) {
            return Err(format!(
                "VF {}: MAC/VLAN block {:02x?} VLAN {}, the switch gave {:02x?} VLAN {:?}",
                vm.vf, b.mac, b.vlan_id, vm.mac, vm.vlan
            ));
        }
        let reported = self.w.vf_mac_via_oid(vm.vf)?;
        if reported != vm.mac {
            return Err(format!(
                "VF {} reports {:02x?}, the switch gave {:02x?}",
                vm.vf, reported, vm.mac
            ));
        }
        self.w.check_consistent_via_oids(vm.vf)?;
        {
            let mut pci = self.w.pf_sim().ext.pci();
            let pmcsr = (crate::pci::VF_PM_CAP_AT + 4) as u32;
            let written = pci
                .vf_writes
                .iter()
                .any(|&(vf, at, len)| vf == vm.vf && at <= pmcsr && pmcsr < at + len);
            if !written || pci.vf_power(vm.vf).0 != 0 {
                return Err(format!(
                    "VF {}: not put in D0 through its PMCSR (written {written}, state D{})",
                    vm.vf,
                    pci.vf_power(vm.vf).0
                ));
            }
        }
        // A VF's Memory Space Enable is hardwired 0 (SR-IOV 1.1): its memory decodes through
        // VF MSE in the PF's SR-IOV Control; Bus Master Enable is the VF's own.
        let mut b = config_space_params(vm.vf, 4, 2);
        let o = pf_oid(self.w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b);
        let command = u16::from_le_bytes([b[20], b[21]]);
        if o.status != NDIS_STATUS_SUCCESS || o.bytes_written != 22 || command & 0x4 == 0 {
            return Err(format!(
                "VF {}: command register {command:#06x} after the guest enabled bus mastering \
                 ({}, {} bytes)",
                vm.vf,
                timeline::status_text(o.status),
                o.bytes_written
            ));
        }
        if !self.w.pf_sim().ext.pci().vf_memory_enabled() {
            return Err("VF MSE is clear in the PF's SR-IOV Control: no VF memory decodes".into());
        }
        Ok(())
    }

    /// Every block read and status write of the guest's VF since `since` (a timeline index)
    /// reached the PF and succeeded; otherwise an error naming the backchannel OID.
    pub(super) fn check_backchannel(&self, vf: u16, since: usize) -> Result<(), String> {
        for (_, e) in self.w.timeline().into_iter().skip(since) {
            let (oid, status) = match e {
                timeline::Event::Read { vf: v, status, .. } if v == vf => {
                    (OID_SRIOV_READ_VF_CONFIG_BLOCK, status)
                }
                timeline::Event::Write { vf: v, status, .. } if v == vf => {
                    (OID_SRIOV_WRITE_VF_CONFIG_BLOCK, status)
                }
                _ => continue,
            };
            if status != NDIS_STATUS_SUCCESS {
                return Err(format!(
                    "Backchannel Communication from a VF Miniport Driver: the guest VF {vf}'s \
                     {} -> {}",
                    super::oid_name(oid),
                    timeline::status_text(status)
                ));
            }
        }
        Ok(())
    }

    /// Teardown step 3's effect: the VF's function saw a function-level reset.
    pub(super) fn check_reset(&self, vf: u16, resets_before: usize) -> Result<(), String> {
        let pci = self.w.pf_sim().ext.pci();
        if pci.vf_resets.iter().skip(resets_before).any(|&v| v == vf) {
            Ok(())
        } else {
            Err(format!(
                "Virtual Function Teardown Sequence: step 3 reached no function-level reset of VF {vf}"
            ))
        }
    }
}
