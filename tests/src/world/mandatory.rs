//! What NDIS asks of every NDIS 6 miniport, checked the way NDIS would ask it.
//!
//! "OID_GEN_STATISTICS": mandatory for NDIS 6.0 and later miniport drivers; a query answered
//! with an NDIS_STATISTICS_INFO whose header is NDIS_OBJECT_TYPE_DEFAULT, revision
//! NDIS_STATISTICS_INFO_REVISION_1, size NDIS_SIZEOF_STATISTICS_INFO_REVISION_1; "NDIS 6.0 and
//! later drivers must support all statistics" (SupportedStatistics).
use super::{Machine, SimAdapter, lock};
use common::ffi::*;
use common::oid::RequestKind;

/// Every NDIS_STATISTICS_FLAGS_VALID_* flag ("OID_GEN_STATISTICS", SupportedStatistics).
pub const ALL_STATISTICS: u32 = 0x0000_87FF | 0x003F_0000;

impl Machine {
    /// OID_GEN_STATISTICS as NDIS queries it; an error names the OID and what is wrong.
    pub fn query_statistics(&self, adapter: &SimAdapter) -> Result<NDIS_STATISTICS_INFO, String> {
        let (listed, declared) = lock(&adapter.general).as_ref().map_or((false, 0), |g| {
            (
                g.supported_oids.contains(&OID_GEN_STATISTICS),
                g.supported_statistics,
            )
        });
        if !listed {
            return Err(format!(
                "{}: OID_GEN_STATISTICS missing from the supported OID list",
                adapter.name
            ));
        }
        let size = std::mem::size_of::<NDIS_STATISTICS_INFO>();
        let mut buf = vec![0u8; size];
        let o = self.call_oid(
            adapter,
            RequestKind::Query,
            OID_GEN_STATISTICS,
            &mut buf,
            0,
            size as u32,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(format!(
                "{}: OID_GEN_STATISTICS -> {}",
                adapter.name,
                crate::timeline::status_text(o.status)
            ));
        }
        if o.bytes_written as usize != size {
            return Err(format!(
                "{}: OID_GEN_STATISTICS wrote {} bytes, not {size}",
                adapter.name, o.bytes_written
            ));
        }
        // SAFETY: `size` bytes of plain integers.
        let info = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<NDIS_STATISTICS_INFO>()) };
        let h = info.Header;
        if (h.Type, h.Revision, h.Size)
            != (
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_STATISTICS_INFO_REVISION_1,
                NDIS_SIZEOF_STATISTICS_INFO_REVISION_1,
            )
        {
            return Err(format!("{}: OID_GEN_STATISTICS header {h:?}", adapter.name));
        }
        if info.SupportedStatistics != ALL_STATISTICS {
            return Err(format!(
                "{}: OID_GEN_STATISTICS SupportedStatistics {:#x}, not every statistic ({ALL_STATISTICS:#x})",
                adapter.name, info.SupportedStatistics
            ));
        }
        // NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES.SupportedStatistics says the same.
        if declared != info.SupportedStatistics {
            return Err(format!(
                "{}: general attributes declare SupportedStatistics {declared:#x}, OID_GEN_STATISTICS {:#x}",
                adapter.name, info.SupportedStatistics
            ));
        }
        Ok(info)
    }
}
