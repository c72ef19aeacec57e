//! NDIS FFI: the C names, values and layouts the two miniports use, nothing more.
//!
//! Names follow the WDK headers so that a driver engineer can grep for them; every value and
//! layout is recorded, with its header or documentation page, in `docs/ndis-reference.md` and is
//! pinned by the layout tests in `common/tests/layouts.rs`.
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    clippy::upper_case_acronyms
)]

pub mod imports;
pub mod oids;
pub mod status;
pub mod structs;
pub mod types;

pub use oids::*;
pub use status::*;
pub use structs::*;
pub use types::*;
