//! The main job runs the documented Hyper-V flow (issue 10): VFs come up through the
//! "Virtual Function Initialization Sequence" and VPCI exposure, the VM's MAC/VLAN changes
//! reach the PF as receive filters on the VF's VPort, and every VF is torn down in the
//! "Virtual Function Teardown Sequence" order before the switch is deleted.
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

fn in_order(out: &str, from: usize, stages: &[&str]) -> usize {
    let mut at = from;
    for stage in stages {
        at += out[at..]
            .find(stage)
            .unwrap_or_else(|| panic!("{stage:?} missing or out of order:\n{out}"));
    }
    at
}

fn assert_documented_flow(out: &str) {
    let at = in_order(
        out,
        0,
        &[
            "OID_NIC_SWITCH_CREATE_SWITCH (Method) -> SUCCESS",
            "OID_RECEIVE_FILTER_SET_FILTER (Method) -> SUCCESS",
            "OID_NIC_SWITCH_ALLOCATE_VF (Method) -> SUCCESS",
            "OID_NIC_SWITCH_CREATE_VPORT (Method) -> SUCCESS",
            "OID_RECEIVE_FILTER_MOVE_FILTER (Set) -> SUCCESS",
            "OID_SRIOV_READ_VF_CONFIG_SPACE (Method) -> SUCCESS",
            "OID_SRIOV_VF_VENDOR_DEVICE_ID (Method) -> SUCCESS",
            "OID_SRIOV_PROBED_BARS (Query) -> SUCCESS",
            "OID_SRIOV_BAR_RESOURCES (Method) -> SUCCESS",
            "MiniportInitializeEx -> SUCCESS",
            "--- change 1 ---",
            // The PF invalidates the VF's block while it handles the OID, which the timeline
            // shows when it completes.
            "NdisMInvalidateConfigBlock(",
            "OID_RECEIVE_FILTER_SET_FILTER (Method) -> SUCCESS: the VM's new address",
            "OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK(",
            "--- teardown",
            "MiniportHaltEx",
            "OID_RECEIVE_FILTER_MOVE_FILTER (Set) -> SUCCESS",
            "OID_NIC_SWITCH_DELETE_VPORT (Set) -> SUCCESS",
            "OID_SRIOV_RESET_VF (Set) -> SUCCESS",
            "OID_NIC_SWITCH_FREE_VF (Set) -> SUCCESS",
        ],
    );
    in_order(out, at, &["OID_NIC_SWITCH_DELETE_SWITCH (Set) -> SUCCESS"]);
    assert!(!out.contains("teardown failed"), "{out}");
}

#[test]
fn main_job_runs_the_documented_flow() {
    let (ok, out) = run(&["--vfs", "2", "--changes", "1", "--seed", "5"]);
    assert!(ok, "{out}");
    assert_documented_flow(&out);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn main_job_runs_the_documented_flow_with_the_images() {
    let (ok, out) = run(&["--images", "--vfs", "2", "--changes", "1"]);
    assert!(ok, "{out}");
    assert_documented_flow(&out);
}
