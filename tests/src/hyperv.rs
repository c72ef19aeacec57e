//! What the simulated Hyper-V host keeps per adapter beyond `world.rs`: the hardware-assist
//! capabilities a miniport reported (receive filters and NIC switch, hardware and current),
//! the PCI model of an SR-IOV PF, and the registry values Windows itself writes.
use crate::pci::PciModel;
use common::ffi::*;
use std::sync::{Mutex, MutexGuard};

/// Per-adapter state of the simulated host (one field of `SimAdapter`).
#[derive(Default)]
pub struct AdapterExt {
    pci: Mutex<PciModel>,
    pub hw_filter_caps: Mutex<Option<NDIS_RECEIVE_FILTER_CAPABILITIES>>,
    pub cur_filter_caps: Mutex<Option<NDIS_RECEIVE_FILTER_CAPABILITIES>>,
    pub hw_switch_caps: Mutex<Option<NDIS_NIC_SWITCH_CAPABILITIES>>,
    pub cur_switch_caps: Mutex<Option<NDIS_NIC_SWITCH_CAPABILITIES>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AdapterExt {
    pub fn pci(&self) -> MutexGuard<'_, PciModel> {
        lock(&self.pci)
    }

    /// Records the receive-filter and NIC switch capabilities of hardware-assist attributes.
    ///
    /// # Safety
    /// The pointers are null or valid for the duration of the call (NdisMSetMiniportAttributes).
    pub unsafe fn record_hardware_assist(
        &self,
        hw: &NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
    ) {
        // SAFETY: the caller's contract; a null pointer reads as None.
        unsafe {
            *lock(&self.hw_filter_caps) = hw
                .HardwareReceiveFilterCapabilities
                .cast::<NDIS_RECEIVE_FILTER_CAPABILITIES>()
                .as_ref()
                .copied();
            *lock(&self.cur_filter_caps) = hw
                .CurrentReceiveFilterCapabilities
                .cast::<NDIS_RECEIVE_FILTER_CAPABILITIES>()
                .as_ref()
                .copied();
            *lock(&self.hw_switch_caps) = hw.HardwareNicSwitchCapabilities.as_ref().copied();
            *lock(&self.cur_switch_caps) = hw.CurrentNicSwitchCapabilities.as_ref().copied();
        }
    }
}

/// What a VF miniport must not report in its hardware-assist attributes: receive-filter
/// capabilities ("Determining Receive Filtering Capabilities": "Miniport drivers for PCIe
/// Virtual Functions (VFs) must not report the receive filtering capabilities") and NIC switch
/// capabilities ("Determining NIC Switch Capabilities", the same words); and its SR-IOV
/// capabilities must say VF, not PF ("Determining SR-IOV Capabilities").
pub fn vf_hardware_assist_errors(
    hw: &NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
) -> Vec<&'static str> {
    let mut e = Vec::new();
    if !hw.HardwareReceiveFilterCapabilities.is_null()
        || !hw.CurrentReceiveFilterCapabilities.is_null()
    {
        e.push("a VF reported receive-filter capabilities");
    }
    if !hw.HardwareNicSwitchCapabilities.is_null() || !hw.CurrentNicSwitchCapabilities.is_null() {
        e.push("a VF reported NIC switch capabilities");
    }
    // SAFETY: valid for the NdisMSetMiniportAttributes call, or null.
    if let Some(c) = unsafe { hw.HardwareSriovCapabilities.as_ref() }
        && c.SriovCapabilities & NDIS_SRIOV_CAPS_PF_MINIPORT != 0
    {
        e.push("a VF reported PF SR-IOV capabilities");
    }
    e
}

/// Registry values of the PF's adapter that Windows writes, not the INF: `*SriovPreferred`
/// is "a hidden keyword value that must not be specified in the INF file" ("Standardized INF
/// Keywords for SR-IOV"). The simulated host is one whose virtual switch has SR-IOV enabled,
/// so it is 1. The pages do not say who writes it; a test sets it to 0 or removes it through
/// `Config::keywords` (an explicit entry there always wins).
pub fn host_registry_default(keyword: &str) -> Option<u32> {
    if keyword.eq_ignore_ascii_case("*SriovPreferred") {
        Some(1)
    } else {
        None
    }
}

/// The default NIC switch's registry values as the PF's INF writes them under `NicSwitches\0`
/// ("Standardized INF Keywords for NIC Switches"): NDIS builds OID_NIC_SWITCH_CREATE_SWITCH
/// from these, not from what the host later needs. Read from the INF the package ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicSwitchRegistry {
    pub flags: u32,
    pub switch_type: u32,
    pub switch_id: u32,
    pub num_vfs: u32,
}

pub fn nic_switch_registry() -> NicSwitchRegistry {
    const INF: &str = include_str!("../../inf/pf_miniport.inx");
    let value = |name: &str| -> u32 {
        INF.lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
            .find(|f| f.len() == 5 && f[0] == "HKR" && f[1] == "NicSwitches\\0" && f[2] == name)
            .and_then(|f| f[4].parse().ok())
            .unwrap_or_else(|| panic!("the PF INF has no NicSwitches\\0 {name}"))
    };
    NicSwitchRegistry {
        flags: value("*Flags"),
        switch_type: value("*SwitchType"),
        switch_id: value("*SwitchId"),
        num_vfs: value("*NumVFs"),
    }
}

/// `Config::keywords` value that means "absent from the registry" (the keyword is not read).
pub const ABSENT: u32 = u32::MAX;

// ---- OID payloads as the host side builds them ---------------------------------------------
// Each builder returns the information buffer of one OID, laid out with the `common::ffi`
// structures (whose offsets `common/tests/layouts.rs` pins).

fn w16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn w32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn header(b: &mut [u8], rev: u8, size: u16) {
    b[0] = NDIS_OBJECT_TYPE_DEFAULT;
    b[1] = rev;
    w16(b, 2, size);
}

type VPortParams = NDIS_NIC_SWITCH_VPORT_PARAMETERS;

/// NDIS_NIC_SWITCH_PARAMETERS for OID_NIC_SWITCH_CREATE_SWITCH / the set of
/// OID_NIC_SWITCH_PARAMETERS (`flags` 0 for the create).
pub fn switch_params(num_vfs: u32, flags: u32) -> Vec<u8> {
    let mut b = vec![0u8; NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1 as usize];
    header(
        &mut b,
        NDIS_NIC_SWITCH_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1,
    );
    w32(&mut b, 4, flags);
    w32(&mut b, 8, NdisNicSwitchTypeExternal);
    w32(&mut b, 12, NDIS_DEFAULT_SWITCH_ID);
    w32(&mut b, 532, num_vfs);
    b
}

/// NDIS_NIC_SWITCH_VPORT_PARAMETERS (buffer of sizeof, Header.Size of revision 1).
pub fn vport_params(
    vport: u32,
    function: u16,
    queue_pairs: u32,
    state: u32,
    flags: u32,
) -> Vec<u8> {
    let mut b = vec![0u8; std::mem::size_of::<VPortParams>()];
    header(
        &mut b,
        NDIS_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1,
    );
    w32(&mut b, std::mem::offset_of!(VPortParams, Flags), flags);
    w32(&mut b, std::mem::offset_of!(VPortParams, VPortId), vport);
    w16(
        &mut b,
        std::mem::offset_of!(VPortParams, AttachedFunctionId),
        function,
    );
    w32(
        &mut b,
        std::mem::offset_of!(VPortParams, NumQueuePairs),
        queue_pairs,
    );
    w32(&mut b, std::mem::offset_of!(VPortParams, VPortState), state);
    b
}

pub fn delete_vport_params(vport: u32) -> Vec<u8> {
    let mut b = vec![0u8; 12];
    header(
        &mut b,
        NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1,
    );
    w32(&mut b, 8, vport);
    b
}

/// Size of NDIS_RECEIVE_FILTER_PARAMETERS (revision 2) and of one field.
pub const FILTER_LEN: usize = 44;
pub const FIELD_LEN: usize = 56;

/// OID_RECEIVE_FILTER_SET_FILTER's buffer: the parameters, then a MAC destination field
/// (VLAN_UNTAGGED_OR_ZERO when `vlan` is None) and, with `vlan`, a VLAN id field.
pub fn filter_params(filter_id: u32, vport: u32, mac: [u8; 6], vlan: Option<u16>) -> Vec<u8> {
    let fields = if vlan.is_some() { 2 } else { 1 };
    let mut b = vec![0u8; FILTER_LEN + fields * FIELD_LEN];
    header(
        &mut b,
        NDIS_RECEIVE_FILTER_PARAMETERS_REVISION_2,
        NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2,
    );
    w32(&mut b, 8, NdisReceiveFilterTypeVMQueue);
    w32(&mut b, 12, NDIS_DEFAULT_RECEIVE_QUEUE_ID);
    w32(&mut b, 16, filter_id);
    w32(&mut b, 20, FILTER_LEN as u32);
    w32(&mut b, 24, fields as u32);
    w32(&mut b, 28, FIELD_LEN as u32);
    w32(&mut b, 40, vport);
    let f = FILTER_LEN;
    header(
        &mut b[f..],
        NDIS_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
    );
    if vlan.is_none() {
        w32(
            &mut b,
            f + 4,
            NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO,
        );
    }
    w32(&mut b, f + 8, NdisFrameHeaderMac);
    w32(&mut b, f + 12, NdisReceiveFilterTestEqual);
    w32(&mut b, f + 16, NdisMacHeaderFieldDestinationAddress);
    b[f + 24..f + 30].copy_from_slice(&mac);
    if let Some(v) = vlan {
        let g = f + FIELD_LEN;
        header(
            &mut b[g..],
            NDIS_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
        );
        w32(&mut b, g + 8, NdisFrameHeaderMac);
        w32(&mut b, g + 12, NdisReceiveFilterTestEqual);
        w32(&mut b, g + 16, NdisMacHeaderFieldVlanId);
        w16(&mut b, g + 24, v);
    }
    b
}

pub fn clear_filter_params(filter_id: u32) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    header(
        &mut b,
        NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1,
    );
    w32(&mut b, 12, filter_id);
    b
}

pub fn move_filter_params(filter_id: u32, from: u32, to: u32) -> Vec<u8> {
    let mut b = vec![0u8; 24];
    header(
        &mut b,
        NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1,
    );
    w32(&mut b, 4, filter_id);
    w32(&mut b, 12, from);
    w32(&mut b, 20, to);
    b
}

/// NDIS_SRIOV_READ/WRITE_VF_CONFIG_SPACE_PARAMETERS followed by `len` data bytes at 20.
pub fn config_space_params(vf: u16, offset: u32, len: u32) -> Vec<u8> {
    let mut b = vec![0u8; 20 + len as usize];
    header(
        &mut b,
        NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1,
    );
    w16(&mut b, 4, vf);
    w32(&mut b, 8, offset);
    w32(&mut b, 12, len);
    w32(&mut b, 16, 20);
    b
}

pub fn power_params(vf: u16, state: u32, wake: u8) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    header(
        &mut b,
        NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1,
        NDIS_SIZEOF_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1,
    );
    w16(&mut b, 4, vf);
    w32(&mut b, 8, state);
    b[12] = wake;
    b
}

pub fn vendor_device_params(vf: u16) -> Vec<u8> {
    let mut b = vec![0u8; 10];
    header(
        &mut b,
        NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO_REVISION_1,
        NDIS_SIZEOF_SRIOV_VF_VENDOR_DEVICE_ID_INFO_REVISION_1,
    );
    w16(&mut b, 4, vf);
    b
}

/// NDIS_SRIOV_PROBED_BARS_INFO with the values right after it (8 + 6 ULONGs).
pub fn probed_bars_params() -> Vec<u8> {
    let mut b = vec![0u8; 8 + 4 * PCI_TYPE0_ADDRESSES];
    header(
        &mut b,
        NDIS_SRIOV_PROBED_BARS_INFO_REVISION_1,
        NDIS_SIZEOF_SRIOV_PROBED_BARS_INFO_REVISION_1,
    );
    w32(&mut b, 4, 8);
    b
}

/// NDIS_SRIOV_BAR_RESOURCES_INFO with room for the descriptor right after it (12 + 20).
pub fn bar_resources_params(vf: u16, bar: u16) -> Vec<u8> {
    let mut b = vec![0u8; 12 + 20];
    header(
        &mut b,
        NDIS_SRIOV_BAR_RESOURCES_INFO_REVISION_1,
        NDIS_SIZEOF_SRIOV_BAR_RESOURCES_INFO_REVISION_1,
    );
    w16(&mut b, 4, vf);
    w16(&mut b, 6, bar);
    w32(&mut b, 8, 12);
    b
}

// ---- Issuing them ----------------------------------------------------------------------------

/// A host-linked PF with a NIC switch of 4 VFs and VFs `0..allocated` allocated (not in a
/// guest): the starting point of the PF's OID tests.
pub fn pf_with_vfs(allocated: u16) -> World {
    let w = World::new(crate::Config::default());
    w.load_pf().expect("PF initializes");
    assert_eq!(w.create_switch(4), NDIS_STATUS_SUCCESS);
    for vf in 0..allocated {
        assert_eq!(w.allocate_vf(), Ok(vf));
    }
    w
}

use crate::{OidOutcome, World};
use common::oid::RequestKind;

/// One OID to the PF with `buf` as input and output (its whole length).
pub fn pf_oid(w: &World, kind: RequestKind, oid: NDIS_OID, buf: &mut [u8]) -> OidOutcome {
    let n = buf.len() as u32;
    let input = if kind == RequestKind::Query { 0 } else { n };
    w.oid(w.pf_sim(), kind, oid, buf, input, n)
}

/// What a refused request must leave unchanged on the PF: its VPorts, filters, VFs, their
/// MAC/VLAN blocks and power states, and the invalidations sent (host-linked PF only).
pub fn pf_snapshot(w: &World) -> String {
    let pf = w.pf();
    let mut s = format!(
        "vports {} filters {} vfs {} invalidations {} virt {:?}\n",
        pf.vport_count(),
        pf.filter_count(),
        pf.allocated_vfs(),
        pf.invalidations_sent(),
        w.machine().virtualization()
    );
    for id in 0..8u32 {
        s += &format!("vport {id}: {:?}\n", pf.vport_info(id));
    }
    for id in 0..16u32 {
        s += &format!("filter {id}: {:?}\n", pf.filter_info(id));
    }
    for vf in 0..4u16 {
        let mac = pf.vf_block(
            vf,
            <common::blocks::MacVlanBlock as common::blocks::ConfigBlock>::id(),
        );
        s += &format!(
            "vf {vf}: {:?} {:?} pmcsr {:?}\n",
            mac.map(|(b, n)| b[..n].to_vec()),
            pf.vf_power_state(vf),
            w.pf_sim().ext.pci().vf_power(vf)
        );
    }
    s
}

/// Issues a hostile request and checks the refusal: `status`, `BytesNeeded` when given, a
/// debugger line, no change to the PF nor to the switch's registers in the device
/// (docs/reference-nic.md sections 7 and 8), no Verifier-style violation.
pub fn expect_refused(
    w: &World,
    what: &str,
    kind: RequestKind,
    oid: NDIS_OID,
    buf: &mut [u8],
    status: NDIS_STATUS,
    bytes_needed: Option<u32>,
) -> OidOutcome {
    let before = pf_snapshot(w);
    let hw_before = w.machine().nic(|m| m.switch_registers());
    let lines = w.log().len();
    let o = pf_oid(w, kind, oid, buf);
    assert_eq!(
        o.status,
        status,
        "{what}: expected {} got {}",
        crate::timeline::status_text(status),
        crate::timeline::status_text(o.status)
    );
    if let Some(n) = bytes_needed {
        assert_eq!(o.bytes_needed, n, "{what}: BytesNeeded");
    }
    assert_eq!(pf_snapshot(w), before, "{what}: the refusal changed the PF");
    assert!(
        w.machine().nic(|m| m.switch_registers()) == hw_before,
        "{what}: the refusal changed the switch's registers"
    );
    assert!(
        w.log()[lines..].iter().any(|l| l.contains("refused")),
        "{what}: no debugger line for the refusal"
    );
    assert!(w.violations().is_empty(), "{what}: {:?}", w.violations());
    o
}
