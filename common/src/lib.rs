//! Shared by the SR-IOV PF and VF miniports:
//! - [`blocks`]: the config-block schema both sides speak (ids, masks, envelope, codecs);
//! - [`ffi`]: the NDIS types, constants, layouts and imports, with the NDIS ABI from [`abi`];
//! - [`oid`], [`sync`], [`mem`], [`log`]: safe wrappers the drivers build on.
#![no_std]

pub mod abi;
pub mod blocks;
pub mod coalesce;
pub mod ffi;
pub mod handlers;
pub mod hw;
#[cfg(all(target_os = "windows", not(feature = "sim")))]
pub mod kernel_rt;
pub mod log;
pub mod mem;
pub mod miniport;
pub mod nbl_info;
pub mod oid;
pub mod pool_alloc;
pub mod recv;
pub mod send;
pub mod state;
pub mod sync;
#[cfg(feature = "wdk")]
mod wdk_crosscheck;
