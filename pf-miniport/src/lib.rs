//! SR-IOV Physical Function miniport (NDIS 6.30) for the Hyper-V host.
//!
//! It owns the configuration blocks of every VF ([`store`]), answers the guest-facing
//! backchannel OIDs ([`backchannel`]), manages the NIC switch and its VFs ([`switch`]), and
//! offers the host a typed API to change a VF's configuration ([`host`]), each change
//! followed by `NdisMInvalidateConfigBlock` for exactly the blocks that changed.
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
#![debugger_visualizer(natvis_file = "../pf_miniport.natvis")]

// On the host the cdylib needs std's panic handler; nothing here may name std.
#[cfg(not(kernel_image))]
extern crate std as _;

mod adapter;
mod backchannel;
mod deferred;
pub mod handlers;
mod host;
// Issue 11: the embedded switch programmed from the switch and filter OIDs.
pub mod hwswitch;
pub mod management;
#[cfg(feature = "mutants")]
mod mutants;
#[cfg(not(kernel_image))]
pub mod observe;
mod oids;
pub mod store;
mod switch;
// Issue 10: VPorts, receive filters, PCI virtualization, standardized keywords.
mod filters;
pub mod keywords;
mod params;
mod pci;
mod power;
mod vf_function;
pub mod vport;

pub use adapter::{Adapter, MAX_VFS};
pub use store::Staged;

use common::mem::pool_tag;

pub(crate) const LOG: &str = "sriov-pf";
pub(crate) const VENDOR: &[u8] = b"Rust SR-IOV reference PF\0";
pub(crate) const DRIVER_VERSION: u32 = 0x0001_0000;
pub(crate) const POOL_TAG_ADAPTER: u32 = pool_tag(b"PfAd");
pub(crate) const POOL_TAG_VF: u32 = pool_tag(b"PfVf");
/// Receive buffers and the receive NBL pool.
pub(crate) const POOL_TAG_RX: u32 = pool_tag(b"PfRx");

common::miniport_driver!(
    adapter = adapter::Adapter,
    ndis_driver_version = (1, 0),
    bugcheck_code = 0xE05F_0001,
    pool_tag = b"PfRs",
);
