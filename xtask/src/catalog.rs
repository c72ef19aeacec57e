//! Driver package catalogs (`.cat`): a Certificate Trust List (CTL, content type
//! szOID_CTL 1.3.6.1.4.1.311.10.1) in a PKCS#7 SignedData, one entry per package file.
//!
//! The layout is the one Windows' catalog functions read (mscat's CertificateTrustList):
//! subjectUsage {szOID_CATALOG_LIST}, a list identifier, the time, the subject algorithm, the
//! entries, and catalog-level attributes as [0] extensions. This writes version 2 catalogs
//! (subject algorithm szOID_CATALOG_LIST_MEMBER2, 1.3.6.1.4.1.311.12.1.3; makecat's
//! `CatalogVersion=2` requires `HashAlgorithms=SHA256`), in which each entry is keyed by its
//! SHA-256 hash and carries (makecat also lists each member under its SHA-1, with only the
//! member-info attribute; this does the same):
//! - SPC_INDIRECT_DATA_OBJID: SpcIndirectDataContent with the hash Windows checks: for a PE
//!   image the Authenticode digest, for any other file (the INF) the digest of its bytes;
//! - CAT_MEMBERINFO2_OBJID (1.3.6.1.4.1.311.12.2.3);
//! - CAT_NAMEVALUE_OBJID (1.3.6.1.4.1.311.12.2.1) "File" (the file name) and "OSAttr" (the
//!   Windows versions the file is for, `2:<major>.<minor>`).
//!
//! Catalog-level name-values: "OS" (the Inf2Cat identifier family of the targets) and one
//! "HWIDn" per hardware id, as Inf2Cat writes them. Name-value flags are 0x10010001
//! (CRYPTCAT_ATTR_AUTHENTICATED | CRYPTCAT_ATTR_DATAASCII | CRYPTCAT_ATTR_NAMEASCII, mscat.h),
//! values NUL-terminated UTF-16LE.
use crate::authenticode::{self, SPC_INDIRECT_DATA, Signer};
use const_oid::ObjectIdentifier;
use der::asn1::{BmpString, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;

pub const CTL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.1");
pub const CATALOG_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.12.1.1");
pub const CATALOG_LIST_MEMBER2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.12.1.3");
pub const CAT_NAMEVALUE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.12.2.1");
pub const CAT_MEMBERINFO2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.12.2.3");

/// CRYPTCAT_ATTR_AUTHENTICATED | CRYPTCAT_ATTR_DATAASCII | CRYPTCAT_ATTR_NAMEASCII.
const NAME_VALUE_FLAGS: i32 = 0x1001_0001;

/// CatalogNameValue ::= SEQUENCE { tag BMPString, flags INTEGER, value OCTET STRING }.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CatNameValue {
    pub tag: BmpString,
    pub flags: i32,
    pub value: OctetString,
}

/// One catalog member: its identifier (the SHA-256 hash) and attributes.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TrustedSubject {
    pub identifier: OctetString,
    pub attributes: SetOfVec<Attribute>,
}

/// CertificateTrustList, as catalogs use it (no version, no sequence number, no next update).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertificateTrustList {
    pub subject_usage: Vec<ObjectIdentifier>,
    pub list_identifier: OctetString,
    pub this_update: UtcTime,
    pub subject_algorithm: AlgorithmIdentifierOwned,
    pub subjects: Vec<TrustedSubject>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub extensions: Option<Vec<Extension>>,
}

/// A file to list: its name in the package and its bytes.
pub struct Member<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// The Windows versions a package targets, for the name-value attributes.
#[derive(Debug, Clone)]
pub struct OsAttributes {
    /// Catalog-level "OS", e.g. `_v100_X64` (Inf2Cat's value for Windows 10 and later, x64).
    pub os: String,
    /// Each member's "OSAttr", e.g. `2:10.0`.
    pub os_attr: String,
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn name_value(name: &str, value: &str) -> Result<CatNameValue, String> {
    Ok(CatNameValue {
        tag: BmpString::from_utf8(name).map_err(|e| e.to_string())?,
        flags: NAME_VALUE_FLAGS,
        value: OctetString::new(utf16z(value)).map_err(|e| e.to_string())?,
    })
}

fn any_of<T: Encode>(v: &T) -> Result<Any, String> {
    Any::from_der(&v.to_der().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, String> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(|e| e.to_string())?;
    Ok(Attribute { oid, values })
}

/// Whether `bytes` is a PE image (listed by its Authenticode digest).
fn is_pe(bytes: &[u8]) -> bool {
    crate::pe::layout(bytes).is_ok()
}

/// The hash a member is listed under: the Authenticode SHA-256 for a PE image, the file's
/// SHA-256 otherwise.
pub fn member_hash(bytes: &[u8]) -> Result<[u8; 32], String> {
    if is_pe(bytes) {
        crate::pe::authenticode_sha256(bytes)
    } else {
        Ok(Sha256::digest(bytes).into())
    }
}

/// The unsigned CTL for `members`.
pub fn trust_list(
    members: &[Member<'_>],
    os: &OsAttributes,
    hardware_ids: &[String],
    unix_time: u64,
) -> Result<CertificateTrustList, String> {
    let mut subjects = Vec::new();
    for m in members {
        let hash = member_hash(m.bytes)?;
        let (indirect, info) = if is_pe(m.bytes) {
            // [0]: a PE image (the Authenticode subject interface package).
            (authenticode::pe_indirect_data(&hash)?, [0x80u8, 0x00])
        } else {
            // [2]: a flat file.
            (authenticode::flat_indirect_data(&hash)?, [0x82u8, 0x00])
        };
        let mut attributes = SetOfVec::new();
        for a in [
            attribute(SPC_INDIRECT_DATA, any_of(&indirect)?)?,
            attribute(
                CAT_MEMBERINFO2,
                Any::from_der(&info).map_err(|e| e.to_string())?,
            )?,
            attribute(CAT_NAMEVALUE, any_of(&name_value("File", m.name)?)?)?,
            attribute(CAT_NAMEVALUE, any_of(&name_value("OSAttr", &os.os_attr)?)?)?,
        ] {
            attributes.insert(a).map_err(|e| e.to_string())?;
        }
        subjects.push(TrustedSubject {
            identifier: OctetString::new(hash.to_vec()).map_err(|e| e.to_string())?,
            attributes,
        });
        let sha1 = if is_pe(m.bytes) {
            crate::pe::authenticode_digest::<sha1::Sha1>(m.bytes)?
        } else {
            sha1::Sha1::digest(m.bytes).to_vec()
        };
        let mut attributes = SetOfVec::new();
        attributes
            .insert(attribute(
                CAT_MEMBERINFO2,
                Any::from_der(&info).map_err(|e| e.to_string())?,
            )?)
            .map_err(|e| e.to_string())?;
        subjects.push(TrustedSubject {
            identifier: OctetString::new(sha1).map_err(|e| e.to_string())?,
            attributes,
        });
    }
    subjects.sort_by(|a, b| a.identifier.as_bytes().cmp(b.identifier.as_bytes()));

    let mut extensions = vec![(String::from("OS"), os.os.clone())];
    for (i, id) in hardware_ids.iter().enumerate() {
        extensions.push((format!("HWID{}", i + 1), id.clone()));
    }
    let extensions = extensions
        .into_iter()
        .map(|(name, value)| {
            Ok(Extension {
                extn_id: CAT_NAMEVALUE,
                critical: false,
                extn_value: OctetString::new(
                    name_value(&name, &value)?
                        .to_der()
                        .map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;

    // A list identifier that depends only on the contents: the same package, the same id.
    let mut id = Sha256::new();
    for s in &subjects {
        id.update(s.identifier.as_bytes());
    }
    let list_identifier = id.finalize()[..16].to_vec();
    Ok(CertificateTrustList {
        subject_usage: vec![CATALOG_LIST],
        list_identifier: OctetString::new(list_identifier).map_err(|e| e.to_string())?,
        this_update: UtcTime::from_unix_duration(std::time::Duration::from_secs(unix_time))
            .map_err(|e| e.to_string())?,
        subject_algorithm: AlgorithmIdentifierOwned {
            oid: CATALOG_LIST_MEMBER2,
            parameters: Some(Any::null()),
        },
        subjects,
        extensions: Some(extensions),
    })
}

/// A signed catalog (DER).
pub fn signed_catalog(signer: &Signer, ctl: &CertificateTrustList) -> Result<Vec<u8>, String> {
    authenticode::sign(signer, CTL, any_of(ctl)?)
}

/// The CTL inside a catalog (signed or not), for checks.
pub fn read_trust_list(catalog: &[u8]) -> Result<CertificateTrustList, String> {
    let ci = cms::content_info::ContentInfo::from_der(catalog).map_err(|e| e.to_string())?;
    let sd: cms::signed_data::SignedData = ci.content.decode_as().map_err(|e| e.to_string())?;
    if sd.encap_content_info.econtent_type != CTL {
        return Err("not a CTL".into());
    }
    sd.encap_content_info
        .econtent
        .ok_or("no content")?
        .decode_as()
        .map_err(|e| e.to_string())
}

impl TrustedSubject {
    /// The "File" name-value.
    pub fn file_name(&self) -> Option<String> {
        self.attributes
            .iter()
            .filter(|a| a.oid == CAT_NAMEVALUE)
            .flat_map(|a| a.values.iter())
            .filter_map(|v| v.decode_as::<CatNameValue>().ok())
            .find(|nv| nv.tag.to_string() == "File")
            .map(|nv| nv.text())
    }
}

impl CatNameValue {
    /// The value as text (NUL-terminated UTF-16LE).
    pub fn text(&self) -> String {
        let units: Vec<u16> = self
            .value
            .as_bytes()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }
}
