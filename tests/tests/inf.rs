//! Structure of the INF sources in `inf/`: required sections and keys, every referenced
//! section present, every %string% defined, and the SR-IOV rules for a PF and a VF INF.
use std::collections::BTreeMap;

type Sections = BTreeMap<String, Vec<String>>;

/// Parses INF text into lower-cased section names and their non-empty, comment-free lines
/// (the packaging tool's parser, which reads the same INFs), `$ARCH$` read as `amd64`.
fn parse(text: &str) -> Sections {
    xtask::inf::Inf::parse(&text.replace("$ARCH$", "amd64")).sections
}

fn key_values(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        })
        .collect()
}

fn value(s: &Sections, section: &str, key: &str) -> Option<String> {
    key_values(s.get(section)?)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn fields(v: &str) -> Vec<String> {
    v.split(',')
        .map(|f| f.trim().trim_matches('"').to_string())
        .collect()
}

/// Every structural problem of one INF; empty when it is well formed.
fn check(text: &str, driver: &str, pf: bool) -> Vec<String> {
    let s = parse(text);
    let mut errors = Vec::new();
    let mut need = |cond: bool, what: String| {
        if !cond {
            errors.push(what);
        }
    };
    for required in [
        "version",
        "manufacturer",
        "strings",
        "destinationdirs",
        "sourcedisksnames",
        "sourcedisksfiles",
    ] {
        need(
            s.contains_key(required),
            format!("missing section [{required}]"),
        );
    }
    let v = |k: &str| value(&s, "version", k).unwrap_or_default();
    need(
        v("signature") == "\"$WINDOWS NT$\"",
        "Version.Signature".into(),
    );
    need(
        v("class").eq_ignore_ascii_case("net"),
        "Version.Class must be Net".into(),
    );
    need(
        v("classguid").eq_ignore_ascii_case("{4d36e972-e325-11ce-bfc1-08002be10318}"),
        "Version.ClassGuid is not the Net class".into(),
    );
    need(!v("provider").is_empty(), "Version.Provider".into());
    need(
        v("catalogfile") == format!("{driver}.cat"),
        "Version.CatalogFile".into(),
    );
    need(
        value(&s, "version", "driverver").is_some(),
        "Version.DriverVer (stampinf fills it)".into(),
    );
    need(v("pnplockdown") == "1", "Version.PnpLockdown".into());
    let driver_ver = v("driverver");
    need(
        driver_ver.is_empty() || driver_ver_is_well_formed(&driver_ver),
        format!("Version.DriverVer {driver_ver:?} is not mm/dd/yyyy,w.x.y.z"),
    );
    need(
        value(&s, "destinationdirs", "defaultdestdir").as_deref() == Some("13"),
        "DefaultDestDir = 13 (run from the driver store)".into(),
    );

    // Manufacturer -> models -> install sections.
    let mut installs = Vec::new();
    for (_, models) in key_values(s.get("manufacturer").map_or(&[][..], |v| v)) {
        let f = fields(&models);
        let base = f[0].to_lowercase();
        for decoration in f.iter().skip(1) {
            let section = format!("{base}.{}", decoration.to_lowercase());
            need(
                s.contains_key(&section),
                format!("models section [{section}] missing"),
            );
            for (_, line) in key_values(s.get(&section).map_or(&[][..], |v| v)) {
                let f = fields(&line);
                need(
                    f.len() >= 2 && f[1].to_uppercase().starts_with("PCI\\VEN_"),
                    format!("model line without a PCI hardware id: {line}"),
                );
                installs.push(f[0].to_lowercase());
            }
        }
    }
    need(!installs.is_empty(), "no device model".into());
    for install in &installs {
        let ddinstall = if s.contains_key(&format!("{install}.nt")) {
            format!("{install}.nt")
        } else {
            install.clone()
        };
        need(
            s.contains_key(&ddinstall),
            format!("install section [{install}] missing"),
        );
        for key in [
            "characteristics",
            "bustype",
            "*iftype",
            "*mediatype",
            "*physicalmediatype",
        ] {
            need(
                value(&s, &ddinstall, key).is_some(),
                format!("[{ddinstall}] lacks {key}"),
            );
        }
        let services = format!("{ddinstall}.services");
        need(s.contains_key(&services), format!("[{services}] missing"));
        let add = value(&s, &services, "addservice").unwrap_or_default();
        let f = fields(&add);
        need(
            f.len() >= 3 && f[0] == driver && f[1] == "2",
            format!("AddService = {driver}, 2, ... expected, got {add}"),
        );
        if let Some(svc) = f.get(2) {
            let svc = svc.to_lowercase();
            need(
                value(&s, &svc, "servicetype").as_deref() == Some("1"),
                "ServiceType = 1 (kernel driver)".into(),
            );
            need(
                value(&s, &svc, "servicebinary") == Some(format!("%13%\\{driver}.sys")),
                "ServiceBinary".into(),
            );
            need(
                value(&s, &svc, "loadordergroup").as_deref() == Some("NDIS"),
                "LoadOrderGroup = NDIS".into(),
            );
        }
        // "Enabling Message-Signaled Interrupts in the Registry": the hardware key's
        // Interrupt Management\MessageSignaledInterruptProperties gets MSISupported = 1
        // (REG_DWORD) from an AddReg of DDInstall.HW; MessageNumberLimit asks for the MSI-X
        // vectors the reference NIC has (docs/reference-nic.md section 1).
        let hw = format!("{ddinstall}.hw");
        let vectors = if pf {
            common::hw::regs::PF_VECTORS
        } else {
            common::hw::regs::VF_VECTORS
        };
        let msi: Vec<Vec<String>> = fields(&value(&s, &hw, "addreg").unwrap_or_default())
            .iter()
            .filter_map(|sec| s.get(&sec.to_lowercase()))
            .flatten()
            .map(|l| fields(l))
            .filter(|f| {
                f.len() == 5
                    && f[0].eq_ignore_ascii_case("HKR")
                    && f[1].eq_ignore_ascii_case(
                        "Interrupt Management\\MessageSignaledInterruptProperties",
                    )
                    && f[3] == "0x00010001"
            })
            .collect();
        let entry = |name: &str| {
            msi.iter()
                .find(|f| f[2].eq_ignore_ascii_case(name))
                .map(|f| f[4].clone())
        };
        need(
            entry("MSISupported").as_deref() == Some("1"),
            format!("[{hw}] AddReg with MSISupported = 1 (REG_DWORD)"),
        );
        need(
            entry("MessageNumberLimit") == Some(vectors.to_string()),
            format!("[{hw}] MessageNumberLimit = {vectors}"),
        );
        if pf {
            need(
                value(&s, &hw, "include").is_some_and(|v| v.eq_ignore_ascii_case("pci.inf")),
                format!("[{hw}] Include = pci.inf"),
            );
            need(
                value(&s, &hw, "needs")
                    .is_some_and(|v| v.eq_ignore_ascii_case("PciSriovSupported.HW")),
                format!("[{hw}] Needs = PciSriovSupported.HW"),
            );
        }
    }

    // Every section a directive names exists.
    for (name, lines) in &s {
        for (k, v) in key_values(lines) {
            let targets: Vec<String> = match k.as_str() {
                "addreg" | "copyfiles" | "delreg" => fields(&v)
                    .into_iter()
                    .filter(|t| !t.starts_with('@'))
                    .collect(),
                "addservice" => fields(&v).into_iter().skip(2).collect(),
                _ => continue,
            };
            for t in targets {
                need(
                    s.contains_key(&t.to_lowercase()),
                    format!("[{name}] references missing section [{t}]"),
                );
            }
        }
    }

    // Every %string% resolves (%13% and other numeric dirids, and %% escapes, excepted).
    let strings: Vec<String> = key_values(s.get("strings").map_or(&[][..], |v| v))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for (name, lines) in s.iter().filter(|(n, _)| n.as_str() != "strings") {
        for line in lines {
            let cleaned = line.replace("%%", "");
            let parts: Vec<&str> = cleaned.split('%').collect();
            for token in parts.iter().skip(1).step_by(2) {
                if token.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                need(
                    strings.contains(&token.to_lowercase()),
                    format!("[{name}] uses undefined %{token}%"),
                );
            }
        }
    }

    // Files: the driver binary is listed for copy and on the source disk.
    let all_lines: Vec<&String> = s.values().flatten().collect();
    need(
        value(&s, "sourcedisksfiles", &format!("{driver}.sys")).is_some(),
        "SourceDisksFiles lists the driver".into(),
    );
    need(
        all_lines
            .iter()
            .any(|l| l.as_str() == format!("{driver}.sys")),
        "a CopyFiles section lists the driver".into(),
    );

    // NDIS registration and the SR-IOV rules.
    let has = |needle: &str| {
        all_lines.iter().any(|l| {
            l.replace(' ', "")
                .to_lowercase()
                .contains(&needle.replace(' ', "").to_lowercase())
        })
    };
    need(
        has(&format!("HKR, Ndi, Service, 0, \"{driver}\"")),
        "Ndi Service".into(),
    );
    // A PF is an ordinary Ethernet adapter ("Specifying Binding Interfaces"); a VF binds to
    // the services that manage the SR-IOV data paths ("INF Requirements for VF Miniport
    // Drivers": UpperRange "ndisvf", LowerRange "iovvf"), and to nothing else.
    let (upper, lower) = if pf {
        ("ndis5", "ethernet")
    } else {
        ("ndisvf", "iovvf")
    };
    need(
        has(&format!("HKR, Ndi\\Interfaces, UpperRange, 0, \"{upper}\"")),
        format!("UpperRange {upper}"),
    );
    need(
        has(&format!("HKR, Ndi\\Interfaces, LowerRange, 0, \"{lower}\"")),
        format!("LowerRange {lower}"),
    );
    let ranges = all_lines
        .iter()
        .filter(|l| {
            let l = l.replace(' ', "").to_lowercase();
            l.contains("ndi\\interfaces,upperrange") || l.contains("ndi\\interfaces,lowerrange")
        })
        .count();
    need(
        ranges == 2,
        format!("one UpperRange and one LowerRange ({ranges})"),
    );
    need(
        !has("*SriovPreferred"),
        "*SriovPreferred must not be in an INF (hidden keyword)".into(),
    );
    if pf {
        need(
            has("HKR, Ndi\\params\\*SRIOV, Type, 0, \"enum\""),
            "*SRIOV is an enum".into(),
        );
        need(
            has("HKR, Ndi\\params\\*SRIOV, Default, 0, \"1\""),
            "*SRIOV defaults to 1".into(),
        );
        need(
            has("HKR, Ndi\\params\\*SRIOV\\enum, \"0\"")
                && has("HKR, Ndi\\params\\*SRIOV\\enum, \"1\""),
            "*SRIOV values 0 and 1".into(),
        );
        need(
            has("HKR, NicSwitches\\0, *Flags, 0x00010001, 0"),
            "NicSwitches\\0 *Flags = 0".into(),
        );
        need(
            has("HKR, NicSwitches\\0, *SwitchType, 0x00010001, 1"),
            "NicSwitches\\0 *SwitchType = 1".into(),
        );
        need(
            has("HKR, NicSwitches\\0, *SwitchId, 0x00010001, 0"),
            "NicSwitches\\0 *SwitchId = 0".into(),
        );
        need(
            has("HKR, NicSwitches\\0, *SwitchName, 0x00000000"),
            "NicSwitches\\0 *SwitchName".into(),
        );
        need(
            has(&format!(
                "HKR, NicSwitches\\0, *NumVFs, 0x00010001, {}",
                pf_miniport::MAX_VFS
            )),
            "NicSwitches\\0 *NumVFs = the driver's MAX_VFS".into(),
        );
    } else {
        need(
            !has("*SRIOV") && !has("NicSwitches"),
            "a VF INF carries no SR-IOV keywords".into(),
        );
        need(!has("*Vmq"), "a VF must not advertise VMQ".into());
    }
    errors
}

/// `mm/dd/yyyy,w.x.y.z` ("INF DriverVer directive"): a real date, four 16-bit parts.
fn driver_ver_is_well_formed(v: &str) -> bool {
    let Some((date, version)) = v.split_once(',') else {
        return false;
    };
    let d: Vec<Option<u32>> = date.trim().split('/').map(|p| p.parse().ok()).collect();
    let date_ok = matches!(d[..], [Some(m), Some(day), Some(y)]
        if (1..=12).contains(&m) && (1..=31).contains(&day) && (1980..=9999).contains(&y))
        && date.trim().len() == 10;
    let parts: Vec<Option<u32>> = version.trim().split('.').map(|p| p.parse().ok()).collect();
    date_ok && parts.len() == 4 && parts.iter().all(|p| p.is_some_and(|n| n <= 65_535))
}

fn source(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../inf/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("INF source present")
}

#[test]
fn pf_inf_is_well_formed() {
    let e = check(&source("pf_miniport.inx"), "pf_miniport", true);
    assert!(e.is_empty(), "pf_miniport.inx:\n  {}", e.join("\n  "));
}

#[test]
fn vf_inf_is_well_formed() {
    let e = check(&source("vf_miniport.inx"), "vf_miniport", false);
    assert!(e.is_empty(), "vf_miniport.inx:\n  {}", e.join("\n  "));
}

#[test]
fn checker_catches_broken_infs() {
    let pf = source("pf_miniport.inx");
    let cases = [
        (
            pf.replace("[PF.CopyFiles]", "[PF.Files]"),
            "references missing section [PF.CopyFiles]",
        ),
        (
            pf.replace("DiskName           =", "Disk_Name          ="),
            "undefined %DiskName%",
        ),
        (
            pf.replace("Needs   = PciSriovSupported.HW", ""),
            "PciSriovSupported.HW",
        ),
        (
            pf.replace("LowerRange, 0, \"ethernet\"", "LowerRange, 0, \"ndis5\""),
            "LowerRange ethernet",
        ),
        (
            pf.replace("MSISupported, 0x00010001, 1", "MSISupported, 0x00010001, 0"),
            "MSISupported = 1",
        ),
        (
            pf.replace(
                "MessageNumberLimit, 0x00010001, 16",
                "MessageNumberLimit, 0x00010001, 4",
            ),
            "MessageNumberLimit = 16",
        ),
        (
            pf.replace("Class       = Net", "Class       = System"),
            "Class must be Net",
        ),
        (
            pf.replace("[Models.NT$ARCH$.10.0...17763]", "[Models.NTx86]"),
            "models section [models.ntamd64.10.0...17763] missing",
        ),
        (
            format!("{pf}\n[Extra]\nHKR, Ndi\\params\\*SriovPreferred, Default, 0, \"1\"\n"),
            "*SriovPreferred",
        ),
    ];
    for (text, expected) in cases {
        let e = check(&text, "pf_miniport", true);
        assert!(
            e.iter().any(|m| m.contains(expected)),
            "expected an error containing {expected:?}, got {e:?}"
        );
    }
    let vf = source("vf_miniport.inx");
    for (text, expected) in [
        (
            vf.replace("UpperRange, 0, \"ndisvf\"", "UpperRange, 0, \"ndis5\""),
            "UpperRange ndisvf",
        ),
        (
            vf.replace("LowerRange, 0, \"iovvf\"", "LowerRange, 0, \"ethernet\""),
            "LowerRange iovvf",
        ),
        (
            format!("{vf}\n[X]\nHKR, Ndi\\Interfaces, LowerRange, 0, \"ethernet\"\n"),
            "one UpperRange and one LowerRange",
        ),
    ] {
        let e = check(&text, "vf_miniport", false);
        assert!(
            e.iter().any(|m| m.contains(expected)),
            "expected an error containing {expected:?}, got {e:?}"
        );
    }
    let vf_with_sriov = format!(
        "{}\n[X]\nHKR, Ndi\\params\\*SRIOV, Type, 0, \"enum\"\n",
        source("vf_miniport.inx")
    );
    assert!(!check(&vf_with_sriov, "vf_miniport", false).is_empty());
}

/// The INFs as `cargo package-drivers` ships them: stamped like stampinf (architecture, DriverVer).
fn stamped(name: &str) -> String {
    let version = xtask::inf::driver_version(xtask::VERSION).expect("a four-part version");
    let date = xtask::inf::Date {
        year: 2026,
        month: 12,
        day: 1,
    };
    xtask::inf::stamp(&source(&format!("{name}.inx")), "amd64", date, &version).expect("stamped")
}

#[test]
fn stamped_infs_keep_every_check() {
    for (name, pf) in [("pf_miniport", true), ("vf_miniport", false)] {
        let text = stamped(name);
        assert!(!text.contains("$ARCH$"), "{name}: $ARCH$ left");
        let version = xtask::inf::driver_version(xtask::VERSION).unwrap();
        assert!(
            text.contains(&format!("DriverVer   = 12/01/2026,{version}")),
            "{name}: DriverVer not stamped"
        );
        let e = check(&text, name, pf);
        assert!(e.is_empty(), "{name}.inf (stamped):\n  {}", e.join("\n  "));
    }
}

#[test]
fn checker_catches_a_malformed_driver_ver() {
    let version = xtask::inf::driver_version(xtask::VERSION).unwrap();
    let text =
        stamped("pf_miniport").replace(&format!("12/01/2026,{version}"), "12/01/2026,0.1.0.0");
    for bad in [
        "13/01/2026,0.1.0.0",
        "12/01/2026,0.1.0",
        "12/01/2026,0.70000.0.0",
        "2026-12-01,1.0.0.0",
    ] {
        let broken = text.replace("12/01/2026,0.1.0.0", bad);
        let e = check(&broken, "pf_miniport", true);
        assert!(
            e.iter().any(|m| m.contains("DriverVer")),
            "{bad}: not caught ({e:?})"
        );
    }
}
