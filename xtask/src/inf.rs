//! INF sources: stamping as stampinf does, and what packaging reads from a stamped INF (the
//! catalog it names, the files it copies, its hardware ids and its target OS decorations).
//!
//! Stamping follows "Stampinf" (learn.microsoft.com, devtest/stampinf): `-a` replaces the
//! `$ARCH$` decoration with the architecture, and `-d`/`-v` write
//! `DriverVer = mm/dd/yyyy,w.x.y.z` in [Version]. The version's parts are 16-bit numbers
//! ("INF DriverVer directive": each of w, x, y, z is at most 65535).
use std::collections::BTreeMap;

/// A calendar date (UTC), as DriverVer and the catalog's time stamp use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// The UTC date of a Unix time.
    pub fn from_unix(secs: u64) -> Date {
        // Days since 1970-01-01 to a proleptic Gregorian date (era-based civil calendar).
        let days = (secs / 86_400) as i64 + 719_468;
        let era = days.div_euclid(146_097);
        let doe = days.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Today (UTC), or the day of `SOURCE_DATE_EPOCH` when it is set (reproducible builds).
    pub fn today() -> Date {
        let secs = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            });
        Date::from_unix(secs)
    }

    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, String> {
        let mut it = s.trim().splitn(3, '-').map(str::parse::<u32>);
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(y)), Some(Ok(m)), Some(Ok(d)))
                if (1980..=9999).contains(&y)
                    && (1..=12).contains(&m)
                    && (1..=days_in_month(y, m)).contains(&d) =>
            {
                Ok(Date {
                    year: y as i32,
                    month: m,
                    day: d,
                })
            }
            _ => Err(format!("{s}: expected a date as YYYY-MM-DD")),
        }
    }
}

/// Days of a month of the proleptic Gregorian calendar (`month` 1..=12).
fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The four-part DriverVer version of a crate version: `major.minor.patch.0` (a pre-release or
/// build suffix is dropped). Fails when a part does not fit in 16 bits.
pub fn driver_version(crate_version: &str) -> Result<String, String> {
    let core = crate_version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("{crate_version}: not a major.minor.patch version"));
    }
    let mut out = Vec::new();
    for p in parts {
        let n: u32 = p
            .parse()
            .map_err(|_| format!("{crate_version}: {p} is not a number"))?;
        if n > 65_535 {
            return Err(format!(
                "{crate_version}: {n} does not fit a DriverVer part (0..=65535)"
            ));
        }
        out.push(n.to_string());
    }
    out.push("0".into());
    Ok(out.join("."))
}

/// Stamps an `.inx` the way `stampinf -a <arch> -d <date> -v <version>` does: every `$ARCH$`
/// becomes `arch`, and [Version]'s `DriverVer` line gets the date and version (one is added
/// when the section has none).
pub fn stamp(inx: &str, arch: &str, date: Date, version: &str) -> Result<String, String> {
    let driver_ver = format!(
        "{:02}/{:02}/{:04},{version}",
        date.month, date.day, date.year
    );
    let mut out = String::with_capacity(inx.len() + 32);
    let mut section = String::new();
    let mut stamped = false;
    let newline = if inx.contains("\r\n") { "\r\n" } else { "\n" };
    for line in inx.lines() {
        let line = line.replace("$ARCH$", arch);
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if section == "version" && !stamped {
                out.push_str(&format!("DriverVer = {driver_ver}{newline}"));
                stamped = true;
            }
            section = trimmed.trim_matches(['[', ']']).trim().to_ascii_lowercase();
        }
        let key = trimmed.split('=').next().unwrap_or_default().trim();
        if section == "version" && key.eq_ignore_ascii_case("DriverVer") && trimmed.contains('=') {
            let indent = &line[..line.find('=').unwrap_or(0)];
            out.push_str(&format!("{indent}= {driver_ver}{newline}"));
            stamped = true;
            continue;
        }
        out.push_str(&line);
        out.push_str(newline);
    }
    if section == "version" && !stamped {
        out.push_str(&format!("DriverVer = {driver_ver}{newline}"));
        stamped = true;
    }
    if !stamped {
        return Err("the INF has no [Version] section".into());
    }
    Ok(out)
}

/// One target of a models section decoration, `NT<arch>[.<major>[.<minor>[.<type>[.<suite>[.<build>]]]]]`
/// ("INF Manufacturer section").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub arch: String,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub build: Option<u32>,
}

/// A parsed INF: lower-cased section names to their comment-free, non-empty lines.
#[derive(Debug, Clone)]
pub struct Inf {
    pub sections: BTreeMap<String, Vec<String>>,
}

fn strip_comment(raw: &str) -> String {
    let mut line = String::new();
    let mut quoted = false;
    for c in raw.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                line.push(c);
            }
            ';' if !quoted => break,
            _ => line.push(c),
        }
    }
    line.trim().to_string()
}

fn fields(v: &str) -> Vec<String> {
    v.split(',')
        .map(|f| f.trim().trim_matches('"').to_string())
        .collect()
}

impl Inf {
    pub fn parse(text: &str) -> Inf {
        let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current = String::new();
        for raw in text.lines() {
            let line = strip_comment(raw);
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                current = line[1..line.len() - 1].trim().to_lowercase();
                sections.entry(current.clone()).or_default();
            } else {
                sections.entry(current.clone()).or_default().push(line);
            }
        }
        Inf { sections }
    }

    fn lines(&self, section: &str) -> &[String] {
        self.sections
            .get(&section.to_lowercase())
            .map_or(&[][..], |v| &v[..])
    }

    fn key_values(&self, section: &str) -> Vec<(String, String)> {
        self.lines(section)
            .iter()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    }

    /// A [Version] value.
    pub fn version_value(&self, key: &str) -> Option<String> {
        self.key_values("version")
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// The catalog [Version] names (`CatalogFile`).
    pub fn catalog_file(&self) -> Option<String> {
        self.version_value("CatalogFile")
    }

    /// Every file a CopyFiles directive copies (file-list sections and `@file` entries) and
    /// every file [SourceDisksFiles] lists, lower-cased, sorted, without duplicates.
    pub fn package_files(&self) -> Vec<String> {
        let mut files = std::collections::BTreeSet::new();
        for lines in self.sections.values() {
            for line in lines {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                if !k.trim().eq_ignore_ascii_case("CopyFiles") {
                    continue;
                }
                for entry in fields(v) {
                    if let Some(file) = entry.strip_prefix('@') {
                        files.insert(file.to_lowercase());
                    } else {
                        for file_line in self.lines(&entry) {
                            if let Some(file) = fields(file_line).first() {
                                files.insert(file.to_lowercase());
                            }
                        }
                    }
                }
            }
        }
        for (name, _) in self
            .sections
            .iter()
            .filter(|(n, _)| n.starts_with("sourcedisksfiles"))
        {
            for (k, _) in self.key_values(name) {
                files.insert(k.to_lowercase());
            }
        }
        files.into_iter().collect()
    }

    /// The models sections [Manufacturer] names, with their target decorations.
    pub fn targets(&self) -> Vec<(String, Target)> {
        let mut out = Vec::new();
        for (_, v) in self.key_values("manufacturer") {
            let f = fields(&v);
            let Some(base) = f.first() else { continue };
            for decoration in f.iter().skip(1) {
                let mut parts = decoration.split('.');
                let arch = parts
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches(['N', 'n'])
                    .trim_start_matches(['T', 't'])
                    .to_lowercase();
                let rest: Vec<&str> = parts.collect();
                let num = |i: usize| rest.get(i).and_then(|s| s.parse::<u32>().ok());
                out.push((
                    format!("{base}.{decoration}").to_lowercase(),
                    Target {
                        arch,
                        major: num(0),
                        minor: num(1),
                        build: num(4),
                    },
                ));
            }
        }
        out
    }

    /// The hardware ids of every model line, lower-cased as catalogs record them.
    pub fn hardware_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for (section, _) in self.targets() {
            for (_, v) in self.key_values(&section) {
                for id in fields(&v).into_iter().skip(1) {
                    let id = id.to_lowercase();
                    if !id.is_empty() && !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_calendar_dates_parse() {
        for bad in [
            "2026-02-29",
            "2026-02-31",
            "2026-04-31",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad} accepted");
        }
        for good in ["2024-02-29", "2000-02-29", "2026-12-31", "2026-04-30"] {
            assert!(Date::parse(good).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn dates_from_unix_time() {
        assert_eq!(
            Date::from_unix(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        // 2000-02-29 (a leap day of a century year divisible by 400).
        assert_eq!(
            Date::from_unix(951_782_400),
            Date {
                year: 2000,
                month: 2,
                day: 29
            }
        );
        assert_eq!(
            Date::from_unix(1_798_761_599),
            Date {
                year: 2026,
                month: 12,
                day: 31
            }
        );
        assert_eq!(
            Date::parse("2026-12-01"),
            Ok(Date {
                year: 2026,
                month: 12,
                day: 1
            })
        );
        assert!(Date::parse("2026-13-01").is_err());
    }

    #[test]
    fn four_part_versions() {
        assert_eq!(driver_version("0.1.0").as_deref(), Ok("0.1.0.0"));
        assert_eq!(driver_version("2.10.3-rc.1").as_deref(), Ok("2.10.3.0"));
        assert!(driver_version("1.65536.0").is_err());
        assert!(driver_version("1.2").is_err());
    }

    #[test]
    fn stamping_fills_driver_ver_and_the_architecture() {
        let inx = "[Version]\nSignature = \"$WINDOWS NT$\"\nDriverVer   =\n\n[Manufacturer]\n%M% = Models, NT$ARCH$.10.0...17763\n";
        let date = Date {
            year: 2026,
            month: 3,
            day: 7,
        };
        let out = stamp(inx, "amd64", date, "0.1.0.0").unwrap();
        assert!(out.contains("DriverVer   = 03/07/2026,0.1.0.0\n"), "{out}");
        assert!(out.contains("NTamd64.10.0...17763"));
        assert!(out.contains("$WINDOWS NT$"), "other $ strings stay");
        let inf = Inf::parse(&out);
        assert_eq!(
            inf.targets()[0].1,
            Target {
                arch: "amd64".into(),
                major: Some(10),
                minor: Some(0),
                build: Some(17763)
            }
        );
        let without = stamp("[Version]\nClass = Net\n[X]\n", "amd64", date, "1.0.0.0").unwrap();
        assert!(
            without.contains("DriverVer = 03/07/2026,1.0.0.0"),
            "{without}"
        );
        assert!(stamp("[X]\n", "amd64", date, "1.0.0.0").is_err());
    }
}
