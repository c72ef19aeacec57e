//! Receive filters on VPorts (issue 10): OID_RECEIVE_FILTER_SET_FILTER (method),
//! OID_RECEIVE_FILTER_CLEAR_FILTER (set) and OID_RECEIVE_FILTER_MOVE_FILTER (set), and the real
//! trigger of a VF's configuration: a MAC/VLAN filter on the VF's VPort reaches the VF's
//! MAC/VLAN block, is invalidated, and the VF in its guest takes the new address.
use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind::{Method, Query, Set};
use sim::hyperv::*;
use sim::{Config, World};

const MAC_A: [u8; 6] = [0x00, 0x15, 0x5D, 0x10, 0x20, 0x30];
const MAC_B: [u8; 6] = [0x00, 0x15, 0x5D, 0x10, 0x20, 0x31];

/// Switch, VF 0 allocated with VPort 1 attached to it.
fn host(cfg: Config) -> World {
    let w = World::new(cfg);
    w.load_pf().expect("PF initializes");
    assert_eq!(w.create_switch(4), NDIS_STATUS_SUCCESS);
    assert_eq!(w.allocate_vf(), Ok(0));
    let mut b = vport_params(1, 0, 1, 0, 0);
    assert_eq!(
        pf_oid(&w, Method, OID_NIC_SWITCH_CREATE_VPORT, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    w
}

fn set_filter(w: &World, id: u32, vport: u32, mac: [u8; 6], vlan: Option<u16>) -> sim::OidOutcome {
    let mut b = filter_params(id, vport, mac, vlan);
    pf_oid(w, Method, OID_RECEIVE_FILTER_SET_FILTER, &mut b)
}

fn vf_mac_vlan(w: &World, vf: u16) -> MacVlanBlock {
    let (b, n) = w.pf().vf_block(vf, MacVlanBlock::id()).expect("VF block");
    MacVlanBlock::decode(&b[..n]).expect("valid block").0
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn a_filter_on_the_default_vport_leaves_the_vfs_alone() {
    let w = host(Config::default());
    let before = vf_mac_vlan(&w, 0);
    let sent = w.pf().invalidations_sent();
    let o = set_filter(&w, 5, NDIS_DEFAULT_VPORT_ID, MAC_A, None);
    assert_eq!(
        (o.status, o.bytes_read, o.bytes_written),
        (NDIS_STATUS_SUCCESS, 100, 44)
    );
    let f = w.pf().filter_info(5).unwrap();
    assert_eq!(
        (f.vport, f.mac, f.vlan, f.untagged_or_zero),
        (0, MAC_A, None, true)
    );
    assert_eq!(vf_mac_vlan(&w, 0), before);
    assert_eq!(w.pf().invalidations_sent(), sent, "nothing for any VF");
    w.assert_clean();
}

#[test]
fn a_filter_on_a_vf_vport_becomes_the_vfs_mac_and_vlan() {
    let w = host(Config::default());
    let sent = w.pf().invalidations_sent();
    assert_eq!(
        set_filter(&w, 9, 1, MAC_A, Some(42)).status,
        NDIS_STATUS_SUCCESS
    );
    let b = vf_mac_vlan(&w, 0);
    assert_eq!((b.mac, b.vlan_id), (MAC_A, 42));
    assert_eq!(
        w.pf().invalidations_sent(),
        sent + 1,
        "the block was invalidated"
    );
    // Cleared: the VF goes back to the address of the filter left on its VPort, if any.
    assert_eq!(
        set_filter(&w, 10, 1, MAC_B, None).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(vf_mac_vlan(&w, 0).mac, MAC_B);
    let mut c = clear_filter_params(10);
    let o = pf_oid(&w, Set, OID_RECEIVE_FILTER_CLEAR_FILTER, &mut c);
    assert_eq!((o.status, o.bytes_read), (NDIS_STATUS_SUCCESS, 16));
    let b = vf_mac_vlan(&w, 0);
    assert_eq!((b.mac, b.vlan_id), (MAC_A, 42));
    assert!(w.pf().filter_info(10).is_none());
    w.assert_clean();
}

/// The real trigger, end to end: the VF is in its guest, the switch sets its MAC through a
/// filter, the VF re-reads its block and reports the new address to NDIS.
#[test]
fn the_vf_in_its_guest_takes_the_address_a_filter_sets() {
    let w = host(Config::default());
    w.attach_vf(0).expect("VF starts");
    w.settle();
    assert_eq!(
        set_filter(&w, 3, 1, MAC_B, Some(7)).status,
        NDIS_STATUS_SUCCESS
    );
    w.settle();
    assert_eq!(w.vf_mac_via_oid(0).unwrap(), MAC_B);
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

#[test]
fn move_filter_carries_the_address_to_the_vf_and_back() {
    let w = host(Config::default());
    assert_eq!(
        set_filter(&w, 4, NDIS_DEFAULT_VPORT_ID, MAC_A, None).status,
        NDIS_STATUS_SUCCESS
    );
    let mut m = move_filter_params(4, 0, 1);
    let o = pf_oid(&w, Set, OID_RECEIVE_FILTER_MOVE_FILTER, &mut m);
    assert_eq!((o.status, o.bytes_read), (NDIS_STATUS_SUCCESS, 24));
    assert_eq!(w.pf().filter_info(4).unwrap().vport, 1);
    assert_eq!(vf_mac_vlan(&w, 0).mac, MAC_A);
    // Teardown moves it back to the default VPort before the VPort is deleted.
    let mut m = move_filter_params(4, 1, 0);
    assert_eq!(
        pf_oid(&w, Set, OID_RECEIVE_FILTER_MOVE_FILTER, &mut m).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(w.pf().filter_info(4).unwrap().vport, 0);
    let mut d = delete_vport_params(1);
    assert_eq!(
        pf_oid(&w, Set, OID_NIC_SWITCH_DELETE_VPORT, &mut d).status,
        NDIS_STATUS_SUCCESS
    );
    w.assert_clean();
}

#[test]
fn set_filter_hostile() {
    let w = host(Config::default());
    assert_eq!(
        set_filter(&w, 1, 1, MAC_A, None).status,
        NDIS_STATUS_SUCCESS
    );
    let f = FILTER_LEN;
    let ok = || filter_params(2, 1, MAC_B, Some(5));
    let with = |at: usize, v: u32| {
        let mut b = ok();
        put32(&mut b, at, v);
        b
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("Flags", with(4, 1)),
        ("FilterType packet coalescing", with(8, 2)),
        ("FilterType undefined", with(8, 0)),
        ("QueueId not the default", with(12, 1)),
        ("FilterId 0 (NDIS did not assign one)", with(16, 0)),
        ("FilterId in use", with(16, 1)),
        ("array offset inside the parameters", with(20, 40)),
        ("no fields", with(24, 0)),
        ("three fields", with(24, 3)),
        ("element size below the structure", with(28, 55)),
        ("RequestedFilterIdBitCount", with(32, 8)),
        ("MaxCoalescingDelay", with(36, 100)),
        ("no such VPort", with(40, 77)),
        ("element count overflows", with(28, 0x8000_0000)),
        ("FrameHeader not MAC", with(f + 8, 3)),
        ("test not equality", with(f + 12, 3)),
        ("source address field", with(f + 16, 2)),
        ("undefined field flag", with(f + 4, 0x10)),
        ("ResultValue on an equality test", with(f + 40, 1)),
        (
            "multicast MAC",
            filter_params(2, 1, [0x01, 0, 0x5E, 0, 0, 1], None),
        ),
        ("zero MAC", filter_params(2, 1, [0; 6], None)),
        ("VLAN 0", filter_params(2, 1, MAC_B, Some(0))),
        ("VLAN 4095", filter_params(2, 1, MAC_B, Some(4095))),
        (
            "VLAN field and UNTAGGED_OR_ZERO",
            with(
                f + 4,
                NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO,
            ),
        ),
        ("no VLAN field and no UNTAGGED_OR_ZERO", {
            let mut b = filter_params(2, 1, MAC_B, None);
            put32(&mut b, f + 4, 0);
            b
        }),
        ("two MAC fields", {
            let mut b = ok();
            put32(
                &mut b,
                f + FIELD_LEN + 16,
                NdisMacHeaderFieldDestinationAddress,
            );
            b
        }),
        ("two VLAN fields", {
            let mut b = ok();
            put32(&mut b, f + 16, NdisMacHeaderFieldVlanId);
            b
        }),
        ("field header type", {
            let mut b = ok();
            b[f] = 0x81;
            b
        }),
        ("parameters revision 1 (no VPortId)", {
            let mut b = ok();
            b[1] = 1;
            b
        }),
    ];
    for (what, mut b) in cases {
        expect_refused(
            &w,
            what,
            Method,
            OID_RECEIVE_FILTER_SET_FILTER,
            &mut b,
            NDIS_STATUS_INVALID_PARAMETER,
            None,
        );
    }
    let mut b = ok();
    b.truncate(FILTER_LEN + FIELD_LEN + 10);
    expect_refused(
        &w,
        "fields past the buffer",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some((FILTER_LEN + 2 * FIELD_LEN) as u32),
    );
    let mut b = ok();
    b.truncate(40);
    expect_refused(
        &w,
        "short parameters",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(44),
    );
    let mut b = ok();
    expect_refused(
        &w,
        "set request",
        Set,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
    let mut b = ok();
    expect_refused(
        &w,
        "query request",
        Query,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
    assert_eq!(
        set_filter(&w, 2, 1, MAC_B, Some(5)).status,
        NDIS_STATUS_SUCCESS,
        "the valid request still works"
    );
}

#[test]
fn vlan_filters_need_vmq_vlan_filtering() {
    let w = host(Config {
        keywords: vec![("*VMQVlanFiltering".into(), 0)],
        ..Config::default()
    });
    assert!(!w.pf().vlan_filtering());
    let mut b = filter_params(2, 1, MAC_B, Some(5));
    expect_refused(
        &w,
        "VLAN with filtering off",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    assert_eq!(
        set_filter(&w, 2, 1, MAC_B, None).status,
        NDIS_STATUS_SUCCESS
    );
}

#[test]
fn filters_per_vport_run_out() {
    let w = host(Config::default());
    let max = pf_miniport::vport::MAX_FILTERS_PER_VPORT as u32;
    for id in 1..=max {
        let mac = [0x02, 0, 0, 0, (id >> 8) as u8, id as u8];
        assert_eq!(
            set_filter(&w, id, 0, mac, None).status,
            NDIS_STATUS_SUCCESS,
            "filter {id}"
        );
    }
    let mut b = filter_params(max + 1, 0, MAC_A, None);
    expect_refused(
        &w,
        "VPort full",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_FAILURE,
        None,
    );
    let mut m = move_filter_params(1, 0, 1);
    assert_eq!(
        pf_oid(&w, Set, OID_RECEIVE_FILTER_MOVE_FILTER, &mut m).status,
        NDIS_STATUS_SUCCESS
    );
}

#[test]
fn clear_filter_hostile() {
    let w = host(Config::default());
    assert_eq!(
        set_filter(&w, 1, 1, MAC_A, None).status,
        NDIS_STATUS_SUCCESS
    );
    let mut b = clear_filter_params(99);
    expect_refused(
        &w,
        "unknown FilterId",
        Set,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        &mut b,
        NDIS_STATUS_FILE_NOT_FOUND,
        None,
    );
    let mut b = clear_filter_params(0);
    expect_refused(
        &w,
        "FilterId 0",
        Set,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        &mut b,
        NDIS_STATUS_FILE_NOT_FOUND,
        None,
    );
    let mut b = clear_filter_params(1);
    put32(&mut b, 8, 2);
    expect_refused(
        &w,
        "QueueId",
        Set,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = clear_filter_params(1);
    put32(&mut b, 4, 1);
    expect_refused(
        &w,
        "Flags",
        Set,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = clear_filter_params(1);
    b.truncate(15);
    expect_refused(
        &w,
        "short",
        Set,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(16),
    );
    let mut b = clear_filter_params(1);
    expect_refused(
        &w,
        "method request",
        Method,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn move_filter_hostile() {
    let w = host(Config::default());
    assert_eq!(
        set_filter(&w, 1, 0, MAC_A, None).status,
        NDIS_STATUS_SUCCESS
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown FilterId", move_filter_params(50, 0, 1)),
        (
            "SourceVPortId not the filter's",
            move_filter_params(1, 1, 0),
        ),
        ("no such destination", move_filter_params(1, 0, 200)),
        (
            "destination past NumVPorts",
            move_filter_params(1, 0, u32::MAX),
        ),
        ("source equals destination", move_filter_params(1, 0, 0)),
        ("source queue not the default", {
            let mut b = move_filter_params(1, 0, 1);
            put32(&mut b, 8, 1);
            b
        }),
        ("destination queue not the default", {
            let mut b = move_filter_params(1, 0, 1);
            put32(&mut b, 16, 3);
            b
        }),
    ];
    for (what, mut b) in cases {
        expect_refused(
            &w,
            what,
            Set,
            OID_RECEIVE_FILTER_MOVE_FILTER,
            &mut b,
            NDIS_STATUS_INVALID_PARAMETER,
            None,
        );
    }
    let mut b = move_filter_params(1, 0, 1);
    b.truncate(20);
    expect_refused(
        &w,
        "short",
        Set,
        OID_RECEIVE_FILTER_MOVE_FILTER,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(24),
    );
    let mut b = move_filter_params(1, 0, 1);
    expect_refused(
        &w,
        "method request",
        Method,
        OID_RECEIVE_FILTER_MOVE_FILTER,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn filters_without_a_switch_are_not_supported() {
    let w = World::new(Config::default());
    w.load_pf().expect("PF initializes");
    let mut b = filter_params(1, 0, MAC_A, None);
    expect_refused(
        &w,
        "no switch",
        Method,
        OID_RECEIVE_FILTER_SET_FILTER,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}
