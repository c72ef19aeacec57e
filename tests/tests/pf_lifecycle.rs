//! The PF miniport's handlers and adapter states, driven through the simulated host NDIS.
use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use common::state::AdapterState;
use sim::payloads;
use sim::timeline::Event;
use sim::{Config, World};
use std::sync::atomic::Ordering;

fn host() -> World {
    let w = World::new(Config::default());
    w.load_pf().expect("PF initializes");
    w
}

fn query(w: &World, oid: NDIS_OID, len: usize) -> (sim::OidOutcome, Vec<u8>) {
    let mut buf = vec![0u8; len];
    let o = w.oid(w.pf_sim(), RequestKind::Query, oid, &mut buf, 0, len as u32);
    (o, buf)
}

fn set(w: &World, oid: NDIS_OID, data: &[u8]) -> sim::OidOutcome {
    let mut buf = data.to_vec();
    let n = buf.len() as u32;
    w.oid(w.pf_sim(), RequestKind::Set, oid, &mut buf, n, n)
}

#[test]
fn initialize_sets_attributes_with_sriov_and_nic_switch_capabilities() {
    let w = host();
    let a = w.pf_sim();
    assert_eq!(
        *a.sriov_caps.lock().unwrap(),
        Some(NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT)
    );
    assert_eq!(
        *a.nic_switch_max_vfs.lock().unwrap(),
        Some(pf_miniport::MAX_VFS as u32)
    );
    let g = a.general.lock().unwrap().clone().unwrap();
    for oid in [
        OID_SRIOV_READ_VF_CONFIG_BLOCK,
        OID_SRIOV_WRITE_VF_CONFIG_BLOCK,
        OID_NIC_SWITCH_ALLOCATE_VF,
        OID_NIC_SWITCH_FREE_VF,
        OID_SRIOV_RESET_VF,
    ] {
        assert!(
            g.supported_oids.contains(&oid),
            "{oid:#x} not in SupportedOidList"
        );
    }
    assert_eq!(
        w.pf().state(),
        AdapterState::Running,
        "NDIS restarted it after initialization"
    );
    w.assert_clean();
}

#[test]
fn general_queries_answer_and_report_bytes_needed() {
    let w = host();
    let (o, mac) = query(&w, OID_802_3_CURRENT_ADDRESS, 6);
    assert_eq!((o.status, o.bytes_written), (NDIS_STATUS_SUCCESS, 6));
    assert_eq!(
        mac,
        pf_miniport::Adapter::permanent_mac_for_tests().to_vec()
    );
    let (o, speed) = query(&w, OID_GEN_LINK_SPEED, 4);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        u32::from_le_bytes(speed.try_into().unwrap()),
        100_000_000,
        "10 Gb/s in units of 100 b/s"
    );
    let (o, _) = query(&w, OID_GEN_MAXIMUM_FRAME_SIZE, 2);
    assert_eq!(
        (o.status, o.bytes_needed),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 4)
    );
    let (o, list) = query(&w, OID_GEN_SUPPORTED_LIST, 1024);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    assert_eq!(o.bytes_written as usize % 4, 0);
    assert!(
        list[..o.bytes_written as usize]
            .chunks(4)
            .any(|c| u32::from_le_bytes(c.try_into().unwrap()) == OID_SRIOV_READ_VF_CONFIG_BLOCK)
    );
    w.assert_clean();
}

#[test]
fn packet_filter_lookahead_and_multicast_are_validated() {
    let w = host();
    assert_eq!(
        set(
            &w,
            OID_GEN_CURRENT_PACKET_FILTER,
            &NDIS_PACKET_TYPE_DIRECTED.to_le_bytes()
        )
        .status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(
        query(&w, OID_GEN_CURRENT_PACKET_FILTER, 4).1,
        NDIS_PACKET_TYPE_DIRECTED.to_le_bytes()
    );
    assert_eq!(
        set(&w, OID_GEN_CURRENT_PACKET_FILTER, &0x8000u32.to_le_bytes()).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    let short = set(&w, OID_GEN_CURRENT_PACKET_FILTER, &[1, 0]);
    assert_eq!(
        (short.status, short.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 4)
    );
    assert_eq!(
        set(&w, OID_GEN_CURRENT_LOOKAHEAD, &100_000u32.to_le_bytes()).status,
        NDIS_STATUS_INVALID_DATA
    );
    assert_eq!(
        set(&w, OID_802_3_MULTICAST_LIST, &[1, 0, 0x5E, 0, 0]).status,
        NDIS_STATUS_INVALID_LENGTH
    );
    assert_eq!(
        set(&w, OID_802_3_MULTICAST_LIST, &[0x02, 0, 0x5E, 0, 0, 1]).status,
        NDIS_STATUS_INVALID_DATA,
        "unicast in a multicast list"
    );
    assert_eq!(
        set(&w, OID_802_3_MULTICAST_LIST, &[0x01, 0, 0x5E, 0, 0, 1]).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(
        set(&w, OID_802_3_MULTICAST_LIST, &[0x01; 6 * 33]).status,
        NDIS_STATUS_MULTICAST_FULL
    );
    assert_eq!(
        query(&w, OID_802_3_MULTICAST_LIST, 64).0.bytes_written,
        6,
        "the refused list did not replace the good one"
    );
    assert_eq!(
        query(&w, 0x00FF_FFFF, 4).0.status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    w.assert_clean();
}

#[test]
fn pause_restart_and_reset_follow_the_state_machine() {
    let w = host();
    let a = w.pf_sim();
    assert_eq!(w.machine().pause(a), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf().state(), AdapterState::Paused);
    assert_eq!(
        w.machine().pause(a),
        NDIS_STATUS_SUCCESS,
        "MiniportPause never fails, even when NDIS should not have called it"
    );
    assert_eq!(w.pf().state(), AdapterState::Paused);
    // A reset is not a state: a reset while paused leaves the adapter paused.
    assert_eq!(w.machine().reset(a), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf().state(), AdapterState::Paused);
    assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf().state(), AdapterState::Running);
    assert_eq!(
        w.machine().restart(a),
        NDIS_STATUS_FAILURE,
        "restart of a running adapter is refused"
    );
    assert_eq!(w.machine().reset(a), NDIS_STATUS_SUCCESS);
    assert_eq!(w.pf().state(), AdapterState::Running);
    assert!(
        w.log().iter().any(|l| l.contains("unexpected Pause")),
        "the bad transition was logged"
    );
    let v = w.violations();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn oids_on_a_paused_adapter_still_work() {
    let w = World::boot(Config::default(), 1);
    w.machine().pause(w.pf_sim());
    w.host_change("mac", |pf| pf.set_vf_mac_vlan(0, [2, 0, 0, 0, 0, 9], 5, 0))
        .unwrap();
    w.settle();
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

#[test]
fn sends_complete_and_other_handlers_are_harmless() {
    let w = host();
    let a = w.pf_sim();
    let chars = a.chars();
    let ctx = a.ctx();
    // A real one-NBL chain completes once, with its Status set (the send ledger checks both).
    let mut nbl = [sim::frames::TestNbl::frame([2, 0, 0, 0, 0, 1], 0)];
    w.machine().send(a, &mut nbl, false);
    // The switch is in bypass: the PF's frame goes to the wire, and its TX completion in the
    // DPC completes the NBL.
    w.machine().run_device();
    assert_eq!(nbl[0].status(), NDIS_STATUS_SUCCESS);
    assert_eq!(w.machine().take_wire().len(), 1);
    // SAFETY: the driver's own handlers with its own context; an empty (null) chain has no NBL
    // to complete.
    unsafe {
        chars.SendNetBufferListsHandler.unwrap()(ctx, std::ptr::null_mut(), 0, 0);
        assert_eq!(chars.CheckForHangHandlerEx.unwrap()(ctx), FALSE);
        chars.ReturnNetBufferListsHandler.unwrap()(ctx, std::ptr::null_mut(), 0);
        chars.CancelSendHandler.unwrap()(ctx, std::ptr::null_mut());
        chars.CancelOidRequestHandler.unwrap()(ctx, std::ptr::null_mut());
        let mut ev = NET_DEVICE_PNP_EVENT {
            DevicePnPEvent: NdisDevicePnPEventSurpriseRemoved,
            ..Default::default()
        };
        chars.DevicePnPEventNotifyHandler.unwrap()(ctx, &mut ev);
        chars.ShutdownHandlerEx.unwrap()(ctx, NdisShutdownPowerOff);
    }
    assert_eq!(a.sends_completed.load(Ordering::Relaxed), 1);
    assert!(w.log().iter().any(|l| l.contains("surprise removal")));
    w.assert_clean();
}

#[test]
fn nic_switch_creation_enables_virtualization_once() {
    let w = host();
    assert_eq!(w.create_switch(8), NDIS_STATUS_SUCCESS);
    assert_eq!(w.machine().virtualization(), Some(8));
    assert_eq!(w.create_switch(8), NDIS_STATUS_INVALID_STATE);
    let w2 = host();
    assert_eq!(
        w2.create_switch(pf_miniport::MAX_VFS as u16 + 1),
        NDIS_STATUS_INVALID_PARAMETER
    );
    assert_eq!(w2.machine().virtualization(), None);
    w.assert_clean();
    w2.assert_clean();
}

#[test]
fn vf_allocation_is_bounded_by_the_switch_and_returns_ids_and_rids() {
    let w = host();
    assert_eq!(
        w.allocate_vf(),
        Err(NDIS_STATUS_INVALID_STATE),
        "no switch yet"
    );
    w.create_switch(2);
    assert_eq!(w.allocate_vf(), Ok(0));
    assert_eq!(w.allocate_vf(), Ok(1));
    assert_eq!(w.allocate_vf(), Err(NDIS_STATUS_RESOURCES));
    assert_eq!(w.pf().allocated_vfs(), 2);
    w.assert_clean();
}

/// OID_NIC_SWITCH_ALLOCATE_VF asking for `mac`; returns (status, VFId, RequestorId, buffer).
fn allocate_with_mac(w: &World, mac: [u8; 6]) -> (NDIS_STATUS, u16, u32, Vec<u8>) {
    let mut p = payloads::vf_parameters(Some(mac));
    let n = p.len() as u32;
    let o = w.oid(
        w.pf_sim(),
        RequestKind::Method,
        OID_NIC_SWITCH_ALLOCATE_VF,
        &mut p,
        n,
        n,
    );
    let out: NDIS_NIC_SWITCH_VF_PARAMETERS = payloads::read(&p);
    (o.status, out.VFId, out.RequestorId, p)
}

fn pf_mac(w: &World, vf: u16) -> [u8; 6] {
    let (bytes, len) = w
        .pf()
        .vf_block(vf, BlockId::new(1).unwrap())
        .expect("block 1");
    MacVlanBlock::decode(&bytes[..len])
        .expect("a valid block 1")
        .0
        .mac
}

#[test]
fn allocated_vfs_get_the_requested_mac_and_their_requestor_id() {
    let w = host();
    w.create_switch(4);
    let asked = [0x02, 0x15, 0x5d, 0xaa, 0xbb, 0xcc];
    let (status, vf, rid, out) = allocate_with_mac(&w, asked);
    assert_eq!((status, vf), (NDIS_STATUS_SUCCESS, 0));
    // The simulator puts VF n at segment 0, bus 1 + n / 256, function n % 256:
    // NDIS_MAKE_RID(seg, bus, fn) = seg << 16 | bus << 8 | fn (`ndis.h`).
    assert_eq!(rid, 0x0000_0100);
    assert_eq!(pf_mac(&w, vf), asked, "the switch's MAC becomes block 1");
    assert_eq!(
        payloads::read::<NDIS_NIC_SWITCH_VF_PARAMETERS>(&out).CurrentMacAddress[..6],
        asked,
        "the caller's parameters come back as written"
    );

    // A multicast address is not one a VF can own: refused, and nothing is allocated.
    let allocated = w.pf().allocated_vfs();
    let (status, _, _, _) = allocate_with_mac(&w, [0x01, 0, 0x5e, 0, 0, 1]);
    assert_eq!(status, NDIS_STATUS_INVALID_PARAMETER);
    assert_eq!(w.pf().allocated_vfs(), allocated);
    // Without an address the PF assigns a unicast one.
    let (status, vf, rid, _) = allocate_with_mac(&w, [0; 6]);
    assert_eq!((status, vf, rid), (NDIS_STATUS_SUCCESS, 1, 0x0000_0101));
    assert_eq!(pf_mac(&w, vf)[0] & 1, 0, "the default address is unicast");
    w.assert_clean();
}

#[test]
fn freeing_a_vf_returns_its_memory_and_refuses_a_second_free() {
    let w = host();
    w.create_switch(4);
    let tag = common::mem::pool_tag(b"PfVf");
    let vf = w.allocate_vf().unwrap();
    let one = w.machine().pool_bytes(tag);
    assert!(one > 0);
    assert_eq!(w.free_vf(vf), NDIS_STATUS_SUCCESS);
    assert_eq!(w.machine().pool_bytes(tag), 0);
    assert_eq!(w.free_vf(vf), NDIS_STATUS_INVALID_PARAMETER);
    assert_eq!(w.allocate_vf(), Ok(vf), "the id is reused");
    w.assert_clean();
}

#[test]
fn allocation_failure_fails_the_vf_and_leaks_nothing() {
    // Allocation 1 is the PF adapter (its receive buffers are shared memory, not pool); 2 is
    // the first VF's store.
    let w = World::new(Config {
        fail_allocation: Some(2),
        ..Config::default()
    });
    w.load_pf().unwrap();
    w.create_switch(2);
    assert_eq!(w.allocate_vf(), Err(NDIS_STATUS_RESOURCES));
    assert_eq!(w.pf().allocated_vfs(), 0);
    assert_eq!(w.allocate_vf(), Ok(0), "the next allocation works");
    w.assert_clean();
}

#[test]
fn adapter_allocation_failure_fails_initialization() {
    let w = World::new(Config {
        fail_allocation: Some(1),
        ..Config::default()
    });
    assert_eq!(w.load_pf(), Err(NDIS_STATUS_RESOURCES));
    assert_eq!(w.machine().pool_blocks(), 0);
}

#[test]
fn delete_switch_frees_every_vf_and_disables_virtualization() {
    let w = World::boot(Config::default(), 3);
    for vf in 0..3 {
        w.detach_vf(vf);
    }
    let mut p = payloads::delete_switch_parameters(NDIS_DEFAULT_SWITCH_ID);
    let o = w.oid(
        w.pf_sim(),
        RequestKind::Set,
        OID_NIC_SWITCH_DELETE_SWITCH,
        &mut p,
        12,
        12,
    );
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    assert_eq!(w.machine().virtualization(), None);
    assert_eq!(w.pf().allocated_vfs(), 0);
    assert_eq!(w.machine().pool_bytes(common::mem::pool_tag(b"PfVf")), 0);
    w.assert_clean();
}

#[test]
fn halt_frees_everything_the_pf_allocated() {
    let w = World::boot(Config::default(), 4);
    w.halt_pf();
    assert_eq!(w.machine().pool_blocks(), 0, "every pool block returned");
    assert_eq!(w.machine().virtualization(), None);
    w.assert_clean();
}

#[test]
fn an_update_that_changes_nothing_sends_nothing() {
    let w = World::boot(Config::default(), 1);
    let mac = w.vf(0).unwrap().snapshot().applied.mac;
    let before = w.pf().invalidations_sent();
    let mask = w.pf().set_vf_mac_vlan(0, mac, 0, 0).unwrap();
    assert!(mask.is_empty());
    assert_eq!(w.pf().invalidations_sent(), before);
    let mask = w.pf().set_vf_mac_vlan(0, mac, 10, 0).unwrap();
    assert_eq!(
        mask,
        BlockMask::of(MacVlanBlock::id()).with(CommitBlock::id()),
        "the changed block and the commit block"
    );
    assert_eq!(w.pf().invalidations_sent(), before + 1);
    w.assert_clean();
}

#[test]
fn a_transaction_invalidates_exactly_the_blocks_that_changed() {
    let w = World::boot(Config::default(), 1);
    let link = LinkBlock {
        mtu: 1500,
        link_up: true,
        duplex: 2,
        speed_bps: 10_000_000_000,
    };
    let staged = [
        pf_miniport::Staged::of(&MacVlanBlock {
            mac: [2, 1, 1, 1, 1, 1],
            vlan_id: 3,
            priority: 0,
        })
        .unwrap(),
        pf_miniport::Staged::of(&link).unwrap(), // unchanged
        pf_miniport::Staged::of(&PolicyBlock {
            flags: 0,
            max_tx_rate_mbps: 1,
            queue_pairs: 2,
        })
        .unwrap(),
    ];
    let mask = w.pf().set_blocks(0, &staged).unwrap();
    assert_eq!(
        mask,
        BlockMask::of(MacVlanBlock::id())
            .with(PolicyBlock::id())
            .with(CommitBlock::id())
    );
    let t = w.timeline();
    let (_, last) = t
        .iter()
        .rev()
        .find(|(_, e)| matches!(e, Event::Invalidate { .. }))
        .unwrap();
    assert_eq!(
        *last,
        Event::Invalidate {
            vf: 0,
            mask: mask.bits(),
            cache: mask.bits()
        }
    );
}

#[test]
fn host_api_refuses_bad_values_and_guest_blocks() {
    let w = World::boot(Config::default(), 1);
    assert_eq!(
        w.pf().set_vf_mac_vlan(0, [1, 0, 0, 0, 0, 1], 0, 0),
        Err(NDIS_STATUS_INVALID_PARAMETER),
        "multicast MAC"
    );
    assert_eq!(
        w.pf().set_vf_mac_vlan(0, [2, 0, 0, 0, 0, 1], 4095, 0),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        w.pf().set_link(true, 1, 100),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        w.pf().set_block(0, &VfStatusBlock::default()),
        Err(NDIS_STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        w.pf().set_vf_mac_vlan(9, [2, 0, 0, 0, 0, 1], 0, 0),
        Err(NDIS_STATUS_INVALID_PARAMETER),
        "unallocated VF"
    );
    w.assert_clean();
}

#[test]
fn link_change_indicates_on_the_host_and_updates_every_vf() {
    let w = World::boot(Config::default(), 3);
    let touched = w.pf().set_link(false, 0, 1500).unwrap();
    assert_eq!(touched, 3);
    assert_eq!(w.pf_sim().link.lock().unwrap().last(), Some(&(false, 0)));
    w.settle();
    for vf in 0..3 {
        assert!(!w.vf(vf).unwrap().snapshot().applied.link_up);
        w.check_consistent(vf).unwrap();
    }
    w.assert_clean();
}

#[test]
fn reset_vf_keeps_host_blocks_and_re_announces_them() {
    let w = World::boot(Config::default(), 1);
    let gen_before = w.pf().vf_generation(0);
    assert_eq!(w.machine().host_reset_vf(0), NDIS_STATUS_SUCCESS);
    assert_eq!(
        w.pf().vf_generation(0),
        gen_before,
        "host policy survives an FLR"
    );
    assert_eq!(
        w.pf().vf_status(0).unwrap(),
        VfStatusBlock::default(),
        "the guest's status is cleared"
    );
    assert_eq!(
        w.machine().channel(0).unwrap().cache,
        HOST_BLOCKS.intersection(BASE_BLOCKS).bits(),
        "every block the VF has is announced again"
    );
    assert_eq!(w.machine().host_reset_vf(7), NDIS_STATUS_INVALID_PARAMETER);
    w.settle();
    w.check_consistent(0).unwrap();
    w.assert_clean();
}

#[test]
fn concurrent_updates_never_give_a_reader_a_torn_block() {
    let w = World::boot(Config::default(), 1);
    let pf_sim = w.pf_sim();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let last = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            w.enter_thread();
            let mut last = None;
            for i in 0..4000u32 {
                let mac = [2, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8, 1];
                let vlan = (i % 4000) as u16;
                w.pf().set_vf_mac_vlan(0, mac, vlan, (i % 8) as u8).unwrap();
                last = Some((mac, vlan));
            }
            stop.store(true, Ordering::Release);
            last
        });
        let mut reads = 0;
        while !stop.load(Ordering::Acquire) || reads < 100 {
            let len = MacVlanBlock::ENCODED_LEN;
            let mut buf = vec![0u8; 20 + len];
            payloads::write_config_block_params(&mut buf, 0, 1, len as u32, 20);
            let n = buf.len() as u32;
            let o = w.oid(
                pf_sim,
                RequestKind::Method,
                OID_SRIOV_READ_VF_CONFIG_BLOCK,
                &mut buf,
                20,
                n,
            );
            assert_eq!(o.status, NDIS_STATUS_SUCCESS);
            MacVlanBlock::decode(&buf[20..]).expect("every read is a whole, valid block");
            reads += 1;
        }
        writer.join().unwrap()
    });
    let (mac, vlan) = last.unwrap();
    w.settle();
    let applied = w.vf(0).unwrap().snapshot().applied;
    assert_eq!(
        (applied.mac, applied.vlan_id),
        (mac, vlan),
        "the VF ends with the last write"
    );
    w.assert_clean();
}

#[test]
fn unload_deregisters_the_driver_once() {
    let w = World::boot(Config::default(), 1);
    w.halt_pf();
    assert!(!w.driver_deregistered(true));
    w.unload_driver(true);
    assert!(
        w.driver_deregistered(true),
        "MiniportDriverUnload called NdisMDeregisterMiniportDriver"
    );
    w.unload_driver(true); // a second unload finds no handle and does nothing
    w.unload_driver(false);
    assert!(w.driver_deregistered(false));
    w.assert_clean();
}

fn host_with_keywords(keywords: &[(&str, u32)]) -> World {
    let cfg = Config {
        keywords: keywords.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..Config::default()
    };
    let w = World::new(cfg);
    w.load_pf().expect("PF initializes");
    w
}

#[test]
fn sriov_keyword_absent_or_one_enables_sriov() {
    for w in [host(), host_with_keywords(&[("*SRIOV", 1)])] {
        let caps = NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT;
        assert_eq!(
            *w.pf_sim().sriov_current.lock().unwrap(),
            Some(caps),
            "current SR-IOV capabilities reported"
        );
        assert_eq!(w.create_switch(2), NDIS_STATUS_SUCCESS);
        assert_eq!(w.allocate_vf(), Ok(0));
        w.assert_clean();
    }
}

#[test]
fn sriov_keyword_zero_disables_sriov_but_keeps_hardware_capabilities() {
    // The keyword is matched case-insensitively, as the registry does.
    let w = host_with_keywords(&[("*sriov", 0)]);
    let a = w.pf_sim();
    assert_eq!(
        *a.sriov_caps.lock().unwrap(),
        Some(NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT),
        "hardware capabilities always"
    );
    assert_eq!(
        *a.sriov_current.lock().unwrap(),
        None,
        "no current capabilities"
    );
    assert_eq!(w.create_switch(2), NDIS_STATUS_NOT_SUPPORTED);
    let mut buf = vec![0u8; 64];
    payloads::write_config_block_params(&mut buf, 0, 1, 30, 20);
    let o = w.oid(
        a,
        RequestKind::Method,
        OID_SRIOV_READ_VF_CONFIG_BLOCK,
        &mut buf,
        20,
        64,
    );
    assert_eq!(
        o.status, NDIS_STATUS_NOT_SUPPORTED,
        "documented status when SR-IOV is not enabled"
    );
    assert!(w.log().iter().any(|l| l.contains("*SRIOV is 0")));
    w.assert_clean();
}
