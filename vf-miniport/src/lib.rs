//! SR-IOV Virtual Function miniport (NDIS 6.30) for a Hyper-V guest.
//!
//! At start it reads every config block from the PF through the backchannel; on
//! `OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK` it re-reads exactly the flagged blocks, applies
//! them only as a consistent snapshot ([`snapshot`]), indicates link changes, and reports
//! what it runs back to the PF with `NdisMWriteConfigBlock`.
#![no_std]
// Nothing NDIS can reach may panic (a panic is a bugcheck): enforced for the whole driver.
// Modules that handle guest-supplied values also deny unchecked arithmetic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]
// WinDbg views of the driver's types, embedded in the PDB (see docs/windbg.md).
#![debugger_visualizer(natvis_file = "../vf_miniport.natvis")]

// On the host the cdylib needs std's panic handler; nothing here may name std.
#[cfg(not(kernel_image))]
extern crate std as _;

mod adapter;
/// Public for the model check (`tests/loom_refresh.rs`); the driver's own refresh skeleton.
pub mod gate;
pub mod handlers;
#[cfg(not(kernel_image))]
pub mod observe;
mod oids;
mod refresh;
pub mod snapshot;

#[cfg(not(kernel_image))]
pub use adapter::Snapshot;
pub use adapter::{Adapter, Counters};

use common::mem::pool_tag;

pub(crate) const LOG: &str = "sriov-vf";
pub(crate) const VENDOR: &[u8] = b"Rust SR-IOV reference VF\0";
pub(crate) const DRIVER_VERSION: u32 = 0x0001_0000;
pub(crate) const POOL_TAG_ADAPTER: u32 = pool_tag(b"VfAd");
/// Receive buffers and the receive NBL pool.
pub(crate) const POOL_TAG_RX: u32 = pool_tag(b"VfRx");

common::miniport_driver!(
    adapter = adapter::Adapter,
    ndis_driver_version = (1, 0),
    bugcheck_code = 0xE05F_0002,
    pool_tag = b"VfRs",
);
