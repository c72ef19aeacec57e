//! The Hyper-V host's documented sequences, driven through the PF's OIDs only (so they run
//! against the host-linked PF and the cross-built image alike). Each step names the page it
//! follows; a step whose OID does not succeed ends the flow with an error naming the step,
//! the OID and its request type.
//!
//! - PF start: "Determining SR-IOV Capabilities", "Determining Receive Filtering
//!   Capabilities" (checked before any switch: no switch without current SR-IOV and NIC
//!   switch capabilities, no SR-IOV mode without receive-filter capabilities).
//! - "Virtual Function Initialization Sequence" steps 1-4, then the VPCI exposure of the VF
//!   to its guest ("Querying the PCI Configuration Data of a Virtual Function" and the
//!   OID_SRIOV_* pages of the PCI reads), then the guest's VF miniport starts.
//! - "Virtual Function Teardown Sequence" steps 1-4, and last OID_NIC_SWITCH_DELETE_SWITCH.
//!
//! The mutation tests take one OID handler out of the host-linked PF
//! (`pf_miniport::Adapter::without_handler`): the PF then answers that OID NOT_SUPPORTED
//! itself, and the flow must stop there, naming it.
mod checks;
mod oids;
pub use oids::{GUEST_REQUIRED, REQUIRED, oid_name};

use crate::hyperv::*;
use crate::{OidOutcome, World, timeline};
use common::ffi::*;
use common::oid::RequestKind::{self, Method, Query, Set};

const INIT: &str = "Virtual Function Initialization Sequence";
const TEARDOWN: &str = "Virtual Function Teardown Sequence";
const VPCI: &str = "VPCI exposure (OID_SRIOV_READ_VF_CONFIG_SPACE / VF_VENDOR_DEVICE_ID / PROBED_BARS / BAR_RESOURCES pages)";

/// One OID the flow sent.
#[derive(Clone, Debug)]
pub struct Step {
    pub page: &'static str,
    pub what: &'static str,
    pub oid: NDIS_OID,
    pub kind: RequestKind,
    pub status: NDIS_STATUS,
}

/// A VM whose VF is attached: what teardown needs.
#[derive(Clone, Copy, Debug)]
pub struct VmVf {
    pub vf: u16,
    pub vport: u32,
    pub filter: u32,
    pub mac: [u8; 6],
    pub vlan: Option<u16>,
}

pub struct HostFlow<'w> {
    w: &'w World,
    pub steps: Vec<Step>,
    next_filter: u32,
    host_filters: Vec<u32>,
}

impl<'w> HostFlow<'w> {
    pub fn new(w: &'w World) -> Self {
        Self {
            w,
            steps: Vec::new(),
            next_filter: 1,
            host_filters: Vec::new(),
        }
    }

    /// NDIS assigns filter ids, unique over the adapter ("Setting a Receive Filter on a
    /// Virtual Port": "Using the Filter Identifier").
    fn filter_id(&mut self) -> u32 {
        let id = self.next_filter;
        self.next_filter += 1;
        id
    }

    fn issue(
        &mut self,
        page: &'static str,
        what: &'static str,
        kind: RequestKind,
        oid: NDIS_OID,
        buf: &mut [u8],
    ) -> Result<OidOutcome, String> {
        let o = pf_oid(self.w, kind, oid, buf);
        self.w.machine().record(crate::timeline::Event::Lifecycle {
            who: "host".into(),
            what: format!(
                "{} ({kind:?}) -> {}: {what}",
                oid_name(oid),
                timeline::status_text(o.status)
            ),
        });
        self.steps.push(Step {
            page,
            what,
            oid,
            kind,
            status: o.status,
        });
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(format!(
                "{page}: {what}: {} ({kind:?}) -> {}",
                oid_name(oid),
                timeline::status_text(o.status)
            ));
        }
        Ok(o)
    }

    /// Step 1: NDIS creates the switch from the `NicSwitches\0` registry values the INF wrote
    /// ([`nic_switch_registry`]); the PF creates the default VPort with it.
    pub fn create_switch_from_registry(&mut self) -> Result<(), String> {
        let r = nic_switch_registry();
        let mut b = switch_params(r.num_vfs, r.flags);
        b[8..12].copy_from_slice(&r.switch_type.to_le_bytes());
        b[12..16].copy_from_slice(&r.switch_id.to_le_bytes());
        self.issue(
            INIT,
            "step 1: create the NIC switch from the NicSwitches\\0 registry values",
            Method,
            OID_NIC_SWITCH_CREATE_SWITCH,
            &mut b,
        )?;
        Ok(())
    }

    /// Step 1 with a given number of VFs (tests that want a small switch).
    pub fn create_switch(&mut self, num_vfs: u32) -> Result<(), String> {
        let mut b = switch_params(num_vfs, 0);
        self.issue(
            INIT,
            "step 1: create the NIC switch",
            Method,
            OID_NIC_SWITCH_CREATE_SWITCH,
            &mut b,
        )?;
        Ok(())
    }

    /// A host vNIC's MAC on the default VPort (any overlying driver may set filters there).
    pub fn host_vnic(&mut self, mac: [u8; 6]) -> Result<u32, String> {
        let id = self.filter_id();
        let mut b = filter_params(id, NDIS_DEFAULT_VPORT_ID, mac, None);
        self.issue(
            "Setting a Receive Filter on a Virtual Port",
            "host vNIC filter on the default VPort",
            Method,
            OID_RECEIVE_FILTER_SET_FILTER,
            &mut b,
        )?;
        self.host_filters.push(id);
        Ok(id)
    }

    /// A VM with a VF: synthetic-path filter, steps 2-4, VPCI exposure, the guest's VF start.
    pub fn add_vm(&mut self, mac: [u8; 6], vlan: Option<u16>) -> Result<VmVf, String> {
        // Step 4, first half: the VM runs on the synthetic path, its filters on the default VPort.
        let filter = self.filter_id();
        let mut b = filter_params(filter, NDIS_DEFAULT_VPORT_ID, mac, vlan);
        self.issue(
            INIT,
            "step 4: VM filters on the default VPort (synthetic path)",
            Method,
            OID_RECEIVE_FILTER_SET_FILTER,
            &mut b,
        )?;
        // Step 2: the VF, with the VM's MAC.
        let mut b = crate::payloads::vf_parameters(Some(mac));
        self.issue(
            INIT,
            "step 2: allocate the VF",
            Method,
            OID_NIC_SWITCH_ALLOCATE_VF,
            &mut b,
        )?;
        let vf = crate::payloads::read::<NDIS_NIC_SWITCH_VF_PARAMETERS>(&b).VFId;
        // Step 3: NDIS assigns a VPortId in 1..NumVPorts before forwarding the request.
        let vport = u32::from(vf) + 1;
        let mut b = vport_params(vport, vf, 1, NdisNicSwitchVPortStateActivated, 0);
        self.issue(
            INIT,
            "step 3: create the VF's VPort",
            Method,
            OID_NIC_SWITCH_CREATE_VPORT,
            &mut b,
        )?;
        // Step 4: the VM's filters move to the VF's VPort.
        let mut b = move_filter_params(filter, NDIS_DEFAULT_VPORT_ID, vport);
        self.issue(
            INIT,
            "step 4: move the VM filters to the VF VPort",
            Set,
            OID_RECEIVE_FILTER_MOVE_FILTER,
            &mut b,
        )?;
        // VPCI exposes the VF: D0, then the guest's bus driver reads the function.
        let mut b = power_params(vf, NdisDeviceStateD0, 0);
        self.issue(
            VPCI,
            "VF to D0 before exposure",
            Set,
            OID_SRIOV_SET_VF_POWER_STATE,
            &mut b,
        )?;
        let mut b = config_space_params(vf, 0, 64);
        self.issue(
            VPCI,
            "guest reads the VF's PCI header",
            Method,
            OID_SRIOV_READ_VF_CONFIG_SPACE,
            &mut b,
        )?;
        let mut b = vendor_device_params(vf);
        self.issue(
            VPCI,
            "guest reads the VF's vendor/device id",
            Method,
            OID_SRIOV_VF_VENDOR_DEVICE_ID,
            &mut b,
        )?;
        let mut b = probed_bars_params();
        self.issue(
            VPCI,
            "guest sizes the VF's BARs",
            Query,
            OID_SRIOV_PROBED_BARS,
            &mut b,
        )?;
        let mut b = bar_resources_params(vf, 0);
        self.issue(
            VPCI,
            "guest maps BAR 0",
            Method,
            OID_SRIOV_BAR_RESOURCES,
            &mut b,
        )?;
        let mut b = config_space_params(vf, 4, 2);
        b[20..22].copy_from_slice(&0x0006u16.to_le_bytes()); // memory space + bus master
        self.issue(
            VPCI,
            "guest enables the VF's memory space",
            Set,
            OID_SRIOV_WRITE_VF_CONFIG_SPACE,
            &mut b,
        )?;
        // The PnP subsystem of the guest loads the VF miniport.
        let since = self.w.timeline().len();
        self.w.attach_vf(vf).map_err(|s| {
            format!(
                "{INIT}: the guest's VF miniport failed to start: {}",
                timeline::status_text(s)
            )
        })?;
        self.w.settle();
        self.check_backchannel(vf, since)?;
        Ok(VmVf {
            vf,
            vport,
            filter,
            mac,
            vlan,
        })
    }

    /// The VF leaves its guest, then teardown steps 1-4, then the VM's filter is cleared.
    pub fn remove_vm(&mut self, vm: VmVf) -> Result<(), String> {
        self.w.detach_vf(vm.vf);
        self.move_filter_back(&vm)?;
        self.release_vf(&vm)?;
        self.clear_vm_filter(&vm)
    }

    /// Teardown step 1 (the VF has left its guest).
    pub fn move_filter_back(&mut self, vm: &VmVf) -> Result<(), String> {
        let mut b = move_filter_params(vm.filter, vm.vport, NDIS_DEFAULT_VPORT_ID);
        self.issue(
            TEARDOWN,
            "step 1: filters back to the default VPort",
            Set,
            OID_RECEIVE_FILTER_MOVE_FILTER,
            &mut b,
        )?;
        Ok(())
    }

    /// Teardown steps 2-4: the VPort deleted, the VF reset and freed.
    pub fn release_vf(&mut self, vm: &VmVf) -> Result<(), String> {
        let mut b = delete_vport_params(vm.vport);
        self.issue(
            TEARDOWN,
            "step 2: delete the VF's VPort",
            Set,
            OID_NIC_SWITCH_DELETE_VPORT,
            &mut b,
        )?;
        let mut b = crate::payloads::reset_vf_parameters(vm.vf);
        let resets_before = self.w.pf_sim().ext.pci().vf_resets.len();
        self.issue(
            TEARDOWN,
            "step 3: function-level reset",
            Set,
            OID_SRIOV_RESET_VF,
            &mut b,
        )?;
        self.check_reset(vm.vf, resets_before)?;
        let mut b = crate::payloads::free_vf_parameters(vm.vf);
        self.issue(
            TEARDOWN,
            "step 4: free the VF",
            Set,
            OID_NIC_SWITCH_FREE_VF,
            &mut b,
        )?;
        self.w.machine().drop_channel(vm.vf);
        Ok(())
    }

    /// The VM is back on the synthetic path; its filter stays on the default VPort until the
    /// VM's network adapter goes ("an overlying driver must clear all the filters").
    pub fn clear_vm_filter(&mut self, vm: &VmVf) -> Result<(), String> {
        let mut b = clear_filter_params(vm.filter);
        self.issue(
            "OID_RECEIVE_FILTER_CLEAR_FILTER",
            "the VM's filter cleared",
            Set,
            OID_RECEIVE_FILTER_CLEAR_FILTER,
            &mut b,
        )?;
        Ok(())
    }

    /// Host vNIC filters cleared, then the switch deleted (with its default VPort).
    pub fn delete_switch(&mut self) -> Result<(), String> {
        for id in std::mem::take(&mut self.host_filters) {
            let mut b = clear_filter_params(id);
            self.issue(
                "OID_RECEIVE_FILTER_CLEAR_FILTER",
                "host vNIC filter cleared",
                Set,
                OID_RECEIVE_FILTER_CLEAR_FILTER,
                &mut b,
            )?;
        }
        let mut b = crate::payloads::delete_switch_parameters(NDIS_DEFAULT_SWITCH_ID);
        self.issue(
            "OID_NIC_SWITCH_DELETE_SWITCH",
            "last: delete the NIC switch",
            Set,
            OID_NIC_SWITCH_DELETE_SWITCH,
            &mut b,
        )?;
        Ok(())
    }

    /// The host's part of bringing up `vms` VMs: capability checks, the switch, a host vNIC
    /// filter, and each VM's VF through the initialization sequence into its guest.
    pub fn start(&mut self, vms: u16) -> Result<Vec<VmVf>, String> {
        self.check_pf_capabilities()?;
        self.create_switch_from_registry()?;
        self.host_vnic([0x00, 0x15, 0x5D, 0x00, 0x00, 0xF0])?;
        (0..vms)
            .map(|i| {
                let [hi, lo] = i.to_be_bytes();
                self.add_vm([0x00, 0x15, 0x5D, 0x01, hi, lo], Some(100 + i))
            })
            .collect()
    }

    /// The virtual switch changes a VM's address: a new filter on the VF's VPort, then the old
    /// one cleared ("Setting a Receive Filter on a Virtual Port"). The PF writes the address
    /// into the VF's MAC/VLAN block and invalidates it.
    pub fn change_vm_address(
        &mut self,
        vm: &mut VmVf,
        mac: [u8; 6],
        vlan: Option<u16>,
    ) -> Result<(), String> {
        let id = self.filter_id();
        let mut b = filter_params(id, vm.vport, mac, vlan);
        self.issue(
            "Setting a Receive Filter on a Virtual Port",
            "the VM's new address on its VF VPort",
            Method,
            OID_RECEIVE_FILTER_SET_FILTER,
            &mut b,
        )?;
        let mut b = clear_filter_params(vm.filter);
        self.issue(
            "OID_RECEIVE_FILTER_CLEAR_FILTER",
            "the VM's old address cleared",
            Set,
            OID_RECEIVE_FILTER_CLEAR_FILTER,
            &mut b,
        )?;
        vm.filter = id;
        vm.mac = mac;
        vm.vlan = vlan;
        Ok(())
    }

    /// The whole documented life of `vms` VMs: switch, host vNIC, each VM's VF up and in its
    /// guest (checked consistent through NDIS), each torn down, the switch deleted.
    pub fn run(&mut self, vms: u16) -> Result<(), String> {
        let vms = self.start(vms)?;
        for vm in &vms {
            self.check_vm(vm)?;
        }
        for vm in vms {
            self.remove_vm(vm)?;
        }
        self.delete_switch()
    }
}
