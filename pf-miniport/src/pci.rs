//! PCI virtualization through the PF: the OIDs the virtualization stack sends when the guest's
//! VPCI bus driver and VF miniport touch the VF's PCI function, which only the PF may reach.
//!
//! - OID_SRIOV_READ_VF_CONFIG_SPACE (method) / OID_SRIOV_WRITE_VF_CONFIG_SPACE (set):
//!   `NdisMGetVirtualFunctionBusData` / `NdisMSetVirtualFunctionBusData`.
//! - OID_SRIOV_PROBED_BARS (query): `NdisMQueryProbedBars`.
//! - OID_SRIOV_VF_VENDOR_DEVICE_ID (method): the PF's vendor id and the VF Device ID of the
//!   PF's SR-IOV extended capability (a VF's own Vendor/Device ID registers read FFFFh:
//!   PCI-SIG "Single Root I/O Virtualization and Sharing" 1.1, VF configuration space).
//! - OID_SRIOV_SET_VF_POWER_STATE (set): `power.rs`.
//! - OID_SRIOV_BAR_RESOURCES (method, as its page says): a `CmResourceTypeMemory`
//!   `CM_PARTIAL_RESOURCE_DESCRIPTOR` for the VF's BAR: VF BAR 0 of the PF's SR-IOV
//!   capability plus VFId times the VF BAR size (the same specification).
//!
//! Every page requires the VF to be allocated (OID_NIC_SWITCH_ALLOCATE_VF) and lists
//! NOT_SUPPORTED / INVALID_PARAMETER / INVALID_LENGTH (with BytesNeeded) / FAILURE. The bus-data
//! calls run with no lock held (they are `<= DISPATCH_LEVEL`; MiniportOidRequest is PASSIVE).
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::Adapter;
use crate::params::*;
use common::ffi::imports::*;
use common::ffi::*;
use common::ndis_log;
use common::oid::{OidError, OidRequest, RequestKind};
use core::mem::offset_of;

/// The reference NIC's VF BAR 0: a 64-bit memory BAR (BARs 0 and 1 of the type-0 header); the
/// VF implements no other BAR. A fact of the hardware, as an IHV knows its own.
pub const VF_BAR0_LEN: u32 = common::hw::regs::VF_BAR0_LEN;
/// The PCIe extended capability list starts at 0x100; the SR-IOV capability has id 0x0010,
/// its VF Device ID at +0x1A and VF BAR 0 at +0x24 (PCIe Base / SR-IOV 1.1 specifications).
const PCI_EXT_CAP_START: u32 = 0x100;
const PCI_EXT_CAP_ID_SRIOV: u32 = 0x0010;
const SRIOV_CAP_LEN: usize = 0x40;
const SRIOV_VF_DEVICE_ID: usize = 0x1A;
const SRIOV_VF_BAR0: usize = 0x24;
/// `PCI_WHICHSPACE_CONFIG` (mingw-w64 `ddk/wdm.h` l.6949).
const PCI_WHICHSPACE_CONFIG: u32 = 0;

type Space = NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS;

/// The members of a config-space request, checked against each other and the buffer.
struct SpaceAccess {
    vf: u16,
    offset: u32,
    length: u32,
    data_at: usize,
    end: u32,
}

/// `room`: bytes the buffer can hold (the output for a read, the input for a write).
fn parse_space(input: &[u8], room: usize) -> Result<SpaceAccess, OidError> {
    let header = NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1;
    check_header(
        input,
        NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1,
        header,
    )?;
    let vf = le16(input, offset_of!(Space, VFId));
    let offset = le32(input, offset_of!(Space, Offset));
    let length = le32(input, offset_of!(Space, Length));
    let buffer_offset = le32(input, offset_of!(Space, BufferOffset));
    if length == 0 {
        return Err(OidError::invalid_parameter("Length is 0"));
    }
    match offset.checked_add(length) {
        Some(end) if end <= PCI_EXTENDED_CONFIG_LENGTH => {}
        _ => {
            return Err(OidError::invalid_parameter(
                "Offset + Length past the 4 KiB configuration space",
            ));
        }
    }
    if buffer_offset < header as u32 {
        return Err(OidError::invalid_parameter(
            "BufferOffset overlaps the parameters",
        ));
    }
    let end = buffer_offset
        .checked_add(length)
        .ok_or(OidError::invalid_parameter(
            "BufferOffset + Length overflows",
        ))?;
    if end as usize > room {
        return Err(OidError::invalid_length(
            end,
            "BufferOffset + Length past the information buffer",
        ));
    }
    Ok(SpaceAccess {
        vf,
        offset,
        length,
        data_at: buffer_offset as usize,
        end,
    })
}

impl Adapter {
    /// The VF must be allocated (and SR-IOV on, with a switch): the pages' first rule.
    pub(crate) fn require_vf(&self, vf: u16) -> Result<(), OidError> {
        self.inner.lock().allocated_vf(vf).map(|_| ())
    }

    /// Reads `out.len()` bytes of a VF's config space at `offset`; FAILURE when short.
    pub(crate) fn vf_bus_read(&self, vf: u16, offset: u32, out: &mut [u8]) -> Result<(), OidError> {
        let len = u32::try_from(out.len()).map_err(|_| OidError::invalid_parameter("Length"))?;
        // SAFETY: valid adapter handle; `out` is writable for `len` bytes for the call.
        let n = unsafe {
            NdisMGetVirtualFunctionBusData(self.handle, vf, out.as_mut_ptr().cast(), offset, len)
        };
        if n == len {
            Ok(())
        } else {
            Err(OidError::status(
                NDIS_STATUS_FAILURE,
                "NdisMGetVirtualFunctionBusData transferred too little",
            ))
        }
    }

    /// Writes `data` to a VF's config space at `offset`; FAILURE when short.
    pub(crate) fn vf_bus_write(
        &self,
        vf: u16,
        offset: u32,
        data: &mut [u8],
    ) -> Result<(), OidError> {
        let len = u32::try_from(data.len()).map_err(|_| OidError::invalid_parameter("Length"))?;
        // SAFETY: valid adapter handle; `data` holds `len` bytes for the call (NDIS only reads
        // them, the prototype is not const).
        let n = unsafe {
            NdisMSetVirtualFunctionBusData(self.handle, vf, data.as_mut_ptr().cast(), offset, len)
        };
        if n == len {
            Ok(())
        } else {
            Err(OidError::status(
                NDIS_STATUS_FAILURE,
                "NdisMSetVirtualFunctionBusData transferred too little",
            ))
        }
    }

    /// Reads `out.len()` bytes of the PF's own config space; FAILURE when short.
    fn pf_bus_read(&self, offset: u32, out: &mut [u8]) -> Result<(), OidError> {
        let len = u32::try_from(out.len()).map_err(|_| OidError::invalid_parameter("Length"))?;
        // SAFETY: valid adapter handle; `out` is writable for `len` bytes for the call.
        let n = unsafe {
            NdisMGetBusData(
                self.handle,
                PCI_WHICHSPACE_CONFIG,
                offset,
                out.as_mut_ptr().cast(),
                len,
            )
        };
        if n == len {
            Ok(())
        } else {
            Err(OidError::status(
                NDIS_STATUS_FAILURE,
                "NdisMGetBusData transferred too little",
            ))
        }
    }

    /// The PF's SR-IOV extended capability, found by walking the extended capability list
    /// (at most 48 entries fit in 4 KiB; a loop or a pointer below 0x100 ends the walk).
    fn sriov_capability(&self) -> Result<[u8; SRIOV_CAP_LEN], OidError> {
        let mut at = PCI_EXT_CAP_START;
        for _ in 0..48 {
            let mut h = [0u8; 4];
            self.pf_bus_read(at, &mut h)?;
            let h = u32::from_le_bytes(h);
            if h & 0xFFFF == PCI_EXT_CAP_ID_SRIOV {
                let mut cap = [0u8; SRIOV_CAP_LEN];
                self.pf_bus_read(at, &mut cap)?;
                return Ok(cap);
            }
            let next = (h >> 20) & 0xFFC;
            if next < PCI_EXT_CAP_START {
                break;
            }
            at = next;
        }
        Err(OidError::status(
            NDIS_STATUS_FAILURE,
            "the PF has no SR-IOV extended capability",
        ))
    }

    /// OID_SRIOV_READ_VF_CONFIG_SPACE (method).
    #[inline(never)]
    pub(crate) fn read_vf_config_space(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_READ_VF_CONFIG_SPACE";
        let r = (|| {
            require_kind(req, RequestKind::Method)?;
            let capacity = req.capacity();
            let a = parse_space(req.input(), capacity)?;
            self.require_vf(a.vf)?;
            let end = a.end as usize;
            let out = req
                .buffer()
                .get_mut(a.data_at..end)
                .ok_or(OidError::invalid_length(a.end, "data area"))?;
            self.vf_bus_read(a.vf, a.offset, out)?;
            Ok(a)
        })();
        match r {
            Ok(a) => {
                req.set_bytes_read(
                    NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1 as u32,
                );
                req.set_bytes_written(a.end);
                ndis_log!(
                    TRACE,
                    LOG,
                    "VF {} config read {:#x}+{}",
                    a.vf,
                    a.offset,
                    a.length
                );
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// OID_SRIOV_WRITE_VF_CONFIG_SPACE (set).
    #[inline(never)]
    pub(crate) fn write_vf_config_space(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_WRITE_VF_CONFIG_SPACE";
        let r = (|| {
            require_kind(req, RequestKind::Set)?;
            let input = req.input();
            let a = parse_space(input, input.len())?;
            self.require_vf(a.vf)?;
            let end = a.end as usize;
            let data = req
                .buffer()
                .get_mut(a.data_at..end)
                .ok_or(OidError::invalid_length(a.end, "data area"))?;
            self.check_guest_config_write(a.vf, a.offset, data)?;
            self.vf_bus_write(a.vf, a.offset, data)?;
            Ok(a)
        })();
        match r {
            Ok(a) => {
                req.set_bytes_read(a.end);
                ndis_log!(
                    TRACE,
                    LOG,
                    "VF {} config write {:#x}+{}",
                    a.vf,
                    a.offset,
                    a.length
                );
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// OID_SRIOV_PROBED_BARS (query): NDIS_SRIOV_PROBED_BARS_INFO, then the PF's
    /// `PCI_TYPE0_ADDRESSES` probed BAR values at `BaseRegisterValuesOffset`. A query's
    /// buffer carries the structure in as well as the values out.
    #[inline(never)]
    pub(crate) fn probed_bars(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_PROBED_BARS";
        const VALUES: u32 = (PCI_TYPE0_ADDRESSES * 4) as u32;
        let r = (|| {
            require_kind(req, RequestKind::Query)?;
            let header = NDIS_SIZEOF_SRIOV_PROBED_BARS_INFO_REVISION_1;
            let least = (header as u32).saturating_add(VALUES);
            let capacity = req.capacity();
            if capacity < least as usize {
                return Err(OidError::invalid_length(
                    least,
                    "shorter than the info and PCI_TYPE0_ADDRESSES ULONGs",
                ));
            }
            let buf = req.buffer();
            let info = buf.get(..capacity).unwrap_or(&[]);
            check_header(info, NDIS_SRIOV_PROBED_BARS_INFO_REVISION_1, header)?;
            let at = le32(
                info,
                offset_of!(NDIS_SRIOV_PROBED_BARS_INFO, BaseRegisterValuesOffset),
            );
            if at < header as u32 {
                return Err(OidError::invalid_parameter(
                    "BaseRegisterValuesOffset overlaps the info",
                ));
            }
            let end = at.checked_add(VALUES).ok_or(OidError::invalid_parameter(
                "BaseRegisterValuesOffset overflows",
            ))?;
            if end as usize > capacity {
                return Err(OidError::invalid_length(end, "BAR values past the buffer"));
            }
            if !self.inner.lock().sriov_enabled {
                return Err(OidError::status(
                    NDIS_STATUS_NOT_SUPPORTED,
                    "SR-IOV not enabled (keywords)",
                ));
            }
            let mut bars = [0u32; PCI_TYPE0_ADDRESSES];
            // SAFETY: valid adapter handle; `bars` holds the PCI_TYPE0_ADDRESSES ULONGs the
            // function writes. PASSIVE_LEVEL, no lock held.
            let status = unsafe { NdisMQueryProbedBars(self.handle, bars.as_mut_ptr()) };
            if status != NDIS_STATUS_SUCCESS {
                return Err(OidError::status(status, "NdisMQueryProbedBars failed"));
            }
            let mut pos = at as usize;
            for bar in bars {
                put(buf, pos, &bar.to_le_bytes());
                pos = pos.saturating_add(4);
            }
            Ok(end)
        })();
        match r {
            Ok(end) => {
                req.set_bytes_written(end);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// OID_SRIOV_VF_VENDOR_DEVICE_ID (method).
    #[inline(never)]
    pub(crate) fn vf_vendor_device_id(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_VF_VENDOR_DEVICE_ID";
        type Info = NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO;
        let size = NDIS_SIZEOF_SRIOV_VF_VENDOR_DEVICE_ID_INFO_REVISION_1;
        let r = (|| {
            require_kind(req, RequestKind::Method)?;
            let input = req.input();
            check_header(input, NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO_REVISION_1, size)?;
            let vf = le16(input, offset_of!(Info, VFId));
            require_output(req, size as u32)?;
            self.require_vf(vf)?;
            let mut ids = [0u8; 4];
            self.pf_bus_read(0, ids.get_mut(..2).unwrap_or(&mut []))?;
            let cap = self.sriov_capability()?;
            put(&mut ids, 2, &le::<2>(&cap, SRIOV_VF_DEVICE_ID));
            let buf = req.buffer();
            put(buf, offset_of!(Info, VendorId), le::<2>(&ids, 0).as_slice());
            put(buf, offset_of!(Info, DeviceId), le::<2>(&ids, 2).as_slice());
            Ok((vf, ids))
        })();
        match r {
            Ok((vf, ids)) => {
                req.set_bytes_read(size as u32);
                req.set_bytes_written(size as u32);
                ndis_log!(
                    TRACE,
                    LOG,
                    "VF {} ids {:#06x}:{:#06x}",
                    vf,
                    le16(&ids, 0),
                    le16(&ids, 2)
                );
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }

    /// OID_SRIOV_BAR_RESOURCES (method): the VF's BAR 0 as a memory descriptor: VF BAR 0 of
    /// the PF's SR-IOV capability plus VFId times the VF BAR size (the hardware's). The OID's
    /// page does not say where the PF takes the address from; a BAR the VF does not
    /// implement, or one that is unassigned, is refused.
    #[inline(never)]
    pub(crate) fn bar_resources(&self, req: &mut OidRequest<'_>) -> NDIS_STATUS {
        const WHAT: &str = "SRIOV_BAR_RESOURCES";
        type Info = NDIS_SRIOV_BAR_RESOURCES_INFO;
        let size = NDIS_SIZEOF_SRIOV_BAR_RESOURCES_INFO_REVISION_1;
        let descriptor = core::mem::size_of::<CM_PARTIAL_RESOURCE_DESCRIPTOR>() as u32;
        let r = (|| {
            require_kind(req, RequestKind::Method)?;
            let input = req.input();
            check_header(input, NDIS_SRIOV_BAR_RESOURCES_INFO_REVISION_1, size)?;
            let vf = le16(input, offset_of!(Info, VFId));
            let index = le16(input, offset_of!(Info, BarIndex));
            let at = le32(input, offset_of!(Info, BarResourcesOffset));
            let least = (size as u32).saturating_add(descriptor);
            if req.capacity() < least as usize {
                return Err(OidError::invalid_length(
                    least,
                    "shorter than the info and a CM_PARTIAL_RESOURCE_DESCRIPTOR",
                ));
            }
            if at < size as u32 {
                return Err(OidError::invalid_parameter(
                    "BarResourcesOffset overlaps the info",
                ));
            }
            let end = at
                .checked_add(descriptor)
                .ok_or(OidError::invalid_parameter("BarResourcesOffset overflows"))?;
            if end as usize > req.capacity() {
                return Err(OidError::invalid_length(end, "descriptor past the buffer"));
            }
            if index as usize >= PCI_TYPE0_ADDRESSES {
                return Err(OidError::invalid_parameter(
                    "BarIndex beyond PCI_TYPE0_ADDRESSES",
                ));
            }
            if index != 0 {
                return Err(OidError::invalid_parameter(
                    "BarIndex: the VF implements BAR 0 (64-bit) only",
                ));
            }
            self.require_vf(vf)?;
            let cap = self.sriov_capability()?;
            let low = le32(&cap, SRIOV_VF_BAR0);
            let high = le32(&cap, SRIOV_VF_BAR0.saturating_add(4));
            // Bit 0: I/O space; bits 2:1 = 10b: 64-bit memory BAR (PCI Local Bus Spec).
            if low & 1 != 0 || (low >> 1) & 3 != 2 {
                return Err(OidError::status(
                    NDIS_STATUS_FAILURE,
                    "VF BAR 0 is not a 64-bit memory BAR",
                ));
            }
            let base = (u64::from(high) << 32) | u64::from(low & !0xF);
            if base == 0 {
                return Err(OidError::status(NDIS_STATUS_FAILURE, "VF BAR 0 unassigned"));
            }
            let start = u64::from(vf)
                .checked_mul(u64::from(VF_BAR0_LEN))
                .and_then(|o| o.checked_add(base))
                .ok_or(OidError::status(NDIS_STATUS_FAILURE, "VF BAR 0 overflows"))?;
            // Bit 3 of the BAR: prefetchable, which the descriptor's Flags carry.
            let flags = CM_RESOURCE_MEMORY_READ_WRITE
                | if low & 0x8 != 0 {
                    CM_RESOURCE_MEMORY_PREFETCHABLE
                } else {
                    0
                };
            let mut d = [0u8; 20];
            put(
                &mut d,
                0,
                &[CmResourceTypeMemory, CmResourceShareDeviceExclusive],
            );
            put(&mut d, 2, &flags.to_le_bytes());
            put(&mut d, 4, &start.to_le_bytes());
            put(&mut d, 12, &VF_BAR0_LEN.to_le_bytes());
            put(req.buffer(), at as usize, &d);
            Ok((vf, start, end))
        })();
        match r {
            Ok((vf, start, end)) => {
                req.set_bytes_read(size as u32);
                req.set_bytes_written(end);
                ndis_log!(TRACE, LOG, "VF {} BAR 0 at {:#x}", vf, start);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, WHAT, e),
        }
    }
}
