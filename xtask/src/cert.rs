//! The test-signing identity: a self-signed code-signing certificate and its RSA key, made on
//! first use (as the WDK's packaging makes `WDRLocalTestCert`) or read from PEM files the user
//! names.
//!
//! The certificate is the kind the WDK path's makefile makes (wdk-build's generate-certificate
//! task: `makecert -r -pe -a SHA256 -eku 1.3.6.1.5.5.7.3.3`): self-signed, SHA-256, with the
//! code signing extended key usage as its one extension. Windows trusts it as a root in the
//! Trusted Root store and as a publisher in Trusted Publishers.
use crate::authenticode::Signer;
use der::asn1::UtcTime;
use der::{Decode, DecodePem, Encode, EncodePem};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::Sha256;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// The subject of the generated certificate.
pub const TEST_SUBJECT: &str = "CN=Rust SR-IOV miniports test signing (not for release)";

/// `ID_KP_CODE_SIGNING`, RFC 5280.
const CODE_SIGNING: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Where a generated identity is kept: `cert.pem`, `key.pem` (PKCS#8) and `cert.cer` (DER, for
/// `certutil -addstore`).
pub struct Files {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

impl Files {
    pub fn in_dir(dir: &Path) -> Files {
        Files {
            cert_pem: dir.join("cert.pem"),
            key_pem: dir.join("key.pem"),
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Reads a certificate (PEM) and its RSA key (PKCS#8 PEM) and checks that they belong
/// together.
pub fn load(files: &Files) -> Result<Signer, String> {
    let cert_text = std::fs::read_to_string(&files.cert_pem).map_err(io(&files.cert_pem))?;
    let key_text = std::fs::read_to_string(&files.key_pem).map_err(io(&files.key_pem))?;
    let certificate = Certificate::from_pem(cert_text.as_bytes())
        .map_err(|e| format!("{}: {e}", files.cert_pem.display()))?;
    let key = RsaPrivateKey::from_pkcs8_pem(&key_text)
        .map_err(|e| format!("{}: {e}", files.key_pem.display()))?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| e.to_string())?;
    let in_cert = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    if public.as_bytes() != in_cert.as_slice() {
        return Err(format!(
            "{} is not the key of {}",
            files.key_pem.display(),
            files.cert_pem.display()
        ));
    }
    Ok(Signer { certificate, key })
}

/// Makes a new RSA-2048 key and a self-signed code-signing certificate valid for ten years
/// from yesterday (a clock a little behind still accepts it), and writes them to `files` (creating the directory).
pub fn generate(files: &Files) -> Result<Signer, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut rng = rand::thread_rng();
    let key = RsaPrivateKey::new(&mut rng, 2048).map_err(|x| e(&x))?;
    let signing = SigningKey::<Sha256>::new(key.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|x| e(&x))?;
    let day = Duration::from_secs(86_400);
    let validity = Validity {
        not_before: Time::UtcTime(UtcTime::from_unix_duration(now - day).map_err(|x| e(&x))?),
        not_after: Time::UtcTime(
            UtcTime::from_unix_duration(now + 3_650 * day).map_err(|x| e(&x))?,
        ),
    };
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rng, &mut serial);
    serial[0] &= 0x7F; // a positive INTEGER
    serial[0] |= 0x01; // and 16 octets long
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|x| e(&x))?;
    let subject = Name::from_str(TEST_SUBJECT).map_err(|x| e(&x))?;
    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: None },
        SerialNumber::new(&serial).map_err(|x| e(&x))?,
        validity,
        subject,
        spki,
        &signing,
    )
    .map_err(|x| e(&x))?;
    builder
        .add_extension(&ExtendedKeyUsage(vec![CODE_SIGNING]))
        .map_err(|x| e(&x))?;
    let certificate = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|x| e(&x))?;
    if let Some(dir) = files.cert_pem.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let pem = certificate.to_pem(LineEnding::LF).map_err(|x| e(&x))?;
    std::fs::write(&files.cert_pem, pem).map_err(io(&files.cert_pem))?;
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|x| e(&x))?;
    // The key signs code the test machine trusts: readable by its owner only.
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    std::io::Write::write_all(
        &mut open.open(&files.key_pem).map_err(io(&files.key_pem))?,
        key_pem.as_bytes(),
    )
    .map_err(io(&files.key_pem))?;
    Ok(Signer { certificate, key })
}

/// The identity in `files`, generated there first when neither file exists.
pub fn load_or_generate(files: &Files) -> Result<(Signer, bool), String> {
    if !files.cert_pem.exists() && !files.key_pem.exists() {
        return generate(files).map(|s| (s, true));
    }
    load(files).map(|s| (s, false))
}

/// The certificate in DER (a `.cer` file).
pub fn der(signer: &Signer) -> Result<Vec<u8>, String> {
    signer.certificate.to_der().map_err(|e| e.to_string())
}

/// Parses a DER certificate (for tests and tools).
pub fn parse_der(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).map_err(|e| e.to_string())
}
