//! `cargo package-drivers` (an alias in .cargo/config.toml): cross-builds both drivers and lays
//! out the signed packages. Options:
//!   --out DIR            output directory (default <target dir>/driver-packages)
//!   --cert PEM --key PEM sign with this certificate and PKCS#8 key instead of the test
//!                        certificate generated on first use in <target dir>/test-signing/
//!   --date YYYY-MM-DD    the DriverVer date (default: today, UTC, or SOURCE_DATE_EPOCH)
//!   --images DIR         package images already built there instead of building them
use std::path::PathBuf;
use std::process::ExitCode;
use xtask::inf::Date;
use xtask::package::{self, Options, Signing};

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut out, mut cert, mut key, mut date, mut images) = (None, None, None, None, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--cert" => cert = Some(PathBuf::from(value()?)),
            "--key" => key = Some(PathBuf::from(value()?)),
            "--date" => date = Some(Date::parse(&value()?)?),
            "--images" => images = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("main.rs")
                        .lines()
                        .take_while(|l| l.starts_with("//!"))
                        .map(|l| l.trim_start_matches("//!"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other} (--help lists them)")),
        }
    }
    let root = xtask::workspace_root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"));
    let signing = match (cert, key) {
        (Some(cert), Some(key)) => Signing::Files { cert, key },
        (None, None) => Signing::Generated(target_dir.join("test-signing")),
        _ => return Err("--cert and --key go together".into()),
    };
    let images = match images {
        Some(dir) => dir,
        None => package::cross_build(&root, &target_dir)?,
    };
    let unix_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let report = package::package(&Options {
        root,
        images,
        out: out.unwrap_or_else(|| target_dir.join(package::OUT_DIR)),
        signing,
        date: date.unwrap_or_else(Date::today),
        unix_time,
        version: xtask::VERSION.to_string(),
    })?;
    if report.generated_certificate {
        println!(
            "generated a test certificate: {}",
            report.certificate_subject
        );
    }
    println!("DriverVer = {}", report.driver_ver);
    for f in &report.files {
        println!("  {}", f.display());
    }
    println!(
        "Trust {} on the test machine and install with pnputil (README: \"A driver package a tester can install\").",
        report.out.join(package::CERTIFICATE).display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("package-drivers: {e}");
            ExitCode::FAILURE
        }
    }
}
