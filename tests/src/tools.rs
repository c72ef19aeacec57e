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

/// Installs something at most once per machine, however many test binaries and test threads
/// ask at the same time: every caller takes one exclusive file lock (which also serializes
/// threads of one process, since each caller opens the file anew), checks, and
/// only the first that finds the thing missing runs the installation; the others wait on the
/// lock and then find it present.
pub struct Installer<'a> {
    /// The lock file (one per thing installed, in the machine's temporary directory).
    pub lock: std::path::PathBuf,
    pub installed: &'a (dyn Fn() -> bool + Sync),
    /// The installation; `Err` says what failed.
    pub install: &'a (dyn Fn() -> Result<(), String> + Sync),
}

impl Installer<'_> {
    /// `Ok` once the thing is installed (by this caller or an earlier one).
    pub fn ensure(&self) -> Result<(), String> {
        if (self.installed)() {
            return Ok(());
        }
        let _held = FileLock::exclusive(&self.lock)?;
        if (self.installed)() {
            return Ok(());
        }
        (self.install)()?;
        if (self.installed)() {
            Ok(())
        } else {
            Err("the installation ran but the check still fails".into())
        }
    }
}

/// An exclusive lock on a file (`flock` on Linux, `LockFileEx` on Windows), released when
/// dropped and by the kernel if the process dies, so a crashed test never leaves it held.
struct FileLock(#[allow(dead_code)] std::fs::File);

/// How long a caller waits for another's installation before it gives up, saying why.
const INSTALL_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

impl FileLock {
    fn exclusive(path: &std::path::Path) -> Result<Self, String> {
        let mut open = std::fs::OpenOptions::new();
        open.create(true).truncate(false).write(true);
        // Never through a symbolic link someone planted where the lock goes.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NOFOLLOW);
        let f = open
            .open(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        let start = std::time::Instant::now();
        loop {
            match f.try_lock() {
                Ok(()) => return Ok(Self(f)),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < INSTALL_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(100))
                }
                Err(e) => return Err(format!("lock {}: {e}", path.display())),
            }
        }
    }
}

/// Debian packages through apt-get (as root, or through `sudo -n` when this user may),
/// waiting for any other apt (ours or the system's) rather than failing on its lock.
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("apt-get cannot run: {e}"))
    };
    // A stale package list only makes the install fail, which is reported below.
    let _ = apt(&["update"]);
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    match apt(&install)? {
        s if s.success() => Ok(()),
        s => Err(format!(
            "apt-get install {} failed: {s}",
            packages.join(" ")
        )),
    }
}

/// `Some(tool)` when `tool` (a mingw-w64 binary) can run here, installing it if needed;
/// `None` only where it cannot exist (the reason is printed).
pub fn mingw(tool: &'static str) -> Option<&'static str> {
    if runs(tool) {
        return Some(tool);
    }
    if cfg!(target_os = "linux") {
        assert!(
            can_install(),
            "{tool} is missing and this user cannot install it (neither root nor sudo -n): apt-get install {}",
            PACKAGES.join(" ")
        );
        let installer = Installer {
            lock: install_lock("mingw-w64"),
            installed: &|| {
                runs("x86_64-w64-mingw32-gcc")
                    && runs("x86_64-w64-mingw32-nm")
                    && std::path::Path::new("/usr/x86_64-w64-mingw32/lib/libndis.a").exists()
            },
            install: &|| apt_install(&PACKAGES),
        };
        if let Err(e) = installer.ensure() {
            panic!("installing {tool} failed ({e}): {}", PACKAGES.join(" "));
        }
        assert!(runs(tool), "{tool} still does not run after installing");
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
            // The images take their flags from .cargo/config.toml alone: a sanitizer or other
            // host flags of the run that builds them (scripts/asan.sh) must not reach them.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTC_BOOTSTRAP")
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The lock file for installing `what`, shared by every test process on the machine: in a
/// folder only root may write to (a world-writable /tmp would let anyone plant the file, or
/// hold the lock), or this user's own cache where installs go through sudo.
fn install_lock(what: &str) -> std::path::PathBuf {
    let dir = if is_root() {
        std::path::PathBuf::from("/var/cache/sriov-sim")
    } else {
        std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache/sriov-sim")
    };
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("install-{what}.lock"))
}

/// Whether this user can install Debian packages: root, or sudo without a password.
fn can_install() -> bool {
    is_root()
        || Command::new("sudo")
            .args(["-n", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

/// Where a tool cannot be installed at all (not Linux), say so; in CI, fail.
fn not_installable(what: &str) -> Option<&'static str> {
    assert!(std::env::var_os("CI").is_none(), "{what} is required in CI");
    eprintln!("SKIPPED: {what} is not installed on this host");
    None
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
    let installed = || osslsigncode_version().is_some_and(|v| v >= MIN);
    if installed() {
        return Some("osslsigncode");
    }
    if !cfg!(target_os = "linux") {
        return not_installable("osslsigncode >= 2.8");
    }
    assert!(
        can_install(),
        "osslsigncode >= 2.8 is missing and this user cannot install it (apt-get install osslsigncode, from bookworm-backports on Debian 12)"
    );
    let install = || {
        let _ = apt_install(&["osslsigncode"]);
        let bookworm = std::fs::read_to_string("/etc/os-release")
            .is_ok_and(|t| t.lines().any(|l| l == "VERSION_CODENAME=bookworm"));
        if !installed() && bookworm {
            // As root, or through sudo like the installs (tee writes it with sudo's rights).
            let list = "/etc/apt/sources.list.d/bookworm-backports.list";
            let line = b"deb http://deb.debian.org/debian bookworm-backports main\n";
            if is_root() {
                std::fs::write(list, line)
                    .map_err(|e| format!("writing the bookworm-backports source: {e}"))?;
            } else {
                let mut tee = Command::new("sudo")
                    .args(["-n", "tee", list])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("sudo tee: {e}"))?;
                if let Some(mut stdin) = tee.stdin.take() {
                    std::io::Write::write_all(&mut stdin, line)
                        .map_err(|e| format!("sudo tee: {e}"))?;
                }
                tee.wait().map_err(|e| format!("sudo tee: {e}"))?;
            }
            apt_install(&["-t", "bookworm-backports", "osslsigncode"])?;
        }
        Ok(())
    };
    let result = Installer {
        lock: install_lock("osslsigncode"),
        installed: &installed,
        install: &install,
    }
    .ensure();
    if let Err(e) = result {
        panic!(
            "installing osslsigncode >= 2.8 failed ({e}; found {:?})",
            osslsigncode_version()
        );
    }
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
    if !runs("python3") {
        return not_installable("python3");
    }
    let install = || {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "pefile"])
            .status();
        if !has() && cfg!(target_os = "linux") && can_install() {
            // A system Python that pip may not change (PEP 668): Debian packages pefile too.
            apt_install(&["python3-pefile"])?;
        }
        Ok(())
    };
    let result = Installer {
        lock: install_lock("pefile"),
        installed: &has,
        install: &install,
    }
    .ensure();
    if let Err(e) = result {
        panic!(
            "installing pefile failed ({e}): pip install pefile, or apt-get install python3-pefile"
        );
    }
    Some("python3")
}

/// A command-line tool from one of Debian's packages (`openssl`, ...), installed when missing.
/// `None` only where it cannot exist (the reason printed).
pub fn debian_tool(tool: &'static str, version_arg: &str, package: &str) -> Option<&'static str> {
    let tool_runs = || {
        Command::new(tool)
            .arg(version_arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if tool_runs() {
        return Some(tool);
    }
    if !cfg!(target_os = "linux") {
        return not_installable(tool);
    }
    assert!(
        can_install(),
        "{tool} is missing and this user cannot install it: apt-get install {package}"
    );
    let result = Installer {
        lock: install_lock(package),
        installed: &tool_runs,
        install: &|| apt_install(&[package]),
    }
    .ensure();
    if let Err(e) = result {
        panic!("installing {package} for {tool} failed: {e}");
    }
    Some(tool)
}
