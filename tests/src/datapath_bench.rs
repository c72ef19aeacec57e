//! The data path's cost, for the benchmark binary (`src/bin/backchannel-bench.rs`): frames
//! from one VF to another through both drivers and the device model (MiniportSendNetBufferLists,
//! NdisMAllocateNetBufferSGList, MiniportProcessSGList, the TX ring, the switch, the RX ring,
//! the interrupt and the DPC, the indication, MiniportReturnNetBufferLists, the TX completion),
//! timed per frame beside a plain copy of the frame's bytes; and the driver-side allocations
//! made while frames flow (there should be none). Figures only: a shared machine gives no
//! stable absolute time, so nothing here asserts a time.
use crate::frames::TestNbl;
use crate::world::sg_lists::SgTiming;
use crate::world::traffic::SwitchPlan;
use crate::{Config, World};
use std::hint::black_box;
use std::time::Instant;

/// Bytes of each benchmarked frame (a full-size Ethernet frame without FCS).
pub const FRAME: usize = 1514;
/// Frames per send call (one chain).
pub const BATCH: usize = 32;

fn mac(v: u16) -> [u8; 6] {
    [0x02, 0, 0, 0x10, (v >> 8) as u8, v as u8]
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// ns per frame, end to end.
    pub ns_per_frame: f64,
    /// Frames the destination VF received per batch (all of them, or the run is wrong).
    pub delivered: usize,
    /// Driver pool, NBL and MDL allocations counted while frames flowed.
    pub allocations: u64,
}

/// A world with `vfs` VFs, the switch programmed with each VF's MAC; traffic from the
/// second-highest VF to the highest. Returns a closure sending one batch.
pub struct VfToVf {
    w: World,
    nbls: Vec<TestNbl>,
    src: u16,
    dst: u16,
}

const ALLOCATORS: [&str; 3] = [
    "NdisAllocateMemoryWithTagPriority",
    "NdisAllocateNetBufferAndNetBufferList",
    "NdisAllocateMdl",
];

impl VfToVf {
    pub fn new(vfs: u16) -> Self {
        let w = World::boot(
            Config {
                record: false,
                ..Config::default()
            },
            vfs.max(2),
        );
        w.enter_thread();
        let n = vfs.max(2);
        w.machine().program_switch(&SwitchPlan {
            pf_mac: [0x02, 0, 0, 0, 0, 0xFE],
            pf_promiscuous: false,
            promiscuous_vf: None,
            vfs: (0..n).map(|v| (v, mac(v), None)).collect(),
        });
        w.machine().set_sg_timing(SgTiming::Inline);
        let (src, dst) = (n - 2, n - 1);
        let nbls = (0..BATCH)
            .map(|i| {
                let mut f = vec![0x5Au8; FRAME];
                f[..6].copy_from_slice(&mac(dst));
                f[6..12].copy_from_slice(&mac(src));
                TestNbl::new(&[&f], FRAME, i)
            })
            .collect();
        VfToVf { w, nbls, src, dst }
    }

    /// One batch out and in; returns the frames the destination received.
    pub fn batch(&mut self) -> usize {
        // Exports without a handle find their machine through the thread: this world's.
        self.w.enter_thread();
        let m = self.w.machine();
        let (Some(src), Some(dst)) = (m.vf_adapter(self.src), m.vf_adapter(self.dst)) else {
            return 0;
        };
        m.send(src, &mut self.nbls, true);
        m.run_device();
        let got = dst.recv.seen.lock().map_or(0, |s| s.len());
        m.return_all_received(dst);
        if let Ok(mut s) = dst.recv.seen.lock() {
            s.clear();
        }
        if let Ok(mut d) = src.sends_done.lock() {
            d.clear();
        }
        got
    }

    fn allocations(&self) -> u64 {
        let c = self.w.machine().call_counts();
        ALLOCATORS
            .iter()
            .map(|k| c.get(k).copied().unwrap_or(0))
            .sum()
    }

    /// The median over `trials` of `batches` batches, per frame.
    pub fn measure(&mut self, trials: usize, batches: usize) -> Figures {
        let mut delivered = self.batch();
        let before = self.allocations();
        let mut samples: Vec<f64> = (0..trials)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batches {
                    delivered = delivered.min(black_box(self.batch()));
                }
                t.elapsed().as_nanos() as f64 / (batches * BATCH) as f64
            })
            .collect();
        samples.sort_by(|a, b| a.total_cmp(b));
        Figures {
            ns_per_frame: samples.get(samples.len() / 2).copied().unwrap_or(0.0),
            delivered,
            allocations: self.allocations() - before,
        }
    }
}

/// ns to copy one frame's bytes (the baseline), median of `trials`.
pub fn copy_ns(trials: usize, iters: u64) -> f64 {
    let src = vec![0xA5u8; FRAME];
    let mut dst = vec![0u8; FRAME];
    let mut samples: Vec<f64> = (0..trials)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                dst.copy_from_slice(black_box(&src));
                black_box(&mut dst);
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// 2 VFs and 64 VFs, `trials` of `batches` batches each, the trials interleaved (2, 64, 2,
/// 64, ...) so that a load drifting over the run moves both medians alike instead of their
/// ratio. Each: the median trial, the fewest frames delivered, the allocations of all trials.
pub fn two_and_many(trials: usize, batches: usize) -> (Figures, Figures) {
    let mut two = VfToVf::new(2);
    let mut many = VfToVf::new(64);
    let runs: Vec<(Figures, Figures)> = (0..trials)
        .map(|_| (two.measure(1, batches), many.measure(1, batches)))
        .collect();
    let median = |pick: fn(&(Figures, Figures)) -> Figures| {
        let mut v: Vec<Figures> = runs.iter().map(pick).collect();
        v.sort_by(|x, y| x.ns_per_frame.total_cmp(&y.ns_per_frame));
        let mut m = v.get(v.len() / 2).copied().unwrap_or(Figures {
            ns_per_frame: 0.0,
            delivered: 0,
            allocations: 0,
        });
        m.delivered = v.iter().map(|f| f.delivered).min().unwrap_or(0);
        m.allocations = v.iter().map(|f| f.allocations).sum();
        m
    };
    (median(|r| r.0), median(|r| r.1))
}
