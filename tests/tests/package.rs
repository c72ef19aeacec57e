//! The driver packages `cargo package-drivers` lays out (xtask), checked with tools nobody here
//! wrote: osslsigncode (Debian) verifies every Authenticode signature, finds each image in its
//! catalog and lists the catalogs' members; pefile (PyPI) recomputes the PE checksum;
//! sha256sum hashes the INFs. Tampered images, INFs and catalogs are rejected. The packages
//! are built once per test process from the images `sim::tools::cross_built_images` links.
use sim::tools;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use xtask::inf::Date;
use xtask::package::{self, DRIVERS, Options, Signing};

struct Built {
    out: PathBuf,
    images: PathBuf,
    /// The test certificate (PEM), osslsigncode's -CAfile.
    ca: PathBuf,
    date: Date,
}

fn scratch(name: &str) -> PathBuf {
    let dir = tools::cross_built_images()
        .join("../../package-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn options(images: &Path, out: PathBuf, signing: Signing, date: Date) -> Options {
    Options {
        root: xtask::workspace_root(),
        images: images.to_path_buf(),
        out,
        signing,
        date,
        unix_time: now(),
        version: xtask::VERSION.to_string(),
    }
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let images = tools::cross_built_images().to_path_buf();
        let target = images.join("../..");
        let keys = target.join("test-signing");
        let out = target.join(package::OUT_DIR);
        let date = Date::today();
        package::package(&options(
            &images,
            out.clone(),
            Signing::Generated(keys.clone()),
            date,
        ))
        .unwrap_or_else(|e| panic!("packaging failed: {e}"));
        Built {
            out,
            images,
            ca: keys.join("cert.pem"),
            date,
        }
    })
}

fn file(driver: &str, ext: &str) -> PathBuf {
    built().out.join(driver).join(format!("{driver}.{ext}"))
}

/// Runs a tool; (exit status success, stdout and stderr together).
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn osslsigncode_verify(path: &Path, catalog: Option<&Path>, ca: &Path) -> Option<(bool, String)> {
    let tool = tools::osslsigncode()?;
    let mut cmd = Command::new(tool);
    cmd.arg("verify")
        .arg("-in")
        .arg(path)
        .arg("-CAfile")
        .arg(ca);
    if let Some(cat) = catalog {
        cmd.arg("-catalog").arg(cat);
    }
    let (ok, text) = run(&mut cmd);
    Some((ok && text.contains("Succeeded"), text))
}

/// The members osslsigncode lists in a catalog: (file name, SHA-256 digest, upper-case hex).
fn catalog_members(cat: &Path) -> Option<Vec<(String, String)>> {
    let tool = tools::osslsigncode()?;
    let (_, text) = run(Command::new(tool)
        .args(["verify", "-verbose", "-in"])
        .arg(cat)
        .arg("-CAfile")
        .arg(&built().ca));
    let mut members = Vec::new();
    let mut name = None;
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("File name: ") {
            // "OSAttr" values are listed as names too; file names have an extension.
            if n.contains('.') && !n.contains(':') {
                name = Some(n.to_string());
            }
        } else if let Some(d) = line.strip_prefix("Message digest: ")
            && let Some(n) = name.take()
        {
            members.push((n, d.trim().to_string()));
        }
    }
    Some(members)
}

fn sha256sum(path: &Path) -> String {
    let (ok, text) = run(Command::new("sha256sum").arg(path));
    assert!(ok, "sha256sum: {text}");
    text.split_whitespace().next().unwrap().to_uppercase()
}

/// (stored, computed, verify_checksum()) as pefile sees the image.
fn pefile_checksum(path: &Path) -> Option<(u32, u32, bool)> {
    let python = tools::python_with_pefile()?;
    let (ok, text) = run(Command::new(python)
        .arg("-c")
        .arg(
            "import pefile, sys\n\
         pe = pefile.PE(sys.argv[1], fast_load=True)\n\
         print(pe.OPTIONAL_HEADER.CheckSum, pe.generate_checksum(), pe.verify_checksum())",
        )
        .arg(path));
    assert!(ok, "pefile: {text}");
    let f: Vec<&str> = text.split_whitespace().collect();
    Some((f[0].parse().unwrap(), f[1].parse().unwrap(), f[2] == "True"))
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn package_folders_hold_exactly_what_the_infs_name() {
    let b = built();
    let mut top: BTreeSet<String> = DRIVERS.iter().map(|d| d.to_string()).collect();
    top.insert(package::SYMBOLS.into());
    top.insert(package::CERTIFICATE.into());
    // The marker that lets a later run replace this folder (and no other).
    top.insert(package::MARKER.into());
    assert_eq!(names_in(&b.out), top);
    for driver in DRIVERS {
        let text = std::fs::read_to_string(file(driver, "inf")).unwrap();
        let inf = xtask::inf::Inf::parse(&text);
        let mut expected: BTreeSet<String> = inf.package_files().into_iter().collect();
        assert!(
            expected.contains(&format!("{driver}.sys")),
            "{driver}: the INF copies its image"
        );
        expected.insert(format!("{driver}.inf"));
        expected.insert(inf.catalog_file().expect("CatalogFile"));
        assert_eq!(names_in(&b.out.join(driver)), expected, "{driver}");
        let pdb =
            std::fs::read(b.out.join(package::SYMBOLS).join(format!("{driver}.pdb"))).unwrap();
        assert_eq!(
            pdb,
            std::fs::read(b.images.join(format!("{driver}.pdb"))).unwrap(),
            "{driver}: symbols/ holds the image's PDB"
        );
    }
    assert_eq!(
        names_in(&b.out.join(package::SYMBOLS)),
        DRIVERS.iter().map(|d| format!("{d}.pdb")).collect()
    );
}

#[test]
fn infs_are_stamped_like_stampinf() {
    let b = built();
    let version = xtask::inf::driver_version(xtask::VERSION).unwrap();
    assert_eq!(version, format!("{}.0", env!("CARGO_PKG_VERSION")));
    for driver in DRIVERS {
        let text = std::fs::read_to_string(file(driver, "inf")).unwrap();
        let inx =
            std::fs::read_to_string(xtask::workspace_root().join(format!("inf/{driver}.inx")))
                .unwrap();
        assert_eq!(
            text,
            xtask::inf::stamp(&inx, "amd64", b.date, &version).unwrap(),
            "{driver}: the packaged INF is its .inx stamped (tests/inf.rs checks that text)"
        );
        assert!(!text.contains("$ARCH$"), "{driver}: $ARCH$ left");
        let driver_ver = xtask::inf::Inf::parse(&text)
            .version_value("DriverVer")
            .unwrap();
        let d = b.date;
        assert_eq!(
            driver_ver,
            format!("{:02}/{:02}/{},{version}", d.month, d.day, d.year),
            "{driver}"
        );
        assert!(text.contains("[Models.NTamd64.10.0...17763]"), "{driver}");
    }
}

#[test]
fn images_carry_the_checksum_pefile_and_osslsigncode_compute() {
    let dir = scratch("checksum");
    for driver in DRIVERS {
        let sys = file(driver, "sys");
        let bytes = std::fs::read(&sys).unwrap();
        let stored = xtask::pe::stored_checksum(&bytes).unwrap();
        assert_ne!(stored, 0, "{driver}: checksum missing");
        if let Some((p_stored, p_computed, p_ok)) = pefile_checksum(&sys) {
            assert_eq!(
                (p_stored, p_computed, p_ok),
                (stored, stored, true),
                "{driver}: pefile"
            );
        }
        if let Some((_, text)) = osslsigncode_verify(&sys, None, &built().ca) {
            assert!(
                text.contains(&format!("PE checksum   : {stored:08X}")),
                "{driver}: osslsigncode's checksum line:\n{text}"
            );
            assert!(!text.contains("Calculated PE checksum"), "{text}");
        }
        // A wrong checksum: the three implementations all see it.
        let mut bad = bytes.clone();
        let at = xtask::pe::layout(&bad).unwrap().checksum;
        bad[at..at + 4].copy_from_slice(&(stored ^ 0x0100).to_le_bytes());
        let bad_path = dir.join(format!("{driver}.sys"));
        std::fs::write(&bad_path, &bad).unwrap();
        assert!(xtask::pe::verify_checksum(&bad).is_err());
        if let Some((p_stored, p_computed, p_ok)) = pefile_checksum(&bad_path) {
            assert_eq!(
                (p_stored, p_computed, p_ok),
                (stored ^ 0x0100, stored, false)
            );
        }
        if let Some((_, text)) = osslsigncode_verify(&bad_path, None, &built().ca) {
            assert!(
                text.contains(&format!("Calculated PE checksum: {stored:08X}")),
                "{text}"
            );
        }
    }
}

#[test]
fn osslsigncode_accepts_every_signature_and_only_with_its_certificate() {
    let other = scratch("other-ca");
    xtask::cert::generate(&xtask::cert::Files::in_dir(&other)).unwrap();
    for driver in DRIVERS {
        for ext in ["sys", "cat"] {
            let path = file(driver, ext);
            let Some((ok, text)) = osslsigncode_verify(&path, None, &built().ca) else {
                return;
            };
            assert!(ok, "{}: osslsigncode verify:\n{text}", path.display());
            let (ok, _) = osslsigncode_verify(&path, None, &other.join("cert.pem")).unwrap();
            assert!(
                !ok,
                "{}: verified against an unrelated certificate",
                path.display()
            );
        }
    }
}

#[test]
fn each_catalog_lists_its_image_and_inf() {
    for driver in DRIVERS {
        let (sys, cat, inf) = (
            file(driver, "sys"),
            file(driver, "cat"),
            file(driver, "inf"),
        );
        let Some((ok, text)) = osslsigncode_verify(&sys, Some(&cat), &built().ca) else {
            return;
        };
        assert!(ok, "{driver}: image not found in its catalog:\n{text}");
        let members = catalog_members(&cat).unwrap();
        let names: BTreeSet<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [format!("{driver}.inf"), format!("{driver}.sys")]
                .iter()
                .map(String::as_str)
                .collect(),
            "{driver}: catalog members {members:?}"
        );
        let inf_digest = &members.iter().find(|(n, _)| n.ends_with(".inf")).unwrap().1;
        assert_eq!(inf_digest, &sha256sum(&inf), "{driver}: the INF's hash");
        // The other driver's image is not in this catalog.
        let other = DRIVERS.iter().find(|d| **d != driver).unwrap();
        let (ok, _) = osslsigncode_verify(&file(other, "sys"), Some(&cat), &built().ca).unwrap();
        assert!(!ok, "{other}.sys found in {driver}'s catalog");
    }
}

#[test]
fn tampered_images_infs_and_catalogs_are_rejected() {
    let dir = scratch("tampered");
    let driver = "pf_miniport";
    let ca = &built().ca;
    // An image with one code byte changed (its checksum fixed up, so only the signature and
    // the catalog can tell).
    let mut image = std::fs::read(file(driver, "sys")).unwrap();
    let code = xtask::pe::layout(&image).unwrap().headers + 0x20;
    image[code] ^= 0x01;
    xtask::pe::set_checksum(&mut image).unwrap();
    let sys = dir.join(format!("{driver}.sys"));
    std::fs::write(&sys, &image).unwrap();
    let Some((ok, text)) = osslsigncode_verify(&sys, None, ca) else {
        return;
    };
    assert!(!ok, "a changed image verified:\n{text}");
    let (ok, _) = osslsigncode_verify(&sys, Some(&file(driver, "cat")), ca).unwrap();
    assert!(!ok, "a changed image found in the catalog");

    // An INF with one setting changed: its hash is no longer in the catalog.
    let inf_text = std::fs::read_to_string(file(driver, "inf")).unwrap();
    let changed = inf_text.replace("StartType      = 3", "StartType      = 1");
    assert_ne!(changed, inf_text);
    let inf = dir.join(format!("{driver}.inf"));
    std::fs::write(&inf, changed).unwrap();
    let members = catalog_members(&file(driver, "cat")).unwrap();
    let digest = sha256sum(&inf);
    assert!(
        !members.iter().any(|(_, d)| *d == digest),
        "a changed INF's hash is in the catalog"
    );
    assert!(
        members
            .iter()
            .any(|(_, d)| *d == sha256sum(&file(driver, "inf"))),
        "the original INF's hash is"
    );

    // A catalog with one byte of its content changed.
    let mut cat = std::fs::read(file(driver, "cat")).unwrap();
    let at = cat.len() / 3;
    cat[at] ^= 0x01;
    let cat_path = dir.join(format!("{driver}.cat"));
    std::fs::write(&cat_path, &cat).unwrap();
    let (ok, text) = osslsigncode_verify(&cat_path, None, ca).unwrap();
    assert!(!ok, "a changed catalog verified:\n{text}");
}

#[test]
fn catalogs_carry_the_os_attributes_and_hardware_ids_of_the_infs() {
    for driver in DRIVERS {
        let ctl =
            xtask::catalog::read_trust_list(&std::fs::read(file(driver, "cat")).unwrap()).unwrap();
        assert_eq!(
            ctl.subject_algorithm.oid,
            xtask::catalog::CATALOG_LIST_MEMBER2
        );
        // Image and INF, each under its SHA-256 and, as makecat also lists it, its SHA-1.
        assert_eq!(ctl.subjects.len(), 4);
        let inf_sha1 = {
            let (ok, text) = run(Command::new("sha1sum").arg(file(driver, "inf")));
            assert!(ok, "sha1sum: {text}");
            text.split_whitespace().next().unwrap().to_uppercase()
        };
        let sha1_keys: Vec<String> = ctl
            .subjects
            .iter()
            .filter(|s| s.identifier.as_bytes().len() == 20)
            .map(|s| {
                s.identifier
                    .as_bytes()
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect()
            })
            .collect();
        assert_eq!(sha1_keys.len(), 2, "{driver}");
        assert!(
            sha1_keys.contains(&inf_sha1),
            "{driver}: the INF's SHA-1 {inf_sha1} not among {sha1_keys:?}"
        );
        let ext: Vec<(String, String)> = ctl
            .extensions
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| {
                let nv: xtask::catalog::CatNameValue =
                    xtask::der::Decode::from_der(e.extn_value.as_bytes()).unwrap();
                (nv.tag.to_string(), nv.text())
            })
            .collect();
        let inf = xtask::inf::Inf::parse(&std::fs::read_to_string(file(driver, "inf")).unwrap());
        let mut expected = vec![("OS".to_string(), "_v100_X64".to_string())];
        for (i, id) in inf.hardware_ids().iter().enumerate() {
            expected.push((format!("HWID{}", i + 1), id.clone()));
        }
        assert_eq!(ext, expected, "{driver}");
        assert!(
            expected[1].1.starts_with("pci\\ven_ffff&dev_f1f"),
            "{expected:?}"
        );
        for s in &ctl.subjects {
            if s.identifier.as_bytes().len() == 20 {
                let oids: Vec<_> = s.attributes.iter().map(|a| a.oid).collect();
                assert_eq!(
                    oids,
                    [xtask::catalog::CAT_MEMBERINFO2],
                    "{driver}: a SHA-1 entry"
                );
                continue;
            }
            let os_attr: Vec<String> = s
                .attributes
                .iter()
                .filter(|a| a.oid == xtask::catalog::CAT_NAMEVALUE)
                .flat_map(|a| a.values.iter())
                .filter_map(|v| v.decode_as::<xtask::catalog::CatNameValue>().ok())
                .filter(|nv| nv.tag.to_string() == "OSAttr")
                .map(|nv| nv.text())
                .collect();
            assert_eq!(os_attr, ["2:10.0"], "{driver}: {:?}", s.file_name());
        }
    }
}

#[test]
fn a_certificate_the_user_names_signs_the_packages() {
    let keys = scratch("user-keys");
    xtask::cert::generate(&xtask::cert::Files::in_dir(&keys)).unwrap();
    let out = scratch("user-signed").join("packages");
    let report = package::package(&options(
        &built().images,
        out.clone(),
        Signing::Files {
            cert: keys.join("cert.pem"),
            key: keys.join("key.pem"),
        },
        built().date,
    ))
    .unwrap();
    assert!(!report.generated_certificate);
    let sys = out.join("vf_miniport/vf_miniport.sys");
    let Some((ok, text)) = osslsigncode_verify(&sys, None, &keys.join("cert.pem")) else {
        return;
    };
    assert!(ok, "{text}");
    let (ok, _) = osslsigncode_verify(&sys, None, &built().ca).unwrap();
    assert!(
        !ok,
        "signed with the generated certificate instead of the named one"
    );
    // The .cer beside the packages is the named certificate.
    let cer = std::fs::read(out.join(package::CERTIFICATE)).unwrap();
    let named = xtask::cert::load(&xtask::cert::Files::in_dir(&keys)).unwrap();
    assert_eq!(cer, xtask::cert::der(&named).unwrap());
    // A key that is not the certificate's is refused.
    let other = scratch("user-keys-other");
    xtask::cert::generate(&xtask::cert::Files::in_dir(&other)).unwrap();
    let mismatched = package::package(&options(
        &built().images,
        scratch("user-mismatched").join("packages"),
        Signing::Files {
            cert: keys.join("cert.pem"),
            key: other.join("key.pem"),
        },
        built().date,
    ));
    assert!(mismatched.is_err_and(|e| e.contains("is not the key of")));
}

/// The docs speak of this package shape: every `pnputil /add-driver` path they give, and the
/// certificate they import, exist in the laid-out packages.
#[test]
fn docs_install_from_the_package_folders() {
    let mut paths = 0;
    for doc in ["README.md", "docs/windbg.md"] {
        let text = std::fs::read_to_string(xtask::workspace_root().join(doc)).unwrap();
        for line in text.lines().filter(|l| l.contains("pnputil /add-driver")) {
            let path = line
                .split_whitespace()
                .skip_while(|w| *w != "/add-driver")
                .nth(1)
                .unwrap_or_else(|| panic!("{doc}: {line}"));
            let relative = path.trim_start_matches(".\\").replace('\\', "/");
            assert!(
                built().out.join(&relative).is_file(),
                "{doc}: {path} is not in the package layout"
            );
            paths += 1;
        }
        assert!(
            text.contains(package::CERTIFICATE),
            "{doc} does not name {}",
            package::CERTIFICATE
        );
    }
    assert!(paths >= 4, "only {paths} pnputil lines");
}

/// The test certificate is what wdk-build's makecert makes (`-r -a SHA256 -eku 1.3.6.1.5.5.7.3.3`):
/// self-signed, SHA-256 with RSA, code signing; read back by openssl.
#[test]
fn the_test_certificate_is_a_self_signed_code_signing_certificate() {
    let cer = built().out.join(package::CERTIFICATE);
    let Some(openssl) = tools::debian_tool("openssl", "version", "openssl") else {
        return;
    };
    let (ok, text) = run(Command::new(openssl)
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&cer));
    assert!(ok, "openssl x509: {text}");
    for needed in [
        "Signature Algorithm: sha256WithRSAEncryption",
        "Public-Key: (2048 bit)",
        "X509v3 Extended Key Usage",
        "Code Signing",
    ] {
        assert!(text.contains(needed), "{needed} missing:\n{text}");
    }
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::trim))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(field("Issuer:"), field("Subject:"), "self-signed");
    assert!(
        field("Subject:").contains("test signing"),
        "{}",
        field("Subject:")
    );
}

/// The signed images in the packages, as a tester installs them, load into the simulator
/// (checksum accepted, certificate table ignored as the loader ignores it) and carry a MAC
/// change from the PF image to the VF image.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_packaged_images_run_in_the_simulator() {
    use common::oid::RequestKind;
    use pf_miniport::management::{OID_REF_SET_VF_MAC_VLAN, SetVfMacVlan};
    use sim::loader::LoadedImage;
    let load = |driver: &str| {
        let bytes = std::fs::read(file(driver, "sys")).unwrap();
        assert!(
            xtask::pe::embedded_signature(&bytes).unwrap().is_some(),
            "{driver} is signed"
        );
        LoadedImage::load(&bytes, sim::exports::resolve).unwrap_or_else(|e| panic!("{driver}: {e}"))
    };
    let w = sim::World::with_images(
        sim::Config::default(),
        Some(load("pf_miniport")),
        Some(load("vf_miniport")),
    );
    w.load_pf().unwrap();
    assert_eq!(w.create_switch(2), common::ffi::NDIS_STATUS_SUCCESS);
    for _ in 0..2 {
        let vf = w.allocate_vf().unwrap();
        w.attach_vf(vf).unwrap();
    }
    let mac = [2, 0x13, 0x13, 0, 0, 1];
    let mut payload = SetVfMacVlan::encode(1, mac, 13, 0);
    let n = payload.len() as u32;
    w.oid(
        w.pf_sim(),
        RequestKind::Set,
        OID_REF_SET_VF_MAC_VLAN,
        &mut payload,
        n,
        n,
    );
    w.settle();
    assert_eq!(w.vf_mac_via_oid(1).unwrap(), mac);
    for vf in 0..2 {
        w.check_consistent_via_oids(vf).unwrap();
    }
    w.assert_clean();
}

/// The SignedData in every signature has the shape signtool gives it: version 1, SHA-256, the
/// signature algorithm named rsaEncryption, the signer's certificate included, and the
/// Authenticode statement type (individual) among the signed attributes.
#[test]
fn signatures_are_shaped_like_signtools() {
    use xtask::der::Decode;
    for driver in DRIVERS {
        let image = std::fs::read(file(driver, "sys")).unwrap();
        let catalog = std::fs::read(file(driver, "cat")).unwrap();
        let blobs = [
            xtask::pe::embedded_signature(&image)
                .unwrap()
                .unwrap()
                .to_vec(),
            catalog,
        ];
        for blob in blobs {
            let ci = xtask::cms::content_info::ContentInfo::from_der(&blob).unwrap();
            let sd: xtask::cms::signed_data::SignedData = ci.content.decode_as().unwrap();
            assert_eq!(
                sd.version,
                xtask::cms::content_info::CmsVersion::V1,
                "{driver}"
            );
            assert_eq!(sd.certificates.as_ref().map(|c| c.0.len()), Some(1));
            let si = sd.signer_infos.0.get(0).unwrap();
            assert_eq!(si.digest_alg.oid, xtask::authenticode::SHA256);
            assert_eq!(
                si.signature_algorithm.oid,
                xtask::authenticode::RSA_ENCRYPTION
            );
            let attrs = si.signed_attrs.as_ref().unwrap();
            assert!(
                attrs
                    .iter()
                    .any(|a| a.oid == xtask::authenticode::SPC_STATEMENT_TYPE),
                "{driver}: no SpcStatementType"
            );
        }
    }
}
