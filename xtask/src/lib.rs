//! Packaging of the two drivers for a tester's machine, on any host: the PE checksum, stampinf's
//! INF stamping, the catalog and test signing, written here with kept crates for the ASN.1 and
//! PKCS#7 work (`der`, `cms`, `x509-cert`, `rsa`). `cargo package-drivers` runs it (see
//! `main.rs`); the tests in `tests/tests/package.rs` check its output with other tools.
pub mod authenticode;
pub mod catalog;
pub mod cert;
pub mod inf;
pub mod package;
pub mod pe;

/// The workspace root (this crate sits in `xtask/`).
pub fn workspace_root() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// The version all crates of the workspace share (`version.workspace = true`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The ASN.1 and CMS crates the catalog and signature types are written with, for readers.
pub use cms;
pub use der;
