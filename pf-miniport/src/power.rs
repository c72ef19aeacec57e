//! OID_SRIOV_SET_VF_POWER_STATE (set): the PF puts one VF's PCI function in the requested
//! device power state. The OID's page has the PF "set the VF to the specified power state";
//! a function's state lives in the PowerState field of its Power Management Control/Status
//! register (PMCSR) in the PCI Power Management capability (PCI Bus Power Management
//! Interface specification 1.2: capability id 01h, PMCSR at +4, bits 1:0 = D0..D3hot,
//! bit 8 PME_En, bit 15 PME_Status write-one-to-clear). The PF finds that capability by
//! walking the VF's capability list through `NdisMGetVirtualFunctionBusData` and writes PMCSR
//! through `NdisMSetVirtualFunctionBusData`; the VF of the reference NIC has one
//! (docs/reference-nic.md, section 1). A VF without it cannot change state: FAILURE, and
//! nothing changes.
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::Adapter;
use crate::params::*;
use common::ffi::*;
use common::ndis_log;
use common::oid::{OidError, OidRequest, RequestKind};
use core::mem::offset_of;

/// Type-0 header: Status bit 4 "Capabilities List", the Capabilities Pointer at 34h; a
/// standard capability is (id, next) bytes; pointers below 40h end the list (PCI Local Bus).
const PCI_STATUS: u32 = 0x06;
const PCI_STATUS_CAPABILITIES_LIST: u16 = 1 << 4;
const PCI_CAPABILITIES_POINTER: u32 = 0x34;
const PCI_CAP_ID_POWER_MANAGEMENT: u8 = 0x01;
const PMCSR: u32 = 4;
const PMCSR_POWER_STATE: u16 = 0b11;
const PMCSR_PME_EN: u16 = 1 << 8;
const PMCSR_PME_STATUS: u16 = 1 << 15;

type Power = NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS;

impl Adapter {
    /// The offset of the VF's PCI Power Management capability (at most 48 entries fit in
    /// the 192 bytes after the header; a loop ends the walk).
    fn vf_pm_capability(&self, vf: u16) -> Result<u32, OidError> {
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
                if cap[0] == PCI_CAP_ID_POWER_MANAGEMENT {
                    return Ok(at);
                }
                at = u32::from(cap[1] & 0xFC);
            }
        }
        Err(OidError::status(
            NDIS_STATUS_FAILURE,
            "the VF has no PCI Power Management capability",
        ))
    }

    /// OID_SRIOV_SET_VF_POWER_STATE (set): D0..=D3, `WakeEnable` a BOOLEAN.
    #[inline(never)]
    pub(crate) fn set_vf_power_state(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_SET_VF_POWER_STATE";
        let size = NDIS_SIZEOF_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1;
        let r = (|| {
            require_kind(req, RequestKind::Set)?;
            let input = req.input();
            check_header(
                input,
                NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1,
                size,
            )?;
            let vf = le16(input, offset_of!(Power, VFId));
            let state = le32(input, offset_of!(Power, PowerState));
            let [wake] = le::<1>(input, offset_of!(Power, WakeEnable));
            // NDIS_DEVICE_POWER_STATE: D0 = 1 .. D3 = 4; PMCSR encodes D0 = 0 .. D3hot = 3.
            let pm_state = match state.checked_sub(NdisDeviceStateD0) {
                Some(d) if state <= NdisDeviceStateD3 => d as u16,
                _ => return Err(OidError::invalid_parameter("PowerState outside D0..=D3")),
            };
            if wake > 1 {
                return Err(OidError::invalid_parameter("WakeEnable is not a BOOLEAN"));
            }
            self.require_vf(vf)?;
            let pmcsr_at = self.vf_pm_capability(vf)?.saturating_add(PMCSR);
            let mut pmcsr = [0u8; 2];
            self.vf_bus_read(vf, pmcsr_at, &mut pmcsr)?;
            let mut v = u16::from_le_bytes(pmcsr) & !(PMCSR_POWER_STATE | PMCSR_PME_EN);
            // PME_Status is write-one-to-clear: written as 0, it is left as it is.
            v &= !PMCSR_PME_STATUS;
            v |= pm_state;
            if wake == 1 {
                v |= PMCSR_PME_EN;
            }
            self.vf_bus_write(vf, pmcsr_at, &mut v.to_le_bytes())?;
            // OIDs are serialized: the VF is still the one checked above.
            let mut st = self.inner.lock();
            let slot = st
                .sw
                .power
                .get_mut(vf as usize)
                .ok_or(OidError::invalid_parameter("VFId"))?;
            slot.state = state;
            slot.wake = wake == 1;
            Ok((vf, state))
        })();
        match r {
            Ok((vf, state)) => {
                req.set_bytes_read(size as u32);
                ndis_log!(
                    INFO,
                    LOG,
                    "VF {} power state D{}",
                    vf,
                    state.saturating_sub(1)
                );
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }
}
