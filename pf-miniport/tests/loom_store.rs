//! Model check of the PF's store protocol with loom: the real [`VfStore`] behind the driver's
//! lock type (`common::sync::SpinLock`, a loom mutex under `cfg(loom)`), updated by the
//! driver's own [`transact`] (one transaction under the lock, `NdisMInvalidateConfigBlock` after
//! it is released), racing a guest that takes the delivered mask (the virtualization stack's
//! cache, ORed by each invalidation) and reads blocks one OID at a time with
//! `VfStore::read_for_guest` under the same lock, judging each view with the VF's own
//! [`judge`]. Run (README, "Model checking"):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=5 \
//!     cargo test --release -p pf-miniport --test loom_store
//! ```
//!
//! Properties: every view the guest applies is a state the PF committed (the commit observer
//! records each one under the lock), never older than the one it applied before; and once the
//! writers are done and every delivered mask has been taken and read, the guest holds the last
//! committed state. With `--cfg loom_mutation="store_invalidate_first"` (the invalidation sent
//! before the transaction is written) the last property fails: the guest takes the mask, reads
//! the old state, and no notification is left to bring it the new one.
#![cfg(loom)]

use common::blocks::wire::BlockHeader;
use common::blocks::*;
use common::sync::SpinLock;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use pf_miniport::store::{Staged, VfStore, transact};
use std::sync::Mutex as StdMutex;
use vf_miniport::snapshot::{Verdict, View, judge};

const COMMIT: BlockId = BlockId::masked(CommitBlock::ID);
/// Rounds of re-reads before a refresh keeps its bits for later (the VF's bound).
const MAX_ROUNDS: u32 = 3;

/// (owner, generation, digest) of every transaction committed, from the PF's commit observer
/// (host builds only), called under the lock that commits it. Each test has its own owner.
static COMMITS: StdMutex<Vec<(usize, u32, u32)>> = StdMutex::new(Vec::new());

fn observe(owner: usize, _vf: u16, generation: u32, digest: u32) {
    COMMITS.lock().unwrap().push((owner, generation, digest));
}

fn committed(owner: usize) -> Vec<(u32, u32)> {
    COMMITS
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0 == owner)
        .map(|c| (c.1, c.2))
        .collect()
}

fn mac(n: u8) -> Staged {
    Staged::of(&MacVlanBlock {
        mac: [2, 0, 0, 0, 0, n],
        vlan_id: 0,
        priority: 0,
    })
    .unwrap()
}

fn policy(n: u16) -> Staged {
    Staged::of(&PolicyBlock {
        flags: PolicyBlock::SPOOF_CHECK,
        max_tx_rate_mbps: 0,
        queue_pairs: n,
    })
    .unwrap()
}

/// A VF's store as the PF builds it when the VF is allocated (its first transaction).
fn new_store(owner: usize) -> Box<VfStore> {
    // SAFETY: VfStore is Zeroable (integers and byte arrays), as the PF's pool allocation
    // relies on.
    let mut store: Box<VfStore> = unsafe { Box::new_zeroed().assume_init() };
    let initial = [
        Staged::of(&VersionBlock {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
            vf_id: 1,
            features: 0,
            defined: BASE_BLOCKS,
        })
        .unwrap(),
        mac(0),
        Staged::of(&LinkBlock {
            mtu: 1500,
            link_up: true,
            duplex: 2,
            speed_bps: 10_000_000_000,
        })
        .unwrap(),
        policy(1),
    ];
    store.init(1, owner, &initial).unwrap();
    store
}

struct Pf {
    store: SpinLock<Box<VfStore>>,
    /// The virtualization stack's mask cache: invalidations OR in, the guest takes it.
    cache: AtomicU64,
}

impl Pf {
    /// The host API's transaction (`Adapter::set_blocks`), through the driver's `transact`.
    fn set(&self, updates: &[Staged]) {
        transact(
            &self.store,
            |s: &mut Box<VfStore>| Ok::<_, ()>(&mut **s),
            updates,
            |e| panic!("refused: {e:?}"),
            |changed| {
                self.cache.fetch_or(changed.bits(), Ordering::AcqRel);
            },
        )
        .unwrap();
    }

    /// OID_SRIOV_READ_VF_CONFIG_BLOCK: one block, under the lock.
    fn read(&self, id: BlockId, view: &mut View) -> BlockHeader {
        let len = descriptor_of(id).len;
        let mut buf = [0u8; MAX_BLOCK_LEN];
        self.store
            .lock()
            .read_for_guest(id, &mut buf[..len])
            .unwrap();
        let header = validate(id, &buf[..len]).unwrap();
        view.put(id, &buf[..len], &header);
        header
    }
}

/// The guest: the VF's view, the state it applied, the states it may apply.
struct Guest {
    owner: usize,
    view: Box<View>,
    applied: Box<View>,
    /// Bits taken from the cache and not yet brought to a consistent view.
    kept: u64,
}

impl Guest {
    fn new(owner: usize) -> Self {
        // SAFETY: View is integers and byte arrays (the VF's adapter holds it in zeroed pool).
        let zero = || -> Box<View> { unsafe { Box::new_zeroed().assume_init() } };
        Guest {
            owner,
            view: zero(),
            applied: zero(),
            kept: 0,
        }
    }

    /// One delivery: takes the cache and, if anything was flagged, refreshes as the VF does
    /// (`refresh_once`: the commit block, then the blocks it says the view lacks, until no
    /// block read was written after the commit block, a bounded number of rounds).
    fn deliver(&mut self, pf: &Pf) -> bool {
        self.kept |= pf.cache.swap(0, Ordering::AcqRel);
        if self.kept & HOST_BLOCKS.bits() == 0 {
            return false;
        }
        self.view.copy_from(&self.applied);
        let mut base = match self.view.generation() {
            0 => None,
            g => Some(g),
        };
        for _ in 0..=MAX_ROUNDS {
            pf.read(COMMIT, &mut self.view);
            let commit = self.view.decode::<CommitBlock>().unwrap();
            let need = match judge(&self.view, &commit, base) {
                Verdict::Consistent => {
                    self.apply(&commit);
                    return true;
                }
                Verdict::RereadAll(all) => {
                    base = Some(commit.generation);
                    all
                }
                Verdict::Reread(differ) => differ,
            };
            let mut written_since = false;
            for id in need {
                let h = pf.read(id, &mut self.view);
                written_since |= commit.generation.wrapping_sub(h.generation) >= 1 << 31;
            }
            if !written_since {
                self.apply(&commit);
                return true;
            }
        }
        // No consistent view yet: the bits stay (the VF retries from its work item).
        true
    }

    fn apply(&mut self, commit: &CommitBlock) {
        self.view.settle_at(commit);
        let state = (self.view.generation(), self.view.digest());
        assert!(
            committed(self.owner).contains(&state),
            "applied a view the PF never committed: {state:?}, committed {:?}",
            committed(self.owner)
        );
        let before = self.applied.generation();
        assert!(
            state.0.wrapping_sub(before) < 1 << 31,
            "applied generation {} after {before}",
            state.0
        );
        self.applied.copy_from(&self.view);
        self.kept = 0;
    }
}

/// Runs `f` under every schedule within the preemption bound (`LOOM_MAX_PREEMPTIONS`, 5 if
/// unset: about 9,500 schedules in 2 s; 10 takes 190,000 in under a minute) and prints how
/// many it explored.
fn model(f: impl Fn() + Sync + Send + 'static) {
    pf_miniport::observe::set_commit_observer(Some(observe));
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(5);
    }
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    b.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    println!(
        "{} schedules explored (preemption bound {:?})",
        runs.load(std::sync::atomic::Ordering::Relaxed),
        b.preemption_bound
    );
}

/// Two host threads change the VF (one writes MAC and policy together, then policy alone;
/// the other MAC and policy together: the issue's A/B/C) while the guest takes a delivery
/// and reads (two deliveries); then the guest reads whatever was delivered since.
fn run(owner: usize) {
    COMMITS.lock().unwrap().retain(|c| c.0 != owner);
    let pf = Arc::new(Pf {
        store: SpinLock::new(new_store(owner)),
        cache: AtomicU64::new(0),
    });
    let mut guest = Guest::new(owner);
    // Initialization: every block read once.
    pf.cache.fetch_or(COMMIT.bit(), Ordering::AcqRel);
    guest.deliver(&pf);
    let w1 = {
        let pf = pf.clone();
        loom::thread::spawn(move || {
            pf.set(&[mac(1), policy(1)]);
            pf.set(&[policy(2)]);
        })
    };
    let w2 = {
        let pf = pf.clone();
        loom::thread::spawn(move || pf.set(&[mac(3), policy(3)]))
    };
    // Two deliveries while the host writes.
    guest.deliver(&pf);
    guest.deliver(&pf);
    w1.join().unwrap();
    w2.join().unwrap();
    // Every invalidation has been delivered: the guest reads until nothing is flagged.
    while guest.deliver(&pf) {}
    let last = *committed(owner).last().unwrap();
    assert_eq!(
        (guest.applied.generation(), guest.applied.digest()),
        last,
        "the guest did not end on the PF's last committed state"
    );
}

#[test]
fn store_invalidation_race() {
    model(|| run(1));
}
