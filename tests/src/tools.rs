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

/// Holds an exclusive lock on `target/tool-install.lock` while alive: installs from parallel
/// test processes run one at a time, and a second caller waits for the first.
pub struct InstallLock {
    _file: std::fs::File,
}

impl InstallLock {
    pub fn acquire() -> InstallLock {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
        std::fs::create_dir_all(&dir).expect("target directory");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("tool-install.lock"))
            .expect("install lock file");
        // Installs happen on Linux only; elsewhere the file is opened and nothing is locked.
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor this File owns; blocks until the lock is ours.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
        }
        InstallLock { _file: file }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn apt_install(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success())
}

/// osslsigncode's version as (major, minor), if it runs.
fn osslsigncode_version() -> Option<(u32, u32)> {
    let out = Command::new("osslsigncode")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "osslsigncode 2.9, using: ..."
    let v = text.split_whitespace().nth(1)?;
    let mut parts = v.split('.').map(|p| {
        p.trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse::<u32>()
            .ok()
    });
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// osslsigncode 2.8 or later (the first to verify catalog files and to check a file against a
/// catalog, per its change log), from Debian's packages: the release's own, or on Debian 12
/// (which has 2.5) bookworm-backports. `None` only where it cannot exist (the reason printed).
pub fn osslsigncode() -> Option<&'static str> {
    const MIN: (u32, u32) = (2, 8);
    if osslsigncode_version().is_some_and(|v| v >= MIN) {
        return Some("osslsigncode");
    }
    if !cfg!(target_os = "linux") {
        assert!(
            std::env::var_os("CI").is_none(),
            "osslsigncode >= 2.8 is required in CI"
        );
        eprintln!("SKIPPED: osslsigncode >= 2.8 is not installed on this host");
        return None;
    }
    assert!(
        is_root(),
        "osslsigncode >= 2.8 is missing and this user cannot install it (apt-get install osslsigncode, from bookworm-backports on Debian 12)"
    );
    let _lock = InstallLock::acquire();
    if osslsigncode_version().is_some_and(|v| v >= MIN) {
        return Some("osslsigncode");
    }
    let _ = Command::new("apt-get").arg("update").status();
    apt_install(&["osslsigncode"]);
    let bookworm = std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|t| t.lines().any(|l| l == "VERSION_CODENAME=bookworm"));
    if osslsigncode_version().is_none_or(|v| v < MIN) && bookworm {
        std::fs::write(
            "/etc/apt/sources.list.d/bookworm-backports.list",
            "deb http://deb.debian.org/debian bookworm-backports main\n",
        )
        .expect("writing the bookworm-backports source");
        let _ = Command::new("apt-get").arg("update").status();
        apt_install(&["-t", "bookworm-backports", "osslsigncode"]);
    }
    let v = osslsigncode_version();
    assert!(
        v.is_some_and(|v| v >= MIN),
        "installing osslsigncode >= 2.8 failed (found {v:?})"
    );
    Some("osslsigncode")
}

/// A Python 3 with the `pefile` module (from PyPI), for an independent PE checksum.
/// `None` only where it cannot exist (the reason printed).
pub fn python_with_pefile() -> Option<&'static str> {
    let has = || {
        Command::new("python3")
            .args(["-c", "import pefile"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has() {
        return Some("python3");
    }
    let python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !python {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is required in CI"
        );
        eprintln!("SKIPPED: no python3 on this host for pefile");
        return None;
    }
    let _lock = InstallLock::acquire();
    if !has() {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "pefile"])
            .status();
    }
    if !has() && cfg!(target_os = "linux") && is_root() {
        // A system Python that pip may not change (PEP 668): Debian packages pefile too.
        apt_install(&["python3-pefile"]);
    }
    assert!(
        has(),
        "installing pefile failed (pip install pefile, or apt-get install python3-pefile)"
    );
    Some("python3")
}

/// A command-line tool from one of Debian's packages (`openssl`, ...), installed when missing.
/// `None` only where it cannot exist (the reason printed).
pub fn debian_tool(tool: &'static str, version_arg: &str, package: &str) -> Option<&'static str> {
    let runs = || {
        Command::new(tool)
            .arg(version_arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs() {
        return Some(tool);
    }
    if !cfg!(target_os = "linux") {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
        eprintln!("SKIPPED: {tool} is not installed on this host");
        return None;
    }
    assert!(
        is_root(),
        "{tool} is missing and this user cannot install it: apt-get install {package}"
    );
    let _lock = InstallLock::acquire();
    if !runs() {
        let _ = Command::new("apt-get").arg("update").status();
        apt_install(&[package]);
    }
    assert!(runs(), "installing {package} for {tool} failed");
    Some(tool)
}
