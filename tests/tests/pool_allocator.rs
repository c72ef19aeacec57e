//! The drivers' global allocator (`common::pool_alloc::PoolAllocator`, installed in the `.sys`
//! images by `kernel_runtime!`) against the simulator's `ExAllocatePoolWithTag` and
//! `ExFreePoolWithTag`, which track every block by its tag and refuse any pool type but
//! `NonPagedPoolNx`.
use common::mem::pool_tag;
use common::pool_alloc::{POOL_ALIGNMENT, PoolAllocator};
use sim::{Config, World};
use std::alloc::{GlobalAlloc, Layout};

const TAG: u32 = pool_tag(b"PfRs");

#[test]
fn allocates_tagged_nonpaged_blocks_and_frees_them() {
    let w = World::new(Config::default());
    let a = PoolAllocator::new(TAG);
    let layout = Layout::from_size_align(300, 8).unwrap();
    // SAFETY: a non-zero layout; the block is freed below with the same layout.
    let p = unsafe { a.alloc(layout) };
    assert!(!p.is_null());
    assert_eq!(
        p as usize % POOL_ALIGNMENT,
        0,
        "pool blocks are 16-byte aligned"
    );
    assert_eq!(
        w.machine().pool_bytes(TAG),
        300,
        "the block is charged to the tag"
    );
    // SAFETY: 300 writable bytes were just allocated.
    unsafe { std::ptr::write_bytes(p, 0xA5, 300) };
    // SAFETY: allocated above by this allocator with this layout.
    unsafe { a.dealloc(p, layout) };
    assert_eq!(w.machine().pool_bytes(TAG), 0);
    assert_eq!(w.machine().pool_blocks(), 0);
    w.assert_clean();
}

#[test]
fn refuses_what_pool_cannot_honour_with_null() {
    let w = World::new(Config::default());
    let a = PoolAllocator::new(TAG);
    for layout in [
        Layout::from_size_align(64, 32).unwrap(),
        Layout::from_size_align(4096, 4096).unwrap(),
        Layout::from_size_align(0, 1).unwrap(),
    ] {
        // SAFETY: GlobalAlloc::alloc with any layout; null is the documented refusal.
        let p = unsafe { a.alloc(layout) };
        assert!(p.is_null(), "{layout:?} must be refused, got {p:p}");
    }
    assert_eq!(w.machine().pool_blocks(), 0, "a refusal allocates nothing");
    w.assert_clean();
}

#[test]
fn pool_exhaustion_is_null_not_a_crash() {
    let w = World::new(Config {
        fail_allocation: Some(1),
        ..Config::default()
    });
    let a = PoolAllocator::new(TAG);
    // SAFETY: a non-zero layout; null is how GlobalAlloc reports failure.
    let p = unsafe { a.alloc(Layout::from_size_align(128, 16).unwrap()) };
    assert!(p.is_null());
    assert_eq!(w.machine().pool_blocks(), 0);
}

#[test]
fn frees_with_its_own_tag() {
    // Two drivers' allocators: a block must go back with the tag it came out with, which the
    // simulator (like Verifier's pool tracking) checks.
    let w = World::new(Config::default());
    let pf = PoolAllocator::new(TAG);
    let other = PoolAllocator::new(pool_tag(b"VfRs"));
    let layout = Layout::from_size_align(40, 8).unwrap();
    // SAFETY: a non-zero layout.
    let p = unsafe { pf.alloc(layout) };
    assert!(!p.is_null());
    // SAFETY: deliberately the wrong allocator, to show the tag reaches ExFreePoolWithTag.
    unsafe { other.dealloc(p, layout) };
    let v = w.violations();
    assert!(
        v.iter()
            .any(|m| m.contains("freed with tag VfRs") && m.contains("PfRs")),
        "tag mismatch not caught: {v:?}"
    );
}

#[test]
fn simulator_refuses_executable_pool() {
    // The check the allocator's pool type is held to: NonPagedPool (0) is executable.
    let w = World::new(Config::default());
    // SAFETY: the simulator's export, called as a driver would; null is its refusal.
    let p = unsafe { sim::exports::ExAllocatePoolWithTag(0, 64, TAG) };
    assert!(p.is_null());
    assert!(
        w.violations().iter().any(|m| m.contains("NonPagedPoolNx")),
        "executable pool not caught"
    );
    let a = PoolAllocator::new(TAG);
    let layout = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: a non-zero layout; freed right after.
    let q = unsafe { a.alloc(layout) };
    assert!(!q.is_null(), "the allocator's own pool type is accepted");
    // SAFETY: allocated above with this layout.
    unsafe { a.dealloc(q, layout) };
}
