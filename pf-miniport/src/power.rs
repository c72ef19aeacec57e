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
use common::oid::{OidError, OidRequest, RequestKind};
use core::mem::offset_of;

/// The PM capability is 8 bytes: id, next, PMC (+2), PMCSR (+4), bridge and data.
pub(crate) const PM_CAP_LEN: u32 = 8;
const PMC: u32 = 2;
const PMC_D1_SUPPORT: u16 = 1 << 9;
const PMC_D2_SUPPORT: u16 = 1 << 10;
/// PME_Support, bits 15:11: one bit per state D0, D1, D2, D3hot, D3cold.
const PMC_PME_SUPPORT_SHIFT: u16 = 11;
pub(crate) const PMCSR: u32 = 4;
const PMCSR_POWER_STATE: u16 = 0b11;
const PMCSR_PME_EN: u16 = 1 << 8;
const PMCSR_PME_STATUS: u16 = 1 << 15;

type Power = NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS;

impl Adapter {
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
            // pcivirt's SRIOV_SET_POWER_STATE (the same operation): Wake "must be FALSE if
            // PowerState is PowerDeviceD0"; the structure's page arms wake "as it goes into
            // the low-power state".
            if wake == 1 && pm_state == 0 {
                return Err(OidError::invalid_parameter("WakeEnable with D0"));
            }
            self.require_vf(vf)?;
            let cap = self.vf_capability(
                vf,
                crate::vf_function::PCI_CAP_ID_POWER_MANAGEMENT,
                PM_CAP_LEN,
            )?;
            let mut pmc = [0u8; 2];
            self.vf_bus_read(vf, cap.saturating_add(PMC), &mut pmc)?;
            let pmc = u16::from_le_bytes(pmc);
            // A state the function does not support would be discarded by it (PCI PM 1.2),
            // and a wake it cannot signal from that state would never come: refused.
            let supported = match pm_state {
                1 => pmc & PMC_D1_SUPPORT != 0,
                2 => pmc & PMC_D2_SUPPORT != 0,
                _ => true,
            };
            if !supported {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "the VF does not support that power state",
                ));
            }
            if wake == 1 && (pmc >> PMC_PME_SUPPORT_SHIFT) & (1 << pm_state) == 0 {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "the VF cannot signal PME from that power state",
                ));
            }
            let pmcsr_at = cap.saturating_add(PMCSR);
            let mut pmcsr = [0u8; 2];
            self.vf_bus_read(vf, pmcsr_at, &mut pmcsr)?;
            let pmcsr = u16::from_le_bytes(pmcsr);
            let from = pmcsr & PMCSR_POWER_STATE;
            // PCI PM 1.2's state machine: D3hot goes only to D0, D2 never to D1.
            if (from == 3 && !matches!(pm_state, 0 | 3)) || (from == 2 && pm_state == 1) {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "the PCI power state machine has no such transition",
                ));
            }
            let mut v = pmcsr & !(PMCSR_POWER_STATE | PMCSR_PME_EN);
            // PME_Status is write-one-to-clear: arming wake clears a stale one (else PME#
            // would assert at once); otherwise it is written 0 and left as it is.
            v &= !PMCSR_PME_STATUS;
            v |= pm_state;
            if wake == 1 {
                v |= PMCSR_PME_EN | PMCSR_PME_STATUS;
            }
            // Recovery time before the function is touched again (PCI PM 1.2, table of
            // transition delays): 10 ms to or from D3hot, 200 us to or from D2.
            let wait_us = if from == pm_state {
                0
            } else if from == 3 || pm_state == 3 {
                10_000
            } else if from == 2 || pm_state == 2 {
                200
            } else {
                0
            };
            Ok(crate::deferred::Deferred {
                op: crate::deferred::Op::Power,
                vf,
                cap: pmcsr_at,
                pmcsr: v,
                state,
                wake: wake == 1,
                wait_us,
                bytes_read: size as u32,
                ..Default::default()
            })
        })();
        match r {
            // The write and its recovery time finish in the work item (`deferred.rs`).
            Ok(d) => self.defer(req, d),
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }
}

impl Adapter {
    /// Records the state a VF's function took (after its PMCSR read back as written).
    pub(crate) fn record_vf_power(&self, vf: u16, state: u32, wake: bool) -> Result<(), OidError> {
        let mut st = self.inner.lock();
        st.allocated_vf(vf)?;
        let slot = st
            .sw
            .power
            .get_mut(vf as usize)
            .ok_or(OidError::invalid_parameter("VFId"))?;
        slot.state = state;
        slot.wake = wake;
        Ok(())
    }
}
