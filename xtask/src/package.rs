//! The driver packages: one folder per driver with the image named as its INF expects, the
//! stamped INF and the signed catalog the INF names; the PDBs in `symbols/` beside them; the
//! test certificate to trust as `test-signing.cer`.
//!
//! ```text
//! <out>/                  (default target/driver-packages)
//!   pf_miniport/          pf_miniport.sys  pf_miniport.inf  pf_miniport.cat
//!   vf_miniport/          vf_miniport.sys  vf_miniport.inf  vf_miniport.cat
//!   symbols/              pf_miniport.pdb  vf_miniport.pdb
//!   test-signing.cer      the certificate that signed them (DER)
//! ```
//!
//! The WDK path (`cargo make`, Makefile.toml) lays out the same folders.
use crate::authenticode::{self, Signer};
use crate::catalog::{self, Member, OsAttributes};
use crate::inf::{self, Date, Inf};
use std::path::{Path, PathBuf};

/// The drivers, by file-system name (the crate name with `_`).
pub const DRIVERS: [&str; 2] = ["pf_miniport", "vf_miniport"];
/// The architecture the packages are for (stampinf's `-a`).
pub const ARCH: &str = "amd64";
/// The Rust target of the images.
pub const TARGET: &str = "x86_64-pc-windows-msvc";
/// Folder names inside the output directory.
pub const SYMBOLS: &str = "symbols";
pub const CERTIFICATE: &str = "test-signing.cer";
/// The default output directory, under the target directory.
pub const OUT_DIR: &str = "driver-packages";

/// Where the signing identity comes from.
pub enum Signing {
    /// `cert.pem` / `key.pem` in this directory, generated there on first use.
    Generated(PathBuf),
    /// A certificate and key the user names (PEM; the key PKCS#8).
    Files { cert: PathBuf, key: PathBuf },
}

pub struct Options {
    /// The workspace root (holds `inf/`).
    pub root: PathBuf,
    /// The folder with the linked `<driver>.dll` and `<driver>.pdb`.
    pub images: PathBuf,
    /// The output directory (emptied first).
    pub out: PathBuf,
    pub signing: Signing,
    /// The DriverVer date.
    pub date: Date,
    /// The catalog's time stamp (Unix seconds).
    pub unix_time: u64,
    /// The crate version the DriverVer version derives from.
    pub version: String,
}

/// What one run produced, for the report.
pub struct Report {
    pub out: PathBuf,
    pub generated_certificate: bool,
    pub certificate_subject: String,
    pub driver_ver: String,
    pub files: Vec<PathBuf>,
}

/// Left in the output folder, so that a later run knows it may replace it.
pub const MARKER: &str = ".package-drivers";

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

fn write(path: &Path, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(io(path))?;
    files.push(path.to_path_buf());
    Ok(())
}

/// Builds both drivers for [`TARGET`] in release (`cargo build`, the README's cross-build
/// command) in `target_dir`, and returns the folder with the images.
pub fn cross_build(root: &Path, target_dir: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir)
        // The images take their flags from .cargo/config.toml alone (panic=abort,
        // +crt-static): a caller's RUSTFLAGS would replace them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--release", "--target", TARGET])
        .args(
            DRIVERS
                .iter()
                .flat_map(|d| ["-p".to_string(), d.replace('_', "-")]),
        )
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --target {TARGET} failed ({status})"));
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// The catalog OS attributes for an INF's targets: "OSAttr" `2:<major>.<minor>` of the lowest
/// version named (Inf2Cat writes `2:10.0` for Windows 10 and later), "OS" Inf2Cat's
/// `_v<major><minor>_<ARCH>` name for it (`_v100_X64`).
pub fn os_attributes(inf: &Inf) -> Result<OsAttributes, String> {
    let targets = inf.targets();
    let t = targets
        .iter()
        .map(|(_, t)| t)
        .min_by_key(|t| (t.major, t.minor))
        .ok_or("the INF has no models decoration")?;
    let (major, minor) = match (t.major, t.minor) {
        (Some(major), minor) => (major, minor.unwrap_or(0)),
        _ => return Err("the INF's models decoration names no Windows version".into()),
    };
    let arch = match t.arch.as_str() {
        "amd64" => "X64",
        "arm64" => "ARM64",
        other => return Err(format!("architecture {other} not packaged")),
    };
    Ok(OsAttributes {
        os: format!("_v{major}{minor}_{arch}"),
        os_attr: format!("2:{major}.{minor}"),
    })
}

/// Lays out and signs the packages.
pub fn package(opts: &Options) -> Result<Report, String> {
    let (signer, generated) = match &opts.signing {
        Signing::Generated(dir) => crate::cert::load_or_generate(&crate::cert::Files::in_dir(dir))?,
        Signing::Files { cert, key } => (
            crate::cert::load(&crate::cert::Files {
                cert_pem: cert.clone(),
                key_pem: key.clone(),
            })?,
            false,
        ),
    };
    let version = inf::driver_version(&opts.version)?;
    // Only a folder this tool laid out (it leaves MARKER there) is replaced; any other
    // folder that is not empty is refused rather than deleted.
    if opts.out.exists() {
        // Ours: it has the marker, or holds nothing but what a package folder holds (one
        // laid out before the marker existed).
        let known = |name: &str| {
            name == MARKER || name == SYMBOLS || name.ends_with(".cer") || DRIVERS.contains(&name)
        };
        let ours = opts.out.join(MARKER).exists()
            || std::fs::read_dir(&opts.out)
                .map_err(io(&opts.out))?
                .all(|e| e.is_ok_and(|e| known(&e.file_name().to_string_lossy())));
        if !ours {
            return Err(format!(
                "{} exists and is not a package folder this tool made: choose another --out",
                opts.out.display()
            ));
        }
        std::fs::remove_dir_all(&opts.out).map_err(io(&opts.out))?;
    }
    let symbols = opts.out.join(SYMBOLS);
    std::fs::create_dir_all(&symbols).map_err(io(&symbols))?;
    std::fs::write(
        opts.out.join(MARKER),
        b"laid out by cargo package-drivers\n",
    )
    .map_err(io(&opts.out))?;
    let mut files = Vec::new();
    let mut driver_ver = String::new();
    for driver in DRIVERS {
        driver_ver = package_one(opts, &signer, driver, &version, &mut files)?;
        let pdb = opts.images.join(format!("{driver}.pdb"));
        let bytes = std::fs::read(&pdb).map_err(io(&pdb))?;
        write(&symbols.join(format!("{driver}.pdb")), &bytes, &mut files)?;
    }
    write(
        &opts.out.join(CERTIFICATE),
        &crate::cert::der(&signer)?,
        &mut files,
    )?;
    Ok(Report {
        out: opts.out.clone(),
        generated_certificate: generated,
        certificate_subject: signer.certificate.tbs_certificate.subject.to_string(),
        driver_ver,
        files,
    })
}

fn package_one(
    opts: &Options,
    signer: &Signer,
    driver: &str,
    version: &str,
    files: &mut Vec<PathBuf>,
) -> Result<String, String> {
    let dir = opts.out.join(driver);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;

    // The INF, stamped; it says what the package holds.
    let inx_path = opts.root.join("inf").join(format!("{driver}.inx"));
    let inx = std::fs::read_to_string(&inx_path).map_err(io(&inx_path))?;
    let stamped = inf::stamp(&inx, ARCH, opts.date, version)?;
    let parsed = Inf::parse(&stamped);
    let catalog_name = parsed
        .catalog_file()
        .ok_or(format!("{driver}: the INF names no CatalogFile"))?;
    let image_name = format!("{driver}.sys");
    let named = parsed.package_files();
    if named != [image_name.clone()] {
        return Err(format!(
            "{driver}: the INF's CopyFiles and SourceDisksFiles name {named:?}; this packages {image_name} only"
        ));
    }

    // The image: checksum after linking, then the Authenticode signature (which recomputes
    // the checksum over the signed file).
    let dll = opts.images.join(format!("{driver}.dll"));
    let mut image = std::fs::read(&dll).map_err(io(&dll))?;
    crate::pe::set_checksum(&mut image).map_err(|e| format!("{}: {e}", dll.display()))?;
    authenticode::sign_image(signer, &mut image)?;
    crate::pe::verify_checksum(&image)?;
    let inf_name = format!("{driver}.inf");
    write(&dir.join(&image_name), &image, files)?;
    write(&dir.join(&inf_name), stamped.as_bytes(), files)?;

    // The catalog: every file the INF names, and the INF itself.
    let os = os_attributes(&parsed)?;
    let members = [
        Member {
            name: &image_name,
            bytes: &image,
        },
        Member {
            name: &inf_name,
            bytes: stamped.as_bytes(),
        },
    ];
    let ctl = catalog::trust_list(&members, &os, &parsed.hardware_ids(), opts.unix_time)?;
    let cat = catalog::signed_catalog(signer, &ctl)?;
    write(&dir.join(&catalog_name), &cat, files)?;
    Ok(parsed.version_value("DriverVer").unwrap_or_default())
}
