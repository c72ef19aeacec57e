//! Authenticode: the structures "Windows Authenticode Portable Executable Signature Format"
//! defines (SpcIndirectDataContent and friends), typed with `der`'s derives, and PKCS#7
//! SignedData built with `cms` over them, for signed images and signed catalogs alike.
//!
//! Both kinds put their content (SpcIndirectDataContent, or a catalog's CertificateTrustList)
//! directly in `eContent` rather than in an OCTET STRING, and the messageDigest attribute is
//! the hash of that content's value octets (without its tag and length): `cms` hashes
//! `Any::value()`, which is exactly that. SignedData's version is 1 ("the version must be 1").
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::CertificateChoices;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, BmpString, ContextSpecific, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence, TagMode, TagNumber};
use rsa::pkcs1v15::SigningKey;
use sha2::Sha256;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

pub const SPC_INDIRECT_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.4");
pub const SPC_PE_IMAGE_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.15");
/// SPC_CAB_DATA_OBJID: the indirect data type catalogs give a flat (non-PE) file.
pub const SPC_CAB_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.25");
pub const SPC_SP_OPUS_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.12");
pub const SPC_STATEMENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.11");
pub const SPC_INDIVIDUAL_SP_KEY_PURPOSE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.21");
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// rsaEncryption (PKCS #1).
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// SpcAttributeTypeAndOptionalValue.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcAttributeTypeAndOptionalValue {
    pub kind: ObjectIdentifier,
    #[asn1(optional = "true")]
    pub value: Option<Any>,
}

/// DigestInfo.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct DigestInfo {
    pub algorithm: AlgorithmIdentifierOwned,
    pub digest: OctetString,
}

/// SpcIndirectDataContent: what a signature or a catalog entry says about one file.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcIndirectDataContent {
    pub data: SpcAttributeTypeAndOptionalValue,
    pub message_digest: DigestInfo,
}

/// SpcPeImageData: flags (none) and the obsolete file link.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SpcPeImageData {
    flags: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    file: Option<Any>,
}

/// The SHA-256 AlgorithmIdentifier, with the NULL parameters signtool writes.
pub fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: Some(Any::null()),
    }
}

/// SpcLink's `file` choice ([2] EXPLICIT SpcString) holding SpcString's `unicode` choice
/// ([0] IMPLICIT BMPString) with `text`: "<<<Obsolete>>>" in signatures, as signtool writes
/// it; empty for a catalog's flat-file member, as makecat writes it.
fn file_link(text: &str) -> Result<Any, String> {
    let text = BmpString::from_utf8(text).map_err(|e| e.to_string())?;
    let unicode = ContextSpecific {
        tag_number: TagNumber::N0,
        tag_mode: TagMode::Implicit,
        value: text,
    };
    let file = ContextSpecific {
        tag_number: TagNumber::N2,
        tag_mode: TagMode::Explicit,
        value: unicode,
    };
    Any::from_der(&file.to_der().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// SpcIndirectDataContent for a PE image: SPC_PE_IMAGE_DATAOBJ and its Authenticode digest.
pub fn pe_indirect_data(authenticode_sha256: &[u8; 32]) -> Result<SpcIndirectDataContent, String> {
    let image_data = SpcPeImageData {
        flags: BitString::new(0, Vec::new()).map_err(|e| e.to_string())?,
        file: Some(file_link("<<<Obsolete>>>")?),
    };
    let value = Any::from_der(&image_data.to_der().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    Ok(SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            kind: SPC_PE_IMAGE_DATA,
            value: Some(value),
        },
        message_digest: DigestInfo {
            algorithm: sha256_algorithm(),
            digest: OctetString::new(authenticode_sha256.to_vec()).map_err(|e| e.to_string())?,
        },
    })
}

/// SpcIndirectDataContent for a flat file (an INF): SPC_CAB_DATA_OBJID with a file link, and
/// the SHA-256 of the file's bytes.
pub fn flat_indirect_data(sha256: &[u8; 32]) -> Result<SpcIndirectDataContent, String> {
    Ok(SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            kind: SPC_CAB_DATA,
            value: Some(file_link("")?),
        },
        message_digest: DigestInfo {
            algorithm: sha256_algorithm(),
            digest: OctetString::new(sha256.to_vec()).map_err(|e| e.to_string())?,
        },
    })
}

/// A signing identity: the certificate and its RSA key.
pub struct Signer {
    pub certificate: Certificate,
    pub key: rsa::RsaPrivateKey,
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, String> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(|e| e.to_string())?;
    Ok(Attribute { oid, values })
}

/// PKCS#7 SignedData (DER ContentInfo) over `content` of type `content_type`, signed with
/// SHA-256 and RSA, carrying the signer's certificate and the Authenticode signed attributes
/// (SpcSpOpusInfo, empty; SpcStatementType, individual) beside contentType and messageDigest.
pub fn sign(
    signer: &Signer,
    content_type: ObjectIdentifier,
    content: Any,
) -> Result<Vec<u8>, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let encap = EncapsulatedContentInfo {
        econtent_type: content_type,
        econtent: Some(content),
    };
    let key = SigningKey::<Sha256>::new(signer.key.clone());
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: signer.certificate.tbs_certificate.issuer.clone(),
        serial_number: signer.certificate.tbs_certificate.serial_number.clone(),
    });
    let mut info =
        SignerInfoBuilder::new(&key, sid, sha256_algorithm(), &encap, None).map_err(|x| e(&x))?;
    // SpcSpOpusInfo ::= SEQUENCE { programName [0] OPTIONAL, moreInfo [1] OPTIONAL }: empty.
    let opus = Any::from_der(&[0x30, 0x00]).map_err(|x| e(&x))?;
    info.add_signed_attribute(attribute(SPC_SP_OPUS_INFO, opus)?)
        .map_err(|x| e(&x))?;
    // SpcStatementType ::= SEQUENCE OF OBJECT IDENTIFIER.
    let statement = Any::from_der(
        &vec![SPC_INDIVIDUAL_SP_KEY_PURPOSE]
            .to_der()
            .map_err(|x| e(&x))?,
    )
    .map_err(|x| e(&x))?;
    info.add_signed_attribute(attribute(SPC_STATEMENT_TYPE, statement)?)
        .map_err(|x| e(&x))?;
    let mut builder = SignedDataBuilder::new(&encap);
    builder
        .add_digest_algorithm(sha256_algorithm())
        .map_err(|x| e(&x))?
        .add_certificate(CertificateChoices::Certificate(signer.certificate.clone()))
        .map_err(|x| e(&x))?
        .add_signer_info::<_, rsa::pkcs1v15::Signature>(info)
        .map_err(|x| e(&x))?;
    let mut content_info = builder.build().map_err(|x| e(&x))?;
    // cms sets version 3 for a content type other than id-data; Authenticode wants 1. And
    // signtool names the signature algorithm rsaEncryption (the hash is digestAlgorithm's);
    // the PKCS #1 v1.5 signature is the same bytes under either name.
    let mut signed: SignedData = content_info.content.decode_as().map_err(|x| e(&x))?;
    signed.version = CmsVersion::V1;
    let infos: Vec<cms::signed_data::SignerInfo> = signed
        .signer_infos
        .0
        .iter()
        .cloned()
        .map(|mut info| {
            info.signature_algorithm = AlgorithmIdentifierOwned {
                oid: RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            };
            info
        })
        .collect();
    signed.signer_infos =
        cms::signed_data::SignerInfos(SetOfVec::try_from(infos).map_err(|x| e(&x))?);
    content_info.content =
        Any::from_der(&signed.to_der().map_err(|x| e(&x))?).map_err(|x| e(&x))?;
    content_info.to_der().map_err(|x| e(&x))
}

/// Signs a PE image in place: its Authenticode digest in an SpcIndirectDataContent, the
/// SignedData appended as the Certificate Table, the checksum recomputed.
pub fn sign_image(signer: &Signer, image: &mut Vec<u8>) -> Result<(), String> {
    crate::pe::verify_checksum(image)?;
    crate::pe::pad_for_signing(image)?;
    let digest = crate::pe::authenticode_sha256(image)?;
    let content = pe_indirect_data(&digest)?;
    let any =
        Any::from_der(&content.to_der().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let pkcs7 = sign(signer, SPC_INDIRECT_DATA, any)?;
    crate::pe::embed_signature(image, &pkcs7)
}
