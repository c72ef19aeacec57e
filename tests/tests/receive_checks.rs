//! Each Verifier-style receive check of the simulator (`world/receive.rs`, `world/nbl_pool.rs`)
//! fires: a deliberately wrong call sequence, made through the very exports a driver calls (the
//! test plays a broken driver) or by replacing a driver handler (a mutation), is reported as a
//! violation. The right sequences are `receive_path.rs`.
use common::ffi::*;
use sim::exports as x;
use sim::world::ReturnOrder;
use sim::{Config, SimAdapter, World};

fn world() -> World {
    World::boot(Config::default(), 1)
}

/// A pool, an MDL over `buf` and one NBL of 60 bytes, allocated under `a`'s handle.
struct Fake {
    pool: NDIS_HANDLE,
    mdl: *mut MDL,
    nbl: *mut NET_BUFFER_LIST,
}

fn params() -> NET_BUFFER_LIST_POOL_PARAMETERS {
    NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        fAllocateNetBuffer: TRUE,
        ..Default::default()
    }
}

fn fake(a: &SimAdapter, buf: &mut [u8]) -> Fake {
    let mut p = params();
    // SAFETY: the simulator's exports, called as a driver would with its adapter handle.
    unsafe {
        let pool = x::NdisAllocateNetBufferListPool(a.handle(), &mut p);
        let mdl = x::NdisAllocateMdl(a.handle(), buf.as_mut_ptr().cast(), buf.len() as u32);
        let nbl = x::NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, 0, 60);
        assert!(!nbl.is_null());
        (*nbl).SourceHandle = a.handle();
        Fake { pool, mdl, nbl }
    }
}

fn free(f: &Fake) {
    // SAFETY: objects from `fake`, freed once, NBL before MDL before pool.
    unsafe {
        x::NdisFreeNetBufferList(f.nbl);
        x::NdisFreeMdl(f.mdl);
        x::NdisFreeNetBufferListPool(f.pool);
    }
}

fn indicate_at(
    irql: KIRQL,
    a: &SimAdapter,
    nbl: *mut NET_BUFFER_LIST,
    n: u32,
    port: u32,
    flags: u32,
) {
    let ((), v) = sim::irql::call_at(irql, "a broken driver's DPC", || {
        // SAFETY: the simulator's export with NBLs from its pools.
        unsafe { x::NdisMIndicateReceiveNetBufferLists(a.handle(), nbl, port, n, flags) }
    });
    if let Some(v) = v {
        a.world().violation(v);
    }
}

fn indicate(a: &SimAdapter, nbl: *mut NET_BUFFER_LIST) {
    indicate_at(
        DISPATCH_LEVEL,
        a,
        nbl,
        1,
        0,
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
    );
}

/// The control: a correct fake indication, returned, freed in order, breaks nothing.
#[test]
fn the_fake_driver_is_clean_when_it_follows_the_rules() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0x5Au8; 128];
    let f = fake(a, &mut buf);
    indicate(a, f.nbl);
    assert_eq!(a.recv.held(), 1);
    w.machine().return_received(a, 1, ReturnOrder::Fifo);
    free(&f);
    w.assert_clean();
}

#[test]
fn indication_while_paused_is_caught() {
    let w = world();
    let a = w.pf_sim();
    assert_eq!(w.machine().pause(a), NDIS_STATUS_SUCCESS);
    let mut buf = vec![0u8; 128];
    indicate(a, fake(a, &mut buf).nbl);
    w.assert_violation("while the adapter is not running");
}

#[test]
fn indication_while_pausing_is_caught() {
    let w = world();
    let a = w.pf_sim();
    w.machine().from_wire(&[&[0u8; 64]]);
    assert_eq!(w.machine().pause(a), NDIS_STATUS_PENDING);
    let mut buf = vec![0u8; 128];
    indicate(a, fake(a, &mut buf).nbl);
    w.assert_violation("while the adapter is not running");
}

#[test]
fn an_nbl_from_another_adapters_pool_is_caught() {
    let w = world();
    let mut buf = vec![0u8; 128];
    let vf_nbl = fake(w.vf_sim(0).unwrap(), &mut buf).nbl;
    indicate(w.pf_sim(), vf_nbl);
    w.assert_violation("not from the adapter's own pool");
}

#[test]
fn a_wrong_count_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    indicate_at(
        DISPATCH_LEVEL,
        a,
        fake(a, &mut buf).nbl,
        2,
        0,
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
    );
    w.assert_violation("NumberOfNetBufferLists 2 but the chain holds 1");
}

#[test]
fn indicating_an_nbl_ndis_holds_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    let f = fake(a, &mut buf);
    indicate(a, f.nbl);
    indicate(a, f.nbl);
    w.assert_violation("while NDIS still holds it");
}

#[test]
fn touching_an_nbl_ndis_holds_is_caught() {
    let w = world();
    let a = w.pf_sim();
    w.machine().from_wire(&[&[7u8; 64]]);
    let nbl = a.recv.seen()[0].nbl as *mut NET_BUFFER_LIST;
    // SAFETY: the driver's NBL, alive; this is the bug under test (NDIS owns it now).
    unsafe { (*(*nbl).FirstNetBuffer).DataLength.DataLength = 10 };
    w.machine().return_received(a, 1, ReturnOrder::Fifo);
    w.assert_violation("changed while NDIS held it");
}

#[test]
fn overwriting_a_held_buffer_is_caught() {
    let w = world();
    let a = w.pf_sim();
    w.machine().from_wire(&[&[7u8; 64]]);
    let nbl = a.recv.seen()[0].nbl as *mut NET_BUFFER_LIST;
    // SAFETY: as above: a new frame written into a buffer NDIS still holds.
    unsafe {
        *(*(*(*nbl).FirstNetBuffer).MdlChain)
            .MappedSystemVa
            .cast::<u8>() = 0xEE
    };
    w.machine().return_received(a, 1, ReturnOrder::Fifo);
    w.assert_violation("changed while NDIS held it");
}

#[test]
fn a_wrong_source_handle_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    let f = fake(a, &mut buf);
    // SAFETY: our fake NBL.
    unsafe { (*f.nbl).SourceHandle = std::ptr::null_mut() };
    indicate(a, f.nbl);
    w.assert_violation("SourceHandle");
}

#[test]
fn a_dispatch_flag_at_passive_level_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    indicate_at(
        PASSIVE_LEVEL,
        a,
        fake(a, &mut buf).nbl,
        1,
        0,
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
    );
    w.assert_violation("flags 0x1 at PASSIVE_LEVEL");
}

#[test]
fn a_missing_dispatch_flag_at_dispatch_level_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    indicate_at(DISPATCH_LEVEL, a, fake(a, &mut buf).nbl, 1, 0, 0);
    w.assert_violation("flags 0x0 at DISPATCH_LEVEL");
}

#[test]
fn an_indication_above_dispatch_level_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    let f = fake(a, &mut buf);
    indicate_at(
        DISPATCH_LEVEL + 1,
        a,
        f.nbl,
        1,
        0,
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
    );
    w.assert_violation("IRQL: NdisMIndicateReceiveNetBufferLists");
}

#[test]
fn a_port_never_allocated_is_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    indicate_at(
        DISPATCH_LEVEL,
        a,
        fake(a, &mut buf).nbl,
        1,
        3,
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
    );
    w.assert_violation("port 3");
}

#[test]
fn a_malformed_pool_header_and_a_protocol_id_are_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut p = params();
    p.Header.Size = 8;
    // SAFETY: the export, with a bad header (the bug under test).
    assert!(unsafe { x::NdisAllocateNetBufferListPool(a.handle(), &mut p) }.is_null());
    w.assert_violation("malformed NET_BUFFER_LIST_POOL_PARAMETERS");
    let mut p = params();
    p.ProtocolId = 6;
    // SAFETY: as above.
    unsafe { x::NdisAllocateNetBufferListPool(a.handle(), &mut p) };
    w.assert_violation("ProtocolId 6");
}

#[test]
fn frees_in_the_wrong_order_are_caught() {
    let w = world();
    let a = w.pf_sim();
    let mut buf = vec![0u8; 128];
    let f = fake(a, &mut buf);
    // SAFETY: the exports, out of order (the bugs under test).
    unsafe { x::NdisFreeNetBufferListPool(f.pool) };
    w.assert_violation("NBLs of the pool not freed");
    // SAFETY: as above.
    unsafe { x::NdisFreeMdl(f.mdl) };
    w.assert_violation("still points at it");
    indicate(a, f.nbl);
    // SAFETY: as above.
    unsafe { x::NdisFreeNetBufferList(f.nbl) };
    w.assert_violation("that NDIS holds");
}

#[test]
fn halt_leaving_pool_objects_is_caught() {
    let w = world();
    let mut buf = vec![0u8; 128];
    let _leak = fake(w.pf_sim(), &mut buf);
    w.halt_pf();
    w.assert_violation("MiniportHaltEx left");
}

#[test]
fn pause_complete_without_a_pending_pause_is_caught() {
    let w = world();
    let a = w.pf_sim();
    // SAFETY: the export, uncalled for.
    unsafe { x::NdisMPauseComplete(a.handle()) };
    w.assert_violation("NdisMPauseComplete without a pending pause");
}

common::ndis_fn! {
    /// A MiniportPause that ignores what NDIS holds.
    unsafe fn pause_at_once(_ctx: NDIS_HANDLE, _p: *mut NDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
        NDIS_STATUS_SUCCESS
    }

    /// A MiniportReturnNetBufferLists that never takes anything back.
    unsafe fn return_nothing(_ctx: NDIS_HANDLE, _nbl: *mut NET_BUFFER_LIST, _flags: u32) {}
}

/// Mutation: a driver whose pause does not wait for the NBLs NDIS holds.
#[test]
fn mutation_pause_completing_with_nbls_out_is_caught() {
    let w = world();
    w.machine()
        .mutate_driver(true, |c| c.PauseHandler = Some(pause_at_once));
    w.machine().from_wire(&[&[1u8; 64], &[2u8; 64]]);
    w.machine().pause(w.pf_sim());
    w.assert_violation("MiniportPause completed with 2 received NBLs not yet returned");
}

/// Mutation: a driver that never completes its pending pause (its return handler drops what
/// comes back).
#[test]
fn mutation_pause_never_completed_is_caught() {
    let w = world();
    w.machine().mutate_driver(true, |c| {
        c.ReturnNetBufferListsHandler = Some(return_nothing)
    });
    w.machine().from_wire(&[&[1u8; 64]]);
    assert_eq!(w.machine().pause(w.pf_sim()), NDIS_STATUS_PENDING);
    w.halt_pf();
    w.assert_violation("MiniportPause never completed");
}
