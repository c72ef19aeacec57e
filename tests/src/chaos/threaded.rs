//! Threaded runs: the same machine driven from several threads at once (host changes, the
//! machine's deliveries and work items, the guest's lifecycle), with faults, every apply
//! checked (see [`run_threaded`]).
use crate::{Config, ReadFault, World};
use common::blocks::*;
use std::sync::Mutex;

/// What one threaded run did ([`run_threaded`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadedStats {
    /// Host changes, guest lifecycle calls and OIDs issued by the threads.
    pub actions: u32,
    /// Machine steps the delivery thread ran (deliveries and work items).
    pub steps: u64,
    pub deliveries: u64,
    /// Faults injected: read-path faults (read hook) and failed NDIS calls (call hook).
    pub faults: u32,
    /// VF status reports checked against the PF's committed states (`world::history`).
    pub invariant_checks: u64,
    /// OID requests that waited for another one to the same adapter (NDIS's serialization).
    pub oid_waits: u64,
    /// VFs that needed a fresh host change after faults stopped (their retries ran out while
    /// reads kept failing: the VF then waits for the next notification, by design).
    pub fresh_changes: u32,
}

/// The shape of a threaded run.
#[derive(Clone, Copy, Debug)]
pub struct ThreadedOpts {
    pub vfs: u16,
    /// Host-side changes (PF API and the management OID) on the host thread.
    pub host_actions: u32,
    /// Pause, restart, reset and guest OIDs on the lifecycle thread.
    pub lifecycle_actions: u32,
    /// Per mille of fallible NDIS calls (and block reads) made to fail while the threads run.
    pub fault_permille: u64,
}

impl Default for ThreadedOpts {
    fn default() -> Self {
        Self {
            vfs: 2,
            host_actions: 8,
            lifecycle_actions: 4,
            fault_permille: 80,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The calls the threaded run fails at random while the threads run (each where a driver
/// calls it during a run: block reads and writes, the VF's work item, pool memory).
const THREADED_FAULTS: &[&str] = &[
    "NdisMReadConfigBlock",
    "NdisMWriteConfigBlock",
    "NdisAllocateIoWorkItem",
    "NdisAllocateMemoryWithTagPriority",
    "ExAllocatePoolWithTag",
];

/// One run with real threads, as Windows may run the drivers' handlers on several CPUs at once:
/// - the host thread changes VFs through the PF's API (`set_vf_mac_vlan`, `set_link`,
///   `set_blocks`, `set_vf_policy`, `set_ihv_block`) and through OID_REF_SET_VF_MAC_VLAN;
/// - the delivery thread runs the machine (invalidation deliveries to the VFs, which then read
///   their blocks through PF OIDs, the system worker thread's work items, guest resets the read
///   path injects);
/// - the lifecycle thread pauses, restarts and resets VFs in their guests and queries them
///   (OID_802_3_CURRENT_ADDRESS).
///
/// OIDs to one adapter are serialized as NDIS serializes them (`world::ndis_objects::OidGate`),
/// the spin locks raise the IRQL to DISPATCH_LEVEL on the thread that takes them (`irql`).
/// Every choice a thread makes comes from the seed (and each thread yields a seeded number of
/// times before each action); the interleaving itself is the OS scheduler's, so a failing seed
/// may need several tries to fail again. While the threads run, read faults, guest resets
/// during a read, host changes landing mid-read (read hook) and failures of the calls in
/// `THREADED_FAULTS` (call hook) are injected; every status report is checked against the PF's
/// history (`world::history`). Then faults stop, paused VFs restart, the machine settles, and
/// every VF must hold exactly the PF's blocks (after a fresh change for a VF whose bounded
/// retries ran out); the PF is halted and every pool block must be back; no Verifier-style rule
/// may have been broken.
pub fn run_threaded(seed: u64, opts: ThreadedOpts) -> Result<ThreadedStats, String> {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let mut rng = crate::rng::Rng::new(seed);
    let vfs = opts.vfs.max(1);
    let trace = std::env::var_os("CHAOS_TRACE").is_some();
    let delay = rng.below(50) as f64 / 100.0;
    let w = World::boot(
        Config {
            seed,
            delivery_delay: delay,
            record: trace,
            ..Config::default()
        },
        vfs,
    );
    let faults = AtomicU32::new(0);
    let armed = std::sync::Arc::new(AtomicBool::new(true));
    let fault_count = std::sync::Arc::new(AtomicU32::new(0));
    {
        let fault_rng = Mutex::new(crate::rng::Rng::new(seed ^ 0xCA11));
        let (armed, n, p) = (armed.clone(), fault_count.clone(), opts.fault_permille);
        w.machine().set_call_hook(Some(Box::new(move |_, call, _| {
            if armed.load(Ordering::Acquire)
                && THREADED_FAULTS.contains(&call)
                && lock(&fault_rng).below(1000) < p
            {
                n.fetch_add(1, Ordering::Relaxed);
                crate::world::CallFault::Fail
            } else {
                crate::world::CallFault::Proceed
            }
        })));
    }
    {
        let fault_rng = Mutex::new(crate::rng::Rng::new(seed ^ 0xFA17));
        let (armed, n) = (armed.clone(), fault_count.clone());
        w.machine().set_read_hook(Some(Box::new(move |ctx| {
            if !armed.load(Ordering::Acquire) {
                return ReadFault::Proceed;
            }
            let mut r = lock(&fault_rng);
            match r.below(1000) {
                0..15 => {
                    n.fetch_add(1, Ordering::Relaxed);
                    ReadFault::Fail
                }
                15..22 => {
                    n.fetch_add(1, Ordering::Relaxed);
                    ReadFault::ResetVf
                }
                22..40 => {
                    // A host change lands between two reads of one refresh.
                    let k = r.next_u64() as u32;
                    drop(r);
                    let _ = ctx.pf.set_blocks(ctx.vf, &mac_policy(k));
                    ReadFault::Proceed
                }
                _ => ReadFault::Proceed,
            }
        })));
    }

    let host_rng = crate::rng::Rng::new(rng.next_u64());
    let life_rng = crate::rng::Rng::new(rng.next_u64());
    let done = AtomicU32::new(0);
    let steps = std::sync::atomic::AtomicU64::new(0);
    let paused = Mutex::new(vec![false; vfs as usize]);
    let actions = AtomicU32::new(0);
    let yields = |r: &mut crate::rng::Rng| {
        for _ in 0..r.below(3) {
            std::thread::yield_now();
        }
    };
    std::thread::scope(|s| {
        // The host thread.
        s.spawn(|| {
            w.enter_thread();
            let mut r = host_rng;
            for i in 0..opts.host_actions {
                yields(&mut r);
                host_action(&w, &mut r, vfs, i);
                actions.fetch_add(1, Ordering::Relaxed);
            }
            w.machine().absorb_thread_violations();
            done.fetch_add(1, Ordering::AcqRel);
        });
        // The guest lifecycle thread.
        s.spawn(|| {
            w.enter_thread();
            let mut r = life_rng;
            for _ in 0..opts.lifecycle_actions {
                yields(&mut r);
                let vf = r.below(vfs as u64) as u16;
                let was_paused = lock(&paused)[vf as usize];
                match r.below(4) {
                    0 | 1 => {
                        if was_paused {
                            w.restart_vf(vf);
                        } else {
                            w.pause_vf(vf);
                        }
                        lock(&paused)[vf as usize] = !was_paused;
                    }
                    2 => {
                        w.reset_vf_in_guest(vf);
                    }
                    _ => {
                        let _ = w.vf_mac_via_oid(vf);
                    }
                }
                actions.fetch_add(1, Ordering::Relaxed);
            }
            w.machine().absorb_thread_violations();
            done.fetch_add(1, Ordering::AcqRel);
        });
        // The delivery thread (and the system worker thread's work items).
        s.spawn(|| {
            w.enter_thread();
            while done.load(Ordering::Acquire) < 2 {
                w.step();
                steps.fetch_add(1, Ordering::Relaxed);
                std::thread::yield_now();
            }
            w.machine().absorb_thread_violations();
        });
    });
    faults.fetch_add(fault_count.load(Ordering::Relaxed), Ordering::Relaxed);

    // Quiesce: faults stop, every VF running, everything delivered.
    armed.store(false, Ordering::Release);
    w.machine().set_call_hook(None);
    w.machine().set_read_hook(None);
    for (vf, p) in lock(&paused).iter().enumerate() {
        if *p {
            w.restart_vf(vf as u16);
        }
    }
    w.settle();
    let mut fresh_changes = 0;
    let mut deliveries = 0;
    for vf in 0..vfs {
        if let Err(e) = w.check_consistent(vf) {
            // A VF whose reads failed MAX_RETRIES times keeps the blocks pending and waits for
            // the next notification, by design. One that holds stale blocks with nothing
            // pending has lost an invalidation.
            if w.vf(vf).is_some_and(|a| a.snapshot().pending.is_empty()) {
                return Err(format!(
                    "threaded seed {seed}: lost invalidation (nothing pending): {e}"
                ));
            }
            fresh_changes += 1;
            let _ = w
                .pf()
                .set_vf_mac_vlan(vf, [2, 0xF5, 0, 0, vf as u8, seed as u8], 0, 0);
            w.settle();
        }
        w.check_consistent(vf)
            .map_err(|e| format!("threaded seed {seed}: {e}"))?;
        deliveries += w.deliveries(vf);
    }
    let invariant_checks = w.machine().invariant_checks();
    let oid_waits = w.machine().oid_waits();
    w.halt_pf();
    let leaked = w.machine().pool_blocks();
    let v = w.violations();
    if trace && (!v.is_empty() || leaked != 0) {
        for (step, e) in w.timeline() {
            println!("[{step:>4}] {e}");
        }
        for l in w.log() {
            println!("{l}");
        }
    }
    if !v.is_empty() {
        return Err(format!(
            "threaded seed {seed}: verifier violations: {}",
            v.join("; ")
        ));
    }
    if leaked != 0 {
        return Err(format!(
            "threaded seed {seed}: {leaked} pool block(s) leaked after halt"
        ));
    }
    Ok(ThreadedStats {
        actions: actions.load(Ordering::Relaxed),
        steps: steps.load(Ordering::Relaxed),
        deliveries,
        faults: faults.load(Ordering::Relaxed),
        invariant_checks,
        oid_waits,
        fresh_changes,
    })
}

fn mac_policy(k: u32) -> Vec<pf_miniport::Staged> {
    [
        pf_miniport::Staged::of(&MacVlanBlock {
            mac: [2, 0x66, (k >> 16) as u8, (k >> 8) as u8, k as u8, 0],
            vlan_id: (k % 4094) as u16,
            priority: 0,
        }),
        pf_miniport::Staged::of(&PolicyBlock {
            flags: 0,
            max_tx_rate_mbps: k % 100_000,
            queue_pairs: 1 + (k % 8) as u16,
        }),
    ]
    .into_iter()
    .filter_map(Result::ok)
    .collect()
}

/// One host-side change, chosen by `r`.
fn host_action(w: &World, r: &mut crate::rng::Rng, vfs: u16, i: u32) {
    let vf = r.below(vfs as u64) as u16;
    let k = r.next_u64();
    let pf = w.pf();
    match r.below(6) {
        0 => {
            let m = [
                2,
                (k >> 8) as u8,
                (k >> 16) as u8,
                (k >> 24) as u8,
                i as u8,
                1,
            ];
            let _ = pf.set_vf_mac_vlan(vf, m, (k % 4095) as u16, (k % 8) as u8);
        }
        1 => {
            let up = !k.is_multiple_of(4);
            let _ = pf.set_link(
                up,
                if up { 10_000_000_000 + (k % 7) } else { 0 },
                [1500, 9000][(k >> 3) as usize % 2],
            );
        }
        2 => {
            let _ = pf.set_blocks(vf, &mac_policy(k as u32));
        }
        3 => {
            let _ = pf.set_vf_policy(
                vf,
                PolicyBlock {
                    flags: (k % 8) as u32,
                    max_tx_rate_mbps: (k % 100_000) as u32,
                    queue_pairs: 1 + (k % 64) as u16,
                },
            );
        }
        4 => {
            let id = BlockId::new(FIRST_IHV_BLOCK as u32 + (k % 4) as u32)
                .unwrap_or(BlockId::masked(63));
            let len = (k >> 8) as usize % (IHV_DATA_LEN + 1);
            let data: Vec<u8> = (0..len).map(|j| (k >> (j % 8)) as u8).collect();
            let _ = pf.set_ihv_block(vf, id, &data);
        }
        _ => {
            // The management OID, serialized with the VFs' reads on the PF.
            let m = [2, 0x77, (k >> 16) as u8, (k >> 8) as u8, k as u8, i as u8];
            let mut buf = pf_miniport::management::SetVfMacVlan::encode(vf, m, 0, 0).to_vec();
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
    }
}
