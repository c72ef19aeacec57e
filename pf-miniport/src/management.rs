//! The host management path: custom OIDs (most significant byte 0xFF, the range NDIS leaves
//! to vendors) through which a host-side tool sets a VF's MAC and VLAN or reports a link
//! change. Only the management OS can send OIDs to the PF; guests reach it only through the
//! backchannel. Each OID lands on the same host API the driver offers in-process.
#![deny(clippy::arithmetic_side_effects)]

use crate::LOG;
use crate::adapter::Adapter;
use common::ffi::*;
use common::oid::{OidError, OidRequest, RequestKind};

/// Set: [`SetVfMacVlan`]. Custom OID (vendor range, high byte 0xFF).
pub const OID_REF_SET_VF_MAC_VLAN: NDIS_OID = 0xFF53_0001;
/// Set: [`SetLink`].
pub const OID_REF_SET_LINK: NDIS_OID = 0xFF53_0002;

/// Payload of [`OID_REF_SET_VF_MAC_VLAN`], little endian: VFId u16, VLAN id u16, MAC [u8; 6],
/// priority u8, reserved u8 (0).
pub struct SetVfMacVlan;

impl SetVfMacVlan {
    pub const LEN: usize = 12;

    pub fn encode(vf_id: u16, mac: [u8; 6], vlan_id: u16, priority: u8) -> [u8; Self::LEN] {
        let [v0, v1] = vf_id.to_le_bytes();
        let [l0, l1] = vlan_id.to_le_bytes();
        let [m0, m1, m2, m3, m4, m5] = mac;
        [v0, v1, l0, l1, m0, m1, m2, m3, m4, m5, priority, 0]
    }
}

/// Payload of [`OID_REF_SET_LINK`], little endian: up u8, reserved [u8; 3], MTU u32, speed u64.
pub struct SetLink;

impl SetLink {
    pub const LEN: usize = 16;

    pub fn encode(up: bool, mtu: u32, speed_bps: u64) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = up as u8;
        let [a, b, c, d] = mtu.to_le_bytes();
        out[4] = a;
        out[5] = b;
        out[6] = c;
        out[7] = d;
        let [s0, s1, s2, s3, s4, s5, s6, s7] = speed_bps.to_le_bytes();
        out[8] = s0;
        out[9] = s1;
        out[10] = s2;
        out[11] = s3;
        out[12] = s4;
        out[13] = s5;
        out[14] = s6;
        out[15] = s7;
        out
    }
}

/// The first `N` input bytes of a set request, or INVALID_LENGTH with `BytesNeeded = N`.
fn input<const N: usize>(req: &mut OidRequest<'_>) -> Result<[u8; N], OidError> {
    if req.kind() != RequestKind::Set {
        return Err(OidError::status(
            NDIS_STATUS_NOT_SUPPORTED,
            "not a set request",
        ));
    }
    req.input()
        .get(..N)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or(OidError::invalid_length(N as u32, "payload too short"))
}

impl Adapter {
    #[inline(never)] // its locals stay out of the frame every backchannel OID goes through
    pub(crate) fn management_oid(&self, req: &mut OidRequest<'_>) -> Option<NDIS_STATUS> {
        let result = match req.oid() {
            OID_REF_SET_VF_MAC_VLAN => input::<{ SetVfMacVlan::LEN }>(req).and_then(|p| {
                let [v0, v1, l0, l1, m0, m1, m2, m3, m4, m5, priority, reserved] = p;
                if reserved != 0 {
                    return Err(OidError::invalid_parameter("reserved byte"));
                }
                let vf = u16::from_le_bytes([v0, v1]);
                let vlan = u16::from_le_bytes([l0, l1]);
                self.set_vf_mac_vlan(vf, [m0, m1, m2, m3, m4, m5], vlan, priority)
                    .map(|_| SetVfMacVlan::LEN)
                    .map_err(|s| OidError::status(s, "VF MAC/VLAN refused"))
            }),
            OID_REF_SET_LINK => input::<{ SetLink::LEN }>(req).and_then(|p| {
                let [up, _, _, _, t0, t1, t2, t3, s0, s1, s2, s3, s4, s5, s6, s7] = p;
                if up > 1 {
                    return Err(OidError::invalid_parameter("link state"));
                }
                let mtu = u32::from_le_bytes([t0, t1, t2, t3]);
                let speed = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
                self.set_link(up == 1, speed, mtu)
                    .map(|_| SetLink::LEN)
                    .map_err(|s| OidError::status(s, "link refused"))
            }),
            _ => return None,
        };
        Some(match result {
            Ok(read) => {
                req.set_bytes_read(read as u32);
                NDIS_STATUS_SUCCESS
            }
            Err(e) => req.refuse(LOG, "management OID", e),
        })
    }
}
