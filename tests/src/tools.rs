//! Outside tools some tests need (mingw-w64 from Debian's packages). A test that needs one
//! finds it or installs it (as root, with apt-get) and fails loudly when it cannot; only on a
//! host where the tool cannot exist (Windows without mingw, outside CI) may it skip, saying why.
use std::process::Command;

const PACKAGES: [&str; 3] = [
    "gcc-mingw-w64-x86-64",
    "mingw-w64-x86-64-dev",
    "binutils-mingw-w64-x86-64",
];

fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `Some(tool)` when `tool` (a mingw-w64 binary) can run here, installing it if needed;
/// `None` only where it cannot exist (the reason is printed).
pub fn mingw(tool: &'static str) -> Option<&'static str> {
    if runs(tool) {
        return Some(tool);
    }
    if cfg!(target_os = "linux") {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        assert!(
            is_root,
            "{tool} is missing and this user cannot install it: apt-get install {}",
            PACKAGES.join(" ")
        );
        let _ = Command::new("apt-get").arg("update").status();
        let status = Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("apt-get runs");
        assert!(
            status.success() && runs(tool),
            "installing {tool} failed: {}",
            PACKAGES.join(" ")
        );
        return Some(tool);
    }
    assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
    eprintln!(
        "SKIPPED: {tool} cannot be installed on this host ({})",
        std::env::consts::OS
    );
    None
}

/// mingw-w64's import library for a kernel module (`ndis`, `ntoskrnl`, `hal`).
pub fn import_library(module: &str) -> Option<std::path::PathBuf> {
    mingw("x86_64-w64-mingw32-nm")?;
    let p = std::path::PathBuf::from(format!("/usr/x86_64-w64-mingw32/lib/lib{module}.a"));
    assert!(
        p.exists(),
        "{} missing: install mingw-w64-x86-64-dev",
        p.display()
    );
    Some(p)
}

/// Names a module exports, per its mingw-w64 import library (`nm` lists them as `T name`).
pub fn exports(module: &str) -> Option<std::collections::BTreeSet<String>> {
    let lib = import_library(module)?;
    let out = Command::new("x86_64-w64-mingw32-nm")
        .arg(&lib)
        .output()
        .expect("nm runs");
    assert!(out.status.success(), "nm {} failed", lib.display());
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(" T ").map(|(_, name)| name.trim().to_string()))
            .collect(),
    )
}

/// Cross-builds both drivers for `x86_64-pc-windows-msvc` (the README's command) once per
/// process, in a target directory of their own, and returns where the images are.
pub fn cross_built_images() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let target_dir = root.join("target").join("image-tests");
        let out = Command::new(env!("CARGO"))
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target_dir)
            .args([
                "build",
                "--release",
                "--target",
                "x86_64-pc-windows-msvc",
                "-p",
                "pf-miniport",
                "-p",
                "vf-miniport",
            ])
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cross-build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join("x86_64-pc-windows-msvc").join("release")
    })
}

/// The bytes of a cross-built image: `pf_miniport` or `vf_miniport`.
pub fn image_bytes(name: &str) -> Vec<u8> {
    std::fs::read(cross_built_images().join(format!("{name}.dll"))).expect("image built")
}
