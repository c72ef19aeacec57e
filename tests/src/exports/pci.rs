//! What `ndis.sys` exports for PCI virtualization: the PF's access to its VFs' configuration
//! space and its probed BARs, and NdisMGetBusData (a guest VF's goes to the PF as
//! OID_SRIOV_READ_VF_CONFIG_SPACE).
#![allow(non_snake_case)]

use super::{adapter, irql_max, pf_only};
use crate::world::Role;
use common::ffi::*;
use common::ndis_fn;
use std::ffi::c_void;

/// The VF's function may be accessed now: not within the 100 ms after an FLR (PCI Express
/// Base) or the recovery time of a power transition (PCI PM 1.2), on the clock of what drivers
/// slept. An access within it is a violation and transfers nothing (the function would answer
/// a configuration request with Configuration Request Retry Status).
fn recovered(
    w: &crate::world::Machine,
    pci: &mut crate::pci::PciModel,
    vf: u16,
    what: &str,
) -> bool {
    pci.clock_us = w.slept_us();
    if pci.in_recovery(vf) {
        w.violation(format!(
            "{what}: VF {vf} accessed within its reset or power-transition recovery time"
        ));
        return false;
    }
    true
}

ndis_fn! {
    /// "NdisMGetVirtualFunctionBusData function" (DDI): bytes read from a VF's PCI
    /// configuration space, 0 on failure; `<= DISPATCH_LEVEL`; PF only. The page is silent on
    /// a VF that is not enabled or a range past the 4 KiB space: both read nothing (0).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMGetVirtualFunctionBusData(Handle: NDIS_HANDLE, VFId: u16, Buffer: *mut c_void, Offset: u32, Length: u32) -> u32 {
        let Some(a) = adapter(Handle, "NdisMGetVirtualFunctionBusData") else { return 0 };
        let w = a.world();
        if !irql_max(w, DISPATCH_LEVEL, "NdisMGetVirtualFunctionBusData") || !pf_only(a, "NdisMGetVirtualFunctionBusData") { return 0; }
        // A failed transfer: nothing read (the page names no failure but a short count).
        if w.fails("NdisMGetVirtualFunctionBusData") { return 0; }
        if Buffer.is_null() || w.virtualization().is_none_or(|n| VFId >= n) { return 0; }
        let mut pci = a.ext.pci();
        if !recovered(w, &mut pci, VFId, "NdisMGetVirtualFunctionBusData") { return 0; }
        // SAFETY: the PF passes a buffer of Length bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(Buffer.cast::<u8>(), Length as usize) };
        pci.read_vf(VFId, Offset, out)
    }

    /// "NdisMSetVirtualFunctionBusData function" (DDI): as the read, the other way.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSetVirtualFunctionBusData(Handle: NDIS_HANDLE, VFId: u16, Buffer: *mut c_void, Offset: u32, Length: u32) -> u32 {
        let Some(a) = adapter(Handle, "NdisMSetVirtualFunctionBusData") else { return 0 };
        let w = a.world();
        if !irql_max(w, DISPATCH_LEVEL, "NdisMSetVirtualFunctionBusData") || !pf_only(a, "NdisMSetVirtualFunctionBusData") { return 0; }
        // A failed transfer: nothing written (as the read).
        if w.fails("NdisMSetVirtualFunctionBusData") { return 0; }
        if Buffer.is_null() || w.virtualization().is_none_or(|n| VFId >= n) { return 0; }
        let mut pci = a.ext.pci();
        if !recovered(w, &mut pci, VFId, "NdisMSetVirtualFunctionBusData") { return 0; }
        // SAFETY: the PF passes Length bytes.
        let data = unsafe { std::slice::from_raw_parts(Buffer.cast::<u8>(), Length as usize) };
        pci.write_vf(VFId, Offset, data)
    }

    /// "NdisMGetBusData function" (DDI): the adapter's own configuration space
    /// (`PCI_WHICHSPACE_CONFIG` only; other spaces read nothing). The IRQL limit taken is
    /// DISPATCH_LEVEL, the stricter of the readings found.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMGetBusData(Handle: NDIS_HANDLE, WhichSpace: u32, Offset: u32, Buffer: *mut c_void, Length: u32) -> u32 {
        let Some(a) = adapter(Handle, "NdisMGetBusData") else { return 0 };
        let w = a.world();
        if !irql_max(w, DISPATCH_LEVEL, "NdisMGetBusData") || WhichSpace != 0 || Buffer.is_null() { return 0; }
        // A failed transfer: "the number of bytes read", here none.
        if w.fails("NdisMGetBusData") { return 0; }
        if let Role::Vf { vf_id } = a.role {
            // In a guest, "the virtualization stack ... issues the OID method request of
            // OID_SRIOV_READ_VF_CONFIG_SPACE when the VF miniport driver calls NdisMGetBusData"
            // (that OID's page). The call waits for the PF, so the VF must be able to wait:
            // the pages are silent on its IRQL there, PASSIVE_LEVEL is taken.
            if !irql_max(w, PASSIVE_LEVEL, "NdisMGetBusData (VF, served by the PF)") { return 0; }
            let Some(pf) = w.pf_adapter() else { return 0 };
            let mut b = crate::hyperv::config_space_params(vf_id, Offset, Length);
            let n = b.len() as u32;
            let o = w.call_oid(pf, common::oid::RequestKind::Method, OID_SRIOV_READ_VF_CONFIG_SPACE, &mut b, n, n);
            if o.status != NDIS_STATUS_SUCCESS { return 0; }
            // Only what the PF says it wrote reaches the guest (BytesWritten counts the
            // parameters and the data after BufferOffset): a short answer is a short read.
            let data_end = (o.bytes_written as usize).min(b.len());
            let got = data_end.saturating_sub(20).min(Length as usize);
            // SAFETY: the VF passes a buffer of Length bytes.
            let out = unsafe { std::slice::from_raw_parts_mut(Buffer.cast::<u8>(), Length as usize) };
            out[..got].copy_from_slice(&b[20..20 + got]);
            return got as u32;
        }
        // SAFETY: the driver passes a buffer of Length bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(Buffer.cast::<u8>(), Length as usize) };
        a.ext.pci().read_pf(Offset, out)
    }

    /// "NdisMQueryProbedBars function" (DDI): the PF's BAR values as the PCI driver probed
    /// them, `PCI_TYPE0_ADDRESSES` ULONGs; PASSIVE_LEVEL.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMQueryProbedBars(Handle: NDIS_HANDLE, Values: *mut u32) -> NDIS_STATUS {
        let Some(a) = adapter(Handle, "NdisMQueryProbedBars") else { return NDIS_STATUS_FAILURE };
        let w = a.world();
        if !irql_max(w, PASSIVE_LEVEL, "NdisMQueryProbedBars") || !pf_only(a, "NdisMQueryProbedBars") { return NDIS_STATUS_FAILURE; }
        // The page allows "an appropriate NDIS_STATUS_Xxx value" on failure: the generic one.
        if w.fails("NdisMQueryProbedBars") { return NDIS_STATUS_FAILURE; }
        if Values.is_null() { return NDIS_STATUS_INVALID_PARAMETER; }
        // SAFETY: the PF passes room for PCI_TYPE0_ADDRESSES ULONGs.
        unsafe { std::ptr::copy_nonoverlapping(crate::pci::PROBED_BARS.as_ptr(), Values, PCI_TYPE0_ADDRESSES) };
        NDIS_STATUS_SUCCESS
    }
}
