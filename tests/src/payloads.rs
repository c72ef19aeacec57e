//! OID payloads: the byte images of the NDIS structures that go in an OID request's
//! InformationBuffer, built from the `common::ffi` `#[repr(C)]` definitions (whose sizes and
//! field offsets `common/tests/layouts.rs` checks against the WDK layouts (docs/ndis-reference.md) and mingw-w64's headers)
//! rather than from counted offsets. A builder zeroes the whole structure, padding included,
//! sets the fields it names and hands back the bytes; [`read`] takes a structure back out of
//! a buffer the driver filled in.
use common::ffi::*;
use std::mem::{MaybeUninit, size_of};

/// A `#[repr(C)]` NDIS payload made of integers and arrays of integers only.
///
/// # Safety
/// Every bit pattern, all zeros included, is a valid value of the type.
pub unsafe trait Payload: Copy {}

// SAFETY: `#[repr(C)]`, integers only. This and each of the structures below hold integers,
// integer arrays and other structures of the same kind: no pointers, references, enums or bools.
unsafe impl Payload for NDIS_OBJECT_HEADER {}
// SAFETY: as above.
unsafe impl Payload for NDIS_NIC_SWITCH_PARAMETERS {}
// SAFETY: as above.
unsafe impl Payload for NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS {}
// SAFETY: as above.
unsafe impl Payload for NDIS_NIC_SWITCH_VF_PARAMETERS {}
// SAFETY: as above.
unsafe impl Payload for NDIS_NIC_SWITCH_FREE_VF_PARAMETERS {}
// SAFETY: as above.
unsafe impl Payload for NDIS_SRIOV_RESET_VF_PARAMETERS {}
// SAFETY: as above (also NDIS_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS, the same type).
unsafe impl Payload for NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS {}
// SAFETY: as above.
unsafe impl Payload for NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO {}

/// The bytes of a `T` that starts all zeros, padding included, with the fields `fill` sets.
/// `fill` assigns fields one by one: assigning the whole value would copy its padding too,
/// which Rust leaves undefined.
fn image<T: Payload>(fill: impl FnOnce(&mut T)) -> Vec<u8> {
    let mut value = MaybeUninit::<T>::zeroed();
    // SAFETY: all zeros is a valid `T` (`Payload`).
    fill(unsafe { value.assume_init_mut() });
    // SAFETY: all `size_of::<T>()` bytes are initialized: zeroed, then fields written in place.
    unsafe { std::slice::from_raw_parts(value.as_ptr().cast::<u8>(), size_of::<T>()) }.to_vec()
}

/// The `T` at the start of `bytes` (e.g. what a driver wrote back into a method request).
pub fn read<T: Payload>(bytes: &[u8]) -> T {
    assert!(
        bytes.len() >= size_of::<T>(),
        "{} bytes hold no {}-byte {}",
        bytes.len(),
        size_of::<T>(),
        std::any::type_name::<T>()
    );
    // SAFETY: `bytes` holds at least `size_of::<T>()` bytes (checked above), any bit pattern
    // is a valid `T` (`Payload`), and the read does not assume alignment.
    unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) }
}

/// The bytes of an NDIS_OBJECT_HEADER alone (e.g. over fuzzed contents).
pub fn header_image(header: NDIS_OBJECT_HEADER) -> Vec<u8> {
    image(|h: &mut NDIS_OBJECT_HEADER| {
        h.Type = header.Type;
        h.Revision = header.Revision;
        h.Size = header.Size;
    })
}

/// The header of NDIS_SRIOV_{READ,WRITE}_VF_CONFIG_BLOCK_PARAMETERS (the two share a layout).
pub const CONFIG_BLOCK_PARAMS_HEADER: NDIS_OBJECT_HEADER = NDIS_OBJECT_HEADER::new(
    NDIS_OBJECT_TYPE_DEFAULT,
    NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1,
    NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1,
);

/// Bytes of NDIS_SRIOV_{READ,WRITE}_VF_CONFIG_BLOCK_PARAMETERS, where the block data starts.
pub const CONFIG_BLOCK_PARAMS_LEN: usize = size_of::<NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS>();

/// NDIS_SRIOV_{READ,WRITE}_VF_CONFIG_BLOCK_PARAMETERS: `len` bytes of block `block` of VF
/// `vf`, the data at `offset` in the InformationBuffer.
pub fn config_block_params(vf: u16, block: u32, len: u32, offset: u32) -> Vec<u8> {
    image(|p: &mut NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS| {
        p.Header = CONFIG_BLOCK_PARAMS_HEADER;
        p.VFId = vf;
        p.BlockId = block;
        p.Length = len;
        p.BufferOffset = offset;
    })
}

/// Writes [`config_block_params`] at the start of `buf`.
pub fn write_config_block_params(buf: &mut [u8], vf: u16, block: u32, len: u32, offset: u32) {
    buf[..CONFIG_BLOCK_PARAMS_LEN].copy_from_slice(&config_block_params(vf, block, len, offset));
}

/// NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO with `mask`, as guest NDIS sends it to the VF.
pub fn invalidate_info(mask: u64) -> Vec<u8> {
    image(|p: &mut NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO| {
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1,
            NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1,
        );
        p.BlockMask = mask;
    })
}

/// NDIS_NIC_SWITCH_PARAMETERS for OID_NIC_SWITCH_CREATE_SWITCH: the default, external switch
/// with `num_vfs` VFs.
pub fn nic_switch_parameters(num_vfs: u16) -> Vec<u8> {
    image(|p: &mut NDIS_NIC_SWITCH_PARAMETERS| {
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NIC_SWITCH_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1,
        );
        p.SwitchType = NdisNicSwitchTypeExternal;
        p.SwitchId = NDIS_DEFAULT_SWITCH_ID;
        p.NumVFs = num_vfs as u32;
    })
}

/// NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS for OID_NIC_SWITCH_DELETE_SWITCH.
pub fn delete_switch_parameters(switch_id: NDIS_NIC_SWITCH_ID) -> Vec<u8> {
    image(|p: &mut NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS| {
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NIC_SWITCH_DELETE_SWITCH_PARAMETERS_REVISION_1,
        );
        p.SwitchId = switch_id;
    })
}

/// NDIS_NIC_SWITCH_VF_PARAMETERS for OID_NIC_SWITCH_ALLOCATE_VF, asking for `mac` if given, as
/// both the permanent and the current address (the PF writes VFId and RequestorId back:
/// [`read`] them).
pub fn vf_parameters(mac: Option<[u8; 6]>) -> Vec<u8> {
    image(|p: &mut NDIS_NIC_SWITCH_VF_PARAMETERS| {
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NIC_SWITCH_VF_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1,
        );
        if let Some(mac) = mac {
            p.MacAddressLength = mac.len() as u16;
            p.PermanentMacAddress[..mac.len()].copy_from_slice(&mac);
            p.CurrentMacAddress[..mac.len()].copy_from_slice(&mac);
        }
    })
}

/// NDIS_NIC_SWITCH_FREE_VF_PARAMETERS for OID_NIC_SWITCH_FREE_VF.
pub fn free_vf_parameters(vf: u16) -> Vec<u8> {
    image(|p: &mut NDIS_NIC_SWITCH_FREE_VF_PARAMETERS| {
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1,
        );
        p.VFId = vf;
    })
}

/// NDIS_SRIOV_RESET_VF_PARAMETERS for OID_SRIOV_RESET_VF.
pub fn reset_vf_parameters(vf: u16) -> Vec<u8> {
    image(|p: &mut NDIS_SRIOV_RESET_VF_PARAMETERS| {
        p.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_SRIOV_RESET_VF_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1,
        );
        p.VFId = vf;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each builder gives the bytes the hand-counted offsets used to (docs/ndis-reference.md, layouts).
    #[test]
    fn images_match_the_documented_offsets() {
        let p = config_block_params(0x0102, 0x0304_0506, 30, 20);
        assert_eq!(
            p,
            [
                0x80, 1, 20, 0, 2, 1, 0, 0, 6, 5, 4, 3, 30, 0, 0, 0, 20, 0, 0, 0
            ]
        );
        let p = invalidate_info(0x0102_0304_0506_0708);
        assert_eq!(p, [0x80, 1, 16, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(reset_vf_parameters(0x0102), [0x80, 1, 6, 0, 2, 1]);
        assert_eq!(
            free_vf_parameters(0x0102),
            [0x80, 1, 10, 0, 0, 0, 0, 0, 2, 1, 0, 0]
        );
        assert_eq!(
            delete_switch_parameters(7),
            [0x80, 1, 12, 0, 0, 0, 0, 0, 7, 0, 0, 0]
        );

        let p = nic_switch_parameters(9);
        assert_eq!(p.len(), 548);
        assert_eq!(p[..4], [0x80, 1, 0x24, 0x02]);
        assert_eq!(p[8..16], [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p[532..536], [9, 0, 0, 0]);
        assert!(p[16..532].iter().chain(&p[536..]).all(|b| *b == 0));

        let mac = [2, 0x15, 0x5d, 0xaa, 0xbb, 0xcc];
        let mut p = vf_parameters(Some(mac));
        assert_eq!(p.len(), 0x660);
        assert_eq!(p[..4], [0x80, 1, 0x60, 0x06]);
        assert_eq!(p[1560..1562], [6, 0]);
        assert_eq!(p[1594..1600], mac);
        p[0x65A..0x660].copy_from_slice(&[3, 0, 4, 3, 2, 1]);
        let back: NDIS_NIC_SWITCH_VF_PARAMETERS = read(&p);
        assert_eq!((back.VFId, back.RequestorId), (3, 0x0102_0304));
        assert_eq!(back.CurrentMacAddress[..6], mac);
    }
}
