//! Each Verifier-style check of the data-path exports (`tests/src/exports/dma.rs`,
//! `tests/src/world/{resources,interrupts,pnp}.rs`) shown to fire on a test miniport that breaks
//! its rule (`sim::rogue`), each asserting the exact violation and that the correct call next
//! to it reports nothing; and both drivers given hostile PnP resource lists
//! (NDIS_MINIPORT_INIT_PARAMETERS.AllocatedResources, `sim::world::pnp`).
use common::ffi::*;
use common::hw::regs::*;
use sim::device::Func;
use sim::rogue::{self, Rogue, interrupt_characteristics, sg_description};
use sim::world::Role;
use sim::world::pnp::{self, Assignment};
use sim::{Config, World};
use std::ffi::c_void;

/// `v` holds exactly `n` violations, each containing `what`.
fn exactly(v: &[String], n: usize, what: &str) {
    assert_eq!(v.len(), n, "{v:#?}");
    assert!(v.iter().all(|m| m.contains(what)), "{what}: {v:#?}");
}

#[test]
fn unmapping_what_was_never_mapped_is_reported() {
    let v = rogue::violations_of(|r: &Rogue| {
        let va = r.bring_up();
        let (_, len) = r.bar();
        // SAFETY: the rogue's handle; calls a miniport may make, with wrong arguments.
        unsafe {
            // Inside the BAR, never mapped at that address; the real mapping with a wrong
            // length; an address that was never anything.
            sim::exports::NdisMUnmapIoSpace(r.handle, va.add(0x1000).cast(), 0x1000);
            sim::exports::NdisMUnmapIoSpace(r.handle, va.cast(), len / 2);
            sim::exports::NdisMUnmapIoSpace(r.handle, 0x1234_5000 as *mut c_void, 0x1000);
        }
        NDIS_STATUS_SUCCESS
    });
    // The real mapping, unmapped with its own address and length at halt, reports nothing.
    exactly(&v, 3, "NdisMUnmapIoSpace(");
    assert!(
        v.iter().all(|m| m.contains("of no mapping it holds")),
        "{v:#?}"
    );
}

#[test]
fn mapping_a_null_or_bad_physical_address_or_zero_length_is_reported() {
    let v = rogue::violations_of(|r: &Rogue| {
        r.attributes();
        let (pa, len) = r.bar();
        let bad = [
            (0i64, 0x1000u32),         // a null physical address
            (pa, 0),                   // zero length
            (pa + 0x1000, u32::MAX),   // past the BAR's end
            (i64::MAX - 0x10, 0x1000), // an address whose end overflows
            (-0x1000, 0x1000),         // a "negative" physical address
        ];
        for (a, l) in bad {
            let (s, va) = r.map(a, l);
            assert_eq!(
                (s, va),
                (NDIS_STATUS_RESOURCE_CONFLICT, std::ptr::null_mut())
            );
        }
        // SAFETY: the rogue's handle; a valid range with no VirtualAddress out-pointer.
        let s = unsafe { sim::exports::NdisMMapIoSpace(std::ptr::null_mut(), r.handle, pa, len) };
        assert_eq!(s, NDIS_STATUS_FAILURE);
        // The whole BAR: no report.
        assert_eq!(r.map(pa, len).0, NDIS_STATUS_SUCCESS);
        NDIS_STATUS_SUCCESS
    });
    assert_eq!(v.len(), 6, "{v:#?}");
    assert_eq!(
        v.iter()
            .filter(|m| m.contains("outside its assigned memory resource"))
            .count(),
        5,
        "{v:#?}"
    );
    assert!(
        v[5].contains("NdisMMapIoSpace with a null VirtualAddress"),
        "{v:#?}"
    );
}

#[test]
fn interrupt_characteristics_with_a_bad_header_or_no_handlers_are_reported() {
    let v = rogue::violations_of(|r: &Rogue| {
        r.attributes();
        let bad_headers = [
            NDIS_OBJECT_HEADER::new(
                0x80,
                1,
                NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1,
            ),
            NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT,
                0,
                NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1,
            ),
            NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT,
                1,
                NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1 - 8,
            ),
        ];
        for h in bad_headers {
            let mut c = interrupt_characteristics();
            c.Header = h;
            assert_eq!(r.interrupt(&mut c).0, NDIS_STATUS_INVALID_PARAMETER);
        }
        let mut no_isr = interrupt_characteristics();
        no_isr.MessageInterruptHandler = None;
        let mut no_dpc = interrupt_characteristics();
        no_dpc.MessageInterruptDpcHandler = None;
        let mut no_msi = interrupt_characteristics();
        no_msi.MsiSupported = FALSE;
        for mut c in [no_isr, no_dpc, no_msi] {
            assert_eq!(r.interrupt(&mut c).0, NDIS_STATUS_RESOURCE_CONFLICT);
        }
        // A correct registration after them: no report, and it is the one halt releases.
        assert_eq!(
            r.interrupt(&mut interrupt_characteristics()).0,
            NDIS_STATUS_SUCCESS
        );
        NDIS_STATUS_SUCCESS
    });
    assert_eq!(v.len(), 6, "{v:#?}");
    exactly(&v[..3], 3, "interrupt characteristics header");
    exactly(
        &v[3..],
        3,
        "NdisMRegisterInterruptEx without message handlers",
    );
}

#[test]
fn an_interrupt_or_sg_dma_registered_twice_is_reported() {
    let v = rogue::violations_of(|r: &Rogue| {
        r.attributes();
        assert_eq!(
            r.interrupt(&mut interrupt_characteristics()).0,
            NDIS_STATUS_SUCCESS
        );
        assert_eq!(
            r.interrupt(&mut interrupt_characteristics()).0,
            NDIS_STATUS_FAILURE
        );
        assert_eq!(r.sg_dma(&mut sg_description()).0, NDIS_STATUS_SUCCESS);
        assert_eq!(r.sg_dma(&mut sg_description()).0, NDIS_STATUS_FAILURE);
        NDIS_STATUS_SUCCESS
    });
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(v[0].contains("NdisMRegisterInterruptEx twice"), "{v:#?}");
    assert!(
        v[1].contains("NdisMRegisterScatterGatherDma twice"),
        "{v:#?}"
    );
}

#[test]
fn deregistering_an_unknown_interrupt_or_sg_dma_handle_is_reported() {
    let v = rogue::violations_of(|r: &Rogue| {
        r.attributes();
        let stranger = Box::new(0u64);
        let stranger = &*stranger as *const u64 as NDIS_HANDLE;
        let (mut ih, mut dma) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: the rogue's handle; these registrations are deregistered here, the second
        // time of each (and the stranger's) wrongly.
        unsafe {
            let mut c = interrupt_characteristics();
            assert_eq!(
                sim::exports::NdisMRegisterInterruptEx(
                    r.handle,
                    std::ptr::null_mut(),
                    &mut c,
                    &mut ih
                ),
                NDIS_STATUS_SUCCESS
            );
            let mut d = sg_description();
            assert_eq!(
                sim::exports::NdisMRegisterScatterGatherDma(r.handle, &mut d, &mut dma),
                NDIS_STATUS_SUCCESS
            );
            // Correct: no report.
            sim::exports::NdisMDeregisterInterruptEx(ih);
            sim::exports::NdisMDeregisterScatterGatherDma(dma);
            // Twice, and a handle no registration gave.
            sim::exports::NdisMDeregisterInterruptEx(ih);
            sim::exports::NdisMDeregisterInterruptEx(stranger);
            sim::exports::NdisMDeregisterScatterGatherDma(dma);
            sim::exports::NdisMDeregisterScatterGatherDma(stranger);
        }
        NDIS_STATUS_SUCCESS
    });
    assert_eq!(v.len(), 4, "{v:#?}");
    exactly(&v[..2], 2, "NdisMDeregisterInterruptEx of unknown handle");
    exactly(
        &v[2..],
        2,
        "NdisMDeregisterScatterGatherDma of unknown handle",
    );
}

#[test]
fn a_bad_sg_dma_description_is_reported_member_by_member() {
    type Mutation = (fn(&mut NDIS_SG_DMA_DESCRIPTION), &'static str);
    let cases: [Mutation; 7] = [
        (|d| d.Header.Type = 0x80, "SG DMA description header"),
        (|d| d.Header.Revision = 0, "SG DMA description header"),
        (
            |d| d.Header.Size = NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1 - 4,
            "SG DMA description header",
        ),
        (
            |d| d.Flags = NDIS_SG_DMA_64_BIT_ADDRESS | 0x8,
            "SG DMA description Flags 0x9",
        ),
        (|d| d.MaximumPhysicalMapping = 0, "MaximumPhysicalMapping 0"),
        (
            |d| d.ProcessSGListHandler = None,
            "without ProcessSGListHandler",
        ),
        (|_| {}, "null NdisMiniportDmaHandle"),
    ];
    for (i, (mutate, what)) in cases.into_iter().enumerate() {
        let v = rogue::violations_of(move |r: &Rogue| {
            r.attributes();
            let mut d = sg_description();
            mutate(&mut d);
            let s = if i == 6 {
                // SAFETY: the rogue's handle; a valid description, no out-handle.
                unsafe {
                    sim::exports::NdisMRegisterScatterGatherDma(
                        r.handle,
                        &mut d,
                        std::ptr::null_mut(),
                    )
                }
            } else {
                r.sg_dma(&mut d).0
            };
            assert_eq!(s, NDIS_STATUS_INVALID_PARAMETER, "{what}");
            // A 32-bit NIC's description (Flags 0) is valid: no report.
            let mut ok = sg_description();
            ok.Flags = 0;
            assert_eq!(r.sg_dma(&mut ok).0, NDIS_STATUS_SUCCESS);
            NDIS_STATUS_SUCCESS
        });
        exactly(&v, 1, what);
    }
}

#[test]
fn shared_memory_before_sg_dma_registration_is_reported_and_allocates_nothing() {
    // "NdisMAllocateSharedMemory function": "A miniport driver must have already called
    // NdisMRegisterScatterGatherDma or NdisMRegisterDmaChannel ... before calling
    // NdisMAllocateSharedMemory".
    let v = rogue::violations_of(|r: &Rogue| {
        r.attributes();
        assert_eq!(r.shared(4096), None, "nothing allocated");
        assert_eq!(r.sg_dma(&mut sg_description()).0, NDIS_STATUS_SUCCESS);
        assert!(
            r.shared(4096).is_some(),
            "after the registration it allocates"
        );
        NDIS_STATUS_SUCCESS
    });
    exactly(
        &v,
        1,
        "NdisMAllocateSharedMemory before NdisMRegisterScatterGatherDma",
    );
}

#[test]
fn freeing_shared_memory_not_held_is_reported() {
    let v = rogue::violations_of(|r: &Rogue| {
        r.attributes();
        r.sg_dma(&mut sg_description());
        let (va, pa) = r.shared(4096).expect("a block");
        let (mut va2, mut pa2) = (std::ptr::null_mut(), 0i64);
        // SAFETY: the rogue's handle; the block it holds, freed with wrong arguments, and a
        // second block freed twice.
        unsafe {
            sim::exports::NdisMFreeSharedMemory(r.handle, 2048, FALSE, va as *mut c_void, pa);
            sim::exports::NdisMFreeSharedMemory(
                r.handle,
                4096,
                FALSE,
                (va + 16) as *mut c_void,
                pa + 16,
            );
            sim::exports::NdisMFreeSharedMemory(
                r.handle,
                4096,
                FALSE,
                va as *mut c_void,
                pa + 4096,
            );
            sim::exports::NdisMAllocateSharedMemory(r.handle, 512, FALSE, &mut va2, &mut pa2);
            assert!(!va2.is_null());
            sim::exports::NdisMFreeSharedMemory(r.handle, 512, FALSE, va2, pa2);
            sim::exports::NdisMFreeSharedMemory(r.handle, 512, FALSE, va2, pa2);
        }
        NDIS_STATUS_SUCCESS
    });
    // The first block, freed correctly at halt, reports nothing.
    exactly(&v, 4, "of no block it holds");
}

/// "NdisMRegisterInterruptEx function" / "NdisMRegisterScatterGatherDma function": called from
/// MiniportInitializeEx. After it returned, each is reported, fails and registers nothing.
#[test]
fn interrupt_and_sg_dma_registration_outside_initialize_are_reported() {
    let w = World::new(Config::default());
    let a = rogue::start(&w, Role::Pf, |r: &Rogue| {
        r.attributes();
        NDIS_STATUS_SUCCESS
    })
    .expect("the rogue initializes");
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    let (mut ih, mut dma) = (std::ptr::null_mut(), std::ptr::null_mut());
    let mut c = interrupt_characteristics();
    let mut d = sg_description();
    // SAFETY: the rogue's handle, at the wrong time.
    let (si, sd) = unsafe {
        (
            sim::exports::NdisMRegisterInterruptEx(
                a.handle(),
                std::ptr::null_mut(),
                &mut c,
                &mut ih,
            ),
            sim::exports::NdisMRegisterScatterGatherDma(a.handle(), &mut d, &mut dma),
        )
    };
    assert_eq!((si, sd), (NDIS_STATUS_FAILURE, NDIS_STATUS_FAILURE));
    assert!(
        w.machine().held_by(a).is_empty(),
        "{:?}",
        w.machine().held_by(a)
    );
    let v = w.violations();
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v[0].contains("NdisMRegisterInterruptEx outside MiniportInitializeEx"),
        "{v:#?}"
    );
    assert!(
        v[1].contains("NdisMRegisterScatterGatherDma outside MiniportInitializeEx"),
        "{v:#?}"
    );
    w.machine().halt(a, NdisHaltDeviceDisabled);
}

/// The PnP manager may grant fewer messages than the device has MSI-X vectors (here one of the
/// PF's 16). A cause routed to vector 3 then signals a message the driver was never given:
/// reported, and no ISR runs for it. The same cause routed to the granted message 0 runs the
/// ISR with no report.
#[test]
fn an_msix_vector_beyond_the_granted_messages_is_reported() {
    for (vector, reported) in [(3u32, true), (0, false)] {
        let w = World::new(Config::default());
        let one = pnp::standard(w.machine().nic(|m| m.bar_of(Func::Pf)).unwrap(), 1);
        w.machine()
            .set_assignment(Func::Pf, Assignment::Descriptors(one));
        let a = rogue::start(&w, Role::Pf, move |r: &Rogue| {
            let va = r.bring_up();
            // SAFETY: the BAR just mapped (MISC_IVAR and VEC_EN[vector] are inside it).
            unsafe {
                (va.add(MISC_IVAR as usize) as *mut u32).write_volatile(IVAR_VALID | vector);
                (va.add((VEC_EN + 4 * vector) as usize) as *mut u32).write_volatile(VEC_ENABLE);
            }
            NDIS_STATUS_SUCCESS
        })
        .expect("the rogue initializes");
        w.machine().nic(|m| m.set_link(false));
        w.machine().service_device();
        let v = w.violations();
        if reported {
            exactly(
                &v,
                1,
                "MSI-X vector 3 signalled beyond the 1 message(s) its function was granted",
            );
            assert_eq!(w.machine().interrupts_run(a), (0, 0), "no ISR for it");
        } else {
            assert!(v.is_empty(), "{v:#?}");
            assert_eq!(
                w.machine().interrupts_run(a).0,
                1,
                "the ISR of message 0 ran"
            );
        }
        w.machine().halt(a, NdisHaltDeviceDisabled);
    }
}

/// The hostile AllocatedResources a test may give function `f` (named).
fn hostile(w: &World, f: Func) -> Vec<(&'static str, Assignment)> {
    let d = w.machine().standard_descriptors(f);
    let (mem, messages) = (d[0], d[1..].to_vec());
    // SAFETY: the first standard descriptor is the memory one.
    let (start, len) = unsafe { (mem.u.Memory.Start as u64, mem.u.Memory.Length) };
    let with = |first: CM_PARTIAL_RESOURCE_DESCRIPTOR| {
        let mut v = vec![first];
        v.extend(messages.iter().copied());
        Assignment::Descriptors(v)
    };
    let mut port = mem;
    port.Type = CmResourceTypePort;
    let lines: Vec<_> = messages
        .iter()
        .map(|m| {
            let mut m = *m;
            m.Flags = CM_RESOURCE_INTERRUPT_LATCHED;
            m
        })
        .collect();
    vec![
        ("a null list", Assignment::Null),
        (
            "no memory resource",
            Assignment::Descriptors(messages.clone()),
        ),
        ("a BAR too small", with(pnp::memory(start, len / 2))),
        ("the BAR as an I/O port range", with(port)),
        ("no interrupt resource", Assignment::Descriptors(vec![mem])),
        (
            "line-based interrupts only",
            Assignment::Descriptors([vec![mem], lines].concat()),
        ),
    ]
}

/// "MINIPORT_INITIALIZE callback function": NDIS_STATUS_RESOURCES, "MiniportInitializeEx could
/// not allocate resources to perform network I/O operations" (the page names device memory
/// ranges and interrupt vectors among them); nothing held afterwards ("a failed
/// MiniportInitializeEx" leak check: no violation), a debugger line saying what was missing.
fn refused(w: &World, name: &str, status: Result<(), NDIS_STATUS>, log_has: &str) {
    assert_eq!(status, Err(NDIS_STATUS_RESOURCES), "{name}");
    let v = w.violations();
    assert!(v.is_empty(), "{name}: {v:#?}");
    let log = w.log();
    assert!(
        log.iter().any(|l| l.contains(log_has)),
        "{name}: no line with {log_has:?} in {log:#?}"
    );
}

#[test]
fn both_drivers_refuse_a_hostile_resource_list_and_release_everything() {
    for case in 0..6 {
        let w = World::new(Config::default());
        let (name, a) = hostile(&w, Func::Pf).swap_remove(case);
        let want = if case < 4 {
            "AllocatedResources"
        } else {
            "message"
        };
        w.machine().set_assignment(Func::Pf, a);
        refused(&w, name, w.load_pf(), want);
        w.unload_driver(true);
        assert_eq!(w.machine().resources_outstanding(), 0, "PF, {name}");
        assert_eq!(w.machine().pool_blocks(), 0, "PF, {name}");
        assert!(
            w.violations().is_empty(),
            "PF, {name}: {:#?}",
            w.violations()
        );

        let w = World::new(Config::default());
        w.load_pf().expect("PF initializes");
        assert_eq!(w.create_switch(1), NDIS_STATUS_SUCCESS);
        let vf = w.allocate_vf().expect("a VF");
        let (name, a) = hostile(&w, Func::Vf(vf)).swap_remove(case);
        w.machine().set_assignment(Func::Vf(vf), a);
        refused(&w, name, w.attach_vf(vf), want);
        assert!(w.vf_sim(vf).is_none(), "VF, {name}: no adapter left");
        w.halt_pf();
        w.unload_driver(true);
        w.unload_driver(false);
        assert_eq!(w.machine().resources_outstanding(), 0, "VF, {name}");
        assert_eq!(w.machine().pool_blocks(), 0, "VF, {name}");
        assert!(
            w.violations().is_empty(),
            "VF, {name}: {:#?}",
            w.violations()
        );
    }
}

/// Fewer messages than the device has vectors, but the one the drivers use (message 0): both
/// come up and take their interrupts on it.
#[test]
fn both_drivers_work_with_a_single_granted_message() {
    let w = World::new(Config::default());
    for f in [Func::Pf, Func::Vf(0)] {
        let bar = w.machine().standard_descriptors(f);
        w.machine()
            .set_assignment(f, Assignment::Descriptors(bar[..2].to_vec()));
    }
    w.load_pf().expect("PF initializes");
    assert_eq!(w.create_switch(1), NDIS_STATUS_SUCCESS);
    let vf = w.allocate_vf().expect("a VF");
    assert_eq!(vf, 0);
    w.attach_vf(vf).expect("VF initializes");
    w.machine().nic(|m| m.set_link(false));
    w.settle();
    for a in [w.pf_sim(), w.vf_sim(0).unwrap()] {
        assert_eq!(w.machine().interrupts_run(a), (1, 1), "{}", a.name);
    }
    assert!(w.violations().is_empty(), "{:#?}", w.violations());
    w.halt_pf();
    w.assert_clean();
}

/// A PF whose function reset never completes (section 9: more than 10 ms is a dead device):
/// MiniportInitializeEx fails with NDIS_STATUS_FAILURE, one of the four statuses the
/// "MINIPORT_INITIALIZE callback function" page lists (it returned DEVICE_FAILED before), and
/// holds nothing afterwards.
#[test]
fn a_dead_device_fails_initialize_with_a_documented_status() {
    let w = World::new(Config::default());
    w.machine().nic(|m| m.stall_pf_stops = true);
    assert_eq!(w.load_pf(), Err(NDIS_STATUS_FAILURE));
    let v = w.violations();
    assert!(v.is_empty(), "{v:#?}");
    assert!(
        w.log()
            .iter()
            .any(|l| l.contains("MiniportInitializeEx failed")),
        "{:#?}",
        w.log()
    );
    w.unload_driver(true);
    assert_eq!(w.machine().resources_outstanding(), 0);
    assert_eq!(w.machine().pool_blocks(), 0);
}

/// A resource list whose first memory resource is a small range the drivers do not use (a PCI
/// function may have more memory BARs than its registers', listed in BAR order; "NDIS_MINIPORT_
/// INIT_PARAMETERS structure": AllocatedResources holds every resource the PnP manager assigned):
/// both drivers skip it, map their register BAR, and come up; mapping a range that was assigned
/// is no violation.
#[test]
fn a_small_memory_resource_before_the_bar_is_skipped() {
    let w = World::new(Config::default());
    for f in [Func::Pf, Func::Vf(0)] {
        let d = w.machine().standard_descriptors(f);
        let decoy = pnp::memory(0x7000_0000 + if f == Func::Pf { 0 } else { 0x1000 }, 0x100);
        w.machine()
            .set_assignment(f, Assignment::Descriptors([vec![decoy], d].concat()));
    }
    w.load_pf().expect("PF initializes");
    assert_eq!(w.create_switch(1), NDIS_STATUS_SUCCESS);
    let vf = w.allocate_vf().expect("a VF");
    w.attach_vf(vf).expect("VF initializes");
    assert!(w.violations().is_empty(), "{:#?}", w.violations());
    w.halt_pf();
    w.assert_clean();
}
