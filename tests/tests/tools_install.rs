//! The install-once machinery every outside tool goes through (`sim::tools::Installer`): on a
//! fresh machine the test binaries start at once and several of their tests find a tool
//! missing at the same moment. Only one may run the package manager; the others must wait
//! for it and then see success.
use sim::tools::Installer;
use std::path::Path;
use std::sync::{Arc, Barrier};

/// A stand-in package command: records each run, takes a while (so that callers overlap),
/// then "installs" by creating the marker.
fn stand_in(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("fake-apt-get");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{runs}'\nsleep 0.3\ntouch '{marker}'\n",
            runs = dir.join("runs").display(),
            marker = dir.join("installed").display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sriov-install-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[cfg(unix)]
#[test]
fn parallel_callers_install_once_and_all_see_success() {
    let dir = scratch("parallel");
    let script = stand_in(&dir);
    let marker = dir.join("installed");
    let lock = dir.join("lock");
    const CALLERS: usize = 16;
    let start = Arc::new(Barrier::new(CALLERS));
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (start, script, marker, lock) = (start.clone(), &script, &marker, &lock);
                s.spawn(move || {
                    start.wait();
                    Installer {
                        lock: lock.clone(),
                        installed: &|| marker.exists(),
                        install: &|| {
                            let st = std::process::Command::new(script)
                                .status()
                                .map_err(|e| e.to_string())?;
                            st.success().then_some(()).ok_or(st.to_string())
                        },
                    }
                    .ensure()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(runs(&dir), 1, "the package command ran more than once");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r, &Ok(()), "caller {i} did not see success");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the lock the same callers race (this is what broke the first run): the test above
/// would see several runs. Shown here so that the stand-in itself is known to detect a race.
#[cfg(unix)]
#[test]
fn without_the_lock_the_stand_in_runs_many_times() {
    let dir = scratch("unlocked");
    let script = stand_in(&dir);
    let marker = dir.join("installed");
    const CALLERS: usize = 8;
    let start = Arc::new(Barrier::new(CALLERS));
    std::thread::scope(|s| {
        for _ in 0..CALLERS {
            let (start, script, marker) = (start.clone(), &script, &marker);
            s.spawn(move || {
                start.wait();
                if !marker.exists() {
                    std::process::Command::new(script).status().unwrap();
                }
            });
        }
    });
    assert!(runs(&dir) > 1, "the unlocked callers did not overlap");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_installation_is_reported_to_every_caller() {
    let dir = scratch("failing");
    let lock = dir.join("lock");
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    Installer {
                        lock: lock.clone(),
                        installed: &|| false,
                        install: &|| {
                            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            Err("no such package".into())
                        },
                    }
                    .ensure()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|r| r.is_err()), "{results:?}");
    assert!(attempts.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Found in review: the lock file must not be opened through a symbolic link someone planted
/// where it goes (root would create, or truncate, the link's target).
#[cfg(unix)]
#[test]
fn the_lock_is_never_opened_through_a_planted_symlink() {
    let dir = scratch("symlink");
    let victim = dir.join("victim");
    let planted = dir.join("lock");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let r = Installer {
        lock: planted.clone(),
        installed: &|| false,
        install: &|| Ok(()),
    }
    .ensure();
    assert!(!victim.exists(), "the link's target was created ({r:?})");
    assert!(
        r.is_err(),
        "a planted lock must be refused, not used: {r:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
