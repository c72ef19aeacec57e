//! A deliberate use after free, for `scripts/asan.sh`: under AddressSanitizer it must be
//! reported, which shows the sanitizer is really in force for the run that follows. Without
//! the sanitizer it prints what it read and exits 0, which the script treats as a failure.
fn main() {
    let b = Box::new([7u8; 64]);
    let p: *const u8 = &b[10];
    drop(b);
    // SAFETY: none: reading freed memory is the point, and only ever run by scripts/asan.sh.
    let v = unsafe { std::ptr::read_volatile(p) };
    println!("read {v} from freed memory: the sanitizer is not in force");
}
