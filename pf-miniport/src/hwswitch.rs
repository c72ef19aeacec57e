//! The embedded switch in hardware (docs/reference-nic.md sections 7 and 8): the PF writes
//! its own tables (`vport.rs`: VPorts, receive filters, allocated VFs) into the NIC's VPort,
//! filter and VF-control entries, through [`SwitchHw`] only.
//!
//! One rule shapes every caller: the hardware step is part of the OID's transaction. The
//! handler validates, changes its tables, then calls [`Adapter::program`] with the entries the
//! change touched; that writes them under the adapter lock (so they are exactly the tables),
//! commits, and waits, with no lock held, for the device to forward by them
//! (`SW_COMMIT_ACK`, section 7). If the device does not (gone, or no acknowledgement within
//! the bound), the handler puts its tables back and calls [`Adapter::reprogram`] with the same
//! entries, so the registers are the old tables again, and fails the OID with the error's
//! status ([`HwError::status`]). After surprise removal no register is touched: the data
//! path hands out no NIC then, and `program` reports [`HwError::Gone`].
//!
//! Mapping (section 8's list, and the choices section 7 leaves to the driver):
//! - VPort p <-> entry p; enabled when the NDIS VPort exists and is activated (a PF's
//!   nondefault VPort starts deactivated: "Creating a Virtual Port"); RX queue 0 of the
//!   attached function (both drivers run queue pair 0 only); the default VPort is
//!   promiscuous (wire unicast no filter claims goes to the host); every VPort accepts
//!   broadcast and multicast of its VLANs; no port VLAN (a VLAN comes with a filter).
//! - Filter slot i of the driver's table <-> filter entry i (both have 512): MAC, VLAN test
//!   (`VLAN_UNTAGGED_OR_ZERO` is the entry without `VLAN_MATCH`), VPort.
//! - An allocated VF <-> its VF-control entry: `VF_MAC` its current address, `ENABLE` while
//!   its VPort exists, `VF_QP` that VPort's queue pairs (1 without one); a free VF's entry is
//!   at its reset values.
//!
//! Waiting uses `NdisMSleep`: callers run at PASSIVE_LEVEL (MiniportOidRequest, halt).
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::{Adapter, MAX_VFS, PfState};
use crate::vport::{MAX_FILTERS, MAX_VPORTS, SwitchState};
use common::ffi::imports::NdisMSleep;
use common::ffi::*;
use common::hw::{Attached, Filter, HwError, SwitchHw, VPortConfig, VfControl};
use common::ndis_log;

/// Host builds: ways of programming the switch wrongly, for the tests that show the
/// simulator's checks catch them (`Adapter::mutant_switch_programming`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchMutant {
    /// Every entry left as it was (the switch OIDs touch only the driver's tables).
    WritesNothing = 1,
    /// Entries written and committed, the acknowledgement never awaited.
    IgnoresTheDevice = 2,
}

/// One hardware entry, written from the driver's tables.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entry {
    VPort(u32),
    Filter(usize),
    Vf(u16),
}

/// Polling interval and bound while waiting for `SW_COMMIT_ACK`: the device acknowledges
/// within 1 ms (section 7); like a reset (section 9), ten times that is a dead device.
const COMMIT_POLL_US: u32 = 100;
const COMMIT_TIMEOUT_US: u32 = common::hw::regs::RESET_TIMEOUT_US;

/// A VF-control entry at its reset values (section 8).
const VF_RESET: VfControl = VfControl {
    enabled: false,
    link_forced_down: false,
    mac: [0; 6],
    queue_pairs: 1,
};

fn vport_config(sw: &SwitchState, p: u32) -> Option<VPortConfig> {
    let v = sw.vport(p)?;
    if v.state != NdisNicSwitchVPortStateActivated {
        return None;
    }
    Some(VPortConfig {
        function: if v.function == NDIS_PF_FUNCTION_ID {
            Attached::Pf
        } else {
            Attached::Vf(v.function)
        },
        rx_queue: 0,
        promiscuous: p == NDIS_DEFAULT_VPORT_ID,
        accept_broadcast: true,
        accept_multicast: true,
        port_vlan: None,
    })
}

fn filter_config(sw: &SwitchState, i: usize) -> Option<Filter> {
    let f = sw.filters.get(i).filter(|f| f.in_use)?;
    Some(Filter {
        mac: f.mac,
        vlan: f.has_vlan.then_some(f.vlan),
        vport: u16::try_from(f.vport).ok()?,
    })
}

fn vf_control(st: &PfState, vf: u16) -> VfControl {
    let allocated = st.vfs.get(vf as usize).is_some_and(|v| !v.0.is_null());
    if !allocated {
        return VF_RESET;
    }
    let vport = st.sw.vport_of_vf(vf).and_then(|p| st.sw.vport(p));
    VfControl {
        enabled: vport.is_some(),
        link_forced_down: false,
        mac: st.sw.vf_mac.get(vf as usize).copied().unwrap_or([0; 6]),
        queue_pairs: vport
            .and_then(|v| u8::try_from(v.queue_pairs).ok())
            .unwrap_or(1),
    }
}

/// Writes one entry as the tables in `st` say; true if it is a switch-table entry (which
/// takes effect at the next commit).
fn write_entry<H: SwitchHw>(nic: &H, st: &PfState, e: Entry) -> Result<bool, HwError> {
    match e {
        Entry::VPort(p) => {
            let n = u16::try_from(p).map_err(|_| HwError::InvalidArgument)?;
            nic.set_vport(n, vport_config(&st.sw, p).as_ref())?;
            Ok(true)
        }
        Entry::Filter(i) => {
            let n = u16::try_from(i).map_err(|_| HwError::InvalidArgument)?;
            nic.set_filter(n, filter_config(&st.sw, i).as_ref())?;
            Ok(true)
        }
        Entry::Vf(vf) => {
            nic.set_vf(vf, &vf_control(st, vf))?;
            Ok(false)
        }
    }
}

/// Waits (PASSIVE_LEVEL, no lock held) until the device forwards with the tables of `token`.
fn wait_commit<H: SwitchHw>(nic: &H, token: u32) -> Result<(), HwError> {
    let mut waited = 0u32;
    loop {
        if nic.committed(token) {
            return Ok(());
        }
        if !nic.present() {
            return Err(HwError::Gone);
        }
        if waited >= COMMIT_TIMEOUT_US {
            return Err(HwError::Timeout);
        }
        // SAFETY: PASSIVE_LEVEL (the callers' contract), no spin lock held.
        unsafe { NdisMSleep(COMMIT_POLL_US) };
        waited = waited.saturating_add(COMMIT_POLL_US);
    }
}

impl Adapter {
    /// Writes `entries` from the driver's tables under the lock, commits, and waits for the
    /// device (PASSIVE_LEVEL, no lock held by the caller).
    pub(crate) fn program(&self, entries: &[Entry]) -> Result<(), HwError> {
        #[cfg(feature = "mutants")]
        let mutant = self.switch_mutant();
        #[cfg(not(feature = "mutants"))]
        let mutant: Option<SwitchMutant> = None;
        if mutant == Some(SwitchMutant::WritesNothing) {
            return Ok(());
        }
        let nic = self.dp.nic().ok_or(HwError::Gone)?;
        let token = {
            let st = self.inner.lock();
            let mut tables = false;
            for e in entries {
                tables |= write_entry(nic, &st, *e)?;
            }
            tables.then(|| nic.commit())
        };
        let r = match token {
            Some(_) if mutant == Some(SwitchMutant::IgnoresTheDevice) => Ok(()),
            Some(t) => wait_commit(nic, t),
            None => Ok(()),
        };
        if let Err(e) = r {
            ndis_log!(ERROR, LOG, "switch: the device refused a commit ({:?})", e);
        }
        r
    }

    /// After a failed [`program`](Self::program) and the tables put back: the same entries
    /// written again and committed, without waiting (the device did not answer last time).
    pub(crate) fn reprogram(&self, entries: &[Entry]) {
        let Some(nic) = self.dp.nic() else { return };
        let st = self.inner.lock();
        let mut tables = false;
        for e in entries {
            tables |= write_entry(nic, &st, *e).unwrap_or(true);
        }
        if tables {
            nic.commit();
        }
    }

    /// OID_NIC_SWITCH_CREATE_SWITCH's hardware step: the default VPort (entry 0) in force,
    /// then forwarding by the tables (`SW_CTRL.ENABLE`, leaving bypass).
    pub(crate) fn program_switch_on(&self) -> Result<(), HwError> {
        self.program(&[Entry::VPort(NDIS_DEFAULT_VPORT_ID)])?;
        let nic = self.dp.nic().ok_or(HwError::Gone)?;
        nic.set_switch(true);
        Ok(())
    }

    /// The switch as section 9 gives it after reset (deleting the switch, halting): bypass,
    /// every VPort and filter entry 0, every VF-control entry at its reset values; committed
    /// and waited for.
    pub(crate) fn program_switch_off(&self) -> Result<(), HwError> {
        let nic = self.dp.nic().ok_or(HwError::Gone)?;
        let token = {
            let _st = self.inner.lock();
            nic.set_switch(false);
            for p in 0..MAX_VPORTS {
                nic.set_vport(p as u16, None)?;
            }
            for f in 0..MAX_FILTERS {
                nic.set_filter(f as u16, None)?;
            }
            for vf in 0..MAX_VFS {
                nic.set_vf(vf as u16, &VF_RESET)?;
            }
            nic.commit()
        };
        wait_commit(nic, token)
    }

    /// Halt's first step: the switch in bypass (`SW_CTRL` 0), one register write, no wait; the
    /// function reset that follows clears the tables (section 9).
    pub(crate) fn switch_bypass(&self) {
        if let Some(nic) = self.dp.nic() {
            nic.set_switch(false);
        }
    }

    /// After a failed [`program_switch_off`](Self::program_switch_off): every entry from the
    /// tables again and the switch forwarding, as before the attempt.
    pub(crate) fn reprogram_switch_on(&self) {
        let Some(nic) = self.dp.nic() else { return };
        {
            let st = self.inner.lock();
            for p in 0..MAX_VPORTS {
                let _ = write_entry(nic, &st, Entry::VPort(p as u32));
            }
            for f in 0..MAX_FILTERS {
                let _ = write_entry(nic, &st, Entry::Filter(f));
            }
            for vf in 0..MAX_VFS {
                let _ = write_entry(nic, &st, Entry::Vf(vf as u16));
            }
            nic.commit();
        }
        nic.set_switch(true);
    }
}

impl Adapter {
    /// OID_SRIOV_RESET_VF's step in the VF's control entry: `VF_CTRL.RESET`, waited for.
    pub(crate) fn reset_vf_hw(&self, vf: u16) -> Result<(), HwError> {
        let nic = self.dp.nic().ok_or(HwError::Gone)?;
        // SAFETY: PASSIVE_LEVEL (MiniportOidRequest), no spin lock held.
        nic.reset_vf(vf, &mut |us| unsafe { NdisMSleep(us) })
    }

    /// Records a VF's current MAC and writes its control entry (no commit: section 8's
    /// entries act at once). Returns the MAC it had.
    pub(crate) fn program_vf_mac(&self, vf: u16, mac: [u8; 6]) -> [u8; 6] {
        let old = self
            .inner
            .lock()
            .sw
            .vf_mac
            .get_mut(vf as usize)
            .map_or(mac, |m| core::mem::replace(m, mac));
        if let Err(e) = self.program(&[Entry::Vf(vf)]) {
            ndis_log!(WARN, LOG, "VF {}: control entry not written ({:?})", vf, e);
        }
        old
    }
}
