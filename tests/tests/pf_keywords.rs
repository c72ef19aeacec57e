//! The PF's standardized keywords (issue 10), step by step as "Handling SR-IOV, VMQ, and RSS
//! Standardized INF Keywords" gives them, and the capabilities each outcome reports at
//! initialization: hardware capabilities always, current ones only for the enabled interface
//! ("Determining SR-IOV Capabilities", "Determining Receive Filtering Capabilities": in SR-IOV
//! mode VMQ filters are enabled and NumQueues is 0).
use common::ffi::*;
use sim::hyperv::ABSENT;
use sim::{Config, World};

fn pf(keywords: &[(&str, u32)]) -> World {
    let w = World::new(Config {
        keywords: keywords.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..Config::default()
    });
    w.load_pf().expect("PF initializes");
    w
}

struct Reported {
    sriov_current: bool,
    switch_current: bool,
    filters_current: Option<NDIS_RECEIVE_FILTER_CAPABILITIES>,
    filters_hw: Option<NDIS_RECEIVE_FILTER_CAPABILITIES>,
    switch_hw: bool,
    sriov_hw: bool,
}

fn reported(w: &World) -> Reported {
    let a = w.pf_sim();
    Reported {
        sriov_current: a.sriov_current.lock().unwrap().is_some(),
        switch_current: a.ext.cur_switch_caps.lock().unwrap().is_some(),
        filters_current: *a.ext.cur_filter_caps.lock().unwrap(),
        filters_hw: *a.ext.hw_filter_caps.lock().unwrap(),
        switch_hw: a.ext.hw_switch_caps.lock().unwrap().is_some(),
        sriov_hw: a.sriov_caps.lock().unwrap().is_some(),
    }
}

fn assert_hardware_always(r: &Reported) {
    assert!(
        r.sriov_hw && r.switch_hw,
        "hardware SR-IOV and NIC switch capabilities"
    );
    let hw = r.filters_hw.expect("hardware receive-filter capabilities");
    assert_eq!(
        hw.Header.Revision,
        NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_2
    );
    assert_eq!(
        hw.Header.Size,
        NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2
    );
    assert_ne!(
        hw.SupportedMacHeaderFields & NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED,
        0
    );
}

#[test]
fn sriov_preferred_by_the_host_reports_current_sriov_with_vmq_filters_and_no_queues() {
    // The simulated host writes *SriovPreferred = 1 (an SR-IOV virtual switch).
    let w = pf(&[]);
    let r = reported(&w);
    assert_hardware_always(&r);
    assert!(r.sriov_current && r.switch_current);
    let cur = r
        .filters_current
        .expect("current receive-filter capabilities in SR-IOV mode");
    assert_eq!(
        cur.EnabledFilterTypes,
        NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED
    );
    assert_eq!(cur.NumQueues, 0, "SR-IOV uses VPorts, not VM queues");
    // NDIS_RECEIVE_FILTER_CAPABILITIES: both queue properties, for the hardware and current.
    for caps in [cur, r.filters_hw.unwrap()] {
        assert_eq!(
            caps.SupportedQueueProperties,
            NDIS_RECEIVE_FILTER_MSI_X_SUPPORTED | NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED
        );
    }
    assert_eq!(cur.EnabledQueueTypes, 0);
    assert_eq!(
        cur.SupportedHeaders,
        NDIS_RECEIVE_FILTER_MAC_HEADER_SUPPORTED
    );
    assert_ne!(
        cur.SupportedMacHeaderFields & NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED,
        0,
        "*VMQVlanFiltering defaults to 1"
    );
    assert!(w.pf().sriov_enabled());
    assert_eq!(w.create_switch(2), NDIS_STATUS_SUCCESS);
    w.assert_clean();
}

#[test]
fn without_sriov_preferred_no_current_sriov_even_with_sriov_1() {
    for value in [0, ABSENT] {
        let w = pf(&[("*SriovPreferred", value), ("*SRIOV", 1)]);
        let r = reported(&w);
        assert_hardware_always(&r);
        assert!(
            !r.sriov_current && !r.switch_current && r.filters_current.is_none(),
            "*SriovPreferred {value}"
        );
        assert!(!w.pf().sriov_enabled());
        assert_eq!(w.create_switch(2), NDIS_STATUS_NOT_SUPPORTED);
        w.assert_clean();
    }
}

#[test]
fn sriov_zero_disables_sriov_under_sriov_preference() {
    let w = pf(&[("*SRIOV", 0)]);
    let r = reported(&w);
    assert_hardware_always(&r);
    assert!(!r.sriov_current && r.filters_current.is_none());
    assert!(w.log().iter().any(|l| l.contains("*SRIOV is 0")));
}

#[test]
fn vmq_vlan_filtering_zero_drops_vlan_from_the_current_capabilities_only() {
    let w = pf(&[("*VMQVlanFiltering", 0)]);
    let r = reported(&w);
    assert_hardware_always(&r);
    let cur = r.filters_current.unwrap();
    assert_eq!(
        cur.SupportedMacHeaderFields & NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED,
        0
    );
    let sw = w.pf_sim().ext.cur_switch_caps.lock().unwrap().unwrap();
    assert_eq!(
        sw.NicSwitchCapabilities & NDIS_NIC_SWITCH_CAPS_VLAN_SUPPORTED,
        0
    );
    assert!(!w.pf().vlan_filtering());
}

#[test]
fn vmq_or_rss_preference_never_enables_sriov_on_this_hardware() {
    for kw in [
        vec![
            ("*SriovPreferred", 0),
            ("*RssOrVmqPreference", 1),
            ("*VMQ", 1),
        ],
        vec![
            ("*SriovPreferred", 0),
            ("*RssOrVmqPreference", 0),
            ("*RSS", 1),
        ],
        vec![
            ("*SriovPreferred", 1),
            ("*RssOrVmqPreference", 1),
            ("*SRIOV", 0),
            ("*VMQ", 1),
        ],
    ] {
        let w = pf(&kw);
        let r = reported(&w);
        assert_hardware_always(&r);
        assert!(!r.sriov_current && r.filters_current.is_none(), "{kw:?}");
        w.assert_clean();
    }
    // SR-IOV and VMQ preferred together: SR-IOV is current (the table's first row); this
    // hardware has no VM queues, so nothing of VMQ's is added.
    let w = pf(&[
        ("*SriovPreferred", 1),
        ("*RssOrVmqPreference", 1),
        ("*SRIOV", 1),
        ("*VMQ", 1),
    ]);
    let r = reported(&w);
    assert!(r.sriov_current);
    assert_eq!(r.filters_current.unwrap().NumQueues, 0);
}

#[test]
fn nic_switch_capabilities_cover_what_the_vport_oids_check() {
    let w = pf(&[]);
    let sw = w.pf_sim().ext.hw_switch_caps.lock().unwrap().unwrap();
    assert_eq!(sw.MaxNumVPorts as usize, pf_miniport::vport::MAX_VPORTS);
    assert_eq!(sw.MaxNumQueuePairs, pf_miniport::vport::MAX_QUEUE_PAIRS);
    assert_eq!(
        sw.MaxNumQueuePairsPerNonDefaultVPort,
        pf_miniport::vport::MAX_QUEUE_PAIRS_PER_NONDEFAULT_VPORT
    );
    assert_eq!(
        sw.NumMacAddressesPerPort as usize,
        pf_miniport::vport::MAX_FILTERS_PER_VPORT
    );
    assert_eq!(sw.MaxNumVFs as usize, pf_miniport::MAX_VFS);
}

/// The PF INF declares `*VMQVlanFiltering` as "Standardized INF Keywords for VMQ" gives it
/// (enumeration, 0 Disabled, 1 the default), and never `*SriovPreferred` (hidden).
#[test]
fn the_inf_declares_vmq_vlan_filtering_and_not_sriov_preferred() {
    let inx = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../inf/pf_miniport.inx"
    ))
    .unwrap();
    let lines: Vec<String> = inx
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let has = |l: &str| lines.iter().any(|x| x == l);
    assert!(has(
        "HKR, Ndi\\params\\*VMQVlanFiltering, Type, 0, \"enum\""
    ));
    assert!(has(
        "HKR, Ndi\\params\\*VMQVlanFiltering, Default, 0, \"1\""
    ));
    assert!(has(
        "HKR, Ndi\\params\\*VMQVlanFiltering\\enum, \"0\", 0, %Disabled%"
    ));
    assert!(has(
        "HKR, Ndi\\params\\*VMQVlanFiltering\\enum, \"1\", 0, %Enabled%"
    ));
    assert!(
        !inx.lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .any(|l| l.contains("*SriovPreferred"))
    );
}

/// The standardized keywords the PF read, in order (the simulator's registry records reads).
fn keyword_reads(w: &World) -> Vec<String> {
    const STANDARD: [&str; 6] = [
        "*SriovPreferred",
        "*RssOrVmqPreference",
        "*SRIOV",
        "*VMQVlanFiltering",
        "*VMQ",
        "*RSS",
    ];
    w.timeline()
        .into_iter()
        .filter_map(|(_, e)| match e {
            sim::timeline::Event::Lifecycle { who, what } if who == "registry" => {
                what.strip_prefix("read ").map(str::to_string)
            }
            _ => None,
        })
        .filter(|k| STANDARD.contains(&k.as_str()))
        .collect()
}

/// "Handling SR-IOV, VMQ, and RSS Standardized INF Keywords", in its order: `*SriovPreferred`
/// first, then `*RssOrVmqPreference`, then only the keywords of the preferred interface.
#[test]
fn keywords_are_read_in_the_documented_order_and_only_for_the_preferred_interface() {
    type Case<'a> = (&'a [(&'a str, u32)], &'a [&'a str]);
    let cases: [Case; 4] = [
        (
            &[],
            &[
                "*SriovPreferred",
                "*RssOrVmqPreference",
                "*SRIOV",
                "*VMQVlanFiltering",
            ],
        ),
        (
            &[("*RssOrVmqPreference", 1)],
            &[
                "*SriovPreferred",
                "*RssOrVmqPreference",
                "*SRIOV",
                "*VMQVlanFiltering",
                "*VMQ",
            ],
        ),
        (
            &[("*SriovPreferred", 0), ("*RssOrVmqPreference", 1)],
            &["*SriovPreferred", "*RssOrVmqPreference", "*VMQ"],
        ),
        (
            &[("*SriovPreferred", 0)],
            &["*SriovPreferred", "*RssOrVmqPreference", "*RSS"],
        ),
    ];
    for (keywords, expected) in cases {
        let w = pf(keywords);
        assert_eq!(keyword_reads(&w), expected, "{keywords:?}");
    }
}
