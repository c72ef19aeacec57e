//! Pieces every NDIS 6.30 Ethernet miniport repeats, shared by the PF and the VF: driver
//! registration, the attribute calls of MiniportInitializeEx, link-state indications and the
//! general OIDs NDIS queries from every miniport.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use crate::ffi::imports::*;
use crate::ffi::*;
use crate::oid::{OidError, OidRequest, RequestKind};
use core::ffi::c_void;
use core::ptr;

/// Where each driver keeps its `NdisMiniportDriverHandle`: a driver-object extension, so that
/// no global is needed (and two drivers can share one test process).
static EXTENSION_ID: u8 = 0;

fn extension_id() -> *mut c_void {
    ptr::addr_of!(EXTENSION_ID) as *mut c_void
}

/// `NdisMRegisterMiniportDriver` for an NDIS 6.30 miniport with the given handlers; remembers
/// the driver handle for [`deregister_driver`]. Returns the NTSTATUS for DriverEntry.
///
/// # Safety
/// Called from DriverEntry with the pointers the I/O manager passed in.
pub unsafe fn register_driver(
    driver_object: PDRIVER_OBJECT,
    registry_path: PUNICODE_STRING,
    mut chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    driver_version: (u8, u8),
) -> NTSTATUS {
    chars.Header = NDIS_OBJECT_HEADER::new(
        NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
        NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
    );
    chars.MajorNdisVersion = NDIS_MINIPORT_MAJOR_VERSION;
    chars.MinorNdisVersion = NDIS_MINIPORT_MINOR_VERSION;
    chars.MajorDriverVersion = driver_version.0;
    chars.MinorDriverVersion = driver_version.1;

    let mut slot: *mut c_void = ptr::null_mut();
    let size = core::mem::size_of::<NDIS_HANDLE>() as u32;
    // SAFETY: the extension is sized for one handle and lives as long as the driver object.
    let status =
        unsafe { IoAllocateDriverObjectExtension(driver_object, extension_id(), size, &mut slot) };
    if status != 0 || slot.is_null() {
        return NDIS_STATUS_RESOURCES;
    }
    let mut handle: NDIS_HANDLE = ptr::null_mut();
    // SAFETY: NDIS copies the characteristics; all pointers are valid for the call.
    let status = unsafe {
        NdisMRegisterMiniportDriver(
            driver_object,
            registry_path,
            ptr::null_mut(),
            &chars,
            &mut handle,
        )
    };
    // SAFETY: `slot` points to the extension allocated above, sized and aligned for a handle.
    unsafe {
        slot.cast::<NDIS_HANDLE>()
            .write(if status == NDIS_STATUS_SUCCESS {
                handle
            } else {
                ptr::null_mut()
            })
    };
    status
}

/// `NdisMDeregisterMiniportDriver` from MiniportDriverUnload (or a failed DriverEntry).
///
/// # Safety
/// `driver_object` is the one passed to [`register_driver`].
pub unsafe fn deregister_driver(driver_object: PDRIVER_OBJECT) {
    // SAFETY: looks up the extension this module allocated for the same driver object.
    let slot =
        unsafe { IoGetDriverObjectExtension(driver_object, extension_id()) }.cast::<NDIS_HANDLE>();
    if slot.is_null() {
        return;
    }
    // SAFETY: the slot holds the handle written by `register_driver`.
    let handle = unsafe { slot.replace(ptr::null_mut()) };
    if !handle.is_null() {
        // SAFETY: a handle NdisMRegisterMiniportDriver returned, deregistered once.
        unsafe { NdisMDeregisterMiniportDriver(handle) };
    }
}

/// Registration attributes: the adapter context NDIS passes back to every handler.
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn set_registration_attributes(
    handle: NDIS_HANDLE,
    context: *mut c_void,
) -> NDIS_STATUS {
    let mut attrs = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
            NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
        ),
        MiniportAdapterContext: context,
        // A bus-master DMA device ("NdisMRegisterScatterGatherDma function" requires it).
        AttributeFlags: NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE
            | NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK
            | NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER,
        CheckForHangTimeInSeconds: 0,
        InterfaceType: NdisInterfacePci,
    };
    // SAFETY: attrs is a valid attribute structure for the duration of the call.
    unsafe { NdisMSetMiniportAttributes(handle, ptr::addr_of_mut!(attrs).cast()) }
}

/// What an Ethernet miniport reports about itself, in attributes and general OIDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetInfo {
    pub permanent_mac: [u8; 6],
    pub current_mac: [u8; 6],
    pub mtu: u32,
    pub link_up: bool,
    pub speed_bps: u64,
    pub max_speed_bps: u64,
}

pub const SUPPORTED_PACKET_FILTERS: u32 = NDIS_PACKET_TYPE_DIRECTED
    | NDIS_PACKET_TYPE_MULTICAST
    | NDIS_PACKET_TYPE_ALL_MULTICAST
    | NDIS_PACKET_TYPE_BROADCAST
    | NDIS_PACKET_TYPE_PROMISCUOUS;
pub const MAX_MULTICAST: usize = 32;
const ETH_HEADER: u32 = 14;

/// General attributes (revision 2) from `info`, listing `oids` as supported.
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn set_general_attributes(
    handle: NDIS_HANDLE,
    info: &EthernetInfo,
    oids: &'static [NDIS_OID],
) -> NDIS_STATUS {
    let mut a = NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
        ),
        MediaType: NdisMedium802_3,
        PhysicalMediumType: NdisPhysicalMedium802_3,
        MtuSize: info.mtu,
        MaxXmitLinkSpeed: info.max_speed_bps,
        XmitLinkSpeed: info.speed_bps,
        MaxRcvLinkSpeed: info.max_speed_bps,
        RcvLinkSpeed: info.speed_bps,
        MediaConnectState: if info.link_up {
            MediaConnectStateConnected
        } else {
            MediaConnectStateDisconnected
        },
        MediaDuplexState: MediaDuplexStateFull,
        LookaheadSize: info.mtu,
        SupportedPacketFilters: SUPPORTED_PACKET_FILTERS,
        MaxMulticastListSize: MAX_MULTICAST as u32,
        MacAddressLength: 6,
        AccessType: NET_IF_ACCESS_BROADCAST,
        DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
        ConnectionType: NET_IF_CONNECTION_DEDICATED,
        IfType: IF_TYPE_ETHERNET_CSMACD,
        IfConnectorPresent: TRUE,
        SupportedStatistics: SUPPORTED_STATISTICS,
        SupportedOidList: oids.as_ptr(),
        SupportedOidListLength: core::mem::size_of_val(oids) as u32,
        ..Default::default()
    };
    a.PermanentMacAddress[..6].copy_from_slice(&info.permanent_mac);
    a.CurrentMacAddress[..6].copy_from_slice(&info.current_mac);
    // SAFETY: `a` and the 'static OID list are valid for the call; NDIS copies what it keeps.
    unsafe { NdisMSetMiniportAttributes(handle, ptr::addr_of_mut!(a).cast()) }
}

/// UTF-16 of an ASCII keyword, at compile time (registry keywords are `NDIS_STRING`s).
pub const fn utf16<const N: usize>(ascii: &[u8; N]) -> [u16; N] {
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        #[allow(clippy::indexing_slicing)] // const evaluation: out of range is a build error
        {
            out[i] = ascii[i] as u16;
        }
        i += 1;
    }
    out
}

static JUMBO_PACKET: [u16; 12] = utf16(b"*JumboPacket");

/// `*JumboPacket` ("Keywords That Can Be Edited": the largest frame the adapter takes, header
/// included; 1514 means no jumbo frames; the range is the IHV's): 1514..=9014 here, the reference
/// NIC's `MAX_FRAME` range (docs/reference-nic.md section 4). Absent: 1514. Out of range:
/// logged, and 1514. It sizes the receive and bounce buffers at MiniportInitializeEx, so it
/// bounds every later MTU (an MTU above it is clamped, see `DataPath::set_mtu`). PASSIVE_LEVEL.
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn read_jumbo_packet(handle: NDIS_HANDLE) -> u32 {
    use crate::hw::resources::{FRAME_CAPACITY_MAX, FRAME_CAPACITY_MIN};
    // SAFETY: caller contract.
    match unsafe { read_keyword_u32(handle, &JUMBO_PACKET) } {
        None => FRAME_CAPACITY_MIN,
        Some(v) if (FRAME_CAPACITY_MIN..=FRAME_CAPACITY_MAX).contains(&v) => v,
        Some(v) => {
            crate::ndis_log!(
                WARN,
                "miniport",
                "*JumboPacket {} outside {}..={}: 1514 used",
                v,
                FRAME_CAPACITY_MIN,
                FRAME_CAPACITY_MAX
            );
            FRAME_CAPACITY_MIN
        }
    }
}

/// Reads an integer keyword of the adapter's registry configuration (PASSIVE_LEVEL).
/// `None` when the configuration cannot be opened or the keyword is absent.
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn read_keyword_u32(handle: NDIS_HANDLE, keyword: &[u16]) -> Option<u32> {
    let mut object = NDIS_CONFIGURATION_OBJECT {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            NDIS_CONFIGURATION_OBJECT_REVISION_1,
            NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: handle,
        Flags: 0,
    };
    let mut config: NDIS_HANDLE = ptr::null_mut();
    // SAFETY: a valid configuration object and out-pointer for the call.
    if unsafe { NdisOpenConfigurationEx(&mut object, &mut config) } != NDIS_STATUS_SUCCESS
        || config.is_null()
    {
        return None;
    }
    let bytes = u16::try_from(core::mem::size_of_val(keyword)).ok()?;
    let mut name = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: keyword.as_ptr().cast_mut(),
    };
    let mut status = NDIS_STATUS_FAILURE;
    let mut value: *mut NDIS_CONFIGURATION_PARAMETER = ptr::null_mut();
    // SAFETY: out-pointers to locals; the keyword outlives the call (NDIS only reads it).
    unsafe {
        NdisReadConfiguration(
            &mut status,
            &mut value,
            config,
            &mut name,
            NdisParameterInteger,
        )
    };
    let result = if status == NDIS_STATUS_SUCCESS {
        // SAFETY: on success NDIS returns a parameter valid until the configuration is closed.
        unsafe { value.as_ref() }
            .filter(|p| {
                p.ParameterType == NdisParameterInteger
                    || p.ParameterType == NdisParameterHexInteger
            })
            // SAFETY: the type says the integer variant is the one NDIS filled in.
            .map(|p| unsafe { p.ParameterData.IntegerData })
    } else {
        None
    };
    // SAFETY: the handle NdisOpenConfigurationEx returned, closed once.
    unsafe { NdisCloseConfiguration(config) };
    result
}

/// Hardware-assist attributes (revision 3, NDIS 6.30) carrying SR-IOV capabilities and, for
/// the PF, NIC switch capabilities ("Determining SR-IOV Capabilities", "Initializing a VF
/// Miniport Driver"). `enabled`: SR-IOV is on (the PF's
/// `*SRIOV` keyword), so the current capabilities are reported as well as the hardware's.
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn set_sriov_attributes(
    handle: NDIS_HANDLE,
    sriov_caps: u32,
    nic_switch: Option<NDIS_NIC_SWITCH_CAPABILITIES>,
    enabled: bool,
) -> NDIS_STATUS {
    let mut caps = NDIS_SRIOV_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_SRIOV_CAPABILITIES_REVISION_1,
            NDIS_SIZEOF_SRIOV_CAPABILITIES_REVISION_1,
        ),
        Flags: 0,
        SriovCapabilities: sriov_caps,
    };
    let mut switch_caps = nic_switch.unwrap_or_default();
    let switch_ptr = if nic_switch.is_some() {
        ptr::addr_of_mut!(switch_caps)
    } else {
        ptr::null_mut()
    };
    let mut a = NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
            NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
        ),
        HardwareNicSwitchCapabilities: switch_ptr,
        CurrentNicSwitchCapabilities: if enabled { switch_ptr } else { ptr::null_mut() },
        HardwareSriovCapabilities: ptr::addr_of_mut!(caps),
        CurrentSriovCapabilities: if enabled {
            ptr::addr_of_mut!(caps)
        } else {
            ptr::null_mut()
        },
        ..Default::default()
    };
    // SAFETY: every pointer in `a` refers to a local that outlives the call; NDIS copies.
    unsafe { NdisMSetMiniportAttributes(handle, ptr::addr_of_mut!(a).cast()) }
}

/// The `NDIS_LINK_STATE` (revision 1) of a link that is `up` at `speed_bps`: what
/// NDIS_STATUS_LINK_STATE carries and OID_GEN_LINK_STATE answers.
pub fn link_state(up: bool, speed_bps: u64) -> NDIS_LINK_STATE {
    NDIS_LINK_STATE {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_LINK_STATE_REVISION_1,
            NDIS_SIZEOF_LINK_STATE_REVISION_1,
        ),
        MediaConnectState: if up {
            MediaConnectStateConnected
        } else {
            MediaConnectStateDisconnected
        },
        MediaDuplexState: if up {
            MediaDuplexStateFull
        } else {
            MediaDuplexStateUnknown
        },
        XmitLinkSpeed: if up { speed_bps } else { 0 },
        RcvLinkSpeed: if up { speed_bps } else { 0 },
        PauseFunctions: 0,
        AutoNegotiationFlags: 0,
    }
}

/// The bytes of an `NDIS_LINK_STATE` in its layout (40 bytes; the 4 after MediaDuplexState
/// are padding, written 0).
pub fn link_state_bytes(l: &NDIS_LINK_STATE) -> [u8; NDIS_SIZEOF_LINK_STATE_REVISION_1 as usize] {
    let mut out = [0u8; NDIS_SIZEOF_LINK_STATE_REVISION_1 as usize];
    let h = l.Header;
    let size = h.Size.to_le_bytes();
    let fields: [(usize, &[u8]); 7] = [
        (0, &[h.Type, h.Revision, size[0], size[1]]),
        (4, &l.MediaConnectState.to_le_bytes()),
        (8, &l.MediaDuplexState.to_le_bytes()),
        (16, &l.XmitLinkSpeed.to_le_bytes()),
        (24, &l.RcvLinkSpeed.to_le_bytes()),
        (32, &l.PauseFunctions.to_le_bytes()),
        (36, &l.AutoNegotiationFlags.to_le_bytes()),
    ];
    for (at, bytes) in fields {
        if let Some(dst) = out.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
    out
}

/// NDIS_STATUS_LINK_STATE for the link in force whenever it is not the one last indicated
/// ("NDIS_STATUS_LINK_STATE": no indication when nothing changed). `take` reads the link in
/// force under the adapter's lock and records it as indicated, returning it only if it differs
/// from the last record. One indicator at a time (`gate`), each reading the link when it
/// indicates, leaves NDIS with the link in force, never the same one twice. `<= DISPATCH_LEVEL`.
///
/// # Safety
/// `handle` is a miniport adapter handle between initialization and halt.
pub unsafe fn indicate_link_changes(
    handle: NDIS_HANDLE,
    gate: &crate::coalesce::Coalescer,
    mut take: impl FnMut() -> Option<(bool, u64)>,
) {
    gate.request(|| {
        if let Some((up, speed)) = take() {
            // SAFETY: the caller's handle, between initialization and halt.
            unsafe { indicate_link_state(handle, up, speed) };
        }
    });
}

/// Records `now` as the link indicated; `Some(now)` if it differs from `*last`.
pub fn fresh_link(last: &mut (bool, u64), now: (bool, u64)) -> Option<(bool, u64)> {
    let fresh = *last != now;
    *last = now;
    fresh.then_some(now)
}

/// `NDIS_STATUS_LINK_STATE` with an `NDIS_LINK_STATE` buffer. `<= DISPATCH_LEVEL`.
///
/// # Safety
/// `handle` is a miniport adapter handle between initialization and halt.
pub unsafe fn indicate_link_state(handle: NDIS_HANDLE, up: bool, speed_bps: u64) {
    let mut link = link_state(up, speed_bps);
    let mut ind = NDIS_STATUS_INDICATION {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_STATUS_INDICATION,
            NDIS_STATUS_INDICATION_REVISION_1,
            NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        ),
        SourceHandle: handle,
        StatusCode: NDIS_STATUS_LINK_STATE,
        StatusBuffer: ptr::addr_of_mut!(link).cast(),
        StatusBufferSize: core::mem::size_of::<NDIS_LINK_STATE>() as u32,
        ..Default::default()
    };
    // SAFETY: the indication and its buffer are valid for the call; NDIS copies.
    unsafe { NdisMIndicateStatusEx(handle, &mut ind) };
}

/// Data-path settings and counters every Ethernet miniport keeps for general OIDs.
#[derive(Clone, Copy, Debug)]
pub struct RxSettings {
    pub packet_filter: u32,
    pub lookahead: u32,
    pub multicast: [[u8; 6]; MAX_MULTICAST],
    pub multicast_len: usize,
    /// What OID_GEN_STATISTICS, OID_GEN_XMIT_OK and OID_GEN_RCV_OK report: the driver fills
    /// it before each request ([`crate::handlers::traffic_counters`]).
    pub stats: crate::hw::Counters,
}

impl RxSettings {
    pub const fn new() -> Self {
        Self {
            packet_filter: 0,
            lookahead: 0,
            multicast: [[0; 6]; MAX_MULTICAST],
            multicast_len: 0,
            stats: crate::hw::Counters::ZERO,
        }
    }
}

/// The NDIS_STATISTICS_INFO members the drivers report ([`crate::hw::Counters`]): all of them
/// ("OID_GEN_STATISTICS": NDIS 6 drivers must support all); also the general attributes'
/// SupportedStatistics.
pub const SUPPORTED_STATISTICS: u32 = NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS
    | NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR
    | NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT;

/// The answer's bytes, little-endian in the structure's layout.
pub fn statistics_info_bytes(
    i: &NDIS_STATISTICS_INFO,
) -> [u8; NDIS_SIZEOF_STATISTICS_INFO_REVISION_1 as usize] {
    let mut out = [0u8; NDIS_SIZEOF_STATISTICS_INFO_REVISION_1 as usize];
    let h = i.Header;
    let size = h.Size.to_le_bytes();
    let flags = i.SupportedStatistics.to_le_bytes();
    let head = [h.Type, h.Revision, size[0], size[1]];
    let counters = [
        i.ifInDiscards,
        i.ifInErrors,
        i.ifHCInOctets,
        i.ifHCInUcastPkts,
        i.ifHCInMulticastPkts,
        i.ifHCInBroadcastPkts,
        i.ifHCOutOctets,
        i.ifHCOutUcastPkts,
        i.ifHCOutMulticastPkts,
        i.ifHCOutBroadcastPkts,
        i.ifOutErrors,
        i.ifOutDiscards,
        i.ifHCInUcastOctets,
        i.ifHCInMulticastOctets,
        i.ifHCInBroadcastOctets,
        i.ifHCOutUcastOctets,
        i.ifHCOutMulticastOctets,
        i.ifHCOutBroadcastOctets,
    ];
    let (first, rest) = out.split_at_mut(8);
    for (dst, src) in first.iter_mut().zip(head.iter().chain(flags.iter())) {
        *dst = *src;
    }
    for (dst, v) in rest.chunks_exact_mut(8).zip(counters) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
    out
}

impl RxSettings {
    /// Takes what an OID request changed (`from`, a copy made before it) but keeps the live
    /// counters, which a send may have moved meanwhile.
    pub fn update_from(&mut self, from: &RxSettings) {
        *self = RxSettings {
            stats: self.stats,
            ..*from
        };
    }
}

impl Default for RxSettings {
    fn default() -> Self {
        Self::new()
    }
}

/// The general OIDs [`general_oid`] answers; each driver appends its own with [`oid_list`].
pub const GENERAL_OIDS: [NDIS_OID; 27] = [
    OID_GEN_SUPPORTED_LIST,
    OID_GEN_HARDWARE_STATUS,
    OID_GEN_MEDIA_SUPPORTED,
    OID_GEN_MEDIA_IN_USE,
    OID_GEN_PHYSICAL_MEDIUM,
    OID_GEN_MAXIMUM_LOOKAHEAD,
    OID_GEN_MAXIMUM_FRAME_SIZE,
    OID_GEN_MAXIMUM_TOTAL_SIZE,
    OID_GEN_LINK_SPEED,
    OID_GEN_TRANSMIT_BUFFER_SPACE,
    OID_GEN_RECEIVE_BUFFER_SPACE,
    OID_GEN_VENDOR_ID,
    OID_GEN_VENDOR_DESCRIPTION,
    OID_GEN_VENDOR_DRIVER_VERSION,
    OID_GEN_CURRENT_PACKET_FILTER,
    OID_GEN_CURRENT_LOOKAHEAD,
    OID_GEN_MAC_OPTIONS,
    OID_GEN_MEDIA_CONNECT_STATUS,
    // The link as NDIS_STATUS_LINK_STATE last indicated it ("OID_GEN_LINK_STATE").
    OID_GEN_LINK_STATE,
    OID_GEN_MAXIMUM_SEND_PACKETS,
    OID_GEN_XMIT_OK,
    OID_GEN_RCV_OK,
    // Mandatory for NDIS 6 miniports ("OID_GEN_STATISTICS": "NDIS 6.0 and later miniport
    // drivers must support this OID").
    OID_GEN_STATISTICS,
    OID_802_3_PERMANENT_ADDRESS,
    OID_802_3_CURRENT_ADDRESS,
    OID_802_3_MULTICAST_LIST,
    OID_802_3_MAXIMUM_LIST_SIZE,
];

/// [`GENERAL_OIDS`] followed by a driver's own OIDs, built at compile time (`N` must be the
/// sum of both lengths; anything else fails the build).
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of range is a build error
pub const fn oid_list<const B: usize, const N: usize>(own: [NDIS_OID; B]) -> [NDIS_OID; N] {
    assert!(
        GENERAL_OIDS.len() + B == N,
        "N must be GENERAL_OIDS.len() + B"
    );
    let mut out = [0; N];
    let mut i = 0;
    while i < GENERAL_OIDS.len() {
        out[i] = GENERAL_OIDS[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[GENERAL_OIDS.len() + j] = own[j];
        j += 1;
    }
    out
}

/// Answers the general OIDs NDIS sends to every Ethernet miniport. `None` when `oid` is not a
/// general OID, so the driver can try its own. Out of line so that its buffers are not in
/// the frame of every OID request (the backchannel's included).
#[inline(never)]
pub fn general_oid(
    req: &mut OidRequest<'_>,
    info: &EthernetInfo,
    rx: &mut RxSettings,
    supported: &[NDIS_OID],
    vendor: &'static [u8],
    driver_version: u32,
) -> Option<NDIS_STATUS> {
    let kind = req.kind();
    let status = match (req.oid(), kind) {
        (OID_GEN_SUPPORTED_LIST, RequestKind::Query) => {
            let mut bytes = [0u8; 4 * 64];
            let n = supported.len().min(64);
            for (dst, oid) in bytes.chunks_exact_mut(4).zip(supported.iter().take(n)) {
                dst.copy_from_slice(&oid.to_le_bytes());
            }
            req.answer(bytes.get(..4 * n).unwrap_or(&[]))
        }
        (OID_GEN_HARDWARE_STATUS, RequestKind::Query) => req.answer_u32(0),
        (OID_GEN_MEDIA_SUPPORTED | OID_GEN_MEDIA_IN_USE, RequestKind::Query) => {
            req.answer_u32(NdisMedium802_3)
        }
        (OID_GEN_PHYSICAL_MEDIUM, RequestKind::Query) => req.answer_u32(NdisPhysicalMedium802_3),
        (OID_GEN_MAXIMUM_FRAME_SIZE | OID_GEN_MAXIMUM_LOOKAHEAD, RequestKind::Query) => {
            req.answer_u32(info.mtu)
        }
        (OID_GEN_MAXIMUM_TOTAL_SIZE, RequestKind::Query) => req.answer_u32(info.mtu + ETH_HEADER),
        (OID_GEN_TRANSMIT_BUFFER_SPACE | OID_GEN_RECEIVE_BUFFER_SPACE, RequestKind::Query) => {
            req.answer_u32((info.mtu + ETH_HEADER) * 64)
        }
        // OID_GEN_LINK_SPEED is in units of 100 bps.
        (OID_GEN_LINK_SPEED, RequestKind::Query) => {
            req.answer_u32((info.speed_bps / 100).min(u32::MAX as u64) as u32)
        }
        (OID_GEN_MEDIA_CONNECT_STATUS, RequestKind::Query) => req.answer_u32(if info.link_up {
            MediaConnectStateConnected
        } else {
            MediaConnectStateDisconnected
        }),
        (OID_GEN_LINK_STATE, RequestKind::Query) => {
            req.answer(&link_state_bytes(&link_state(info.link_up, info.speed_bps)))
        }
        (OID_GEN_VENDOR_ID, RequestKind::Query) => {
            let oui = u32::from_le_bytes([
                info.permanent_mac[0],
                info.permanent_mac[1],
                info.permanent_mac[2],
                0,
            ]);
            req.answer_u32(oui)
        }
        (OID_GEN_VENDOR_DESCRIPTION, RequestKind::Query) => req.answer(vendor),
        (OID_GEN_VENDOR_DRIVER_VERSION, RequestKind::Query) => req.answer_u32(driver_version),
        (OID_GEN_MAXIMUM_SEND_PACKETS, RequestKind::Query) => req.answer_u32(1),
        (OID_GEN_MAC_OPTIONS, RequestKind::Query) => req.answer_u32(0),
        (OID_GEN_XMIT_OK, RequestKind::Query) => req.answer_u64(rx.stats.xmit_ok()),
        (OID_GEN_RCV_OK, RequestKind::Query) => req.answer_u64(rx.stats.rcv_ok()),
        // A query (or NdisRequestQueryStatistics): the whole structure, or BUFFER_TOO_SHORT
        // with BytesNeeded 152.
        (OID_GEN_STATISTICS, RequestKind::Query) => {
            req.answer(&statistics_info_bytes(&rx.stats.statistics_info()))
        }
        (OID_802_3_PERMANENT_ADDRESS, RequestKind::Query) => req.answer(&info.permanent_mac),
        (OID_802_3_CURRENT_ADDRESS, RequestKind::Query) => req.answer(&info.current_mac),
        (OID_802_3_MAXIMUM_LIST_SIZE, RequestKind::Query) => req.answer_u32(MAX_MULTICAST as u32),
        (OID_GEN_CURRENT_PACKET_FILTER, RequestKind::Query) => req.answer_u32(rx.packet_filter),
        (OID_GEN_CURRENT_LOOKAHEAD, RequestKind::Query) => req.answer_u32(rx.lookahead),
        (OID_GEN_CURRENT_PACKET_FILTER, RequestKind::Set) => match req.set_u32() {
            Ok(f) if f & !SUPPORTED_PACKET_FILTERS == 0 => {
                rx.packet_filter = f;
                NDIS_STATUS_SUCCESS
            }
            Ok(_) => NDIS_STATUS_NOT_SUPPORTED,
            Err(e) => req.fail(e),
        },
        (OID_GEN_CURRENT_LOOKAHEAD, RequestKind::Set) => match req.set_u32() {
            Ok(n) if n <= info.mtu => {
                rx.lookahead = n;
                NDIS_STATUS_SUCCESS
            }
            Ok(_) => NDIS_STATUS_INVALID_DATA,
            Err(e) => req.fail(e),
        },
        (OID_802_3_MULTICAST_LIST, RequestKind::Set) => set_multicast(req, rx),
        (OID_802_3_MULTICAST_LIST, RequestKind::Query) => {
            let mut bytes = [0u8; 6 * MAX_MULTICAST];
            let n = rx.multicast_len.min(MAX_MULTICAST);
            for (dst, mac) in bytes.chunks_exact_mut(6).zip(rx.multicast.iter().take(n)) {
                dst.copy_from_slice(mac);
            }
            req.answer(bytes.get(..6 * n).unwrap_or(&[]))
        }
        _ => return None,
    };
    Some(status)
}

fn set_multicast(req: &mut OidRequest<'_>, rx: &mut RxSettings) -> NDIS_STATUS {
    let input = req.input();
    if !input.len().is_multiple_of(6) {
        return req.fail(OidError::status(
            NDIS_STATUS_INVALID_LENGTH,
            "multicast list not a multiple of 6",
        ));
    }
    let n = input.len() / 6;
    if n > MAX_MULTICAST {
        return NDIS_STATUS_MULTICAST_FULL;
    }
    let mut list = [[0u8; 6]; MAX_MULTICAST];
    for (dst, src) in list.iter_mut().zip(input.chunks_exact(6)) {
        if src.first().is_some_and(|b| b & 1 == 0) {
            return NDIS_STATUS_INVALID_DATA;
        }
        dst.copy_from_slice(src);
    }
    rx.multicast = list;
    rx.multicast_len = n;
    let read = (n * 6) as u32;
    req.set_bytes_read(read);
    NDIS_STATUS_SUCCESS
}
