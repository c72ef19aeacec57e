//! The data path's link, counters and interrupt contract (the data-path review):
//! - the wire's link followed by both drivers (docs/reference-nic.md sections 4 and 9: the
//!   `LINK` cause, `LINK_SEQ`), indicated once per change as NDIS_STATUS_LINK_STATE and
//!   answered alike by OID_GEN_LINK_STATE, frames to the wire dropped and counted while down;
//! - OID_GEN_STATISTICS never going back across a function reset that clears the hardware's
//!   counters (section 9);
//! - the message ISR disowning a message the NIC did not send ("MINIPORT_MESSAGE_INTERRUPT
//!   callback function");
//! - the message DPC honouring `NDIS_RECEIVE_THROTTLE_PARAMETERS` ("Receive Side Throttle").
use common::ffi::*;
use common::hw::regs::{VEC_EN, VEC_ENABLE};
use common::oid::RequestKind::{Query, Set};
use sim::fixture::{MAC, PF_MAC, WIRE_MAC, frame, switched};
use sim::frames::TestNbl;
use sim::{Config, SimAdapter, World};

/// The device model's wire: 10 Gb/s.
const WIRE_BPS: u64 = 10_000_000_000;

fn boot(vfs: u16) -> World {
    switched(Config::default(), vfs, &[])
}

/// Sends `frames` from `a` and runs the device until it is quiet; every NBL must succeed.
/// The NBLs are returned: the caller keeps them alive until the end of the test (the simulator
/// checks that nothing writes them after their completion).
#[must_use]
fn send(w: &World, a: &SimAdapter, frames: &[Vec<u8>]) -> Vec<TestNbl> {
    let mut n: Vec<TestNbl> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| TestNbl::new(&[f], 700, i))
        .collect();
    w.machine().send(a, &mut n, true);
    w.machine().run_device();
    assert!(n.iter().all(|x| x.status() == NDIS_STATUS_SUCCESS));
    n
}

fn stats(w: &World, a: &SimAdapter) -> NDIS_STATISTICS_INFO {
    w.machine().query_statistics(a).expect("OID_GEN_STATISTICS")
}

fn links(a: &SimAdapter) -> Vec<(bool, u64)> {
    a.link.lock().unwrap().clone()
}

/// OID_GEN_LINK_STATE: (connected, XmitLinkSpeed).
fn link_oid(w: &World, a: &SimAdapter) -> (bool, u64) {
    let mut b = [0u8; NDIS_SIZEOF_LINK_STATE_REVISION_1 as usize];
    let len = b.len() as u32;
    let out = w.oid(a, Query, OID_GEN_LINK_STATE, &mut b, 0, len);
    assert_eq!(
        out.status, NDIS_STATUS_SUCCESS,
        "{}: OID_GEN_LINK_STATE",
        a.name
    );
    assert_eq!(
        out.bytes_written,
        u32::from(NDIS_SIZEOF_LINK_STATE_REVISION_1)
    );
    assert_eq!(
        (b[0], b[1]),
        (NDIS_OBJECT_TYPE_DEFAULT, NDIS_LINK_STATE_REVISION_1)
    );
    let state = u32::from_le_bytes(b[4..8].try_into().unwrap());
    let speed = u64::from_le_bytes(b[16..24].try_into().unwrap());
    (state == MediaConnectStateConnected, speed)
}

fn counters_le(a: &NDIS_STATISTICS_INFO, b: &NDIS_STATISTICS_INFO) -> Result<(), String> {
    let pairs = [
        ("ifInDiscards", a.ifInDiscards, b.ifInDiscards),
        ("ifInErrors", a.ifInErrors, b.ifInErrors),
        ("ifHCInOctets", a.ifHCInOctets, b.ifHCInOctets),
        ("ifHCInUcastPkts", a.ifHCInUcastPkts, b.ifHCInUcastPkts),
        ("ifHCOutOctets", a.ifHCOutOctets, b.ifHCOutOctets),
        ("ifHCOutUcastPkts", a.ifHCOutUcastPkts, b.ifHCOutUcastPkts),
        ("ifOutDiscards", a.ifOutDiscards, b.ifOutDiscards),
        ("ifOutErrors", a.ifOutErrors, b.ifOutErrors),
    ];
    for (name, x, y) in pairs {
        if x > y {
            return Err(format!("{name} went back from {x} to {y}"));
        }
    }
    Ok(())
}

/// The wire goes down: the PF (its DPC sees LINK_SEQ move) and the VF (its own LINK, and the
/// PF's link block) each indicate link down once; OID_GEN_LINK_STATE agrees; frames to the wire
/// are dropped by the switch and counted in ifOutDiscards, completed successfully, while VF to
/// VF forwarding goes on; the wire comes back: each indicates up once, at the wire's speed,
/// and frames reach the wire again. The simulator reports a repeated or malformed
/// indication.
#[test]
fn the_wire_link_is_followed_by_the_pf_and_its_vfs() {
    let w = boot(2);
    let (pf, v0, v1) = (w.pf_sim(), w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    assert_eq!(link_oid(&w, pf), (true, WIRE_BPS));
    assert_eq!(link_oid(&w, v0), (true, WIRE_BPS));
    let (p0, f0) = (links(pf).len(), links(v0).len());

    w.machine().nic(|m| m.set_link(false));
    w.settle();
    assert_eq!(
        &links(pf)[p0..],
        &[(false, 0)],
        "the PF indicated down once"
    );
    assert_eq!(&links(v0)[f0..], &[(false, 0)], "VF 0 indicated down once");
    assert_eq!(links(v1).last(), Some(&(false, 0)));
    assert_eq!(link_oid(&w, pf), (false, 0));
    assert_eq!(link_oid(&w, v0), (false, 0));

    let (pf_before, v0_before) = (stats(&w, pf), stats(&w, v0));
    let mut keep = send(
        &w,
        v0,
        &[
            frame(WIRE_MAC, MAC[0], 1, 200),
            frame(WIRE_MAC, MAC[0], 2, 300),
        ],
    );
    keep.extend(send(&w, pf, &[frame(WIRE_MAC, PF_MAC, 3, 100)]));
    keep.extend(send(&w, v0, &[frame(MAC[1], MAC[0], 4, 100)]));
    assert!(
        w.machine().take_wire().is_empty(),
        "nothing on a wire that is down"
    );
    assert_eq!(v1.recv.seen().len(), 1, "VF to VF forwarding goes on");
    let (pf_after, v0_after) = (stats(&w, pf), stats(&w, v0));
    assert_eq!(v0_after.ifOutDiscards - v0_before.ifOutDiscards, 2);
    assert_eq!(pf_after.ifOutDiscards - pf_before.ifOutDiscards, 1);
    assert_eq!(
        v0_after.ifOutErrors, v0_before.ifOutErrors,
        "dropped, not failed"
    );

    w.machine().nic(|m| m.set_link(true));
    w.settle();
    assert_eq!(
        &links(pf)[p0..],
        &[(false, 0), (true, WIRE_BPS)],
        "the PF indicated up once"
    );
    assert_eq!(&links(v0)[f0..], &[(false, 0), (true, WIRE_BPS)]);
    assert_eq!(link_oid(&w, v0), (true, WIRE_BPS));
    let out = frame(WIRE_MAC, MAC[0], 5, 200);
    keep.extend(send(&w, v0, std::slice::from_ref(&out)));
    assert_eq!(w.machine().take_wire(), vec![out]);
    w.machine().return_all_received(v1);
    w.halt_pf();
    w.assert_clean();
    drop(keep);
}

/// Section 9: a VF's `LINK` also follows its `VF_CTRL.LINK_DOWN`, and a change of it moves
/// that VF's `LINK_SEQ` and latches its `LINK` cause like a wire change: VF 0 (and only VF 0)
/// indicates down once, then up once when the bit clears; the PF and VF 1 indicate nothing.
#[test]
fn a_vf_follows_its_link_down_bit() {
    use common::hw::regs::{VF_CTRL, VF_CTRL_LINK_DOWN, VF_TABLE};
    let w = boot(2);
    let (pf, v0, v1) = (w.pf_sim(), w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let (p0, f0, g0) = (links(pf).len(), links(v0).len(), links(v1).len());
    let ctrl = VF_TABLE + VF_CTRL;
    for down in [true, false] {
        w.machine().nic(|m| {
            let v = m.pf.bar.r32(ctrl);
            let v = if down {
                v | VF_CTRL_LINK_DOWN
            } else {
                v & !VF_CTRL_LINK_DOWN
            };
            m.pf.bar.w32(ctrl, v);
        });
        w.machine().run_device();
        w.settle();
        assert_eq!(link_oid(&w, v0).0, !down, "VF 0 with LINK_DOWN {down}");
    }
    assert_eq!(&links(v0)[f0..], &[(false, 0), (true, WIRE_BPS)]);
    assert_eq!(links(pf).len(), p0, "the PF's link did not change");
    assert_eq!(links(v1).len(), g0, "VF 1's link did not change");
    w.halt_pf();
    w.assert_clean();
}

/// The host forces the link down (the PF's link block, OID_REF_SET_LINK's path) while the
/// wire stays up: the VF reports down (either one down is down), stays down, silently, while
/// its own hardware link goes down too, and comes up once when both say up again (the wire
/// back up: the PF's link, and so the block, follows the wire).
#[test]
fn a_vf_is_up_only_when_its_link_block_and_its_hardware_say_up() {
    let w = boot(1);
    let v0 = w.vf_sim(0).unwrap();
    let f0 = links(v0).len();
    w.pf().set_link(false, 0, 1500).unwrap();
    w.settle();
    assert_eq!(&links(v0)[f0..], &[(false, 0)]);
    // The wire goes down and up under the forced-down block: the VF stays down, silently.
    w.machine().nic(|m| m.set_link(false));
    w.settle();
    assert_eq!(&links(v0)[f0..], &[(false, 0)], "no change, no indication");
    assert_eq!(link_oid(&w, v0), (false, 0));
    w.machine().nic(|m| m.set_link(true));
    w.settle();
    assert_eq!(link_oid(&w, v0), (true, WIRE_BPS));
    assert_eq!(&links(v0)[f0..], &[(false, 0), (true, WIRE_BPS)]);
    w.halt_pf();
    w.assert_clean();
}

/// OID_SRIOV_RESET_VF (a function-level reset through the PF) clears VF 1's hardware counters
/// (section 9): what VF 1 reports never goes back, with traffic before and after.
#[test]
fn statistics_never_go_back_across_a_function_level_reset() {
    let w = boot(2);
    let (v0, v1) = (w.vf_sim(0).unwrap(), w.vf_sim(1).unwrap());
    let before: Vec<Vec<u8>> = (0..5).map(|i| frame(MAC[1], MAC[0], i, 400)).collect();
    let mut keep = send(&w, v0, &before);
    w.machine().return_all_received(v1);
    let s1 = stats(&w, v1);
    assert_eq!(s1.ifHCInUcastPkts, 5);
    let mut b = sim::payloads::reset_vf_parameters(1);
    let out = sim::hyperv::pf_oid(&w, Set, OID_SRIOV_RESET_VF, &mut b);
    assert_eq!(out.status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        w.machine().counter(v1, common::hw::regs::RX_UCAST_PKTS),
        0,
        "the reset cleared the hardware's counter"
    );
    let s2 = stats(&w, v1);
    counters_le(&s1, &s2).unwrap();
    // After the reset VF 1's queues are off: the device drops what comes (RX_DISCARDS).
    keep.extend(send(
        &w,
        v0,
        &[
            frame(MAC[1], MAC[0], 9, 400),
            frame(MAC[1], MAC[0], 10, 400),
        ],
    ));
    let s3 = stats(&w, v1);
    counters_le(&s2, &s3).unwrap();
    assert_eq!(
        s3.ifHCInUcastPkts, 5,
        "what VF 1 received before the reset still counts"
    );
    assert!(
        s3.ifInDiscards >= s2.ifInDiscards + 2,
        "and what it dropped since"
    );
    w.halt_pf();
    drop(keep);
    w.assert_clean();
}

/// MiniportMessageInterrupt for a message the NIC did not send returns FALSE and asks for no
/// DPC: a message nothing is routed to, the queue message while its vector is held, and any
/// message after surprise removal; the NIC's own messages are claimed (the simulator reports a
/// disowned one throughout these tests).
#[test]
fn the_isr_disowns_messages_the_nic_did_not_send() {
    let w = boot(1);
    for a in [w.pf_sim(), w.vf_sim(0).unwrap()] {
        let f = w.machine().func_of(a).unwrap();
        let runs = w.machine().interrupts_run(a);
        assert_eq!(
            w.machine().spurious_message(a, 3),
            Some(false),
            "{}: message 3",
            a.name
        );
        // The vector held (as between the ISR and its DPC): the device cannot have sent it.
        w.machine()
            .nic(|m| m.function(f).unwrap().bar.w32(VEC_EN, 0));
        assert_eq!(
            w.machine().spurious_message(a, 0),
            Some(false),
            "{}: held",
            a.name
        );
        w.machine()
            .nic(|m| m.function(f).unwrap().bar.w32(VEC_EN, VEC_ENABLE));
        let (isrs, dpcs) = w.machine().interrupts_run(a);
        assert_eq!((isrs, dpcs), (runs.0 + 2, runs.1), "{}: no DPC", a.name);
    }
    let v0 = w.vf_sim(0).unwrap();
    w.machine().from_wire(&[&frame(MAC[0], WIRE_MAC, 1, 100)]);
    assert_eq!(
        v0.recv.seen().len(),
        1,
        "the NIC's message was claimed and serviced"
    );
    w.machine().return_all_received(v0);
    w.machine().surprise_remove(v0);
    assert_eq!(w.machine().spurious_message(v0, 0), Some(false), "removed");
    w.halt_pf();
    assert!(w.violations().is_empty(), "{:?}", w.violations());
}

/// With MaxNblsToIndicate 4, a burst of 10 frames is indicated 4, 4, 2 over DPCs NDIS runs
/// again on MoreNblsPending (the simulator checks each DPC's count and re-runs it); every frame
/// arrives, in order; without a limit one DPC takes them all.
#[test]
fn the_dpc_honours_the_receive_throttle() {
    for (limit, reruns) in [(4u32, 2u64), (NDIS_INDICATE_ALL_NBLS, 0)] {
        let w = boot(1);
        let v0 = w.vf_sim(0).unwrap();
        w.machine().set_receive_throttle(limit);
        let burst: Vec<Vec<u8>> = (0..10).map(|i| frame(MAC[0], WIRE_MAC, i, 300)).collect();
        let refs: Vec<&[u8]> = burst.iter().map(Vec::as_slice).collect();
        let before = w.machine().dpc_reruns(v0);
        w.machine().from_wire(&refs);
        let got: Vec<Vec<u8>> = v0.recv.seen().into_iter().map(|s| s.data).collect();
        assert_eq!(got, burst, "limit {limit:#x}: every frame, in order");
        assert!(
            w.machine().dpc_reruns(v0) - before >= reruns,
            "limit {limit:#x}: re-runs {}",
            w.machine().dpc_reruns(v0) - before
        );
        if limit == NDIS_INDICATE_ALL_NBLS {
            assert_eq!(w.machine().dpc_reruns(v0), before, "no limit, no re-run");
        }
        w.machine().return_all_received(v0);
        w.halt_pf();
        w.assert_clean();
    }
}

/// The simulator's NDIS_STATUS_LINK_STATE checks fire: the link the adapter last indicated,
/// indicated again, and an NDIS_LINK_STATE with a wrong header ("NDIS_STATUS_LINK_STATE",
/// "NDIS_LINK_STATE structure").
#[test]
fn repeated_or_malformed_link_indications_are_reported() {
    let w = boot(1);
    let pf = w.pf_sim();
    // SAFETY: the PF's adapter handle, between initialization and halt.
    unsafe { common::miniport::indicate_link_state(pf.handle(), true, WIRE_BPS) };
    let v = w.violations();
    assert!(
        v.len() == 1 && v[0].contains("repeats the link already indicated"),
        "{v:?}"
    );
    let mut link = common::miniport::link_state(false, 0);
    link.Header.Revision = 0;
    let mut ind = NDIS_STATUS_INDICATION {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_STATUS_INDICATION,
            NDIS_STATUS_INDICATION_REVISION_1,
            NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        ),
        SourceHandle: pf.handle(),
        StatusCode: NDIS_STATUS_LINK_STATE,
        StatusBuffer: (&mut link as *mut NDIS_LINK_STATE).cast(),
        StatusBufferSize: std::mem::size_of::<NDIS_LINK_STATE>() as u32,
        ..Default::default()
    };
    // SAFETY: as above; the indication and its buffer live across the call.
    unsafe { common::ffi::imports::NdisMIndicateStatusEx(pf.handle(), &mut ind) };
    let v = w.violations();
    assert!(v.len() == 2 && v[1].contains("malformed header"), "{v:?}");
    w.halt_pf();
}
