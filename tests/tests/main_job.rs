//! The main job (`cargo run`): it prints the backchannel timeline in order and ends with every
//! VF consistent with the PF, with the host-linked drivers and with the shipped images.
use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sriov-sim"))
        .args(args)
        .output()
        .expect("the main job runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The timeline's stages appear, in the order the backchannel runs them.
fn assert_timeline(out: &str) {
    let stages = [
        "host      change:",
        "NdisMInvalidateConfigBlock(",
        "IOCTL_VPCI_INVALIDATE_BLOCK completed",
        "NdisMReadConfigBlock(",
        "NdisMWriteConfigBlock(",
        "OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK(",
    ];
    let after_first_change = &out[out.find("--- change 1 ---").expect("a first change")..];
    let mut at = 0;
    for stage in stages {
        let found = after_first_change[at..]
            .find(stage)
            .unwrap_or_else(|| panic!("{stage:?} missing or out of order:\n{out}"));
        at += found;
    }
}

#[test]
fn main_job_prints_the_timeline_and_ends_consistent() {
    let (ok, out) = run(&["--vfs", "3", "--changes", "7", "--seed", "3"]);
    assert!(ok, "{out}");
    assert_timeline(&out);
    assert!(out.contains("applied generation"), "{out}");
    assert_eq!(out.matches("consistent with the PF").count(), 3, "{out}");
}

#[test]
fn main_job_refuses_bad_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_sriov-sim"))
        .args(["--vfs", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_sriov-sim"))
        .args(["--nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn main_job_runs_the_shipped_images() {
    let (ok, out) = run(&["--images", "--vfs", "2", "--changes", "4"]);
    assert!(ok, "{out}");
    assert!(out.contains("loaded into the simulator"), "{out}");
    assert_timeline(&out);
    assert_eq!(out.matches("consistent with the PF").count(), 2, "{out}");
}
