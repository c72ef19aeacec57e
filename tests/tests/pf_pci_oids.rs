//! PCI virtualization through the PF (issue 10): OID_SRIOV_READ_VF_CONFIG_SPACE (method),
//! OID_SRIOV_WRITE_VF_CONFIG_SPACE (set), OID_SRIOV_PROBED_BARS (query),
//! OID_SRIOV_VF_VENDOR_DEVICE_ID (method), OID_SRIOV_SET_VF_POWER_STATE (set) and
//! OID_SRIOV_BAR_RESOURCES (method, as its page says), against the simulated NIC's PCI
//! functions (`sim::pci`).
use common::ffi::*;
use common::oid::RequestKind::{Method, Query, Set};
use sim::hyperv::*;
use sim::pci;
use sim::{Config, World};

/// Switch with 4 VFs, VFs 0 and 1 allocated.
fn host() -> World {
    pf_with_vfs(2)
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn config_space_reads_and_writes_reach_the_vf_function() {
    let w = host();
    let mut b = config_space_params(1, 0, 12);
    let o = pf_oid(&w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b);
    assert_eq!((o.status, o.bytes_written), (NDIS_STATUS_SUCCESS, 32));
    assert_eq!(&b[20..24], &[0xFF; 4], "a VF's ids read FFFFh");
    assert_eq!(b[20 + 11], 0x02, "class: network controller");
    let mut wr = config_space_params(1, 0xA0, 4);
    wr[20..24].copy_from_slice(&[1, 2, 3, 4]);
    let o = pf_oid(&w, Set, OID_SRIOV_WRITE_VF_CONFIG_SPACE, &mut wr);
    assert_eq!((o.status, o.bytes_read), (NDIS_STATUS_SUCCESS, 24));
    let mut b = config_space_params(1, 0xA0, 4);
    assert_eq!(
        pf_oid(&w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(&b[20..24], &[1, 2, 3, 4]);
    assert_eq!(
        w.pf_sim().ext.pci().vf_config(0)[0xA0..0xA4],
        [0; 4],
        "VF 0 untouched"
    );
    // The last byte of the 4 KiB space is in range.
    let mut b = config_space_params(0, 4095, 1);
    assert_eq!(
        pf_oid(&w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    w.assert_clean();
}

#[test]
fn config_space_hostile() {
    let w = host();
    let read = OID_SRIOV_READ_VF_CONFIG_SPACE;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unallocated VF", config_space_params(2, 0, 4)),
        ("VF id beyond the switch", config_space_params(0xFFFF, 0, 4)),
        ("Length 0", config_space_params(0, 0, 0)),
        ("past 4 KiB", config_space_params(0, 4093, 4)),
        ("Offset + Length overflows", {
            let mut b = config_space_params(0, 0, 4);
            put32(&mut b, 8, u32::MAX - 1);
            b
        }),
        ("BufferOffset inside the parameters", {
            let mut b = config_space_params(0, 0, 4);
            put32(&mut b, 16, 10);
            b
        }),
        ("BufferOffset + Length overflows", {
            let mut b = config_space_params(0, 0, 4);
            put32(&mut b, 16, u32::MAX - 2);
            b
        }),
        ("header revision 0", {
            let mut b = config_space_params(0, 0, 4);
            b[1] = 0;
            b
        }),
    ];
    for (what, mut b) in cases {
        expect_refused(
            &w,
            what,
            Method,
            read,
            &mut b,
            NDIS_STATUS_INVALID_PARAMETER,
            None,
        );
    }
    let mut b = config_space_params(0, 0, 16);
    b.truncate(28);
    expect_refused(
        &w,
        "data past the buffer",
        Method,
        read,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(36),
    );
    let mut b = config_space_params(0, 0, 4);
    b.truncate(19);
    expect_refused(
        &w,
        "short parameters",
        Method,
        read,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(20),
    );
    let mut b = config_space_params(0, 0, 4);
    expect_refused(
        &w,
        "read as a set",
        Set,
        read,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
    // Writes.
    let write = OID_SRIOV_WRITE_VF_CONFIG_SPACE;
    let mut b = config_space_params(3, 0x40, 4);
    expect_refused(
        &w,
        "write to an unallocated VF",
        Set,
        write,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = config_space_params(0, 0x40, 8);
    b.truncate(24);
    expect_refused(
        &w,
        "write data past the buffer",
        Set,
        write,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(28),
    );
    let mut b = config_space_params(0, 4092, 8);
    expect_refused(
        &w,
        "write past 4 KiB",
        Set,
        write,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = config_space_params(0, 0x40, 4);
    expect_refused(
        &w,
        "write as a method",
        Method,
        write,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
    assert!(
        w.pf_sim().ext.pci().vf_writes.is_empty(),
        "no refused write reached the bus"
    );
}

#[test]
fn probed_bars_are_the_pci_drivers() {
    let w = host();
    let mut b = probed_bars_params();
    let o = pf_oid(&w, Query, OID_SRIOV_PROBED_BARS, &mut b);
    assert_eq!((o.status, o.bytes_written), (NDIS_STATUS_SUCCESS, 32));
    let bars: Vec<u32> = b[8..32]
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(bars, pci::PROBED_BARS);
    w.assert_clean();
}

#[test]
fn probed_bars_hostile() {
    let w = host();
    let mut b = probed_bars_params();
    b.truncate(31);
    expect_refused(
        &w,
        "short buffer",
        Query,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(32),
    );
    let mut b = probed_bars_params();
    put32(&mut b, 4, 4);
    expect_refused(
        &w,
        "offset inside the info",
        Query,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = probed_bars_params();
    put32(&mut b, 4, 12);
    expect_refused(
        &w,
        "values past the buffer",
        Query,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(36),
    );
    let mut b = probed_bars_params();
    put32(&mut b, 4, u32::MAX - 3);
    expect_refused(
        &w,
        "offset overflows",
        Query,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = probed_bars_params();
    b[0] = 0;
    expect_refused(
        &w,
        "header type",
        Query,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = probed_bars_params();
    expect_refused(
        &w,
        "method request",
        Method,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn vendor_and_device_id_come_from_the_pfs_sriov_capability() {
    let w = host();
    let mut b = vendor_device_params(1);
    let o = pf_oid(&w, Method, OID_SRIOV_VF_VENDOR_DEVICE_ID, &mut b);
    assert_eq!((o.status, o.bytes_written), (NDIS_STATUS_SUCCESS, 10));
    assert_eq!(u16::from_le_bytes([b[6], b[7]]), pci::PF_VENDOR_ID);
    assert_eq!(u16::from_le_bytes([b[8], b[9]]), pci::VF_DEVICE_ID);
    w.assert_clean();
}

#[test]
fn vendor_device_id_hostile() {
    let w = host();
    let mut b = vendor_device_params(2);
    expect_refused(
        &w,
        "unallocated VF",
        Method,
        OID_SRIOV_VF_VENDOR_DEVICE_ID,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = vendor_device_params(0);
    b.truncate(9);
    expect_refused(
        &w,
        "short",
        Method,
        OID_SRIOV_VF_VENDOR_DEVICE_ID,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(10),
    );
    let mut b = vendor_device_params(0);
    b[2..4].copy_from_slice(&9u16.to_le_bytes());
    expect_refused(
        &w,
        "header size",
        Method,
        OID_SRIOV_VF_VENDOR_DEVICE_ID,
        &mut b,
        NDIS_STATUS_INVALID_PARAMETER,
        None,
    );
    let mut b = vendor_device_params(0);
    expect_refused(
        &w,
        "query request",
        Query,
        OID_SRIOV_VF_VENDOR_DEVICE_ID,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn power_state_is_recorded_for_that_vf_only() {
    let w = host();
    let mut b = power_params(1, NdisDeviceStateD3, 1);
    let o = pf_oid(&w, Set, OID_SRIOV_SET_VF_POWER_STATE, &mut b);
    assert_eq!((o.status, o.bytes_read), (NDIS_STATUS_SUCCESS, 13));
    assert_eq!(w.pf().vf_power_state(1), Some((NdisDeviceStateD3, true)));
    assert_eq!(w.pf().vf_power_state(0), None, "the other VF is untouched");
    let mut b = power_params(1, NdisDeviceStateD0, 0);
    assert_eq!(
        pf_oid(&w, Set, OID_SRIOV_SET_VF_POWER_STATE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(w.pf().vf_power_state(1), Some((NdisDeviceStateD0, false)));
    w.assert_clean();
}

#[test]
fn power_state_hostile() {
    let w = host();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "unspecified state",
            power_params(0, NdisDeviceStateUnspecified, 0),
        ),
        ("state past D3", power_params(0, 5, 0)),
        (
            "WakeEnable not a BOOLEAN",
            power_params(0, NdisDeviceStateD3, 2),
        ),
        ("unallocated VF", power_params(3, NdisDeviceStateD3, 0)),
    ];
    for (what, mut b) in cases {
        expect_refused(
            &w,
            what,
            Set,
            OID_SRIOV_SET_VF_POWER_STATE,
            &mut b,
            NDIS_STATUS_INVALID_PARAMETER,
            None,
        );
    }
    let mut b = power_params(0, NdisDeviceStateD3, 0);
    b.truncate(12);
    expect_refused(
        &w,
        "short",
        Set,
        OID_SRIOV_SET_VF_POWER_STATE,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(13),
    );
    let mut b = power_params(0, NdisDeviceStateD3, 0);
    expect_refused(
        &w,
        "method request",
        Method,
        OID_SRIOV_SET_VF_POWER_STATE,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn bar_resources_describe_the_vfs_slice_of_vf_bar_0() {
    let w = host();
    let mut b = bar_resources_params(1, 0);
    let o = pf_oid(&w, Method, OID_SRIOV_BAR_RESOURCES, &mut b);
    assert_eq!((o.status, o.bytes_written), (NDIS_STATUS_SUCCESS, 32));
    let d = &b[12..32];
    // VF BAR 0 of the model's SR-IOV capability is 64-bit prefetchable memory.
    assert_eq!(
        (d[0], d[1], u16::from_le_bytes([d[2], d[3]])),
        (
            CmResourceTypeMemory,
            CmResourceShareDeviceExclusive,
            CM_RESOURCE_MEMORY_READ_WRITE | CM_RESOURCE_MEMORY_PREFETCHABLE
        )
    );
    let start = u64::from_le_bytes(d[4..12].try_into().unwrap());
    let len = u32::from_le_bytes(d[12..16].try_into().unwrap());
    assert_eq!(
        start,
        pci::VF_BAR0_BASE + u64::from(pci::VF_BAR0_LEN),
        "VF 1: one VF BAR size in"
    );
    assert_eq!(len, pci::VF_BAR0_LEN);
    w.assert_clean();
}

#[test]
fn bar_resources_hostile() {
    let w = host();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "BarIndex 1 (upper half of BAR 0)",
            bar_resources_params(0, 1),
        ),
        (
            "BarIndex past PCI_TYPE0_ADDRESSES",
            bar_resources_params(0, 6),
        ),
        ("unallocated VF", bar_resources_params(2, 0)),
        ("offset inside the info", {
            let mut b = bar_resources_params(0, 0);
            put32(&mut b, 8, 4);
            b
        }),
        ("offset overflows", {
            let mut b = bar_resources_params(0, 0);
            put32(&mut b, 8, u32::MAX - 4);
            b
        }),
    ];
    for (what, mut b) in cases {
        expect_refused(
            &w,
            what,
            Method,
            OID_SRIOV_BAR_RESOURCES,
            &mut b,
            NDIS_STATUS_INVALID_PARAMETER,
            None,
        );
    }
    let mut b = bar_resources_params(0, 0);
    b.truncate(31);
    expect_refused(
        &w,
        "no room for the descriptor",
        Method,
        OID_SRIOV_BAR_RESOURCES,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(32),
    );
    let mut b = bar_resources_params(0, 0);
    put32(&mut b, 8, 16);
    expect_refused(
        &w,
        "descriptor past the buffer",
        Method,
        OID_SRIOV_BAR_RESOURCES,
        &mut b,
        NDIS_STATUS_INVALID_LENGTH,
        Some(36),
    );
    let mut b = bar_resources_params(0, 0);
    expect_refused(
        &w,
        "set request (the summary table's type)",
        Set,
        OID_SRIOV_BAR_RESOURCES,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn pci_oids_without_sriov_are_not_supported() {
    let w = World::new(Config {
        keywords: vec![("*SRIOV".into(), 0)],
        ..Config::default()
    });
    w.load_pf().expect("PF initializes");
    let mut b = probed_bars_params();
    expect_refused(
        &w,
        "probed BARs with SR-IOV off",
        Query,
        OID_SRIOV_PROBED_BARS,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
    let mut b = config_space_params(0, 0, 4);
    expect_refused(
        &w,
        "config read with SR-IOV off",
        Method,
        OID_SRIOV_READ_VF_CONFIG_SPACE,
        &mut b,
        NDIS_STATUS_NOT_SUPPORTED,
        None,
    );
}

#[test]
fn a_freed_vf_forgets_its_power_state() {
    let w = host();
    let mut b = power_params(1, NdisDeviceStateD3, 0);
    assert_eq!(
        pf_oid(&w, Set, OID_SRIOV_SET_VF_POWER_STATE, &mut b).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(w.free_vf(1), NDIS_STATUS_SUCCESS);
    assert_eq!(w.allocate_vf(), Ok(1));
    assert_eq!(w.pf().vf_power_state(1), None);
    w.assert_clean();
}

/// A guest VF's NdisMGetBusData reaches the PF as OID_SRIOV_READ_VF_CONFIG_SPACE (that OID's
/// page), and reads what the PF reads from the VF's function.
#[test]
fn a_guest_vfs_get_bus_data_is_served_by_the_pf() {
    let w = host();
    w.attach_vf(1).expect("VF 1 starts in its guest");
    w.settle();
    let h = w.vf_sim(1).unwrap().handle();
    let mut out = [0u8; 12];
    // SAFETY: the simulator's export, with a VF adapter handle and a 12-byte buffer.
    let n = unsafe { sim::exports::NdisMGetBusData(h, 0, 0, out.as_mut_ptr().cast(), 12) };
    assert_eq!(n, 12);
    assert_eq!(&out[..4], &[0xFF; 4], "a VF's ids read FFFFh");
    assert!(
        w.pf_sim().ext.pci().vf_reads.contains(&(1, 0, 12)),
        "through the PF's bus-data call"
    );
    // The guest gets what the PF reported it wrote, not the buffer it handed over.
    w.pf()
        .forgetting_bytes_written(Some(OID_SRIOV_READ_VF_CONFIG_SPACE));
    // SAFETY: as above.
    let n = unsafe { sim::exports::NdisMGetBusData(h, 0, 0, out.as_mut_ptr().cast(), 12) };
    assert_eq!(n, 0, "a PF answer with no data is a read of nothing");
    w.pf().forgetting_bytes_written(None);
    w.detach_vf(1);
    w.assert_clean();
}
