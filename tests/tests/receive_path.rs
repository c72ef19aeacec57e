//! The NDIS half of receive (issue 11) in both drivers (`common::recv`), against the
//! simulator's receive ledger (`world/receive.rs`) and pool bookkeeping (`world/nbl_pool.rs`):
//! indications and returns (several chained, in any order), the RESOURCES path, running out of
//! posted buffers, a pause with NBLs outstanding, frames while paused, halt and failed
//! initialization freeing everything. Frames come in at the device model's wire port: the PF's
//! through the switch in bypass, the VF's through the switch with VF 0's VPort promiscuous
//! (`sim::world::traffic`); the device writes them into the RX buffers the driver posted in
//! its shared memory and signals, and the driver's DPC indicates them.
use common::ffi::*;
use common::handlers::Miniport;
use common::recv::{RX_LOW_WATER, RX_SLOTS, RecvQueue, RxBuffers};
use sim::world::traffic::SwitchPlan;
use sim::world::{CallFault, PauseState, ReturnOrder};
use sim::{Config, SimAdapter, World};
use std::sync::atomic::Ordering;

fn world() -> World {
    World::boot(Config::default(), 1)
}

/// One driver under test, behind NDIS's view of its adapter.
#[derive(Clone, Copy)]
enum Drv<'a> {
    Pf(&'a pf_miniport::Adapter),
    Vf(&'a vf_miniport::Adapter),
}

impl Drv<'_> {
    fn rx(&self) -> &RecvQueue {
        match self {
            Drv::Pf(a) => a.receives(),
            Drv::Vf(a) => a.receives(),
        }
    }

    /// Frames from the wire to this side's function; returns how many reached the driver
    /// (indicated or dropped by it; not those the device dropped for want of a buffer).
    fn deliver(&self, w: &World, frames: &[Vec<u8>]) -> usize {
        let m = w.machine();
        match self {
            Drv::Pf(_) => m.bypass_switch(),
            Drv::Vf(_) => m.program_switch(&SwitchPlan {
                pf_mac: [0x02, 0, 0, 0, 0, 0xFE],
                pf_promiscuous: false,
                promiscuous_vf: Some(0),
                vfs: vec![(0, [0x02, 0, 0, 0, 0, 0x10], None)],
            }),
        }
        let seen = |c: common::recv::RxCounters| c.frames + c.dropped();
        let before = seen(self.rx().counters());
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        m.from_wire(&refs);
        (seen(self.rx().counters()) - before) as usize
    }
}

fn sides(w: &World) -> Vec<(&'static str, &SimAdapter, Drv<'_>)> {
    vec![
        ("PF", w.pf_sim(), Drv::Pf(w.pf())),
        (
            "VF",
            w.vf_sim(0).expect("VF 0"),
            Drv::Vf(w.vf(0).expect("VF 0")),
        ),
    ]
}

fn frame(n: u8, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) ^ n).collect();
    f[..6].copy_from_slice(&[0x02, 0x15, 0x5D, 0, 0, n]);
    f
}

fn frames(first: u8, n: u8) -> Vec<Vec<u8>> {
    (first..first + n)
        .map(|i| frame(i, 60 + (usize::from(i) * 37) % 1400))
        .collect()
}

/// "Indicating Received Data from a Miniport Driver": indicated NBLs stay NDIS's until it returns
/// them; the overlying drivers see exactly the bytes the device wrote; returned buffers are
/// posted again and received into.
#[test]
fn indications_are_held_until_returned_then_reused() {
    let w = world();
    for (name, a, d) in sides(&w) {
        assert_eq!(d.rx().slots(), RX_SLOTS, "{name}");
        assert_eq!(
            d.rx().posted(),
            RX_SLOTS,
            "{name}: every buffer posted at initialize"
        );
        let f = frames(1, 3);
        assert_eq!(d.deliver(&w, &f), 3);
        let seen = a.recv.seen();
        assert_eq!(seen.len(), 3, "{name}");
        for (s, f) in seen.iter().zip(&f) {
            assert_eq!(&s.data, f, "{name}: the bytes as written");
            assert!(!s.resources);
        }
        assert_eq!(
            a.recv.indications.load(Ordering::Relaxed),
            1,
            "{name}: one chain"
        );
        assert_eq!((a.recv.held(), d.rx().outstanding()), (3, 3), "{name}");
        let c = d.rx().counters();
        assert_eq!(
            (c.frames, c.bytes),
            (3, f.iter().map(|x| x.len() as u64).sum())
        );
        assert_eq!(w.machine().return_received(a, 2, ReturnOrder::Reverse), 2);
        assert_eq!(w.machine().return_received(a, 5, ReturnOrder::Fifo), 1);
        assert_eq!((a.recv.held(), d.rx().outstanding()), (0, 0), "{name}");
        assert_eq!(d.rx().posted(), RX_SLOTS, "{name}: reposted");
        // Twice the slot count, returned as they come: every buffer is used again.
        for round in 0..(2 * RX_SLOTS) as u8 {
            assert_eq!(d.deliver(&w, &[frame(round, 100)]), 1);
            w.machine().return_received(a, 1, ReturnOrder::Fifo);
        }
        assert_eq!(d.rx().counters().dropped(), 0, "{name}");
    }
    w.assert_clean();
}

/// MINIPORT_RETURN_NET_BUFFER_LISTS: "The linked list can contain NET_BUFFER_LIST structures
/// from multiple previous calls"; in any order.
#[test]
fn several_indications_come_back_in_one_shuffled_chain() {
    let w = world();
    for (name, a, d) in sides(&w) {
        d.deliver(&w, &frames(1, 2));
        d.deliver(&w, &frames(3, 2));
        d.deliver(&w, &frames(5, 1));
        assert_eq!(a.recv.indications.load(Ordering::Relaxed), 3);
        assert_eq!(
            w.machine().return_received(a, 5, ReturnOrder::Shuffled),
            5,
            "{name}"
        );
        assert_eq!(d.rx().outstanding(), 0);
        assert_eq!(d.rx().posted(), RX_SLOTS);
    }
    w.assert_clean();
}

/// "Receiving Network Data": a driver low on receive resources indicates with
/// NDIS_RECEIVE_FLAGS_RESOURCES; those NBLs are its own again when the call returns (never
/// returned) and their buffers are posted at once.
#[test]
fn low_on_buffers_indicates_with_resources_and_reuses_at_once() {
    let w = world();
    for (name, a, d) in sides(&w) {
        let normal = RX_SLOTS - RX_LOW_WATER;
        for i in 0..normal as u8 {
            d.deliver(&w, &[frame(i, 64)]);
        }
        assert_eq!(
            a.recv.held(),
            usize::from(normal),
            "{name}: above the low-water mark"
        );
        for i in 0..20u8 {
            d.deliver(&w, &[frame(100 + i, 64)]);
        }
        let seen = a.recv.seen();
        assert_eq!(seen.len(), usize::from(normal) + 20);
        assert!(
            seen[usize::from(normal)..].iter().all(|s| s.resources),
            "{name}"
        );
        assert_eq!(
            seen.last().unwrap().data,
            frame(119, 64),
            "{name}: data seen before the call returned"
        );
        assert_eq!(
            a.recv.held(),
            usize::from(normal),
            "{name}: RESOURCES NBLs are not held"
        );
        assert_eq!(d.rx().outstanding(), normal);
        assert_eq!(d.rx().posted(), RX_LOW_WATER, "{name}: reposted at once");
        assert_eq!(d.rx().counters().resources_indications, 20);
        w.machine().return_all_received(a);
        d.deliver(&w, &[frame(1, 64)]);
        assert!(
            !a.recv.seen().last().unwrap().resources,
            "{name}: normal again"
        );
        w.machine().return_all_received(a);
    }
    w.assert_clean();
}

/// With every buffer gone (NDIS holding most, a burst larger than the rest) the driver keeps
/// working: what finds no buffer is dropped and counted, what fits is indicated.
#[test]
fn running_out_of_buffers_drops_and_counts_and_recovers() {
    let w = world();
    for (name, a, d) in sides(&w) {
        let normal = RX_SLOTS - RX_LOW_WATER;
        d.deliver(&w, &frames(0, normal as u8));
        assert_eq!(a.recv.held(), usize::from(normal));
        // A burst of 5 onto the 2 buffers left: 2 indicated (RESOURCES), 3 dropped.
        assert_eq!(d.deliver(&w, &frames(20, 5)), usize::from(RX_LOW_WATER));
        let c = d.rx().counters();
        let discards = w.machine().counter(a, common::hw::regs::RX_DISCARDS);
        assert_eq!(
            discards, 3,
            "{name}: the device dropped what found no buffer"
        );
        assert_eq!(c.frames, u64::from(normal) + 2);
        // Oversized frames are the device's error: never written, counted as RX_ERRORS.
        d.deliver(&w, &[vec![0u8; 4000]]);
        assert_eq!(w.machine().counter(a, common::hw::regs::RX_ERRORS), 1);
        // An empty frame reaches the driver as invalid: dropped, counted, buffer reposted.
        d.deliver(&w, &[Vec::new()]);
        assert_eq!(d.rx().counters().dropped_invalid, 1, "{name}");
        assert_eq!(d.rx().posted(), RX_LOW_WATER);
        w.machine().return_all_received(a);
        assert_eq!(d.deliver(&w, &frames(40, 4)), 4, "{name}: recovered");
        assert_eq!(a.recv.held(), 4);
        w.machine().return_all_received(a);
    }
    w.assert_clean();
}

/// "Pausing an Adapter": with NBLs outstanding MiniportPause returns NDIS_STATUS_PENDING and
/// completes (NdisMPauseComplete) only when the last comes back; frames meanwhile are dropped.
#[test]
fn pause_waits_for_every_indicated_nbl() {
    let w = world();
    for (name, a, d) in sides(&w) {
        d.deliver(&w, &frames(1, 3));
        assert_eq!(w.machine().pause(a), NDIS_STATUS_PENDING, "{name}");
        assert_eq!(a.recv.pause_state(), PauseState::Pending);
        let before = a.recv.seen().len();
        d.deliver(&w, &frames(9, 2));
        assert_eq!(
            a.recv.seen().len(),
            before,
            "{name}: nothing indicated while pausing"
        );
        assert_eq!(d.rx().counters().dropped_paused, 2);
        w.machine().return_received(a, 2, ReturnOrder::Shuffled);
        assert_eq!(
            a.recv.pause_state(),
            PauseState::Pending,
            "{name}: one still out"
        );
        w.machine().return_received(a, 1, ReturnOrder::Fifo);
        assert_eq!(
            a.recv.pause_state(),
            PauseState::None,
            "{name}: completed by the last return"
        );
        assert_eq!(a.recv.pause_completions.load(Ordering::Relaxed), 1);
        assert_eq!(
            w.machine().restart(a),
            NDIS_STATUS_SUCCESS,
            "{name}: Paused, so restartable"
        );
        assert_eq!(d.deliver(&w, &frames(20, 2)), 2);
        assert_eq!(a.recv.held(), 2);
        w.machine().return_all_received(a);
    }
    w.assert_clean();
}

/// Nothing outstanding: the pause completes at once; frames while paused are dropped, counted
/// and their buffers reposted, never indicated.
#[test]
fn paused_adapters_indicate_nothing() {
    let w = world();
    for (name, a, d) in sides(&w) {
        assert_eq!(w.machine().pause(a), NDIS_STATUS_SUCCESS, "{name}");
        d.deliver(&w, &frames(1, 4));
        assert!(a.recv.seen().is_empty(), "{name}");
        assert_eq!(d.rx().counters().dropped_paused, 4);
        assert_eq!(d.rx().posted(), RX_SLOTS);
        w.machine().restart(a);
        assert_eq!(d.deliver(&w, &frames(1, 1)), 1);
        assert_eq!(a.recv.seen().len(), 1);
        w.machine().return_all_received(a);
    }
    w.assert_clean();
}

/// MiniportHaltEx frees every NBL, MDL, the pool and the buffers, also when NBLs were out when
/// the halt began (NDIS pauses first, the stack returns them).
#[test]
fn halt_frees_everything_even_with_nbls_out() {
    let w = world();
    let (pf, vf) = (w.pf_sim().handle(), w.vf_sim(0).unwrap().handle());
    for (_, _, d) in sides(&w) {
        d.deliver(&w, &frames(1, 3));
    }
    assert!(w.machine().pool_objects_of(pf).nbls > 0);
    w.halt_pf();
    for h in [pf, vf] {
        assert_eq!(w.machine().pool_objects_of(h), Default::default());
    }
    assert_eq!(w.machine().pool_objects(), Default::default());
    for tag in [b"PfRx", b"VfRx"] {
        assert_eq!(w.machine().pool_bytes(common::mem::pool_tag(tag)), 0);
    }
    w.assert_clean();
}

/// Each receive allocation failing at initialize fails the initialization with
/// NDIS_STATUS_RESOURCES and leaves nothing allocated (the first, a middle and the last NBL
/// and MDL; the pool; the shared memory of the buffers).
#[test]
fn each_receive_allocation_failing_at_initialize_leaks_nothing() {
    let last = u64::from(RX_SLOTS);
    let sites: Vec<(&'static str, u64)> = vec![
        ("NdisAllocateNetBufferListPool", 1),
        ("NdisAllocateMdl", 1),
        ("NdisAllocateMdl", 4),
        ("NdisAllocateMdl", last),
        ("NdisAllocateNetBufferAndNetBufferList", 1),
        ("NdisAllocateNetBufferAndNetBufferList", 5),
        ("NdisAllocateNetBufferAndNetBufferList", last),
        // The third block: the RX buffers (a hardware step, before the receive queue).
        ("NdisMAllocateSharedMemory", 3),
        // The fourth: the TX bounce buffers.
        ("NdisMAllocateSharedMemory", 4),
    ];
    for pf in [true, false] {
        for &(call, nth) in &sites {
            let w = World::new(Config::default());
            let fail = move |_: &sim::Machine, c: &'static str, n: u64| {
                if c == call && n == nth {
                    CallFault::Fail
                } else {
                    CallFault::Proceed
                }
            };
            let status = if pf {
                w.machine().set_call_hook(Some(Box::new(fail)));
                w.load_pf().err()
            } else {
                w.load_pf().unwrap();
                w.create_switch(1);
                let vf = w.allocate_vf().unwrap();
                // Only the guest's calls from here on (the VF's counts start now).
                let base = w.machine().call_counts().get(call).copied().unwrap_or(0);
                w.machine().set_call_hook(Some(Box::new(move |m, c, n| {
                    fail(m, c, n - if c == call { base } else { 0 })
                })));
                w.attach_vf(vf).err()
            };
            assert_eq!(
                status,
                Some(NDIS_STATUS_RESOURCES),
                "pf {pf}: {call} #{nth}"
            );
            let step = if call == "NdisMAllocateSharedMemory" {
                "hardware failed"
            } else {
                "receive resources failed"
            };
            assert!(
                w.log().iter().any(|l| l.contains(step)),
                "pf {pf}: {call} #{nth} failed the {step} step"
            );
            w.machine().set_call_hook(None);
            w.halt_pf();
            assert_eq!(
                w.machine().pool_objects(),
                Default::default(),
                "pf {pf}: {call} #{nth}"
            );
            assert_eq!(w.machine().pool_blocks(), 0, "pf {pf}: {call} #{nth}");
            w.assert_clean();
        }
    }
}

/// The cross-built images allocate the same receive resources at MiniportInitializeEx (their
/// own pool, one NBL and MDL per buffer) and free every one at MiniportHaltEx. (They have no
/// caller of the DPC seam yet, so indications are exercised on the host-linked drivers only.)
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_images_allocate_and_free_their_receive_resources() {
    let w = World::boot_images(Config::default(), 1).unwrap_or_else(|e| panic!("{e}"));
    let slots = usize::from(RX_SLOTS);
    let (pf, vf) = (w.pf_sim().handle(), w.vf_sim(0).expect("VF 0").handle());
    for h in [pf, vf] {
        let o = w.machine().pool_objects_of(h);
        assert_eq!((o.pools, o.nbls, o.mdls), (1, slots, slots));
    }
    // Nothing is outstanding: the images' pauses complete at once.
    assert_eq!(w.machine().pause(w.pf_sim()), NDIS_STATUS_SUCCESS);
    assert_eq!(w.machine().restart(w.pf_sim()), NDIS_STATUS_SUCCESS);
    w.halt_pf();
    assert_eq!(w.machine().pool_objects(), Default::default());
    w.assert_clean();
}

/// Buffers allocated one by one (as one NdisMAllocateSharedMemory block each would be).
struct Scattered(Vec<Vec<u8>>);

impl common::recv::RxBuffers for Scattered {
    fn count(&self) -> u16 {
        self.0.len() as u16
    }

    fn buffer(&self, slot: u16) -> Option<common::recv::RxBuffer> {
        let b = self.0.get(usize::from(slot))?;
        Some(common::recv::RxBuffer {
            va: b.as_ptr().cast_mut(),
            bus: 0x1000_0000 + u64::from(slot) * 0x1_0000,
            len: b.len() as u32,
        })
    }
}

/// The buffer source is a parameter: any set of buffers with an address and a length per slot
/// gets one MDL and NBL each, posted with its own addresses, and all of it is freed again.
#[test]
fn any_buffer_source_gets_an_nbl_and_mdl_per_buffer() {
    let w = world();
    let a = w.pf_sim();
    let src = Scattered(vec![vec![0u8; 1600], vec![0u8; 2048], vec![0u8; 9000]]);
    let q = RecvQueue::new();
    // SAFETY: the PF's adapter handle (the test plays a third miniport on it); the buffers
    // outlive the queue's use of them.
    unsafe { q.allocate(a.handle(), &src, 1, common::mem::pool_tag(b"Test")) }.unwrap();
    assert_eq!(q.slots(), 3);
    for i in 0..3u16 {
        assert_eq!(q.buffer(i), src.buffer(i));
    }
    let ring = Recorder::default();
    q.post_all(&ring);
    let posted = ring.0.lock().unwrap().clone();
    let want: Vec<(u16, u64, u32)> = (0..3u16)
        .map(|i| {
            let b = src.buffer(i).unwrap();
            (i, b.bus, b.len)
        })
        .collect();
    assert_eq!((q.posted(), posted), (3, want));
    let before = w.machine().pool_objects_of(a.handle());
    // SAFETY: nothing was indicated.
    unsafe { q.free() };
    let after = w.machine().pool_objects_of(a.handle());
    assert_eq!((before.nbls - after.nbls, before.mdls - after.mdls), (3, 3));
    assert_eq!(before.pools - after.pools, 1);
    w.assert_clean();
}

/// Seeded runs of random receive traffic on both drivers: bursts of frames (some empty or
/// oversized), returns of any size in any order, pauses (pending or not) and restarts, in
/// random interleavings. After every step the driver's and NDIS's books agree: NBLs NDIS holds
/// are exactly the driver's outstanding ones, every buffer is either posted or outstanding,
/// the device's RX ring holds exactly the posted ones, every indicated frame was seen once with
/// its bytes; at the end a halt frees everything and no rule was broken.
#[test]
fn seeded_receive_traffic_keeps_the_books_balanced() {
    for seed in 0..40u64 {
        let w = World::boot(
            Config {
                seed,
                record: false,
                ..Config::default()
            },
            1,
        );
        let mut rng = sim::rng::Rng::new(seed ^ 0x5EED);
        for (name, a, d) in sides(&w) {
            let mut delivered = Vec::new();
            for step in 0..150u32 {
                let paused = !a.running.load(Ordering::Acquire);
                match rng.below(10) {
                    0..=4 => {
                        let n = 1 + rng.below(6) as u8;
                        let f: Vec<Vec<u8>> = (0..n)
                            .map(|i| match rng.below(20) {
                                0 => Vec::new(),
                                1 => vec![0xAB; 2049],
                                _ => frame(i ^ step as u8, 14 + rng.below(1500) as usize),
                            })
                            .collect();
                        delivered.extend(f.iter().cloned());
                        d.deliver(&w, &f);
                    }
                    5..=7 => {
                        let order = [
                            ReturnOrder::Fifo,
                            ReturnOrder::Reverse,
                            ReturnOrder::Shuffled,
                        ][rng.below(3) as usize];
                        w.machine()
                            .return_received(a, 1 + rng.below(5) as usize, order);
                    }
                    8 if !paused => {
                        w.machine().pause(a);
                    }
                    _ if paused && a.recv.pause_state() == PauseState::None => {
                        assert_eq!(w.machine().restart(a), NDIS_STATUS_SUCCESS);
                    }
                    _ => {}
                }
                let rx = d.rx();
                let ctx = format!("seed {seed} {name} step {step}");
                assert_eq!(a.recv.held(), usize::from(rx.outstanding()), "{ctx}");
                assert_eq!(rx.posted() + rx.outstanding(), RX_SLOTS, "{ctx}");
                assert_eq!(
                    w.machine().rx_posted(a),
                    Some(u32::from(rx.posted())),
                    "{ctx}: the device holds exactly the posted buffers"
                );
                let seen = a.recv.seen();
                assert_eq!(seen.len() as u64, rx.counters().frames, "{ctx}");
                assert!(seen.iter().all(|s| delivered.contains(&s.data)), "{ctx}");
                if a.recv.pause_state() == PauseState::Pending {
                    assert!(rx.outstanding() > 0, "{ctx}: pending with nothing out");
                }
            }
        }
        w.halt_pf();
        assert_eq!(
            w.machine().pool_objects(),
            Default::default(),
            "seed {seed}"
        );
        assert_eq!(w.machine().pool_blocks(), 0, "seed {seed}");
        w.assert_clean();
    }
}

/// An RxPoster that records what it is given (slot, bus address, length).
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(u16, u64, u32)>>);

impl common::recv::RxPoster for Recorder {
    fn post(&self, slot: u16, buf: common::recv::RxBuffer) {
        self.0.lock().unwrap().push((slot, buf.bus, buf.len));
    }
}
