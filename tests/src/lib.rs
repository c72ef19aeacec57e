//! A simulated Hyper-V host and guests that load the real PF and VF miniports.
//!
//! The drivers are linked in as libraries; every NDIS and ntoskrnl function they import is
//! defined here under its real name ([`exports`]), so the tests run the very callbacks NDIS
//! would call, with real `#[repr(C)]` structures. [`World`] ([`handle`]) is the handle
//! scenarios use: boot the host with the PF, create the NIC switch, allocate VFs, attach each
//! to a guest, change things on the host and let the machine run ([`World::settle`]). The
//! machine itself, by what it models, is [`world::Machine`]; [`payloads`] builds the NDIS
//! structures that go into OID requests.
//!
//! Determinism: in the scenarios and seeded runs one thread drives everything and every choice
//! (delivery order and delays, injected faults) comes from the seeded [`rng::Rng`], so a run
//! reproduces from its seed. The threaded runs ([`chaos::run_threaded`]) run the handlers on
//! several threads as Windows may: their choices are seeded, their interleaving is not.

pub mod chaos;
pub mod datapath_bench;
pub mod debug_info;
pub mod device;
pub mod digest;
pub mod exports;
pub mod fixture;
pub mod frames;
pub mod handle;
pub mod host_flow;
pub mod hyperv;
pub mod irql;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod loader;
pub mod payloads;
pub mod pci;
pub mod rng;
pub mod rogue;
pub mod timeline;
pub mod tools;
pub mod world;

pub use handle::World;
pub use world::{Config, Machine, OidOutcome, ReadCtx, ReadFault, Role, SimAdapter, WorldInner};

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
