//! The transmit half of issue 11's data path in both drivers: NdisMAllocateNetBufferSGList per
//! NET_BUFFER, MiniportProcessSGList posting to the TX ring (inline and deferred), TX
//! completions freeing the list and completing each NBL once, a full ring queueing, mapping
//! failures, pause with frames in flight; then each new simulator check firing on a broken
//! driver (the test plays it through the exports, as `receive_checks.rs` does).
use common::ffi::*;
use common::handlers::Miniport;
use common::send::Transmitter;
use sim::exports as x;
use sim::fixture::{jumbo_config, send_sides, switched};
use sim::frames::TestNbl;
use sim::world::sg_lists::SgTiming;
use sim::world::{CallFault, PauseState};
use sim::{SimAdapter, World};

fn world(seed: u64) -> World {
    switched(jumbo_config(None, seed), 1, &[])
}

/// `n` frames of `len` bytes to the wire (unicast to no filter), each its own NBL, split over
/// MDLs of `mdl` bytes.
fn frames(n: usize, len: usize, mdl: usize) -> Vec<TestNbl> {
    (0..n)
        .map(|i| {
            let mut f: Vec<u8> = (0..len).map(|k| (k as u8) ^ (i as u8)).collect();
            f[..6].copy_from_slice(&[0x02, 0, 0, 0, 1, i as u8]);
            TestNbl::new(&[&f], mdl, i)
        })
        .collect()
}

fn done(a: &SimAdapter) -> usize {
    a.sends_done.lock().unwrap().len()
}

/// More frames than the ring and the contexts hold at once, as 1,514-byte frames over three
/// MDLs, with MiniportProcessSGList inline, deferred and mixed: every frame goes out with its
/// bytes, every NBL completes once with NDIS_STATUS_SUCCESS, every list is freed, and the
/// hardware counted each frame.
#[test]
fn a_burst_larger_than_the_ring_goes_out_whole_under_every_sg_timing() {
    for timing in [SgTiming::Inline, SgTiming::Deferred, SgTiming::Random] {
        let w = world(7);
        w.machine().set_sg_timing(timing);
        for (name, a, q, _) in send_sides(&w) {
            let mut nbls = frames(150, 1514, 600);
            w.machine().send(a, &mut nbls, false);
            assert!(
                q.queued() > 0,
                "{name} {timing:?}: the ring filled, NBLs wait"
            );
            w.machine().run_device();
            assert_eq!(done(a), 150, "{name} {timing:?}");
            assert!(nbls.iter().all(|n| n.status() == NDIS_STATUS_SUCCESS));
            let wire = w.machine().take_wire();
            assert_eq!(wire.len(), 150, "{name} {timing:?}");
            for i in 0..150u8 {
                let mut f: Vec<u8> = (0..1514).map(|k| (k as u8) ^ i).collect();
                f[..6].copy_from_slice(&[0x02, 0, 0, 0, 1, i]);
                assert!(wire.contains(&f), "{name} {timing:?}: frame {i} intact");
            }
            assert!(
                w.machine()
                    .held_by(a)
                    .iter()
                    .all(|h| !h.contains("scatter-gather list"))
            );
            assert_eq!((q.outstanding(), q.in_flight()), (0, 0));
            assert_eq!(q.counters().sent, 150);
            assert_eq!(w.machine().counter(a, common::hw::regs::TX_UCAST_PKTS), 150);
            a.sends_done.lock().unwrap().clear();
        }
        w.halt_pf();
        w.assert_clean();
    }
}

/// "Pausing a Miniport Adapter": with frames still being mapped or on the ring, MiniportPause
/// returns NDIS_STATUS_PENDING; the last TX completion finishes it (NdisMPauseComplete), with
/// every NBL completed once and nothing lost; traffic flows after the restart.
#[test]
fn pause_with_frames_in_flight_completes_when_the_last_one_does() {
    let w = world(3);
    w.machine().set_sg_timing(SgTiming::Deferred);
    for (name, a, q, _) in send_sides(&w) {
        let mut nbls = frames(100, 300, 4096);
        w.machine().send(a, &mut nbls, true);
        assert_eq!(w.machine().pause(a), NDIS_STATUS_PENDING, "{name}");
        assert_eq!(a.recv.pause_state(), PauseState::Pending);
        let queued_then_paused = nbls
            .iter()
            .filter(|n| n.status() == NDIS_STATUS_PAUSED)
            .count();
        w.machine().run_device();
        assert_eq!(a.recv.pause_state(), PauseState::None, "{name}: completed");
        assert_eq!(done(a), 100, "{name}: each once");
        let sent = nbls
            .iter()
            .filter(|n| n.status() == NDIS_STATUS_SUCCESS)
            .count();
        assert_eq!(sent + queued_then_paused, 100, "{name}: sent or paused");
        assert_eq!(w.machine().take_wire().len(), sent, "{name}: nothing lost");
        assert!(sent > 0 && queued_then_paused > 0, "{name}: {sent} sent");
        assert_eq!(q.outstanding(), 0);
        assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS);
        let mut again = frames(3, 60, 64);
        w.machine().send(a, &mut again, false);
        w.machine().run_device();
        assert!(again.iter().all(|n| n.status() == NDIS_STATUS_SUCCESS));
        w.machine().take_wire();
        a.sends_done.lock().unwrap().clear();
    }
    w.assert_clean();
}

/// NdisMAllocateNetBufferSGList failing (NDIS_STATUS_RESOURCES, its page's status): that
/// NET_BUFFER's NBL completes with NDIS_STATUS_RESOURCES, nothing leaks, the next send works.
#[test]
fn a_mapping_failure_fails_that_nbl_only() {
    let w = world(1);
    for (name, a, q, _) in send_sides(&w) {
        let nth = w.machine().calls_to("NdisMAllocateNetBufferSGList") + 2;
        w.machine().set_call_hook(Some(Box::new(move |_, c, n| {
            if c == "NdisMAllocateNetBufferSGList" && n == nth {
                CallFault::Fail
            } else {
                CallFault::Proceed
            }
        })));
        let mut nbls = frames(3, 60, 64);
        w.machine().send(a, &mut nbls, false);
        w.machine().set_call_hook(None);
        w.machine().run_device();
        let st: Vec<NDIS_STATUS> = nbls.iter().map(TestNbl::status).collect();
        assert_eq!(
            st.iter().filter(|s| **s == NDIS_STATUS_RESOURCES).count(),
            1,
            "{name}: {st:?}"
        );
        let mut more = frames(2, 60, 64);
        w.machine().send(a, &mut more, false);
        w.machine().run_device();
        assert!(
            more.iter().all(|n| n.status() == NDIS_STATUS_SUCCESS),
            "{name}"
        );
        assert_eq!((q.outstanding(), q.in_flight()), (0, 0));
        assert_eq!(q.counters().dropped, 1);
        w.machine().take_wire();
    }
    w.halt_pf();
    w.assert_clean();
}

// ---- each SG check fires on a broken driver ------------------------------------------------

/// An NBL entered in `a`'s send ledger without reaching the driver (a test playing a driver).
fn held_nbl(a: &SimAdapter) -> TestNbl {
    let mut n = TestNbl::frame([0x02, 0, 0, 0, 1, 1], 1);
    a.sends_out.lock().unwrap().insert(n.ptr() as usize);
    n
}

fn first_nb(n: &mut TestNbl) -> *mut NET_BUFFER {
    // SAFETY: the test's NBL, alive.
    unsafe { (*n.ptr()).FirstNetBuffer }
}

/// NdisMAllocateNetBufferSGList as a broken driver calls it (null context: the real driver's
/// MiniportProcessSGList ignores it); returns the list, delivered inline.
fn map(w: &World, nb: *mut NET_BUFFER, flags: u32) -> *mut SCATTER_GATHER_LIST {
    let dma = w.pf().data_path().dma_handle();
    w.machine().set_sg_timing(SgTiming::Inline);
    // SAFETY: the simulator's export with the PF's DMA handle and a test NET_BUFFER.
    let s = unsafe {
        x::NdisMAllocateNetBufferSGList(
            dma,
            nb,
            std::ptr::null_mut(),
            flags,
            std::ptr::null_mut(),
            0,
        )
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    let a = w.pf_sim();
    w.machine()
        .sg_lists_of(a)
        .last()
        .copied()
        .map_or(std::ptr::null_mut(), |p| p as *mut SCATTER_GATHER_LIST)
}

fn free(w: &World, sgl: *mut SCATTER_GATHER_LIST, nb: *mut NET_BUFFER) {
    let dma = w.pf().data_path().dma_handle();
    // SAFETY: the simulator's export.
    unsafe { x::NdisMFreeNetBufferSGList(dma, sgl, nb) };
}

#[test]
fn the_fake_sender_is_clean_when_it_follows_the_rules() {
    let w = world(1);
    let mut n = held_nbl(w.pf_sim());
    let nb = first_nb(&mut n);
    let sgl = map(&w, nb, NDIS_SG_LIST_WRITE_TO_DEVICE);
    free(&w, sgl, nb);
    w.assert_clean();
}

#[test]
fn an_sg_list_freed_twice_is_caught() {
    let w = world(1);
    let mut n = held_nbl(w.pf_sim());
    let nb = first_nb(&mut n);
    let sgl = map(&w, nb, NDIS_SG_LIST_WRITE_TO_DEVICE);
    free(&w, sgl, nb);
    free(&w, sgl, nb);
    w.assert_violation("freed twice, or never allocated");
}

#[test]
fn an_sg_list_freed_before_miniport_process_sg_list_is_caught() {
    let w = world(1);
    let mut n = held_nbl(w.pf_sim());
    let nb = first_nb(&mut n);
    let dma = w.pf().data_path().dma_handle();
    w.machine().set_sg_timing(SgTiming::Deferred);
    // SAFETY: the simulator's export.
    let s = unsafe {
        x::NdisMAllocateNetBufferSGList(
            dma,
            nb,
            std::ptr::null_mut(),
            NDIS_SG_LIST_WRITE_TO_DEVICE,
            std::ptr::null_mut(),
            0,
        )
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    let sgl = *w.machine().sg_lists_of(w.pf_sim()).last().unwrap() as *mut SCATTER_GATHER_LIST;
    free(&w, sgl, nb);
    w.assert_violation("before MiniportProcessSGList had it");
}

#[test]
fn an_nbl_completed_with_its_list_still_mapped_is_caught() {
    let w = world(1);
    let a = w.pf_sim();
    let mut n = held_nbl(a);
    let nb = first_nb(&mut n);
    let _sgl = map(&w, nb, NDIS_SG_LIST_WRITE_TO_DEVICE);
    // SAFETY: the test's NBL; the simulator's export.
    unsafe {
        (*n.ptr()).Status = NDIS_STATUS_SUCCESS;
        x::NdisMSendNetBufferListsComplete(a.handle(), n.ptr(), 0);
    }
    w.assert_violation("SG list(s) not freed");
}

#[test]
fn a_halt_with_a_list_still_mapped_is_caught() {
    let w = world(1);
    let mut n = held_nbl(w.pf_sim());
    let _sgl = map(&w, first_nb(&mut n), NDIS_SG_LIST_WRITE_TO_DEVICE);
    w.pf_sim().sends_out.lock().unwrap().clear();
    w.halt_pf();
    w.assert_violation("scatter-gather list(s) (NdisMFreeNetBufferSGList)");
}

#[test]
fn a_send_mapping_without_write_to_device_is_caught() {
    let w = world(1);
    let mut n = held_nbl(w.pf_sim());
    let nb = first_nb(&mut n);
    let sgl = map(&w, nb, 0);
    free(&w, sgl, nb);
    w.assert_violation("without NDIS_SG_LIST_WRITE_TO_DEVICE");
}

#[test]
fn mapping_a_net_buffer_the_driver_does_not_hold_is_caught() {
    let w = world(1);
    let mut n = TestNbl::frame([0x02, 0, 0, 0, 1, 1], 1);
    let dma = w.pf().data_path().dma_handle();
    // SAFETY: the simulator's export; the NBL was never sent to the adapter.
    unsafe {
        x::NdisMAllocateNetBufferSGList(
            dma,
            first_nb(&mut n),
            std::ptr::null_mut(),
            NDIS_SG_LIST_WRITE_TO_DEVICE,
            std::ptr::null_mut(),
            0,
        )
    };
    w.assert_violation("of no NBL it holds");
}

#[test]
fn an_nbl_written_after_its_completion_is_caught() {
    let w = world(1);
    let a = w.pf_sim();
    let mut n = held_nbl(a);
    // SAFETY: the test's NBL; the simulator's export; then the bug under test.
    unsafe {
        (*n.ptr()).Status = NDIS_STATUS_SUCCESS;
        x::NdisMSendNetBufferListsComplete(a.handle(), n.ptr(), 0);
        (*n.ptr()).MiniportReserved.0[0] = std::ptr::null_mut();
    }
    w.machine().check_completed_untouched(a, None);
    w.assert_violation("written after NdisMSendNetBufferListsComplete");
}

// ---- mapping failures and submission order (attack review) -----------------------------------

/// Makes calls `from..=to` of NdisMAllocateNetBufferSGList (counted from now) fail.
fn fail_mappings(w: &World, from: u64, to: u64) {
    let base = w
        .machine()
        .call_counts()
        .get("NdisMAllocateNetBufferSGList")
        .copied()
        .unwrap_or(0);
    w.machine().set_call_hook(Some(Box::new(move |_, c, n| {
        if c == "NdisMAllocateNetBufferSGList" && (base + from..=base + to).contains(&n) {
            CallFault::Fail
        } else {
            CallFault::Proceed
        }
    })));
}

/// The first mapping of a burst fails with nothing else in flight: no TX completion will come,
/// so the NBLs behind it must still be mapped (not left queued until some later send).
#[test]
fn a_failed_first_mapping_does_not_stall_the_queue_behind_it() {
    let w = world(5);
    w.machine().set_sg_timing(SgTiming::Inline);
    for (name, a, q, _) in send_sides(&w) {
        fail_mappings(&w, 1, 1);
        let mut nbls = frames(3, 60, 64);
        w.machine().send(a, &mut nbls, false);
        w.machine().set_call_hook(None);
        w.machine().run_device();
        let st: Vec<NDIS_STATUS> = nbls.iter().map(TestNbl::status).collect();
        assert_eq!(done(a), 3, "{name}: every NBL completed, statuses {st:?}");
        assert_eq!(st[0], NDIS_STATUS_RESOURCES, "{name}");
        assert!(
            st[1..].iter().all(|s| *s == NDIS_STATUS_SUCCESS),
            "{name}: {st:?}"
        );
        assert_eq!((q.outstanding(), q.queued()), (0, 0), "{name}");
        assert_eq!(w.machine().take_wire().len(), 2, "{name}");
        a.sends_done.lock().unwrap().clear();
    }
    w.halt_pf();
    w.assert_clean();
}

/// A frame whose list came waits for its predecessor's; more failed mappings between them than
/// there are contexts must not leave it waiting once the predecessor's list comes (nor leave a
/// later MiniportPause pending for ever).
#[test]
fn many_failed_mappings_between_two_frames_do_not_strand_the_later_one() {
    let w = world(9);
    w.machine().set_sg_timing(SgTiming::Reversed);
    for (name, a, q, _) in send_sides(&w) {
        let mut first = frames(1, 60, 64);
        w.machine().send(a, &mut first, false);
        let gaps = 2 * common::send::TX_CONTEXTS as u64;
        fail_mappings(&w, 1, gaps);
        let mut failing = frames(gaps as usize, 60, 64);
        for n in failing.iter_mut() {
            w.machine().send(a, std::slice::from_mut(n), false);
        }
        w.machine().set_call_hook(None);
        assert!(
            failing.iter().all(|n| n.status() == NDIS_STATUS_RESOURCES),
            "{name}"
        );
        let mut last = frames(1, 60, 64);
        w.machine().send(a, &mut last, false);
        // Reversed: the last frame's MiniportProcessSGList runs before the first's.
        w.machine().run_device();
        assert_eq!(
            done(a),
            failing.len() + 2,
            "{name}: every NBL completed (in flight {}, held {})",
            q.in_flight(),
            q.outstanding()
        );
        assert_eq!(first[0].status(), NDIS_STATUS_SUCCESS, "{name}: first sent");
        assert_eq!(
            last[0].status(),
            NDIS_STATUS_SUCCESS,
            "{name}: the last frame sent (in flight {}, held {})",
            q.in_flight(),
            q.outstanding()
        );
        assert_eq!(w.machine().take_wire().len(), 2, "{name}");
        assert_eq!(
            w.machine().pause(a),
            NDIS_STATUS_SUCCESS,
            "{name}: nothing held"
        );
        assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS, "{name}");
        a.sends_done.lock().unwrap().clear();
    }
    w.halt_pf();
    w.assert_clean();
}
