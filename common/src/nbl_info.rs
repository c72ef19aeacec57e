//! The per-NBL 802.1Q information, `NetBufferListInfo[Ieee8021QNetBufferListInfo]`
//! ("NDIS_NET_BUFFER_LIST_8021Q_INFO structure"; WDK `ndis/nbl8021q.h`, earlier `ndis/nbl.h`):
//! the slot holds the value itself, not a pointer, as a union of a `PVOID Value` and the
//! bitfield `TagHeader { UINT32 UserPriority:3; UINT32 CanonicalFormatId:1; UINT32 VlanId:12;
//! UINT32 Reserved:16; }` (x64: the low 32 bits of the pointer-sized slot, first field in the
//! lowest bits). `common/tests/layouts.rs` holds this packing to the header's table. An 802.1Q
//! tag control information (TCI) on the wire is PCP 15:13, DEI/CFI 12, VID 11:0.

/// `Ieee8021QNetBufferListInfo`: the fifth enumerator of `NDIS_NET_BUFFER_LIST_INFO` (after
/// TcpIpChecksum, IPsecOffloadV1, TcpLargeSend, ClassificationHandle; WDK `ndis/nbl.h`).
pub const NBL_INFO_IEEE8021Q: usize = 4;

/// `TagHeader` of NDIS_NET_BUFFER_LIST_8021Q_INFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ieee8021QInfo {
    /// 802.1p priority, 0..=7.
    pub user_priority: u8,
    /// `CanonicalFormatId` ("always 0" for Ethernet, the header says).
    pub canonical_format_id: bool,
    /// VLAN id, 0..=4095.
    pub vlan_id: u16,
}

impl Ieee8021QInfo {
    /// The slot's value (`Value` of the union): Reserved bits 0.
    pub fn to_value(self) -> usize {
        (usize::from(self.user_priority & 7))
            | (usize::from(self.canonical_format_id) << 3)
            | (usize::from(self.vlan_id & 0x0FFF) << 4)
    }

    /// The `TagHeader` of a slot's value. Bits above the VLAN id (`Reserved` for Ethernet,
    /// `WMMInfo` of the wireless form) are not part of an 802.1Q tag and are ignored.
    pub fn from_value(v: usize) -> Self {
        Self {
            user_priority: (v & 7) as u8,
            canonical_format_id: v & 8 != 0,
            vlan_id: ((v >> 4) & 0x0FFF) as u16,
        }
    }

    /// From a tag control information field (PCP 15:13, DEI 12, VID 11:0).
    pub fn from_tci(tci: u16) -> Self {
        Self {
            user_priority: (tci >> 13) as u8,
            canonical_format_id: tci & 0x1000 != 0,
            vlan_id: tci & 0x0FFF,
        }
    }

    /// The tag control information of this header.
    pub fn tci(self) -> u16 {
        (u16::from(self.user_priority & 7) << 13)
            | (u16::from(self.canonical_format_id) << 12)
            | (self.vlan_id & 0x0FFF)
    }

    /// A tag to insert: neither a priority nor a VLAN id (the all-zero slot NDIS leaves when
    /// nobody set it) means none.
    pub fn wants_tag(self) -> bool {
        self.user_priority != 0 || self.vlan_id != 0
    }
}
