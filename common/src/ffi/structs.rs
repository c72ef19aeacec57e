//! `#[repr(C)]` structures, each with its WDK header (docs/ndis-reference.md). Each one's x64
//! size and field offsets are asserted in `common/tests/layouts.rs`, and the ones mingw-w64
//! defines are also compiled against its `ntddndis.h` there.
use super::types::*;
use crate::ndis_fn_type;
use core::ffi::c_void;

/// NDIS_OID_REQUEST.DATA.QUERY_INFORMATION (`km/ndis/oidrequest.h`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_QUERY_INFORMATION {
    pub Oid: NDIS_OID,
    pub InformationBuffer: *mut c_void,
    pub InformationBufferLength: u32,
    pub BytesWritten: u32,
    pub BytesNeeded: u32,
}

/// NDIS_OID_REQUEST.DATA.SET_INFORMATION (`km/ndis/oidrequest.h`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_SET_INFORMATION {
    pub Oid: NDIS_OID,
    pub InformationBuffer: *mut c_void,
    pub InformationBufferLength: u32,
    pub BytesRead: u32,
    pub BytesNeeded: u32,
}

/// NDIS_OID_REQUEST.DATA.METHOD_INFORMATION (`km/ndis/oidrequest.h`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_METHOD_INFORMATION {
    pub Oid: NDIS_OID,
    pub InformationBuffer: *mut c_void,
    pub InputBufferLength: u32,
    pub OutputBufferLength: u32,
    pub MethodId: u32,
    pub BytesWritten: u32,
    pub BytesRead: u32,
    pub BytesNeeded: u32,
}

/// The request union (`km/ndis/oidrequest.h`: size 0x28).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_OID_REQUEST_DATA {
    pub QUERY_INFORMATION: NDIS_OID_QUERY_INFORMATION,
    pub SET_INFORMATION: NDIS_OID_SET_INFORMATION,
    pub METHOD_INFORMATION: NDIS_OID_METHOD_INFORMATION,
}

/// NDIS_OID_REQUEST (`km/ndis/oidrequest.h`: size 0xF8, REVISION_1 ends at 0xEC).
#[repr(C)]
pub struct NDIS_OID_REQUEST {
    pub Header: NDIS_OBJECT_HEADER,
    pub RequestType: NDIS_REQUEST_TYPE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub Timeout: u32,
    pub RequestId: *mut c_void,
    pub RequestHandle: NDIS_HANDLE,
    pub DATA: NDIS_OID_REQUEST_DATA,
    pub NdisReserved: [*mut c_void; 16],
    pub MiniportReserved: [*mut c_void; 2],
    pub SourceReserved: [*mut c_void; 2],
    pub SupportedRevision: u8,
    pub Reserved1: u8,
    pub Reserved2: u16,
    pub SwitchId: NDIS_NIC_SWITCH_ID,
    pub VPortId: NDIS_NIC_SWITCH_VPORT_ID,
    pub Flags: u32,
}

/// NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS (`ntddndis.h`, mingw-w64 l.4093): size 20.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
    pub BlockId: u32,
    pub Length: u32,
    pub BufferOffset: u32,
}

/// NDIS_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS (`ntddndis.h`, mingw-w64 l.4101): as the read.
pub type NDIS_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS = NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS;

/// NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO (`ntddndis.h`): size 16, BlockMask at 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub BlockMask: u64,
}

/// NDIS_SRIOV_CAPABILITIES (`ntddndis.h`): size 12.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub SriovCapabilities: u32,
}

/// NDIS_SRIOV_RESET_VF_PARAMETERS (`ntddndis.h`): size 6.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_RESET_VF_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
}

/// NDIS_NIC_SWITCH_CAPABILITIES, revision 2 (`ntddndis.h`: size 116).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_NIC_SWITCH_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub NdisReserved1: u32,
    pub NumTotalMacAddresses: u32,
    pub NumMacAddressesPerPort: u32,
    pub NumVlansPerPort: u32,
    pub NdisReserved2: u32,
    pub NdisReserved3: u32,
    pub NicSwitchCapabilities: u32,
    pub MaxNumSwitches: u32,
    pub MaxNumVPorts: u32,
    pub NdisReserved4: u32,
    pub MaxNumVFs: u32,
    pub MaxNumQueuePairs: u32,
    pub NdisReserved5: u32,
    pub NdisReserved6: u32,
    pub NdisReserved7: u32,
    pub MaxNumQueuePairsPerNonDefaultVPort: u32,
    pub NdisReserved8: u32,
    pub NdisReserved9: u32,
    pub NdisReserved10: u32,
    pub NdisReserved11: u32,
    pub NdisReserved12: u32,
    pub MaxNumMacAddresses: u32,
    pub NdisReserved13: u32,
    pub NdisReserved14: u32,
    pub NdisReserved15: u32,
    pub NdisReserved16: u32,
    pub NdisReserved17: u32,
}

/// NDIS_NIC_SWITCH_PARAMETERS, revision 1 (`ntddndis.h`: size 548).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NIC_SWITCH_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub SwitchType: u32,
    pub SwitchId: NDIS_NIC_SWITCH_ID,
    pub SwitchFriendlyName: NDIS_IF_COUNTED_STRING,
    pub NumVFs: u32,
    pub NdisReserved1: u32,
    pub NdisReserved2: u32,
    pub NdisReserved3: u32,
}

/// NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS (`ntddndis.h`: size 12).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub SwitchId: NDIS_NIC_SWITCH_ID,
}

/// NDIS_NIC_SWITCH_VF_PARAMETERS (`ntddndis.h`: size 0x660).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NIC_SWITCH_VF_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub SwitchId: NDIS_NIC_SWITCH_ID,
    pub VMName: NDIS_IF_COUNTED_STRING,
    pub VMFriendlyName: NDIS_IF_COUNTED_STRING,
    pub NicName: NDIS_IF_COUNTED_STRING,
    pub MacAddressLength: u16,
    pub PermanentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub CurrentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
    pub RequestorId: NDIS_VF_RID,
}

/// NDIS_NIC_SWITCH_FREE_VF_PARAMETERS (`ntddndis.h`: size 12, Header.Size 10).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_NIC_SWITCH_FREE_VF_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
}

/// NDIS_LINK_STATE (`ntddndis.h`: size 40).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_LINK_STATE {
    pub Header: NDIS_OBJECT_HEADER,
    pub MediaConnectState: u32,
    pub MediaDuplexState: u32,
    pub XmitLinkSpeed: u64,
    pub RcvLinkSpeed: u64,
    pub PauseFunctions: u32,
    pub AutoNegotiationFlags: u32,
}

/// GUID, as embedded in NDIS_STATUS_INDICATION (align 4).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GUID {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}

/// NDIS_STATUS_INDICATION (`ndis.h`: size 0x70).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_STATUS_INDICATION {
    pub Header: NDIS_OBJECT_HEADER,
    pub SourceHandle: NDIS_HANDLE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub StatusCode: NDIS_STATUS,
    pub Flags: u32,
    pub DestinationHandle: NDIS_HANDLE,
    pub RequestId: *mut c_void,
    pub StatusBuffer: *mut c_void,
    pub StatusBufferSize: u32,
    pub Guid: GUID,
    pub NdisReserved: [*mut c_void; 4],
}

/// NDIS_MINIPORT_INIT_PARAMETERS (`ndis.h`: size 0x40).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_MINIPORT_INIT_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub AllocatedResources: *mut c_void,
    pub IMDeviceInstanceContext: NDIS_HANDLE,
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    pub IfIndex: u32,
    pub NetLuid: u64,
    pub DefaultPortAuthStates: *mut c_void,
    pub PciDeviceCustomProperties: *mut c_void,
}

/// NDIS_MINIPORT_PAUSE_PARAMETERS (`ndis.h`: size 0xC).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_MINIPORT_PAUSE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub PauseReason: u32,
}

/// NDIS_MINIPORT_RESTART_PARAMETERS (`ndis.h`: size 0x18).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_MINIPORT_RESTART_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub RestartAttributes: *mut c_void,
    pub Flags: u32,
}

/// NET_DEVICE_PNP_EVENT (`ndis.h`: size 0x30).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NET_DEVICE_PNP_EVENT {
    pub Header: NDIS_OBJECT_HEADER,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub DevicePnPEvent: NDIS_DEVICE_PNP_EVENT,
    pub InformationBuffer: *mut c_void,
    pub InformationBufferLength: u32,
    pub NdisReserved: [u8; 16],
}

/// NDIS_SPIN_LOCK (`ndis.h` l.1114: size 0x10).
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    pub SpinLock: KSPIN_LOCK,
    pub OldIrql: KIRQL,
}

/// NDIS_CONFIGURATION_OBJECT (DDI ns-ndis-_ndis_configuration_object for the fields; x64
/// offsets from a public-symbols dump: Header@0, NdisHandle@8, Flags@0x10, size 0x18).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_CONFIGURATION_OBJECT {
    pub Header: NDIS_OBJECT_HEADER,
    pub NdisHandle: NDIS_HANDLE,
    pub Flags: u32,
}

/// NDIS_CONFIGURATION_PARAMETER.ParameterData (mingw-w64 `ddk/ndis.h` l.932); the binary
/// variant is not used here.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_CONFIGURATION_PARAMETER_DATA {
    pub IntegerData: u32,
    pub StringData: UNICODE_STRING,
}

/// NDIS_CONFIGURATION_PARAMETER: ParameterType@0, ParameterData@8 (x64, size 0x18).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_CONFIGURATION_PARAMETER {
    pub ParameterType: u32,
    pub ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA,
}

// MiniportXxx handler types (`ndis.h`), all with the NDIS ABI.
pub type MINIPORT_SET_OPTIONS = ndis_fn_type!(fn(NDIS_HANDLE, NDIS_HANDLE) -> NDIS_STATUS);
pub type MINIPORT_INITIALIZE =
    ndis_fn_type!(fn(NDIS_HANDLE, NDIS_HANDLE, *mut NDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS);
pub type MINIPORT_HALT = ndis_fn_type!(fn(NDIS_HANDLE, NDIS_HALT_ACTION));
pub type MINIPORT_UNLOAD = ndis_fn_type!(fn(PDRIVER_OBJECT));
pub type MINIPORT_PAUSE =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut NDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS);
pub type MINIPORT_RESTART =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut NDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS);
pub type MINIPORT_OID_REQUEST =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut NDIS_OID_REQUEST) -> NDIS_STATUS);
pub type MINIPORT_SEND_NET_BUFFER_LISTS =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, NDIS_PORT_NUMBER, u32));
pub type MINIPORT_RETURN_NET_BUFFER_LISTS =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut NET_BUFFER_LIST, u32));
pub type MINIPORT_CANCEL_SEND = ndis_fn_type!(fn(NDIS_HANDLE, *mut c_void));
pub type MINIPORT_CHECK_FOR_HANG = ndis_fn_type!(fn(NDIS_HANDLE) -> BOOLEAN);
pub type MINIPORT_RESET = ndis_fn_type!(fn(NDIS_HANDLE, *mut BOOLEAN) -> NDIS_STATUS);
pub type MINIPORT_DEVICE_PNP_EVENT_NOTIFY =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut NET_DEVICE_PNP_EVENT));
pub type MINIPORT_SHUTDOWN = ndis_fn_type!(fn(NDIS_HANDLE, NDIS_SHUTDOWN_ACTION));
pub type MINIPORT_CANCEL_OID_REQUEST = ndis_fn_type!(fn(NDIS_HANDLE, *mut c_void));

/// NDIS_MINIPORT_DRIVER_CHARACTERISTICS, revision 2 (`ndis.h` l.10868: size 0x98).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MajorNdisVersion: u8,
    pub MinorNdisVersion: u8,
    pub MajorDriverVersion: u8,
    pub MinorDriverVersion: u8,
    pub Flags: u32,
    pub SetOptionsHandler: Option<MINIPORT_SET_OPTIONS>,
    pub InitializeHandlerEx: Option<MINIPORT_INITIALIZE>,
    pub HaltHandlerEx: Option<MINIPORT_HALT>,
    pub UnloadHandler: Option<MINIPORT_UNLOAD>,
    pub PauseHandler: Option<MINIPORT_PAUSE>,
    pub RestartHandler: Option<MINIPORT_RESTART>,
    pub OidRequestHandler: Option<MINIPORT_OID_REQUEST>,
    pub SendNetBufferListsHandler: Option<MINIPORT_SEND_NET_BUFFER_LISTS>,
    pub ReturnNetBufferListsHandler: Option<MINIPORT_RETURN_NET_BUFFER_LISTS>,
    pub CancelSendHandler: Option<MINIPORT_CANCEL_SEND>,
    pub CheckForHangHandlerEx: Option<MINIPORT_CHECK_FOR_HANG>,
    pub ResetHandlerEx: Option<MINIPORT_RESET>,
    pub DevicePnPEventNotifyHandler: Option<MINIPORT_DEVICE_PNP_EVENT_NOTIFY>,
    pub ShutdownHandlerEx: Option<MINIPORT_SHUTDOWN>,
    pub CancelOidRequestHandler: Option<MINIPORT_CANCEL_OID_REQUEST>,
    pub DirectOidRequestHandler: Option<MINIPORT_OID_REQUEST>,
    pub CancelDirectOidRequestHandler: Option<MINIPORT_CANCEL_OID_REQUEST>,
}

/// NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES (`ndis.h`: size 0x20, Header.Size 0x1C).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub MiniportAdapterContext: NDIS_HANDLE,
    pub AttributeFlags: u32,
    pub CheckForHangTimeInSeconds: u32,
    pub InterfaceType: NDIS_INTERFACE_TYPE,
}

/// NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, revision 2 (`ndis.h` l.10256: size 0xE0).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub MediaType: NDIS_MEDIUM,
    pub PhysicalMediumType: NDIS_PHYSICAL_MEDIUM,
    pub MtuSize: u32,
    pub MaxXmitLinkSpeed: u64,
    pub XmitLinkSpeed: u64,
    pub MaxRcvLinkSpeed: u64,
    pub RcvLinkSpeed: u64,
    pub MediaConnectState: u32,
    pub MediaDuplexState: u32,
    pub LookaheadSize: u32,
    pub PowerManagementCapabilities: *mut c_void,
    pub MacOptions: u32,
    pub SupportedPacketFilters: u32,
    pub MaxMulticastListSize: u32,
    pub MacAddressLength: u16,
    pub PermanentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub CurrentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub RecvScaleCapabilities: *mut c_void,
    pub AccessType: u32,
    pub DirectionType: u32,
    pub ConnectionType: u32,
    pub IfType: u16,
    pub IfConnectorPresent: BOOLEAN,
    pub SupportedStatistics: u32,
    pub SupportedPauseFunctions: u32,
    pub DataBackFillSize: u32,
    pub ContextBackFillSize: u32,
    pub SupportedOidList: *const NDIS_OID,
    pub SupportedOidListLength: u32,
    pub AutoNegotiationFlags: u32,
    pub PowerManagementCapabilitiesEx: *mut c_void,
}

/// NDIS_STATISTICS_INFO, the answer to OID_GEN_STATISTICS (DDI "NDIS_STATISTICS_INFO
/// structure"; x64 layout from the WDK 10.0.22621.0 headers, `/work/shared/wdk-layouts/ndis630.txt`
/// l.1847-1867, copied into docs/facts.md: size 152, align 8, Header@0,
/// SupportedStatistics@4, ifInDiscards@8, then one 8-byte counter each up to
/// ifHCOutBroadcastOctets@144; mingw-w64 `ntddndis.h` l.268 defines the same fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_STATISTICS_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub SupportedStatistics: u32,
    pub ifInDiscards: u64,
    pub ifInErrors: u64,
    pub ifHCInOctets: u64,
    pub ifHCInUcastPkts: u64,
    pub ifHCInMulticastPkts: u64,
    pub ifHCInBroadcastPkts: u64,
    pub ifHCOutOctets: u64,
    pub ifHCOutUcastPkts: u64,
    pub ifHCOutMulticastPkts: u64,
    pub ifHCOutBroadcastPkts: u64,
    pub ifOutErrors: u64,
    pub ifOutDiscards: u64,
    pub ifHCInUcastOctets: u64,
    pub ifHCInMulticastOctets: u64,
    pub ifHCInBroadcastOctets: u64,
    pub ifHCOutUcastOctets: u64,
    pub ifHCOutMulticastOctets: u64,
    pub ifHCOutBroadcastOctets: u64,
}

/// NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES (`ndis.h`: size 0x60; a 6.30 driver sends
/// revision 3 with Header.Size 0x50).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub HDSplitAttributes: *mut c_void,
    pub HardwareReceiveFilterCapabilities: *mut c_void,
    pub CurrentReceiveFilterCapabilities: *mut c_void,
    pub HardwareNicSwitchCapabilities: *mut NDIS_NIC_SWITCH_CAPABILITIES,
    pub CurrentNicSwitchCapabilities: *mut NDIS_NIC_SWITCH_CAPABILITIES,
    pub HardwareSriovCapabilities: *mut NDIS_SRIOV_CAPABILITIES,
    pub CurrentSriovCapabilities: *mut NDIS_SRIOV_CAPABILITIES,
    pub HardwareQosCapabilities: *mut c_void,
    pub CurrentQosCapabilities: *mut c_void,
    pub HardwareGftOffloadCapabilities: *mut c_void,
    pub CurrentGftOffloadCapabilities: *mut c_void,
}

/// `NdisMSetMiniportAttributes` takes a pointer to any one attribute structure; NDIS tells
/// them apart by `Header.Type`, which is why every one starts with the header.
pub type NDIS_MINIPORT_ADAPTER_ATTRIBUTES = NDIS_OBJECT_HEADER;

/// VPCI_INVALIDATE_BLOCK_OUTPUT (`km/vpci.h`: size 8): what the guest VPCI driver completes
/// `IOCTL_VPCI_INVALIDATE_BLOCK` with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VPCI_INVALIDATE_BLOCK_OUTPUT {
    pub BlockMask: u64,
}

/// `IOCTL_VPCI_INVALIDATE_BLOCK` (`km/vpci.h`).
pub const IOCTL_VPCI_INVALIDATE_BLOCK: u32 = 0x002A_C007;
/// `VPCI_MAX_READ_WRITE_BLOCK_SIZE` (WDK 22621 `km/pcivirt.h` l.214).
pub const VPCI_MAX_READ_WRITE_BLOCK_SIZE: u32 = 128;

macro_rules! zeroed_default {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                // SAFETY: plain C data: integers, arrays and nullable raw pointers, for which
                // all-zero is a valid value (and what C code gets from NdisZeroMemory).
                unsafe { core::mem::zeroed() }
            }
        }
    )*};
}
zeroed_default!(
    NDIS_OID_REQUEST,
    NDIS_NIC_SWITCH_PARAMETERS,
    NDIS_NIC_SWITCH_VF_PARAMETERS,
    NDIS_STATUS_INDICATION,
    NDIS_MINIPORT_INIT_PARAMETERS,
    NDIS_MINIPORT_RESTART_PARAMETERS,
    NET_DEVICE_PNP_EVENT,
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
    NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
    NDIS_IF_COUNTED_STRING
);

// ---- Issue 10: VPorts, receive filters and PCI virtualization of the PF ----------------
// x64 layouts from the WDK 10.0.22621 `ndis.h`/`ntddndis.h` 6.30 view (shared/wdk-layouts,
// copied into `common/tests/layouts.rs` with their source), and mingw-w64 `ntddndis.h`
// where it defines them (`tests/tests/c_oracle.rs`).

/// `GROUP_AFFINITY` (wdm.h / winnt.h): Mask (KAFFINITY), Group, Reserved[3]; size 16.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GROUP_AFFINITY {
    pub Mask: usize,
    pub Group: u16,
    pub Reserved: [u16; 3],
}

/// NDIS_NIC_SWITCH_VPORT_PARAMETERS, revision 1 (WDK 6.30 view: size 576, LookaheadSize@568).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NIC_SWITCH_VPORT_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub SwitchId: NDIS_NIC_SWITCH_ID,
    pub VPortId: NDIS_NIC_SWITCH_VPORT_ID,
    pub VPortName: NDIS_IF_COUNTED_STRING,
    pub AttachedFunctionId: NDIS_SRIOV_FUNCTION_ID,
    pub NumQueuePairs: u32,
    pub InterruptModeration: u32,
    pub VPortState: u32,
    pub ProcessorAffinity: GROUP_AFFINITY,
    pub LookaheadSize: u32,
}

/// NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS (WDK 6.30 view: size 12).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub VPortId: NDIS_NIC_SWITCH_VPORT_ID,
}

/// NDIS_RECEIVE_FILTER_CAPABILITIES, revision 2 (WDK 6.30 view: size 84).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_RECEIVE_FILTER_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub EnabledFilterTypes: u32,
    pub EnabledQueueTypes: u32,
    pub NumQueues: u32,
    pub SupportedQueueProperties: u32,
    pub SupportedFilterTests: u32,
    pub SupportedHeaders: u32,
    pub SupportedMacHeaderFields: u32,
    pub MaxMacHeaderFilters: u32,
    pub MaxQueueGroups: u32,
    pub MaxQueuesPerQueueGroup: u32,
    pub MinLookaheadSplitSize: u32,
    pub MaxLookaheadSplitSize: u32,
    pub SupportedARPHeaderFields: u32,
    pub SupportedIPv4HeaderFields: u32,
    pub SupportedIPv6HeaderFields: u32,
    pub SupportedUdpHeaderFields: u32,
    pub MaxFieldTestsPerPacketCoalescingFilter: u32,
    pub MaxPacketCoalescingFilters: u32,
    pub NdisReserved: u32,
}

/// NDIS_RECEIVE_FILTER_PARAMETERS, revision 2 (WDK 6.30 view: size 44, VPortId@40).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_RECEIVE_FILTER_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub FilterType: u32,
    pub QueueId: u32,
    pub FilterId: u32,
    pub FieldParametersArrayOffset: u32,
    pub FieldParametersArrayNumElements: u32,
    pub FieldParametersArrayElementSize: u32,
    pub RequestedFilterIdBitCount: u32,
    pub MaxCoalescingDelay: u32,
    pub VPortId: NDIS_NIC_SWITCH_VPORT_ID,
}

/// The 16-byte value unions of NDIS_RECEIVE_FILTER_FIELD_PARAMETERS (`FieldByteArrayValue`
/// is `UCHAR[16]`, the largest member; align 8 from `FieldLong64Value`).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_RECEIVE_FILTER_FIELD_VALUE {
    pub ByteValue: u8,
    pub ShortValue: u16,
    pub LongValue: u32,
    pub Long64Value: u64,
    pub ByteArrayValue: [u8; 16],
}

/// NDIS_RECEIVE_FILTER_FIELD_PARAMETERS, revision 2 (WDK 6.30 view: size 56, FieldValue@24,
/// ResultValue@40).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_RECEIVE_FILTER_FIELD_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub FrameHeader: u32,
    pub ReceiveFilterTest: u32,
    /// The `HeaderField` union: every arm is a 4-byte enum (`MacHeaderField` for MAC).
    pub HeaderField: u32,
    pub FieldValue: NDIS_RECEIVE_FILTER_FIELD_VALUE,
    pub ResultValue: NDIS_RECEIVE_FILTER_FIELD_VALUE,
}

/// NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS (WDK 6.30 view: size 16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub QueueId: u32,
    pub FilterId: u32,
}

/// NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS (WDK 6.30 view: size 24).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub FilterId: u32,
    pub SourceQueueId: u32,
    pub SourceVPortId: NDIS_NIC_SWITCH_VPORT_ID,
    pub DestQueueId: u32,
    pub DestVPortId: NDIS_NIC_SWITCH_VPORT_ID,
}

/// NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS (WDK 6.30 view: size 20).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
    pub Offset: u32,
    pub Length: u32,
    pub BufferOffset: u32,
}

/// NDIS_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS (WDK 6.30 view: size 20, same shape).
pub type NDIS_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS = NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS;

/// NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS (WDK 6.30 view: size 16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
    pub PowerState: u32,
    pub WakeEnable: BOOLEAN,
}

/// NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO (WDK 6.30 view: size 10).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
    pub VendorId: u16,
    pub DeviceId: u16,
}

/// NDIS_SRIOV_PROBED_BARS_INFO (WDK 6.30 view: size 8).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_PROBED_BARS_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub BaseRegisterValuesOffset: u32,
}

/// NDIS_SRIOV_BAR_RESOURCES_INFO (WDK 6.30 view: size 12).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_SRIOV_BAR_RESOURCES_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub VFId: NDIS_SRIOV_FUNCTION_ID,
    pub BarIndex: u16,
    pub BarResourcesOffset: u32,
}

/// `u.Memory` of CM_PARTIAL_RESOURCE_DESCRIPTOR: `PHYSICAL_ADDRESS Start; ULONG Length` under
/// wdm.h's `#include <pshpack4.h>` (so Start sits at 4, not 8, in the descriptor).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct CM_PARTIAL_RESOURCE_MEMORY {
    pub Start: i64,
    pub Length: u32,
}

/// `u.Interrupt` of CM_PARTIAL_RESOURCE_DESCRIPTOR, and `u.MessageInterrupt.Translated`,
/// which has the same shape (mingw-w64 `ddk/wdm.h` l.2943-2975 with `NT_PROCESSOR_GROUPS`:
/// `USHORT Level; USHORT Group; ULONG Vector; KAFFINITY Affinity`, packed to 4 as the whole
/// descriptor, so Affinity sits at 8 and the arm is 16 bytes).
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug, Default)]
pub struct CM_PARTIAL_RESOURCE_INTERRUPT {
    pub Level: u16,
    pub Group: u16,
    pub Vector: u32,
    pub Affinity: usize,
}

/// The 16-byte `u` union of CM_PARTIAL_RESOURCE_DESCRIPTOR: the memory arm (BARs) and the
/// interrupt arm (`Interrupt`, and `MessageInterrupt.Translated` for a descriptor flagged
/// `CM_RESOURCE_INTERRUPT_MESSAGE`).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub union CM_PARTIAL_RESOURCE_DESCRIPTOR_U {
    pub Memory: CM_PARTIAL_RESOURCE_MEMORY,
    pub Interrupt: CM_PARTIAL_RESOURCE_INTERRUPT,
    pub Raw: [u32; 4],
}

/// CM_PARTIAL_RESOURCE_DESCRIPTOR (WDK 6.30 view: size 20, align 4, u@4).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct CM_PARTIAL_RESOURCE_DESCRIPTOR {
    pub Type: u8,
    pub ShareDisposition: u8,
    pub Flags: u16,
    pub u: CM_PARTIAL_RESOURCE_DESCRIPTOR_U,
}

zeroed_default!(
    NDIS_NIC_SWITCH_VPORT_PARAMETERS,
    NDIS_RECEIVE_FILTER_FIELD_PARAMETERS
);

// ---- Issue 11: resources, DMA, interrupts and the data path ----------------------------------
// x64 layouts from the WDK 10.0.22621 6.30 view (copied into `common/tests/layouts.rs` with
// their lines), and mingw-w64 `ddk/wdm.h` / `ntddndis.h` where it defines them
// (`tests/tests/c_oracle.rs`).

/// CM_PARTIAL_RESOURCE_LIST (WDK 6.30 view: size 28 align 4; Version 0, Revision 2, Count 4,
/// PartialDescriptors 8). `NDIS_RESOURCE_LIST` is this type (mingw-w64 `ddk/ndis.h` l.646),
/// and `NDIS_MINIPORT_INIT_PARAMETERS.AllocatedResources` points at one: `Count` descriptors
/// follow back to back from `PartialDescriptors`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CM_PARTIAL_RESOURCE_LIST {
    pub Version: u16,
    pub Revision: u16,
    pub Count: u32,
    pub PartialDescriptors: [CM_PARTIAL_RESOURCE_DESCRIPTOR; 1],
}
pub type NDIS_RESOURCE_LIST = CM_PARTIAL_RESOURCE_LIST;

/// CM_FULL_RESOURCE_DESCRIPTOR (mingw-w64 `ddk/wdm.h` l.3147: InterfaceType, BusNumber,
/// PartialResourceList; the WDK table has no line of its own: CM_RESOURCE_LIST.List at 4 and
/// size 40 give its 36 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CM_FULL_RESOURCE_DESCRIPTOR {
    pub InterfaceType: NDIS_INTERFACE_TYPE,
    pub BusNumber: u32,
    pub PartialResourceList: CM_PARTIAL_RESOURCE_LIST,
}

/// CM_RESOURCE_LIST (WDK 6.30 view: size 40 align 4; Count 0, List 4).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CM_RESOURCE_LIST {
    pub Count: u32,
    pub List: [CM_FULL_RESOURCE_DESCRIPTOR; 1],
}

/// A field the WDK declares `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)` (16 on x64): the
/// reserved arrays of NET_BUFFER_LIST and NET_BUFFER.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct Aligned16<T>(pub T);

/// MDL (WDK 6.30 view: size 48 align 8; Next 0, Size 8, MdlFlags 10, Process 16,
/// MappedSystemVa 24, StartVa 32, ByteCount 40, ByteOffset 44; mingw-w64 `ddk/wdm.h` l.1667).
/// A buffer's bytes are `ByteCount` bytes from `MappedSystemVa` when mapped; drivers read
/// them through NDIS's mapping, never the physical pages.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MDL {
    pub Next: *mut MDL,
    pub Size: i16,
    pub MdlFlags: i16,
    pub Process: *mut c_void,
    pub MappedSystemVa: *mut c_void,
    pub StartVa: *mut c_void,
    pub ByteCount: u32,
    pub ByteOffset: u32,
}

/// `MDL_MAPPED_TO_SYSTEM_VA`, `MDL_SOURCE_IS_NONPAGED_POOL` (mingw-w64 `ddk/wdm.h`):
/// `MappedSystemVa` is valid when either is set (what `MmGetSystemAddressForMdlSafe` checks).
pub const MDL_MAPPED_TO_SYSTEM_VA: i16 = 0x0001;
pub const MDL_SOURCE_IS_NONPAGED_POOL: i16 = 0x0004;

/// The `DataLength` union of NET_BUFFER_DATA: `ULONG DataLength` / `SIZE_T stDataLength`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_DATA_LENGTH {
    pub DataLength: u32,
    pub stDataLength: usize,
}

/// NET_BUFFER_DATA (WDK 6.30 view: size 48 align 8; Next 0, CurrentMdl 8, CurrentMdlOffset 16,
/// DataLength 24, MdlChain 32, DataOffset 40).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NET_BUFFER_DATA {
    pub Next: *mut NET_BUFFER,
    pub CurrentMdl: *mut MDL,
    pub CurrentMdlOffset: u32,
    pub DataLength: NET_BUFFER_DATA_LENGTH,
    pub MdlChain: *mut MDL,
    pub DataOffset: u32,
}

/// NET_BUFFER (WDK 6.30 view: size 176 align 16). The WDK's first member is the
/// NET_BUFFER_HEADER union of NET_BUFFER_DATA and an SLIST_HEADER (`Link`, NDIS's own, which
/// gives the 16-byte alignment); here NET_BUFFER_DATA's fields are flattened into it, at the
/// same offsets, as the table lists them (NET_BUFFER.Next 0 ... DataOffset 40), with the
/// alignment kept by `align(16)`. Then ChecksumBias 48, Reserved 50, NdisPoolHandle 56,
/// NdisReserved 64, ProtocolReserved 80, MiniportReserved 128, DataPhysicalAddress 160, and
/// the SharedMemoryInfo/ScatterGatherList union 168.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct NET_BUFFER {
    pub Next: *mut NET_BUFFER,
    pub CurrentMdl: *mut MDL,
    pub CurrentMdlOffset: u32,
    pub DataLength: NET_BUFFER_DATA_LENGTH,
    pub MdlChain: *mut MDL,
    pub DataOffset: u32,
    /// The tail padding of the WDK's 48-byte NET_BUFFER_HEADER union (not a WDK field).
    pub HeaderPadding: u32,
    pub ChecksumBias: u16,
    pub Reserved: u16,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: Aligned16<[*mut c_void; 2]>,
    pub ProtocolReserved: Aligned16<[*mut c_void; 6]>,
    pub MiniportReserved: Aligned16<[*mut c_void; 4]>,
    /// `NDIS_PHYSICAL_ADDRESS` (LARGE_INTEGER).
    pub DataPhysicalAddress: i64,
    /// `SharedMemoryInfo` / `ScatterGatherList`: NDIS's, a miniport leaves it alone.
    pub ScatterGatherList: *mut SCATTER_GATHER_LIST,
}

impl NET_BUFFER {
    /// `NET_BUFFER_DATA_LENGTH(nb)`: the `ULONG` arm, which every NDIS 6.30 NET_BUFFER uses.
    pub fn data_length(&self) -> u32 {
        // SAFETY: both arms are plain integers; the ULONG is the low half of the SIZE_T.
        unsafe { self.DataLength.DataLength }
    }
}

/// NET_BUFFER_LIST_DATA (WDK 6.30 view: size 16 align 8; Next 0, FirstNetBuffer 8).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER_LIST_DATA {
    pub Next: *mut NET_BUFFER_LIST,
    pub FirstNetBuffer: *mut NET_BUFFER,
}

/// `MaxNetBufferListInfo` of the 6.30 view: NetBufferListInfo at 144 in a 336-byte NBL.
pub const NET_BUFFER_LIST_INFO_COUNT_630: usize = 24;

/// NET_BUFFER_LIST (WDK 6.30 view: size 336 align 16; Next 0, FirstNetBuffer 8, Context 16,
/// ParentNetBufferList 24, NdisPoolHandle 32, NdisReserved 48, ProtocolReserved 64,
/// MiniportReserved 96, Scratch 112, SourceHandle 120, NblFlags 128, ChildRefCount 132,
/// Flags 136, Status 140, NetBufferListInfo 144). The header union (NET_BUFFER_LIST_DATA or
/// NDIS's SLIST_HEADER) is flattened as for [`NET_BUFFER`]. Later NDIS versions make the NBL
/// longer (6.50: 352, versions list) only by more NetBufferListInfo slots after these
/// offsets; NDIS allocates every NBL, so a 6.30 miniport never depends on the size.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct NET_BUFFER_LIST {
    pub Next: *mut NET_BUFFER_LIST,
    pub FirstNetBuffer: *mut NET_BUFFER,
    pub Context: *mut c_void,
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: Aligned16<[*mut c_void; 2]>,
    pub ProtocolReserved: Aligned16<[*mut c_void; 4]>,
    pub MiniportReserved: Aligned16<[*mut c_void; 2]>,
    pub Scratch: *mut c_void,
    pub SourceHandle: NDIS_HANDLE,
    pub NblFlags: u32,
    pub ChildRefCount: i32,
    pub Flags: u32,
    /// The `Status` / `NdisReserved2` union: the completion status a miniport sets.
    pub Status: NDIS_STATUS,
    pub NetBufferListInfo: [*mut c_void; NET_BUFFER_LIST_INFO_COUNT_630],
}

/// NET_BUFFER_LIST_POOL_PARAMETERS, revision 1 (WDK 6.30 view: size 16 align 4; Header 0,
/// ProtocolId 4, fAllocateNetBuffer 5, ContextSize 6, PoolTag 8, DataSize 12; the same in the
/// 6.50 view). NDIS 6.87 appends `Flags` (20 bytes, the versions list); a 6.30 driver passes
/// revision 1 and NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NET_BUFFER_LIST_POOL_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub ProtocolId: u8,
    pub fAllocateNetBuffer: BOOLEAN,
    pub ContextSize: u16,
    pub PoolTag: u32,
    pub DataSize: u32,
}

/// SCATTER_GATHER_ELEMENT (WDK 6.30 view: size 24 align 8; Address 0, Length 8, Reserved 16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SCATTER_GATHER_ELEMENT {
    /// PHYSICAL_ADDRESS: the bus address the device uses.
    pub Address: i64,
    pub Length: u32,
    pub Reserved: usize,
}

/// SCATTER_GATHER_LIST (WDK 6.30 view: size 16 align 8; NumberOfElements 0, Reserved 8,
/// Elements 16). `Elements` is a flexible array in the WDK (size 16); mingw-w64 declares it
/// `[1]` (size 40), so only the offsets are compared with it.
#[repr(C)]
#[derive(Debug)]
pub struct SCATTER_GATHER_LIST {
    pub NumberOfElements: u32,
    pub Reserved: usize,
    pub Elements: [SCATTER_GATHER_ELEMENT; 0],
}

/// MiniportProcessSGList (DDI page MINIPORT_PROCESS_SG_LIST): DISPATCH_LEVEL; may run before
/// or after NdisMAllocateNetBufferSGList returns.
pub type MINIPORT_PROCESS_SG_LIST =
    ndis_fn_type!(fn(*mut c_void, *mut c_void, *mut SCATTER_GATHER_LIST, *mut c_void));
/// MiniportSharedMemoryAllocateComplete (MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE).
pub type MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut c_void, *mut i64, u32, *mut c_void));

/// NDIS_SG_DMA_DESCRIPTION, revision 1 (WDK 6.30 view: size 40 align 8; Header 0, Flags 4,
/// MaximumPhysicalMapping 8, ProcessSGListHandler 16, SharedMemAllocateCompleteHandler 24,
/// ScatterGatherListSize 32; `NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1` ends there: 36).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct NDIS_SG_DMA_DESCRIPTION {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub MaximumPhysicalMapping: u32,
    pub ProcessSGListHandler: Option<MINIPORT_PROCESS_SG_LIST>,
    pub SharedMemAllocateCompleteHandler: Option<MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE>,
    pub ScatterGatherListSize: u32,
}

// Interrupt handlers (DDI pages MINIPORT_ISR, MINIPORT_INTERRUPT_DPC, MINIPORT_DISABLE_INTERRUPT,
// MINIPORT_ENABLE_INTERRUPT, MINIPORT_MESSAGE_INTERRUPT, MINIPORT_MESSAGE_INTERRUPT_DPC,
// MINIPORT_DISABLE_MESSAGE_INTERRUPT, MINIPORT_ENABLE_MESSAGE_INTERRUPT).
/// (MiniportInterruptContext, QueueDefaultInterruptDpc, TargetProcessors) -> recognized; DIRQL.
pub type MINIPORT_ISR = ndis_fn_type!(fn(NDIS_HANDLE, *mut BOOLEAN, *mut u32) -> BOOLEAN);
/// (MiniportInterruptContext, MiniportDpcContext, ReceiveThrottleParameters, NdisReserved2);
/// DISPATCH_LEVEL.
pub type MINIPORT_INTERRUPT_DPC =
    ndis_fn_type!(fn(NDIS_HANDLE, *mut c_void, *mut c_void, *mut c_void));
pub type MINIPORT_DISABLE_INTERRUPT = ndis_fn_type!(fn(NDIS_HANDLE));
pub type MINIPORT_ENABLE_INTERRUPT = ndis_fn_type!(fn(NDIS_HANDLE));
/// (MiniportInterruptContext, MessageId, QueueDefaultInterruptDpc, TargetProcessors); DIRQL.
pub type MINIPORT_MESSAGE_INTERRUPT =
    ndis_fn_type!(fn(NDIS_HANDLE, u32, *mut BOOLEAN, *mut u32) -> BOOLEAN);
/// (MiniportInterruptContext, MessageId, MiniportDpcContext, ReceiveThrottleParameters,
/// NdisReserved2); DISPATCH_LEVEL.
pub type MINIPORT_MESSAGE_INTERRUPT_DPC =
    ndis_fn_type!(fn(NDIS_HANDLE, u32, *mut c_void, *mut c_void, *mut c_void));
pub type MINIPORT_DISABLE_MESSAGE_INTERRUPT = ndis_fn_type!(fn(NDIS_HANDLE, u32));
pub type MINIPORT_ENABLE_MESSAGE_INTERRUPT = ndis_fn_type!(fn(NDIS_HANDLE, u32));

/// NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, revision 1 (WDK 6.30 view: size 96 align 8;
/// Header 0, InterruptHandler 8, InterruptDpcHandler 16, DisableInterruptHandler 24,
/// EnableInterruptHandler 32, MsiSupported 40, MsiSyncWithAllMessages 41,
/// MessageInterruptHandler 48, MessageInterruptDpcHandler 56, DisableMessageInterruptHandler 64,
/// EnableMessageInterruptHandler 72, InterruptType 80, MessageInfoTable 88).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub InterruptHandler: Option<MINIPORT_ISR>,
    pub InterruptDpcHandler: Option<MINIPORT_INTERRUPT_DPC>,
    pub DisableInterruptHandler: Option<MINIPORT_DISABLE_INTERRUPT>,
    pub EnableInterruptHandler: Option<MINIPORT_ENABLE_INTERRUPT>,
    pub MsiSupported: BOOLEAN,
    pub MsiSyncWithAllMessages: BOOLEAN,
    pub MessageInterruptHandler: Option<MINIPORT_MESSAGE_INTERRUPT>,
    pub MessageInterruptDpcHandler: Option<MINIPORT_MESSAGE_INTERRUPT_DPC>,
    pub DisableMessageInterruptHandler: Option<MINIPORT_DISABLE_MESSAGE_INTERRUPT>,
    pub EnableMessageInterruptHandler: Option<MINIPORT_ENABLE_MESSAGE_INTERRUPT>,
    /// `NDIS_INTERRUPT_TYPE`, set by NDIS: [`NDIS_CONNECT_LINE_BASED`] or
    /// [`NDIS_CONNECT_MESSAGE_BASED`].
    pub InterruptType: u32,
    /// `PIO_INTERRUPT_MESSAGE_INFO`, set by NDIS for message-based interrupts.
    pub MessageInfoTable: *mut c_void,
}

/// IO_INTERRUPT_MESSAGE_INFO_ENTRY (`wdm.h`; mingw-w64 `ddk/wdm.h` l.4099; x64: MessageAddress
/// 0, TargetProcessorSet 8, InterruptObject 16, MessageData 24, Vector 28, Irql 32, Mode 36,
/// Polarity 40, size 48): one connected message.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_INTERRUPT_MESSAGE_INFO_ENTRY {
    /// PHYSICAL_ADDRESS the device writes to signal the message.
    pub MessageAddress: i64,
    /// KAFFINITY.
    pub TargetProcessorSet: usize,
    /// PKINTERRUPT.
    pub InterruptObject: *mut c_void,
    pub MessageData: u32,
    pub Vector: u32,
    pub Irql: KIRQL,
    /// KINTERRUPT_MODE: 0 LevelSensitive, 1 Latched.
    pub Mode: i32,
    /// KINTERRUPT_POLARITY.
    pub Polarity: i32,
}

/// IO_INTERRUPT_MESSAGE_INFO (`wdm.h`; mingw-w64 `ddk/wdm.h` l.4110; x64: UnifiedIrql 0,
/// MessageCount 4, MessageInfo 8, size 56 with its one declared entry): what NDIS hands back
/// in `NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS.MessageInfoTable`; `MessageCount` entries
/// follow from `MessageInfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_INTERRUPT_MESSAGE_INFO {
    pub UnifiedIrql: KIRQL,
    pub MessageCount: u32,
    pub MessageInfo: [IO_INTERRUPT_MESSAGE_INFO_ENTRY; 1],
}

/// NDIS_RECEIVE_THROTTLE_PARAMETERS (WDK 6.30 view: size 8 align 4; MaxNblsToIndicate 0,
/// then the bit-field `MoreNblsPending` at bit 32, width 1, the rest of that ULONG reserved):
/// what a message DPC gets as `ReceiveThrottleParameters`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_RECEIVE_THROTTLE_PARAMETERS {
    pub MaxNblsToIndicate: u32,
    /// Bit 0: `MoreNblsPending` (the DPC sets it when it left receives for a later DPC).
    pub Flags: u32,
}

zeroed_default!(
    IO_INTERRUPT_MESSAGE_INFO_ENTRY,
    IO_INTERRUPT_MESSAGE_INFO,
    MDL,
    NET_BUFFER,
    NET_BUFFER_LIST,
    NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS
);
