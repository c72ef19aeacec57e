//! The VF's PCI function as the PF reaches it through `NdisMGetVirtualFunctionBusData` /
//! `NdisMSetVirtualFunctionBusData`: its capability list, and the function-level reset of
//! OID_SRIOV_RESET_VF.
//!
//! PCI Local Bus: Status bit 4 "Capabilities List", the Capabilities Pointer at 34h, each
//! capability an (id, next) pair in 40h..FFh; PCI Express Base: the PCI Express capability
//! (id 10h) has Device Capabilities at +4 (bit 28 Function Level Reset Capability) and Device
//! Control at +8 (bit 15 Initiate Function Level Reset), Device Status at +0Ah (bit 5
//! Transactions Pending); software lets pending transactions drain before an FLR and waits
//! 100 ms after initiating it before it touches the function again (`deferred.rs`).
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
const PCIE_DEVICE_STATUS: u32 = 0x0A;
const DEVSTA_TRANSACTIONS_PENDING: u16 = 1 << 5;
const FLR_WAIT_US: u32 = 100_000;
/// Transactions Pending is polled 10 times 10 ms, then the reset goes ahead anyway.
const TP_POLLS: u32 = 10;
const TP_POLL_US: u32 = 10_000;

impl Adapter {
    /// The offset of the VF's capability `id`, which must lie whole (`len` bytes) in the
    /// capability area 40h..FFh; FAILURE when it is missing.
    pub(crate) fn vf_capability(&self, vf: u16, id: u8, len: u32) -> Result<u32, OidError> {
        self.vf_find_capability(vf, id, len)?
            .ok_or(OidError::status(
                NDIS_STATUS_FAILURE,
                "the VF lacks a capability this request needs",
            ))
    }

    /// As [`vf_capability`](Self::vf_capability), `None` when the list has no such
    /// capability. At most 48 entries fit in the area, so a list that loops ends.
    fn vf_find_capability(&self, vf: u16, id: u8, len: u32) -> Result<Option<u32>, OidError> {
        let mut status = [0u8; 2];
        self.vf_bus_read(vf, PCI_STATUS, &mut status)?;
        if u16::from_le_bytes(status) & PCI_STATUS_CAPABILITIES_LIST == 0 {
            return Ok(None);
        }
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
                    Some(end) if end <= 0x100 => Ok(Some(at)),
                    _ => Err(OidError::status(
                        NDIS_STATUS_FAILURE,
                        "a VF capability runs past the capability area",
                    )),
                };
            }
            at = u32::from(cap[1] & 0xFC);
        }
        Ok(None)
    }

    /// A configuration write the guest's bus driver sends (OID_SRIOV_WRITE_VF_CONFIG_SPACE)
    /// may not do what the PF does through its own OIDs, with their waits and bookkeeping:
    /// change the power state (PMCSR: OID_SRIOV_SET_VF_POWER_STATE) or initiate a
    /// function-level reset (Device Control bit 15: OID_SRIOV_RESET_VF).
    pub(crate) fn check_guest_config_write(
        &self,
        vf: u16,
        offset: u32,
        data: &[u8],
    ) -> Result<(), OidError> {
        let end = u32::try_from(data.len())
            .ok()
            .and_then(|n| offset.checked_add(n))
            .ok_or(OidError::invalid_parameter("Offset + Length"))?;
        if let Some(pm) =
            self.vf_find_capability(vf, PCI_CAP_ID_POWER_MANAGEMENT, crate::power::PM_CAP_LEN)?
        {
            let pmcsr = pm.saturating_add(crate::power::PMCSR);
            if offset < pmcsr.saturating_add(2) && pmcsr < end {
                return Err(OidError::invalid_parameter(
                    "PMCSR: power states go through OID_SRIOV_SET_VF_POWER_STATE",
                ));
            }
        }
        if let Some(pcie) = self.vf_find_capability(vf, PCI_CAP_ID_EXPRESS, 12)? {
            // Bit 15 of Device Control is bit 7 of its second byte.
            let flr_byte = pcie.saturating_add(PCIE_DEVICE_CONTROL).saturating_add(1);
            let written = flr_byte
                .checked_sub(offset)
                .and_then(|i| data.get(i as usize))
                .copied()
                .unwrap_or(0);
            if written & 0x80 != 0 {
                return Err(OidError::invalid_parameter(
                    "Initiate Function Level Reset: resets go through OID_SRIOV_RESET_VF",
                ));
            }
        }
        Ok(())
    }

    /// The VF's PCI Express capability, if it can take a function-level reset (Device
    /// Capabilities bit 28); FAILURE otherwise. Checked in MiniportOidRequest, before the
    /// request is deferred.
    pub(crate) fn vf_flr_capability(&self, vf: u16) -> Result<u32, OidError> {
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
        Ok(pcie)
    }

    /// The reset itself, from the work item (PASSIVE_LEVEL): wait a bounded time for
    /// Transactions Pending (Device Status bit 5) to clear, then Initiate Function Level
    /// Reset in Device Control, then the 100 ms the function has to complete it.
    pub(crate) fn vf_function_level_reset(&self, vf: u16, pcie: u32) -> Result<(), OidError> {
        let status_at = pcie.saturating_add(PCIE_DEVICE_STATUS);
        for _ in 0..TP_POLLS {
            let mut devsta = [0u8; 2];
            self.vf_bus_read(vf, status_at, &mut devsta)?;
            if u16::from_le_bytes(devsta) & DEVSTA_TRANSACTIONS_PENDING == 0 {
                break;
            }
            // SAFETY: PASSIVE_LEVEL (a work item), no lock held.
            unsafe { NdisMSleep(TP_POLL_US) };
        }
        let at = pcie.saturating_add(PCIE_DEVICE_CONTROL);
        let mut devctl = [0u8; 2];
        self.vf_bus_read(vf, at, &mut devctl)?;
        let v = u16::from_le_bytes(devctl) | DEVCTL_INITIATE_FLR;
        self.vf_bus_write(vf, at, &mut v.to_le_bytes())?;
        // SAFETY: PASSIVE_LEVEL (a work item), no lock held.
        unsafe { NdisMSleep(FLR_WAIT_US) };
        Ok(())
    }
}
