//! What the simulated Hyper-V host keeps per adapter beyond `world.rs`: the hardware-assist
//! capabilities a miniport reported (receive filters and NIC switch, hardware and current),
//! the PCI model of an SR-IOV PF, and the registry values Windows itself writes.
use crate::pci::PciModel;
use common::ffi::*;
use std::sync::{Mutex, MutexGuard};

/// Per-adapter state of the simulated host (one field of `SimAdapter`).
#[derive(Default)]
pub struct AdapterExt {
    pci: Mutex<PciModel>,
    pub hw_filter_caps: Mutex<Option<NDIS_RECEIVE_FILTER_CAPABILITIES>>,
    pub cur_filter_caps: Mutex<Option<NDIS_RECEIVE_FILTER_CAPABILITIES>>,
    pub hw_switch_caps: Mutex<Option<NDIS_NIC_SWITCH_CAPABILITIES>>,
    pub cur_switch_caps: Mutex<Option<NDIS_NIC_SWITCH_CAPABILITIES>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AdapterExt {
    pub fn pci(&self) -> MutexGuard<'_, PciModel> {
        lock(&self.pci)
    }

    /// Records the receive-filter and NIC switch capabilities of hardware-assist attributes.
    ///
    /// # Safety
    /// The pointers are null or valid for the duration of the call (NdisMSetMiniportAttributes).
    pub unsafe fn record_hardware_assist(
        &self,
        hw: &NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
    ) {
        // SAFETY: the caller's contract; a null pointer reads as None.
        unsafe {
            *lock(&self.hw_filter_caps) = hw
                .HardwareReceiveFilterCapabilities
                .cast::<NDIS_RECEIVE_FILTER_CAPABILITIES>()
                .as_ref()
                .copied();
            *lock(&self.cur_filter_caps) = hw
                .CurrentReceiveFilterCapabilities
                .cast::<NDIS_RECEIVE_FILTER_CAPABILITIES>()
                .as_ref()
                .copied();
            *lock(&self.hw_switch_caps) = hw.HardwareNicSwitchCapabilities.as_ref().copied();
            *lock(&self.cur_switch_caps) = hw.CurrentNicSwitchCapabilities.as_ref().copied();
        }
    }
}

/// Registry values of the PF's adapter that Windows writes, not the INF: `*SriovPreferred`
/// is "a hidden keyword value that must not be specified in the INF file" ("Standardized INF
/// Keywords for SR-IOV"). The simulated host is one whose virtual switch has SR-IOV enabled,
/// so it is 1. The pages do not say who writes it; a test sets it to 0 or removes it through
/// `Config::keywords` (an explicit entry there always wins).
pub fn host_registry_default(keyword: &str) -> Option<u32> {
    if keyword.eq_ignore_ascii_case("*SriovPreferred") {
        Some(1)
    } else {
        None
    }
}

/// `Config::keywords` value that means "absent from the registry" (the keyword is not read).
pub const ABSENT: u32 = u32::MAX;
