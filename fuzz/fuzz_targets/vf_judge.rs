//! The VF's consistency check (`vf_miniport::snapshot`) fed arbitrary block sequences and
//! commit blocks, the way `refresh.rs` feeds it: a block is stored only after `validate`
//! accepted it, then the commit block is judged against the view. Contract: never a panic; a
//! stored block is held byte for byte; `Consistent` only when the base is fresh and every block
//! the commit block lists is held with exactly the counter byte it names (read back from the
//! stored bytes' own header, not only from the cache); `Reread` names exactly the blocks that
//! differ; `RereadAll` exactly when the base is missing or stale.
//!
//! Input: the base (flag byte, u32), then operations, each an op byte and its fields:
//! put a block (id, seal mode, bytes), put a raw commit-block value, settle, forget the base.
//! The last commit block put or made is the one judged (a default one if none).
#![no_main]

use common::blocks::*;
use fuzz_support::{Cursor, sealed_block};
use libfuzzer_sys::fuzz_target;
use vf_miniport::snapshot::{ALIAS_WINDOW, Applied, Verdict, View, judge};

const COMMIT: BlockId = BlockId::masked(CommitBlock::ID);

fn empty_view() -> Box<View> {
    // SAFETY: View is integers and byte arrays only; all-zero is the empty view (nothing held,
    // never consistent), as the VF's adapter starts from zeroed pool memory.
    Box::new(unsafe { core::mem::zeroed() })
}

/// Stores `bytes` as block `id` if it validates, as `refresh.rs`'s read_block does.
fn put(view: &mut View, id: BlockId, bytes: &[u8]) {
    let Ok(header) = validate(id, bytes) else {
        return;
    };
    view.put(id, bytes, &header);
    assert_eq!(
        view.block(id),
        Some(bytes),
        "block {} not held as read",
        id.get()
    );
    assert_eq!(view.writes_of(id), header.writes);
}

/// A commit block value straight from the fuzzer's bytes (judge must not trust its shape).
fn raw_commit(c: &mut Cursor<'_>) -> CommitBlock {
    let generation = c.u32();
    let present = BlockMask(c.u64());
    let mut counters = [0u8; BLOCK_COUNT];
    let src = c.bytes(BLOCK_COUNT);
    counters[..src.len()].copy_from_slice(src);
    CommitBlock {
        generation,
        present,
        counters,
    }
}

fn check(view: &View, commit: &CommitBlock, base: Option<u32>) {
    let verdict = judge(view, commit, base);
    let others = commit.present.without(COMMIT);
    let fresh = base.is_some_and(|b| commit.generation.wrapping_sub(b) < ALIAS_WINDOW);
    // Whether the view holds `id` at the counter the commit block names, read from the
    // stored block itself.
    let matches = |id: BlockId| {
        view.have.contains(id)
            && view.block(id).is_some_and(|b| {
                let header = validate(id, b).expect("a held block validates");
                header.writes.to_le_bytes()[0] == commit.counter(id)
            })
    };
    match verdict {
        Verdict::Consistent => {
            assert!(
                fresh,
                "consistent against a stale base {base:?} at {}",
                commit.generation
            );
            for id in others {
                assert!(matches(id), "consistent with block {} off", id.get());
            }
        }
        Verdict::Reread(m) => {
            assert!(fresh);
            assert!(!m.is_empty(), "re-read of nothing");
            assert!(
                m.difference(others).is_empty(),
                "re-read of an unlisted block"
            );
            for id in others {
                assert_eq!(m.contains(id), !matches(id), "block {}", id.get());
            }
        }
        Verdict::RereadAll(m) => {
            assert!(!fresh);
            assert_eq!(m, others);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let base = (c.u8() & 1 == 1).then(|| c.u32());
    let mut view = empty_view();
    let mut commit = None;
    let mut ops = 0;
    while !c.is_empty() && ops < 128 {
        ops += 1;
        match c.u8() % 8 {
            // A block, mostly with a valid envelope around fuzzed contents.
            0..=4 => {
                let id = BlockId::masked(c.u8() % BLOCK_COUNT as u8);
                let mode = c.u8();
                let raw = c.chunk();
                let bytes = if mode & 3 != 0 {
                    sealed_block(id, raw, mode & 4 == 4)
                } else {
                    raw.to_vec()
                };
                put(&mut view, id, &bytes);
                if id == COMMIT
                    && let Some(cb) = view.decode::<CommitBlock>()
                {
                    commit = Some(cb);
                }
            }
            5 => commit = Some(raw_commit(&mut c)),
            6 => {
                if let Some(cb) = &commit {
                    view.settle_at(cb);
                    assert_eq!(view.generation(), cb.generation);
                    assert!(view.have.difference(cb.present).is_empty());
                }
            }
            _ => {
                view.forget_base();
                assert_eq!(view.generation(), 0);
            }
        }
    }
    let commit = commit.unwrap_or(CommitBlock {
        generation: 0,
        present: BlockMask::of(VersionBlock::id()).with(COMMIT),
        counters: [0; BLOCK_COUNT],
    });
    check(&view, &commit, base);
    check(&view, &commit, Some(view.generation()));
    // What the VF does with a view: none of it may panic on whatever it holds.
    let _ = Applied::from_view(&view, Applied::defaults(base.unwrap_or(0) as u16));
    let _ = view.digest();
    let _ = view.defined();
    for id in view.have {
        let _ = view.ihv(id);
    }
    let mut copy = empty_view();
    copy.copy_from(&view);
    assert_eq!(copy.have, view.have);
    assert_eq!(copy.digest(), view.digest());
});
