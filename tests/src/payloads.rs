//! OID payloads: the byte images of the NDIS structures the simulator and the tests put in an
//! OID request's InformationBuffer.
use common::ffi::*;

/// Writes NDIS_SRIOV_{READ,WRITE}_VF_CONFIG_BLOCK_PARAMETERS at the start of `buf`.
pub fn write_params(buf: &mut [u8], vf: u16, block: u32, len: u32, offset: u32) {
    buf[0] = NDIS_OBJECT_TYPE_DEFAULT;
    buf[1] = NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1;
    buf[2..4].copy_from_slice(
        &NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1.to_le_bytes(),
    );
    buf[4..6].copy_from_slice(&vf.to_le_bytes());
    buf[6..8].fill(0);
    buf[8..12].copy_from_slice(&block.to_le_bytes());
    buf[12..16].copy_from_slice(&len.to_le_bytes());
    buf[16..20].copy_from_slice(&offset.to_le_bytes());
}
