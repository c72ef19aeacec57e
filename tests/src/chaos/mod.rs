//! The seeded randomized run: PF updates, deliveries held back or let through, VF pauses,
//! restarts and resets, faults on the read path, all chosen by one seed. At every apply the VF
//! must hold a state the PF committed (`world::history`, a violation otherwise); afterwards
//! every VF must hold exactly the PF's last data and no Verifier rule may have been broken.
use crate::{Config, ReadFault, World};
use common::blocks::*;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    pub actions: u32,
    pub deliveries: u64,
    pub faults: u32,
    /// VF status reports checked against the PF's committed states (`world::history`).
    pub invariant_checks: u64,
}

/// Runs one seed; `Err` says what broke, with the seed to reproduce it.
pub fn run_seed(seed: u64, vfs: u16, actions: u32) -> Result<RunStats, String> {
    let mut rng = crate::rng::Rng::new(seed);
    let delay = rng.below(60) as f64 / 100.0;
    let w = World::boot(
        Config {
            seed,
            delivery_delay: delay,
            ..Config::default()
        },
        vfs,
    );
    let faults = Arc::new(Mutex::new(0u32));
    let fault_rng = Arc::new(Mutex::new(crate::rng::Rng::new(seed ^ 0xFA17)));
    {
        let (faults, fault_rng) = (faults.clone(), fault_rng.clone());
        w.machine().set_read_hook(Some(Box::new(move |ctx| {
            let mut r = fault_rng.lock().unwrap_or_else(|e| e.into_inner());
            let roll = r.below(1000);
            let mut n = faults.lock().unwrap_or_else(|e| e.into_inner());
            if roll < 15 {
                *n += 1;
                ReadFault::Fail
            } else if roll < 25 {
                *n += 1;
                ReadFault::ResetVf
            } else if roll < 45 {
                // Two transactions land between two reads: one rewrites MAC/VLAN and policy
                // together, the next policy alone (the A/B/C interleaving of issue 9).
                let k = r.next_u64() as u32;
                let both = [
                    pf_miniport::Staged::of(&MacVlanBlock {
                        mac: [2, 0x66, (k >> 16) as u8, (k >> 8) as u8, k as u8, 0],
                        vlan_id: 0,
                        priority: 0,
                    }),
                    pf_miniport::Staged::of(&PolicyBlock {
                        flags: 0,
                        max_tx_rate_mbps: k % 1000,
                        queue_pairs: 1,
                    }),
                ];
                if let [Ok(a), Ok(b)] = both {
                    let _ = ctx.pf.set_blocks(ctx.vf, &[a, b]);
                }
                let _ = ctx.pf.set_vf_policy(
                    ctx.vf,
                    PolicyBlock {
                        flags: 0,
                        max_tx_rate_mbps: k % 1000 + 1,
                        queue_pairs: 2,
                    },
                );
                ReadFault::Proceed
            } else if roll < 60 {
                // A PF update lands between two reads of the same notification.
                let k = r.next_u64() as u32;
                let _ = ctx.pf.set_vf_mac_vlan(
                    ctx.vf,
                    [2, 0x44, (k >> 16) as u8, (k >> 8) as u8, k as u8, 0],
                    (k % 4094) as u16,
                    0,
                );
                ReadFault::Proceed
            } else {
                ReadFault::Proceed
            }
        })));
    }

    let mut paused = vec![false; vfs as usize];
    for i in 0..actions {
        let vf = rng.below(vfs as u64) as u16;
        match rng.below(10) {
            0 | 1 => {
                let k = rng.next_u64();
                let m = [
                    2,
                    (k >> 8) as u8,
                    (k >> 16) as u8,
                    (k >> 24) as u8,
                    (k >> 32) as u8,
                    i as u8,
                ];
                let _ = w
                    .pf()
                    .set_vf_mac_vlan(vf, m, (k % 4095) as u16, (k % 8) as u8);
            }
            2 => {
                let up = rng.chance(0.7);
                let _ = w.pf().set_link(
                    up,
                    if up { 25_000_000_000 } else { 0 },
                    [1500, 9000][rng.below(2) as usize],
                );
            }
            3 => {
                let p = PolicyBlock {
                    flags: rng.below(8) as u32,
                    max_tx_rate_mbps: rng.below(100_000) as u32,
                    queue_pairs: 1 + rng.below(64) as u16,
                };
                let _ = w.pf().set_vf_policy(vf, p);
            }
            4 => {
                let k = rng.next_u64() as u32;
                let staged = [
                    pf_miniport::Staged::of(&MacVlanBlock {
                        mac: [2, 0x55, 0, (k >> 8) as u8, k as u8, 1],
                        vlan_id: 0,
                        priority: 0,
                    }),
                    pf_miniport::Staged::of(&PolicyBlock {
                        flags: 0,
                        max_tx_rate_mbps: k,
                        queue_pairs: 2,
                    }),
                ];
                if let [Ok(a), Ok(b)] = staged {
                    let _ = w.pf().set_blocks(vf, &[a, b]);
                }
            }
            5 => {
                if !paused[vf as usize] {
                    w.pause_vf(vf);
                    paused[vf as usize] = true;
                } else {
                    w.restart_vf(vf);
                    paused[vf as usize] = false;
                }
            }
            6 => {
                if !paused[vf as usize] {
                    w.reset_vf_in_guest(vf);
                }
            }
            7 => {
                let id = BlockId::new(FIRST_IHV_BLOCK as u32 + rng.below(59) as u32)
                    .unwrap_or(BlockId::masked(63));
                let len = rng.below(IHV_DATA_LEN as u64 + 1) as usize;
                let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                let _ = w.pf().set_ihv_block(vf, id, &data);
            }
            _ => {
                for _ in 0..=rng.below(4) {
                    w.step();
                }
            }
        }
    }

    // Quiesce: no more faults, every VF running, everything delivered.
    w.machine().set_read_hook(None);
    for vf in 0..vfs {
        if paused[vf as usize] {
            w.restart_vf(vf);
        }
    }
    w.settle();
    if std::env::var_os("CHAOS_TRACE").is_some() {
        for (step, e) in w.timeline() {
            println!("[{step:>4}] {e}");
        }
        for l in w.log() {
            println!("{l}");
        }
    }
    let mut deliveries = 0;
    for vf in 0..vfs {
        w.check_consistent(vf)
            .map_err(|e| format!("seed {seed}: {e}"))?;
        deliveries += w.deliveries(vf);
    }
    let v = w.violations();
    if !v.is_empty() {
        return Err(format!(
            "seed {seed}: verifier violations: {}",
            v.join("; ")
        ));
    }
    let faults = *faults.lock().unwrap_or_else(|e| e.into_inner());
    Ok(RunStats {
        actions,
        deliveries,
        faults,
        invariant_checks: w.machine().invariant_checks(),
    })
}

mod threaded;
pub use threaded::{ThreadedOpts, ThreadedStats, run_threaded};
