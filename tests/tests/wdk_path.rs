//! The WDK path (`cargo make` on Windows with the WDK) cannot run here, but its wiring can be
//! checked: Makefile.toml, the manifests and inf/ must agree with each other and with the
//! windows-drivers-rs conventions, so that the first `cargo make` on a build host fails on
//! the environment, not on a typo.
use std::path::{Path, PathBuf};
use toml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_toml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid TOML: {e}"))
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// The packages marked as drivers (`[package.metadata.wdk]`), by package name.
fn driver_packages() -> Vec<(String, Value)> {
    let workspace = read_toml("Cargo.toml");
    let members = get(&workspace, &["workspace", "members"])
        .and_then(Value::as_array)
        .expect("workspace members");
    members
        .iter()
        .filter_map(|m| {
            let dir = m.as_str().expect("member path");
            let manifest = read_toml(&format!("{dir}/Cargo.toml"));
            get(&manifest, &["package", "metadata", "wdk"])?;
            let name = get(&manifest, &["package", "name"])?.as_str()?.to_string();
            Some((name, manifest))
        })
        .collect()
}

#[test]
fn workspace_names_one_wdm_configuration() {
    let workspace = read_toml("Cargo.toml");
    assert_eq!(
        get(
            &workspace,
            &[
                "workspace",
                "metadata",
                "wdk",
                "driver-model",
                "driver-type"
            ]
        )
        .and_then(Value::as_str),
        Some("WDM"),
        "NDIS miniports are WDM drivers; wdk-build reads this once for the whole graph"
    );
    for (name, manifest) in driver_packages() {
        let wdk = get(&manifest, &["package", "metadata", "wdk"]).unwrap();
        assert!(
            wdk.as_table().is_some_and(|t| t.is_empty()),
            "{name}: a second WDK configuration would make wdk-build refuse the graph"
        );
    }
}

#[test]
fn makefile_packages_exactly_the_drivers() {
    let makefile = read_toml("Makefile.toml");
    assert_eq!(
        makefile.get("extend").and_then(Value::as_str),
        Some("target/rust-driver-makefile.toml"),
        "extends the makefile wdk-build's load script writes"
    );
    let mut listed: Vec<String> = get(&makefile, &["env", "CARGO_MAKE_WORKSPACE_INCLUDE_MEMBERS"])
        .and_then(Value::as_array)
        .expect("CARGO_MAKE_WORKSPACE_INCLUDE_MEMBERS")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut drivers: Vec<String> = driver_packages().into_iter().map(|(n, _)| n).collect();
    listed.sort();
    drivers.sort();
    assert_eq!(listed, drivers);
    assert_eq!(drivers, ["pf-miniport", "vf-miniport"]);
}

#[test]
fn every_driver_has_its_inx_the_wdk_feature_and_a_cdylib() {
    let makefile = read_toml("Makefile.toml");
    let copy = get(&makefile, &["tasks", "copy-inx-to-output", "script"])
        .and_then(Value::as_str)
        .expect("the copy-inx-to-output override");
    assert!(
        copy.contains("/inf/${CARGO_MAKE_CRATE_FS_NAME}.inx"),
        "copy-inx-to-output reads inf/<crate>.inx"
    );
    for (name, manifest) in driver_packages() {
        let fs_name = name.replace('-', "_");
        assert!(
            root().join("inf").join(format!("{fs_name}.inx")).is_file(),
            "{name}: inf/{fs_name}.inx missing"
        );
        let types = get(&manifest, &["lib", "crate-type"])
            .and_then(Value::as_array)
            .expect("crate-type");
        assert!(
            types.iter().any(|t| t.as_str() == Some("cdylib")),
            "{name}: no cdylib"
        );
        let wdk: Vec<&str> = get(&manifest, &["features", "wdk"])
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{name}: no `wdk` feature"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for needed in ["sriov-common/wdk", "dep:wdk-build", "dep:wdk-panic"] {
            assert!(
                wdk.contains(&needed),
                "{name}: `wdk` feature lacks {needed}"
            );
        }
        assert!(
            get(&manifest, &["dependencies", "wdk-alloc"]).is_none(),
            "{name}: wdk-alloc allocates with ExAllocatePool2 (Windows 10 2004+), newer than the INFs' target"
        );
    }
}

/// The load script in Makefile.toml pulls its own wdk-build; it must be the one build.rs uses.
#[test]
fn makefile_and_build_scripts_use_the_same_wdk_build() {
    let makefile = read_toml("Makefile.toml");
    let script = get(&makefile, &["config", "load_script"])
        .and_then(Value::as_str)
        .expect("config.load_script");
    let in_script = script
        .lines()
        .find_map(|l| {
            l.trim_start_matches("//!")
                .trim()
                .strip_prefix("wdk-build = ")
        })
        .expect("wdk-build in the load script's manifest")
        .trim_matches('"')
        .to_string();
    for (name, manifest) in driver_packages() {
        let dep = get(
            &manifest,
            &[
                "target",
                "cfg(windows)",
                "build-dependencies",
                "wdk-build",
                "version",
            ],
        )
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name}: no wdk-build build-dependency for Windows"));
        assert_eq!(
            dep, in_script,
            "{name}: wdk-build {dep}, Makefile.toml {in_script}"
        );
    }
}

/// Both paths lay out one package shape (xtask/src/package.rs): Makefile.toml's last packaging
/// step copies wdk-build's `<crate>_package` into target/driver-packages the same way.
#[test]
fn wdk_path_lays_out_the_same_package_folders() {
    let makefile = read_toml("Makefile.toml");
    assert_eq!(
        get(&makefile, &["tasks", "package-driver", "run_task"]).and_then(Value::as_str),
        Some("lay-out-driver-packages"),
        "wdk-build's package-driver ends with the layout step"
    );
    let script = get(&makefile, &["tasks", "lay-out-driver-packages", "script"])
        .and_then(Value::as_str)
        .expect("the layout script");
    use xtask::package::{CERTIFICATE, OUT_DIR, SYMBOLS};
    for needle in [
        format!("/target/{OUT_DIR}\""),
        format!("${{out}}/{SYMBOLS}/${{name}}.pdb"),
        format!("${{out}}/{CERTIFICATE}"),
        "${out}/${name}/${name}.${ext}".to_string(),
        "exts = array sys inf cat".to_string(),
    ] {
        assert!(script.contains(&needle), "the layout script lacks {needle}");
    }
    // stampinf stamps as xtask does: architecture, catalog name, major.minor.patch.0.
    let task_args = |task: &str| -> Vec<String> {
        get(&makefile, &["tasks", task, "args"])
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{task} args"))
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let args = task_args("stampinf");
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].as_str())
    };
    assert_eq!(after("-v"), Some("${CARGO_MAKE_CRATE_VERSION}.0"));
    assert_eq!(after("-c"), Some("${CARGO_MAKE_CRATE_FS_NAME}.cat"));
    assert_eq!(after("-a"), Some("${WDK_BUILD_STAMPINF_ARCH}"));
    assert_eq!(
        xtask::inf::driver_version(env!("CARGO_PKG_VERSION")).unwrap(),
        format!("{}.0", env!("CARGO_PKG_VERSION")),
        "the two paths derive the same DriverVer version"
    );
    // Inf2Cat targets what the INFs' decorations say (NTamd64.10.0...17763).
    let inf2cat = task_args("inf2cat");
    assert!(
        inf2cat.iter().any(|a| a == "/os:10_RS5_X64,ServerRS5_X64"),
        "{inf2cat:?}"
    );
}
