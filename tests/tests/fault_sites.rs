//! Driver Verifier's low-resources simulation, done systematically (issue 9): a baseline
//! scenario (PF load, NIC switch, two VFs in their guests, host changes of every kind, the
//! management OID, pause, restart and reset in a guest, a host-side VF reset, a VF freed, the PF
//! halted and both drivers unloaded) is run once to count every fallible NDIS call it makes
//! (`Machine::call_counts`); then it is run again once per (call, n), with exactly the n-th
//! call of that function failing as its page documents. Each rerun must break no Verifier
//! rule, leave every VF still attached holding exactly the PF's blocks once the fault has
//! passed (after at most one fresh host change, for a VF whose bounded retries ran out while
//! its read failed: by design it then waits for the next notification), and return every pool
//! block after halt and unload (no leak; a use after free would show as a free of a block
//! that is not live, or a freed work item still queued). NBL pools, NBLs and MDLs count as
//! leaks too.
use common::blocks::*;
use common::ffi::*;
use sim::world::{CallFault, FALLIBLE};
use sim::{Config, World};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0x15, 0x5D, 0x77, 0, n]
}

/// What one run of the scenario found.
#[derive(Debug, Default)]
struct Outcome {
    /// VFs that needed a fresh host change to become consistent again.
    fresh: Vec<u16>,
    /// VFs that ended inconsistent even so.
    inconsistent: Vec<String>,
    leaked: usize,
    violations: Vec<String>,
}

/// The baseline scenario; every step tolerates the failure the fault may cause.
fn scenario(w: &World) -> Outcome {
    let mut out = Outcome::default();
    if w.load_pf().is_ok() && w.create_switch(2) == NDIS_STATUS_SUCCESS {
        let mut vfs = Vec::new();
        for _ in 0..2 {
            if let Ok(vf) = w.allocate_vf() {
                vfs.push(vf);
            }
        }
        let attached: Vec<u16> = vfs
            .iter()
            .copied()
            .filter(|vf| w.attach_vf(*vf).is_ok())
            .collect();
        w.settle();
        let pf = w.pf();
        for &vf in &vfs {
            let _ = pf.set_vf_mac_vlan(vf, mac(vf as u8 + 1), 10, 1);
            let _ = pf.set_vf_policy(
                vf,
                PolicyBlock {
                    flags: 1,
                    max_tx_rate_mbps: 500,
                    queue_pairs: 2,
                },
            );
            if let Some(id) = BlockId::new(FIRST_IHV_BLOCK as u32 + 1) {
                let _ = pf.set_ihv_block(vf, id, b"ihv data");
            }
        }
        let _ = pf.set_link(true, 25_000_000_000, 9000);
        w.settle();
        if let Some(&vf) = vfs.first() {
            let mut buf = pf_miniport::management::SetVfMacVlan::encode(vf, mac(0x40), 7, 0);
            let n = buf.len() as u32;
            w.oid(
                w.pf_sim(),
                common::oid::RequestKind::Set,
                pf_miniport::management::OID_REF_SET_VF_MAC_VLAN,
                &mut buf,
                n,
                n,
            );
        }
        // The PCI virtualization OIDs and their DDIs (NdisMGet/SetVirtualFunctionBusData,
        // NdisMGetBusData, NdisMQueryProbedBars).
        if let Some(&vf) = vfs.first() {
            use common::oid::RequestKind::{Method, Query, Set};
            use sim::hyperv::*;
            let mut b = config_space_params(vf, 0, 12);
            pf_oid(w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b);
            let mut b = config_space_params(vf, 0xA0, 4);
            b[20..24].copy_from_slice(&[1, 2, 3, 4]);
            pf_oid(w, Set, OID_SRIOV_WRITE_VF_CONFIG_SPACE, &mut b);
            // The capability walk and PMCSR writes of a power change, there and back.
            pf_oid(
                w,
                Set,
                OID_SRIOV_SET_VF_POWER_STATE,
                &mut power_params(vf, NdisDeviceStateD3, 1),
            );
            pf_oid(
                w,
                Set,
                OID_SRIOV_SET_VF_POWER_STATE,
                &mut power_params(vf, NdisDeviceStateD0, 0),
            );
            pf_oid(w, Query, OID_SRIOV_PROBED_BARS, &mut probed_bars_params());
            pf_oid(
                w,
                Method,
                OID_SRIOV_VF_VENDOR_DEVICE_ID,
                &mut vendor_device_params(vf),
            );
            pf_oid(
                w,
                Method,
                OID_SRIOV_BAR_RESOURCES,
                &mut bar_resources_params(vf, 0),
            );
        }
        for &vf in &attached {
            w.pause_vf(vf);
            let _ = w.pf().set_vf_mac_vlan(vf, mac(vf as u8 + 0x20), 11, 0);
            w.restart_vf(vf);
            w.reset_vf_in_guest(vf);
            w.settle();
        }
        if let Some(&vf) = attached.first() {
            w.machine().host_reset_vf(vf);
            w.reset_vf_in_guest(vf);
            w.settle();
        }
        // The fault has passed (one call failed): every VF still attached is consistent.
        w.machine().set_call_hook(None);
        w.settle();
        for &vf in &attached {
            if w.vf(vf).is_none() {
                continue;
            }
            if w.check_consistent(vf).is_err() {
                out.fresh.push(vf);
                let _ = w.pf().set_vf_mac_vlan(vf, mac(vf as u8 + 0x60), 12, 0);
                w.settle();
                if let Err(e) = w.check_consistent(vf) {
                    out.inconsistent.push(e);
                }
            }
        }
        if let Some(&vf) = vfs.last() {
            w.free_vf(vf);
        }
        w.settle();
    }
    w.halt_pf();
    w.unload_driver(true);
    w.unload_driver(false);
    let nbl = w.machine().pool_objects();
    out.leaked = w.machine().pool_blocks() + nbl.pools + nbl.nbls + nbl.mdls;
    out.violations = w.violations();
    out
}

fn run(fail: Option<(&'static str, u64)>) -> (Outcome, BTreeMap<&'static str, u64>, bool) {
    let w = World::new(Config {
        record: false,
        ..Config::default()
    });
    let fired = Arc::new(AtomicBool::new(false));
    if let Some((call, nth)) = fail {
        let f = fired.clone();
        w.machine().set_call_hook(Some(Box::new(move |_, c, n| {
            if c == call && n == nth {
                f.store(true, Ordering::Release);
                CallFault::Fail
            } else {
                CallFault::Proceed
            }
        })));
    }
    let out = scenario(&w);
    (
        out,
        w.machine().call_counts(),
        fired.load(Ordering::Acquire),
    )
}

#[test]
fn every_fallible_call_site_fails_in_turn_without_harm() {
    let (base, counts, _) = run(None);
    assert!(
        base.violations.is_empty() && base.leaked == 0 && base.fresh.is_empty(),
        "the baseline is clean: {base:?}"
    );
    // The scenario reaches every kind of fallible call the drivers make.
    for call in [
        "NdisMRegisterMiniportDriver",
        "IoAllocateDriverObjectExtension",
        "NdisMSetMiniportAttributes",
        "NdisAllocateMemoryWithTagPriority",
        "NdisAllocateIoWorkItem",
        "NdisOpenConfigurationEx",
        "NdisReadConfiguration",
        "NdisMEnableVirtualization",
        "NdisMReadConfigBlock",
        "NdisMWriteConfigBlock",
        "NdisMGetVirtualFunctionBusData",
        "NdisMSetVirtualFunctionBusData",
        "NdisMGetBusData",
        "NdisMQueryProbedBars",
        "NdisAllocateNetBufferListPool",
        "NdisAllocateNetBufferAndNetBufferList",
        "NdisAllocateMdl",
        "NdisMMapIoSpace",
        "NdisMRegisterInterruptEx",
        "NdisMRegisterScatterGatherDma",
        "NdisMAllocateSharedMemory",
    ] {
        assert!(
            counts.get(call).copied().unwrap_or(0) > 0,
            "the baseline calls {call}: {counts:?}"
        );
    }
    let mut sites = 0u64;
    let mut fired_sites = 0u64;
    let mut failures = Vec::new();
    let mut fresh = Vec::new();
    for (&call, &n) in &counts {
        assert!(FALLIBLE.contains(&call));
        for nth in 1..=n {
            sites += 1;
            let (o, _, fired) = run(Some((call, nth)));
            if !fired {
                // A fault earlier in the run can change what follows; the call was not
                // reached this time (counted, not a failure).
                continue;
            }
            fired_sites += 1;
            if !o.violations.is_empty() || o.leaked != 0 || !o.inconsistent.is_empty() {
                failures.push(format!("{call} #{nth}: {o:?}"));
            }
            if !o.fresh.is_empty() {
                fresh.push(format!("{call} #{nth}: VF {:?}", o.fresh));
            }
        }
    }
    println!(
        "{sites} fault sites over {} functions, {fired_sites} reached and failed; {} needed a fresh change: {fresh:?}",
        counts.len(),
        fresh.len()
    );
    assert!(sites > 50, "{sites} sites");
    assert!(
        fired_sites * 10 >= sites * 9,
        "{fired_sites} of {sites} sites reached"
    );
    assert!(
        failures.is_empty(),
        "{} of {sites} fault sites did harm:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same scenario on the cross-built `.sys` images, driven through NDIS alone (host changes
/// through the management OIDs), consistency checked through OIDs.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod images {
    use super::*;
    use common::oid::RequestKind::{Method, Query, Set};
    use pf_miniport::management::{
        OID_REF_SET_LINK, OID_REF_SET_VF_MAC_VLAN, SetLink, SetVfMacVlan,
    };
    use sim::hyperv::*;

    fn set_mac(w: &World, vf: u16, n: u8) {
        let mut b = SetVfMacVlan::encode(vf, mac(n), 3, 0).to_vec();
        pf_oid(w, Set, OID_REF_SET_VF_MAC_VLAN, &mut b);
    }

    fn scenario(w: &World) -> Outcome {
        let mut out = Outcome::default();
        if w.load_pf().is_ok() && w.create_switch(2) == NDIS_STATUS_SUCCESS {
            let vfs: Vec<u16> = (0..2).filter_map(|_| w.allocate_vf().ok()).collect();
            let attached: Vec<u16> = vfs
                .iter()
                .copied()
                .filter(|vf| w.attach_vf(*vf).is_ok())
                .collect();
            w.settle();
            for &vf in &vfs {
                set_mac(w, vf, vf as u8 + 1);
            }
            let mut b = SetLink::encode(true, 9000, 25_000_000_000).to_vec();
            pf_oid(w, Set, OID_REF_SET_LINK, &mut b);
            w.settle();
            if let Some(&vf) = vfs.first() {
                let mut b = config_space_params(vf, 0, 12);
                pf_oid(w, Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b);
                let mut b = config_space_params(vf, 0x40, 4);
                pf_oid(w, Set, OID_SRIOV_WRITE_VF_CONFIG_SPACE, &mut b);
                pf_oid(w, Query, OID_SRIOV_PROBED_BARS, &mut probed_bars_params());
                pf_oid(
                    w,
                    Method,
                    OID_SRIOV_VF_VENDOR_DEVICE_ID,
                    &mut vendor_device_params(vf),
                );
            }
            for &vf in &attached {
                w.pause_vf(vf);
                set_mac(w, vf, vf as u8 + 0x20);
                w.restart_vf(vf);
                w.reset_vf_in_guest(vf);
                w.settle();
            }
            if let Some(&vf) = attached.first() {
                w.machine().host_reset_vf(vf);
                w.reset_vf_in_guest(vf);
                w.settle();
            }
            w.machine().set_call_hook(None);
            w.settle();
            for &vf in &attached {
                if w.vf_sim(vf).is_none() {
                    continue;
                }
                if w.check_consistent_via_oids(vf).is_err() {
                    out.fresh.push(vf);
                    set_mac(w, vf, vf as u8 + 0x60);
                    w.settle();
                    if let Err(e) = w.check_consistent_via_oids(vf) {
                        out.inconsistent.push(e);
                    }
                }
            }
            if let Some(&vf) = vfs.last() {
                w.free_vf(vf);
            }
            w.settle();
        }
        w.halt_pf();
        w.unload_driver(true);
        w.unload_driver(false);
        let nbl = w.machine().pool_objects();
        out.leaked = w.machine().pool_blocks() + nbl.pools + nbl.nbls + nbl.mdls;
        out.violations = w.violations();
        out
    }

    fn run(fail: Option<(&'static str, u64)>) -> (Outcome, BTreeMap<&'static str, u64>, bool) {
        let w = World::with_both_images(Config {
            record: false,
            ..Config::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let fired = Arc::new(AtomicBool::new(false));
        if let Some((call, nth)) = fail {
            let f = fired.clone();
            w.machine().set_call_hook(Some(Box::new(move |_, c, n| {
                if c == call && n == nth {
                    f.store(true, Ordering::Release);
                    CallFault::Fail
                } else {
                    CallFault::Proceed
                }
            })));
        }
        let out = scenario(&w);
        (
            out,
            w.machine().call_counts(),
            fired.load(Ordering::Acquire),
        )
    }

    #[test]
    fn every_fallible_call_site_of_the_images_fails_in_turn_without_harm() {
        let (base, counts, _) = run(None);
        assert!(
            base.violations.is_empty() && base.leaked == 0 && base.fresh.is_empty(),
            "the baseline is clean: {base:?}"
        );
        let (mut sites, mut fired_sites) = (0u64, 0u64);
        let (mut failures, mut fresh) = (Vec::new(), Vec::new());
        for (&call, &n) in &counts {
            for nth in 1..=n {
                sites += 1;
                let (o, _, fired) = run(Some((call, nth)));
                if !fired {
                    continue;
                }
                fired_sites += 1;
                if !o.violations.is_empty() || o.leaked != 0 || !o.inconsistent.is_empty() {
                    failures.push(format!("{call} #{nth}: {o:?}"));
                }
                if !o.fresh.is_empty() {
                    fresh.push(format!("{call} #{nth}: VF {:?}", o.fresh));
                }
            }
        }
        println!(
            "images: {sites} fault sites over {} functions, {fired_sites} reached and failed; {} needed a fresh change: {fresh:?}",
            counts.len(),
            fresh.len()
        );
        assert!(
            sites > 50 && fired_sites * 10 >= sites * 9,
            "{fired_sites} of {sites}"
        );
        assert!(
            failures.is_empty(),
            "{} of {sites} fault sites did harm on the images:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
