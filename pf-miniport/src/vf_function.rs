//! The VF's PCI function as the PF reaches it through `NdisMGetVirtualFunctionBusData` /
//! `NdisMSetVirtualFunctionBusData`: its capability list, and the function-level reset of
//! OID_SRIOV_RESET_VF.
//!
//! PCI Local Bus: Status bit 4 "Capabilities List", the Capabilities Pointer at 34h, each
//! capability an (id, next) pair in 40h..FFh; PCI Express Base: the PCI Express capability
//! (id 10h) has Device Capabilities at +4 (bit 28 Function Level Reset Capability) and Device
//! Control at +8 (bit 15 Initiate Function Level Reset), and after initiating an FLR software
//! waits 100 ms before it touches the function again.
#![deny(clippy::arithmetic_side_effects)]

use crate::adapter::Adapter;
use common::ffi::imports::NdisMSleep;
use common::ffi::*;
use common::oid::OidError;

const PCI_STATUS: u32 = 0x06;
const PCI_STATUS_CAPABILITIES_LIST: u16 = 1 << 4;
const PCI_CAPABILITIES_POINTER: u32 = 0x34;
pub(crate) const PCI_CAP_ID_POWER_MANAGEMENT: u8 = 0x01;
const PCI_CAP_ID_EXPRESS: u8 = 0x10;
const PCIE_DEVICE_CAPABILITIES: u32 = 4;
const PCIE_DEVICE_CONTROL: u32 = 8;
const DEVCAP_FLR: u32 = 1 << 28;
const DEVCTL_INITIATE_FLR: u16 = 1 << 15;
const FLR_WAIT_US: u32 = 100_000;

impl Adapter {
    /// The offset of the VF's capability `id`, which must lie whole (`len` bytes) in the
    /// capability area 40h..FFh. At most 48 entries fit there, so a list that loops ends.
    pub(crate) fn vf_capability(&self, vf: u16, id: u8, len: u32) -> Result<u32, OidError> {
        let mut status = [0u8; 2];
        self.vf_bus_read(vf, PCI_STATUS, &mut status)?;
        if u16::from_le_bytes(status) & PCI_STATUS_CAPABILITIES_LIST != 0 {
            let mut next = [0u8; 1];
            self.vf_bus_read(vf, PCI_CAPABILITIES_POINTER, &mut next)?;
            let mut at = u32::from(next[0] & 0xFC);
            for _ in 0..48 {
                if at < 0x40 {
                    break;
                }
                let mut cap = [0u8; 2];
                self.vf_bus_read(vf, at, &mut cap)?;
                if cap[0] == id {
                    return match at.checked_add(len) {
                        Some(end) if end <= 0x100 => Ok(at),
                        _ => Err(OidError::status(
                            NDIS_STATUS_FAILURE,
                            "a VF capability runs past the capability area",
                        )),
                    };
                }
                at = u32::from(cap[1] & 0xFC);
            }
        }
        Err(OidError::status(
            NDIS_STATUS_FAILURE,
            "the VF lacks a capability this request needs",
        ))
    }

    /// A function-level reset of the VF: Initiate Function Level Reset in its PCI Express
    /// Device Control, then the 100 ms the function has to complete it (PASSIVE_LEVEL: the
    /// OID's). A VF without FLR capability cannot be reset: FAILURE.
    pub(crate) fn vf_function_level_reset(&self, vf: u16) -> Result<(), OidError> {
        let pcie = self.vf_capability(vf, PCI_CAP_ID_EXPRESS, 12)?;
        let mut devcap = [0u8; 4];
        self.vf_bus_read(
            vf,
            pcie.saturating_add(PCIE_DEVICE_CAPABILITIES),
            &mut devcap,
        )?;
        if u32::from_le_bytes(devcap) & DEVCAP_FLR == 0 {
            return Err(OidError::status(
                NDIS_STATUS_FAILURE,
                "the VF is not capable of a function-level reset",
            ));
        }
        let at = pcie.saturating_add(PCIE_DEVICE_CONTROL);
        let mut devctl = [0u8; 2];
        self.vf_bus_read(vf, at, &mut devctl)?;
        let v = u16::from_le_bytes(devctl) | DEVCTL_INITIATE_FLR;
        self.vf_bus_write(vf, at, &mut v.to_le_bytes())?;
        // SAFETY: PASSIVE_LEVEL (MiniportOidRequest), no lock held.
        unsafe { NdisMSleep(FLR_WAIT_US) };
        Ok(())
    }
}
