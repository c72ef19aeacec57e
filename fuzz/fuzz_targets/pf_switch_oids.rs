//! The PF's host-controlled OIDs (NIC switch, VPorts, receive filters, SR-IOV PCI
//! virtualization, VF allocation/free/reset, the general OIDs and the management OIDs) with
//! arbitrary payloads, request types and lengths, in sequences of up to 8 requests through the
//! simulator against a PF that has run the documented host flow (switch, host vNIC filter, two
//! VMs with their VFs in their guests). Each input starts from a freshly booted world.
//! Contract, per request: no byte past the declared buffer length touched; no Verifier-style
//! violation; a refusal changes nothing (VPorts, filters, VFs, their blocks and power states,
//! invalidations sent) and never pends. After the sequence, every VF still attached is
//! consistent with the PF once the machine settles.
//!
//! Input, per request: OID selector, request type byte, flags (bit 0 start from a valid
//! payload of that OID, bit 1 resize to the length that follows, bits 2-3 how the input and
//! output lengths relate to the buffer), a u16 length, a patch count with (u16 offset, byte)
//! patches, then a length-prefixed raw payload.
#![no_main]

use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use fuzz_support::{Cursor, check_guard, guarded};
use libfuzzer_sys::fuzz_target;
use pf_miniport::management::{OID_REF_SET_LINK, OID_REF_SET_VF_MAC_VLAN, SetLink, SetVfMacVlan};
use sim::host_flow::HostFlow;
use sim::hyperv::*;
use sim::payloads;
use sim::{Config, World};

/// The OIDs with a valid payload to start from.
fn templates() -> Vec<(NDIS_OID, Vec<u8>)> {
    let mac = [0x02, 0x15, 0x5D, 0x77, 0, 1];
    vec![
        (OID_NIC_SWITCH_CREATE_VPORT, vport_params(3, 0, 1, 0, 0)),
        (
            OID_NIC_SWITCH_CREATE_VPORT,
            vport_params(4, NDIS_PF_FUNCTION_ID, 2, 0, 0),
        ),
        (OID_NIC_SWITCH_DELETE_VPORT, delete_vport_params(1)),
        (
            OID_NIC_SWITCH_VPORT_PARAMETERS,
            vport_params(
                1,
                0,
                1,
                NdisNicSwitchVPortStateActivated,
                NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED,
            ),
        ),
        (
            OID_NIC_SWITCH_PARAMETERS,
            switch_params(4, NDIS_NIC_SWITCH_PARAMETERS_SWITCH_NAME_CHANGED),
        ),
        (OID_NIC_SWITCH_CREATE_SWITCH, switch_params(4, 0)),
        (
            OID_NIC_SWITCH_DELETE_SWITCH,
            payloads::delete_switch_parameters(NDIS_DEFAULT_SWITCH_ID),
        ),
        (
            OID_NIC_SWITCH_ALLOCATE_VF,
            payloads::vf_parameters(Some(mac)),
        ),
        (OID_NIC_SWITCH_FREE_VF, payloads::free_vf_parameters(1)),
        (OID_SRIOV_RESET_VF, payloads::reset_vf_parameters(0)),
        (
            OID_RECEIVE_FILTER_SET_FILTER,
            filter_params(90, 1, mac, Some(3)),
        ),
        (
            OID_RECEIVE_FILTER_SET_FILTER,
            filter_params(91, 0, mac, None),
        ),
        (OID_RECEIVE_FILTER_CLEAR_FILTER, clear_filter_params(1)),
        (OID_RECEIVE_FILTER_MOVE_FILTER, move_filter_params(1, 1, 0)),
        (
            OID_SRIOV_READ_VF_CONFIG_SPACE,
            config_space_params(0, 0, 64),
        ),
        (
            OID_SRIOV_WRITE_VF_CONFIG_SPACE,
            config_space_params(0, 0x40, 8),
        ),
        (OID_SRIOV_PROBED_BARS, probed_bars_params()),
        (OID_SRIOV_VF_VENDOR_DEVICE_ID, vendor_device_params(0)),
        (
            OID_SRIOV_SET_VF_POWER_STATE,
            power_params(0, NdisDeviceStateD0, 0),
        ),
        (OID_SRIOV_BAR_RESOURCES, bar_resources_params(0, 0)),
        (
            OID_REF_SET_VF_MAC_VLAN,
            SetVfMacVlan::encode(0, mac, 7, 1).to_vec(),
        ),
        (
            OID_REF_SET_LINK,
            SetLink::encode(true, 9000, 25_000_000_000).to_vec(),
        ),
        (OID_NIC_SWITCH_HARDWARE_CAPABILITIES, vec![0; 256]),
        (OID_NIC_SWITCH_CURRENT_CAPABILITIES, vec![0; 256]),
        (OID_SRIOV_HARDWARE_CAPABILITIES, vec![0; 64]),
        (OID_SRIOV_CURRENT_CAPABILITIES, vec![0; 64]),
        (OID_RECEIVE_FILTER_HARDWARE_CAPABILITIES, vec![0; 256]),
        (OID_RECEIVE_FILTER_CURRENT_CAPABILITIES, vec![0; 256]),
        (OID_NIC_SWITCH_VF_PARAMETERS, payloads::vf_parameters(None)),
        // The backchannel OIDs too: the host may send them as well.
        (
            OID_SRIOV_READ_VF_CONFIG_BLOCK,
            payloads::config_block_params(0, 2, 36, 20),
        ),
    ]
}

/// Every OID the sequence may name: the templates', the general ones, and any u32.
fn oid_for(
    selector: u8,
    templates: &[(NDIS_OID, Vec<u8>)],
    c: &mut Cursor<'_>,
) -> (NDIS_OID, Vec<u8>) {
    let general = common::miniport::GENERAL_OIDS;
    let s = selector as usize;
    if s < templates.len() {
        templates[s].clone()
    } else if s < templates.len() + general.len() {
        (general[s - templates.len()], vec![0; 16])
    } else {
        (c.u32(), Vec::new())
    }
}

/// What a refusal must leave as it was: the PF's switch state and every block of every VF.
fn state(w: &World) -> (String, Vec<Option<Vec<u8>>>) {
    let pf = w.pf();
    let mut blocks = Vec::new();
    for vf in 0..4u16 {
        for i in 0..BLOCK_COUNT as u8 {
            blocks.push(
                pf.vf_block(vf, BlockId::masked(i))
                    .map(|(b, n)| b[..n].to_vec()),
            );
        }
    }
    (pf_snapshot(w), blocks)
}

fn request(w: &World, c: &mut Cursor<'_>, templates: &[(NDIS_OID, Vec<u8>)]) {
    let selector = c.u8();
    let kind = [RequestKind::Method, RequestKind::Set, RequestKind::Query][c.u8() as usize % 3];
    let flags = c.u8();
    let len = c.u16() as usize % 2048;
    let (oid, template) = oid_for(selector, templates, c);
    let mut payload = if flags & 1 == 1 { template } else { Vec::new() };
    let patches = c.u8() % 16;
    let raw = {
        let n = c.u16() as usize % 2048;
        c.bytes(n).to_vec()
    };
    if flags & 1 == 0 {
        payload = raw.clone();
    }
    if flags & 2 == 2 {
        payload.resize(len, 0);
    }
    for _ in 0..patches {
        let at = c.u16() as usize;
        let v = c.u8();
        if !payload.is_empty() {
            let i = at % payload.len();
            payload[i] = v;
        }
    }
    let n = payload.len();
    // Input and output lengths: the buffer's, or shorter ones (never longer: NDIS's buffer
    // holds what it declares).
    let (input, output) = match (flags >> 2) & 3 {
        0 => (n, n),
        1 => (n, len.min(n)),
        2 => (len.min(n), n),
        _ => (len.min(n), (len / 3).min(n)),
    };
    let declared = match kind {
        RequestKind::Query => output,
        RequestKind::Set => input,
        RequestKind::Method => input.max(output),
    };
    let mut buf = guarded(&payload[..declared]);
    let before = state(w);
    let o = w.oid(w.pf_sim(), kind, oid, &mut buf, input as u32, output as u32);
    w.settle();
    check_guard(&buf, declared, "the PF");
    assert!(
        w.violations().is_empty(),
        "OID {oid:#x}: {:?}",
        w.violations()
    );
    assert_ne!(o.status, NDIS_STATUS_PENDING, "OID {oid:#x} pended");
    if o.status != NDIS_STATUS_SUCCESS {
        assert_eq!(state(w), before, "refused OID {oid:#x} changed the PF");
    } else {
        match kind {
            RequestKind::Query => assert!(o.bytes_written as usize <= output),
            RequestKind::Set => assert!(o.bytes_read as usize <= input),
            RequestKind::Method => {
                assert!(o.bytes_written as usize <= output);
                assert!(o.bytes_read as usize <= input);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let w = World::new(Config {
        record: false,
        ..Config::default()
    });
    w.load_pf().expect("PF initializes");
    let mut flow = HostFlow::new(&w);
    flow.start(2).expect("the host flow runs");
    w.settle();
    let templates = templates();
    let mut c = Cursor::new(data);
    let mut n = 0;
    while !c.is_empty() && n < 8 {
        request(&w, &mut c, &templates);
        n += 1;
    }
    for vf in w.vf_ids() {
        if w.pf().vf_generation(vf).is_some() {
            w.check_consistent(vf)
                .unwrap_or_else(|e| panic!("VF {vf} after the sequence: {e}"));
        }
    }
});
