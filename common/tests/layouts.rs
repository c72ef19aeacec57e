//! x64 sizes and field offsets of every `#[repr(C)]` structure in `common::ffi`, against the
//! facts in `docs/ndis-reference.md` (header cited per test). The same structures are compiled
//! against mingw-w64's `ntddndis.h` in `c_oracle.rs`.
#![cfg(target_pointer_width = "64")]

use common::ffi::*;
use core::mem::{align_of, offset_of, size_of};

macro_rules! layout {
    ($t:ty, size $size:expr, align $align:expr; $($field:ident @ $off:expr),* $(,)?) => {{
        assert_eq!(size_of::<$t>(), $size, concat!("size of ", stringify!($t)));
        assert_eq!(align_of::<$t>(), $align, concat!("align of ", stringify!($t)));
        $(assert_eq!(offset_of!($t, $field), $off, concat!(stringify!($t), ".", stringify!($field)));)*
    }};
}

/// `ntddndis.h` (ndis.sys symbols, mingw-w64).
#[test]
fn ndis_object_header() {
    layout!(NDIS_OBJECT_HEADER, size 4, align 2; Type @ 0, Revision @ 1, Size @ 2);
}

/// WDK 22621 `km/ndis/oidrequest.h`; offsets from the ndis.sys symbols.
#[test]
fn ndis_oid_request() {
    layout!(NDIS_OID_REQUEST, size 0xF8, align 8;
        Header @ 0x00, RequestType @ 0x04, PortNumber @ 0x08, Timeout @ 0x0C, RequestId @ 0x10,
        RequestHandle @ 0x18, DATA @ 0x20, NdisReserved @ 0x48, MiniportReserved @ 0xC8,
        SourceReserved @ 0xD8, SupportedRevision @ 0xE8, Reserved1 @ 0xE9, Reserved2 @ 0xEA,
        SwitchId @ 0xEC, VPortId @ 0xF0, Flags @ 0xF4);
    assert_eq!(
        offset_of!(NDIS_OID_REQUEST, Reserved2) + 2,
        NDIS_SIZEOF_OID_REQUEST_REVISION_1 as usize
    );
    assert_eq!(
        offset_of!(NDIS_OID_REQUEST, Flags) + 4,
        NDIS_SIZEOF_OID_REQUEST_REVISION_2 as usize
    );
}

/// `oidrequest.h`: the request union and its three variants (offsets relative to DATA).
#[test]
fn ndis_oid_request_data_variants() {
    assert_eq!(size_of::<NDIS_OID_REQUEST_DATA>(), 0x28);
    layout!(NDIS_OID_QUERY_INFORMATION, size 0x20, align 8;
        Oid @ 0, InformationBuffer @ 0x08, InformationBufferLength @ 0x10, BytesWritten @ 0x14, BytesNeeded @ 0x18);
    layout!(NDIS_OID_SET_INFORMATION, size 0x20, align 8;
        Oid @ 0, InformationBuffer @ 0x08, InformationBufferLength @ 0x10, BytesRead @ 0x14, BytesNeeded @ 0x18);
    layout!(NDIS_OID_METHOD_INFORMATION, size 0x28, align 8;
        Oid @ 0, InformationBuffer @ 0x08, InputBufferLength @ 0x10, OutputBufferLength @ 0x14,
        MethodId @ 0x18, BytesWritten @ 0x1C, BytesRead @ 0x20, BytesNeeded @ 0x24);
}

/// `ntddndis.h` (mingw-w64 l.4093/4101).
#[test]
fn sriov_read_write_vf_config_block_parameters() {
    layout!(NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS, size 20, align 4;
        Header @ 0, VFId @ 4, BlockId @ 8, Length @ 12, BufferOffset @ 16);
    assert_eq!(
        size_of::<NDIS_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS>(),
        NDIS_SIZEOF_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1 as usize
    );
}

/// `ntddndis.h` (mingw-w64 l.4165).
#[test]
fn sriov_vf_invalidate_config_block_info() {
    layout!(NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO, size 16, align 8; Header @ 0, BlockMask @ 8);
}

/// `ntddndis.h` (ndis.sys symbols, mingw-w64 l.4071).
#[test]
fn sriov_capabilities() {
    layout!(NDIS_SRIOV_CAPABILITIES, size 12, align 4; Header @ 0, Flags @ 4, SriovCapabilities @ 8);
}

/// `ntddndis.h`.
#[test]
fn sriov_reset_vf_parameters() {
    layout!(NDIS_SRIOV_RESET_VF_PARAMETERS, size 6, align 2; Header @ 0, VFId @ 4);
}

/// `ntddndis.h` (mingw-w64): NDIS_NIC_SWITCH_CAPABILITIES (revision 2).
#[test]
fn nic_switch_capabilities() {
    layout!(NDIS_NIC_SWITCH_CAPABILITIES, size 116, align 4;
        Header @ 0, Flags @ 4, NdisReserved1 @ 8, NumTotalMacAddresses @ 12, NumMacAddressesPerPort @ 16,
        NumVlansPerPort @ 20, NdisReserved2 @ 24, NdisReserved3 @ 28, MaxNumSwitches @ 36, MaxNumVPorts @ 40,
        NdisReserved4 @ 44, MaxNumVFs @ 48, MaxNumQueuePairs @ 52, NdisReserved5 @ 56, NdisReserved6 @ 60,
        NdisReserved7 @ 64, MaxNumQueuePairsPerNonDefaultVPort @ 68, NdisReserved8 @ 72, NdisReserved9 @ 76,
        NdisReserved10 @ 80, NdisReserved11 @ 84, NdisReserved12 @ 88, MaxNumMacAddresses @ 92,
        NdisReserved13 @ 96, NdisReserved14 @ 100, NdisReserved15 @ 104, NdisReserved16 @ 108, NdisReserved17 @ 112);
}

/// `ntddndis.h` (mingw-w64): NDIS_NIC_SWITCH_PARAMETERS (revision 1).
#[test]
fn nic_switch_parameters() {
    layout!(NDIS_NIC_SWITCH_PARAMETERS, size 548, align 4;
        Header @ 0, Flags @ 4, SwitchType @ 8, SwitchId @ 12, SwitchFriendlyName @ 16, NumVFs @ 532,
        NdisReserved1 @ 536, NdisReserved2 @ 540, NdisReserved3 @ 544);
    assert_eq!(size_of::<NDIS_IF_COUNTED_STRING>(), 0x204);
}

/// `ntddndis.h` (mingw-w64).
#[test]
fn nic_switch_delete_switch_parameters() {
    layout!(NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS, size 12, align 4; Header @ 0, Flags @ 4, SwitchId @ 8);
}

/// `ntddndis.h` (ndis.sys symbols, mingw-w64).
#[test]
fn nic_switch_vf_parameters() {
    layout!(NDIS_NIC_SWITCH_VF_PARAMETERS, size 0x660, align 4;
        Header @ 0x000, Flags @ 0x004, SwitchId @ 0x008, VMName @ 0x00C, VMFriendlyName @ 0x210,
        NicName @ 0x414, MacAddressLength @ 0x618, PermanentMacAddress @ 0x61A, CurrentMacAddress @ 0x63A,
        VFId @ 0x65A, RequestorId @ 0x65C);
}

/// `ntddndis.h`: size 12, Header.Size 10.
#[test]
fn nic_switch_free_vf_parameters() {
    layout!(NDIS_NIC_SWITCH_FREE_VF_PARAMETERS, size 12, align 4; Header @ 0, Flags @ 4, VFId @ 8);
    assert_eq!(
        offset_of!(NDIS_NIC_SWITCH_FREE_VF_PARAMETERS, VFId) + 2,
        NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1 as usize
    );
}

/// `ntddndis.h` (mingw-w64): NDIS_LINK_STATE.
#[test]
fn link_state() {
    layout!(NDIS_LINK_STATE, size 40, align 8;
        Header @ 0, MediaConnectState @ 4, MediaDuplexState @ 8, XmitLinkSpeed @ 16, RcvLinkSpeed @ 24,
        PauseFunctions @ 32, AutoNegotiationFlags @ 36);
}

/// `ndis.h` (ndis.sys symbols).
#[test]
fn status_indication() {
    layout!(NDIS_STATUS_INDICATION, size 0x70, align 8;
        Header @ 0x00, SourceHandle @ 0x08, PortNumber @ 0x10, StatusCode @ 0x14, Flags @ 0x18,
        DestinationHandle @ 0x20, RequestId @ 0x28, StatusBuffer @ 0x30, StatusBufferSize @ 0x38,
        Guid @ 0x3C, NdisReserved @ 0x50);
}

/// WDK 22621 `km/ndis.h` l.10868; ndis.sys symbols (revision 2 layout).
#[test]
fn miniport_driver_characteristics() {
    layout!(NDIS_MINIPORT_DRIVER_CHARACTERISTICS, size 0x98, align 8;
        Header @ 0x00, MajorNdisVersion @ 0x04, MinorNdisVersion @ 0x05, MajorDriverVersion @ 0x06,
        MinorDriverVersion @ 0x07, Flags @ 0x08, SetOptionsHandler @ 0x10, InitializeHandlerEx @ 0x18,
        HaltHandlerEx @ 0x20, UnloadHandler @ 0x28, PauseHandler @ 0x30, RestartHandler @ 0x38,
        OidRequestHandler @ 0x40, SendNetBufferListsHandler @ 0x48, ReturnNetBufferListsHandler @ 0x50,
        CancelSendHandler @ 0x58, CheckForHangHandlerEx @ 0x60, ResetHandlerEx @ 0x68,
        DevicePnPEventNotifyHandler @ 0x70, ShutdownHandlerEx @ 0x78, CancelOidRequestHandler @ 0x80,
        DirectOidRequestHandler @ 0x88, CancelDirectOidRequestHandler @ 0x90);
    assert_eq!(
        size_of::<NDIS_MINIPORT_DRIVER_CHARACTERISTICS>(),
        NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2 as usize
    );
}

/// `ndis.h` (ndis.sys symbols).
#[test]
fn adapter_registration_attributes() {
    layout!(NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, size 0x20, align 8;
        Header @ 0x00, MiniportAdapterContext @ 0x08, AttributeFlags @ 0x10, CheckForHangTimeInSeconds @ 0x14,
        InterfaceType @ 0x18);
}

/// WDK 22621 `km/ndis.h` l.10256; ndis.sys symbols.
#[test]
fn adapter_general_attributes() {
    layout!(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, size 0xE0, align 8;
        Header @ 0x00, Flags @ 0x04, MediaType @ 0x08, PhysicalMediumType @ 0x0C, MtuSize @ 0x10,
        MaxXmitLinkSpeed @ 0x18, XmitLinkSpeed @ 0x20, MaxRcvLinkSpeed @ 0x28, RcvLinkSpeed @ 0x30,
        MediaConnectState @ 0x38, MediaDuplexState @ 0x3C, LookaheadSize @ 0x40,
        PowerManagementCapabilities @ 0x48, MacOptions @ 0x50, SupportedPacketFilters @ 0x54,
        MaxMulticastListSize @ 0x58, MacAddressLength @ 0x5C, PermanentMacAddress @ 0x5E,
        CurrentMacAddress @ 0x7E, RecvScaleCapabilities @ 0xA0, AccessType @ 0xA8, DirectionType @ 0xAC,
        ConnectionType @ 0xB0, IfType @ 0xB4, IfConnectorPresent @ 0xB6, SupportedStatistics @ 0xB8,
        SupportedPauseFunctions @ 0xBC, DataBackFillSize @ 0xC0, ContextBackFillSize @ 0xC4,
        SupportedOidList @ 0xC8, SupportedOidListLength @ 0xD0, AutoNegotiationFlags @ 0xD4,
        PowerManagementCapabilitiesEx @ 0xD8);
}

/// `ndis.h` (ndis.sys symbols).
#[test]
fn adapter_hardware_assist_attributes() {
    layout!(NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES, size 0x60, align 8;
        Header @ 0x00, HDSplitAttributes @ 0x08, HardwareReceiveFilterCapabilities @ 0x10,
        CurrentReceiveFilterCapabilities @ 0x18, HardwareNicSwitchCapabilities @ 0x20,
        CurrentNicSwitchCapabilities @ 0x28, HardwareSriovCapabilities @ 0x30, CurrentSriovCapabilities @ 0x38,
        HardwareQosCapabilities @ 0x40, CurrentQosCapabilities @ 0x48, HardwareGftOffloadCapabilities @ 0x50,
        CurrentGftOffloadCapabilities @ 0x58);
    assert_eq!(
        offset_of!(
            NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
            CurrentQosCapabilities
        ) + 8,
        NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3 as usize
    );
}

/// `ndis.h` (ndis.sys symbols).
#[test]
fn miniport_init_pause_restart_parameters() {
    layout!(NDIS_MINIPORT_INIT_PARAMETERS, size 0x40, align 8;
        Header @ 0, Flags @ 4, AllocatedResources @ 8, IMDeviceInstanceContext @ 0x10,
        MiniportAddDeviceContext @ 0x18, IfIndex @ 0x20, NetLuid @ 0x28, DefaultPortAuthStates @ 0x30,
        PciDeviceCustomProperties @ 0x38);
    layout!(NDIS_MINIPORT_PAUSE_PARAMETERS, size 0xC, align 4; Header @ 0, Flags @ 4, PauseReason @ 8);
    layout!(NDIS_MINIPORT_RESTART_PARAMETERS, size 0x18, align 8; Header @ 0, RestartAttributes @ 8, Flags @ 0x10);
}

/// `ndis.h` (ndis.sys symbols).
#[test]
fn net_device_pnp_event_and_spin_lock() {
    layout!(NET_DEVICE_PNP_EVENT, size 0x30, align 8;
        Header @ 0, PortNumber @ 4, DevicePnPEvent @ 8, InformationBuffer @ 0x10, InformationBufferLength @ 0x18,
        NdisReserved @ 0x1C);
    layout!(NDIS_SPIN_LOCK, size 0x10, align 8; SpinLock @ 0, OldIrql @ 8);
}

/// NDIS_CONFIGURATION_OBJECT (DDI field order; x64 public-symbols dump: size 0x18) and
/// NDIS_CONFIGURATION_PARAMETER (mingw-w64 `ddk/ndis.h` l.932: an enum, then a union holding a
/// UNICODE_STRING).
#[test]
fn configuration_object_and_parameter() {
    layout!(NDIS_CONFIGURATION_OBJECT, size 0x18, align 8; Header @ 0, NdisHandle @ 8, Flags @ 0x10);
    assert_eq!(
        offset_of!(NDIS_CONFIGURATION_OBJECT, Flags) + 4,
        NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1 as usize
    );
    layout!(NDIS_CONFIGURATION_PARAMETER, size 0x18, align 8; ParameterType @ 0, ParameterData @ 8);
    // The union: ULONG or NDIS_STRING (= UNICODE_STRING, 16 bytes), both at 0.
    layout!(NDIS_CONFIGURATION_PARAMETER_DATA, size 16, align 8; IntegerData @ 0, StringData @ 0);
    assert_eq!(NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT, 0xA9);
}

/// guiddef.h GUID (mingw-w64 `guiddef.h`; also compiled in c_oracle.rs): 16 bytes, align 4.
#[test]
fn guid() {
    layout!(GUID, size 16, align 4; Data1 @ 0, Data2 @ 4, Data3 @ 6, Data4 @ 8);
}

/// WDK 22621 `km/vpci.h` and `wdm.h` UNICODE_STRING.
#[test]
fn vpci_output_and_unicode_string() {
    layout!(VPCI_INVALIDATE_BLOCK_OUTPUT, size 8, align 8; BlockMask @ 0);
    layout!(UNICODE_STRING, size 16, align 8; Length @ 0, MaximumLength @ 2, Buffer @ 8);
}

/// NDIS_STATUS values (WDK 1709 `km/ndis.h` literals; NTSTATUS aliases via windows-sys).
#[test]
fn status_values() {
    assert_eq!(NDIS_STATUS_SUCCESS, 0);
    assert_eq!(NDIS_STATUS_PENDING, 0x103);
    assert_eq!(NDIS_STATUS_FAILURE as u32, 0xC000_0001);
    assert_eq!(NDIS_STATUS_RESOURCES as u32, 0xC000_009A);
    assert_eq!(NDIS_STATUS_NOT_SUPPORTED as u32, 0xC000_00BB);
    assert_eq!(NDIS_STATUS_INVALID_PARAMETER as u32, 0xC000_000D);
    assert_eq!(NDIS_STATUS_INVALID_LENGTH as u32, 0xC001_0014);
    assert_eq!(NDIS_STATUS_INVALID_DATA as u32, 0xC001_0015);
    assert_eq!(NDIS_STATUS_BUFFER_TOO_SHORT as u32, 0xC001_0016);
    assert_eq!(NDIS_STATUS_INVALID_OID as u32, 0xC001_0017);
    assert_eq!(NDIS_STATUS_ADAPTER_NOT_READY as u32, 0xC001_0011);
    assert_eq!(NDIS_STATUS_BAD_VERSION as u32, 0xC001_0004);
    assert_eq!(NDIS_STATUS_LINK_STATE as u32, 0x4001_0017);
    // The NTSTATUS twins (STATUS_NDIS_INVALID_LENGTH 0xC0230014) are not the NDIS values.
    assert_ne!(NDIS_STATUS_INVALID_LENGTH as u32, 0xC023_0014);
}

/// `ntddndis.h`, `km/vpci.h`: the OIDs of the backchannel and the NIC switch.
#[test]
fn oid_values() {
    assert_eq!(OID_SRIOV_READ_VF_CONFIG_BLOCK, 66131);
    assert_eq!(OID_SRIOV_WRITE_VF_CONFIG_BLOCK, 66132);
    assert_eq!(OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK, 66153);
    assert_eq!(OID_SRIOV_RESET_VF, 66133);
    assert_eq!(OID_NIC_SWITCH_CREATE_SWITCH, 66103);
    assert_eq!(OID_NIC_SWITCH_DELETE_SWITCH, 66105);
    assert_eq!(OID_NIC_SWITCH_ALLOCATE_VF, 66117);
    assert_eq!(OID_NIC_SWITCH_FREE_VF, 66118);
    assert_eq!(OID_GEN_LINK_STATE, 0x0001_0207);
    assert_eq!(OID_802_3_CURRENT_ADDRESS, 0x0101_0102);
    assert_eq!(NdisRequestMethod, 12);
    assert_eq!(
        IOCTL_VPCI_INVALIDATE_BLOCK,
        (0x2A << 16) | (3 << 14) | (1 << 2) | 3
    );
}

/// `ntddndis.h`: object types and SR-IOV capability flags.
#[test]
fn object_types_and_caps() {
    assert_eq!(NDIS_OBJECT_TYPE_DEFAULT, 0x80);
    assert_eq!(NDIS_OBJECT_TYPE_OID_REQUEST, 0x96);
    assert_eq!(NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, 0x8A);
    assert_eq!(
        NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
        0xAF
    );
    assert_eq!(
        NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT,
        0x3
    );
    assert_eq!(
        NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_VF_MINIPORT,
        0x5
    );
    assert_eq!(VPCI_MAX_READ_WRITE_BLOCK_SIZE, 128);
}

// ---- Issue 10 ------------------------------------------------------------------------------
// Facts copied from the x64 layout dump of the WDK 10.0.22621.0 headers (`km/ndis.h` with
// `ntddk.h`, NDIS 6.30 view: NDIS630_MINIPORT), laid out by clang 14 in MSVC mode
// (`-fdump-record-layouts`). Each test below lists the lines it uses, e.g.
// "NDIS_NIC_SWITCH_VPORT_PARAMETERS size 576 align 8 / .LookaheadSize 568".

/// NDIS_NIC_SWITCH_VPORT_PARAMETERS size 576 align 8; Header 0, Flags 4, SwitchId 8,
/// VPortId 12, VPortName 16, AttachedFunctionId 532, NumQueuePairs 536,
/// InterruptModeration 540, VPortState 544, ProcessorAffinity 552, LookaheadSize 568.
#[test]
fn nic_switch_vport_parameters() {
    layout!(NDIS_NIC_SWITCH_VPORT_PARAMETERS, size 576, align 8;
        Header @ 0, Flags @ 4, SwitchId @ 8, VPortId @ 12, VPortName @ 16,
        AttachedFunctionId @ 532, NumQueuePairs @ 536, InterruptModeration @ 540,
        VPortState @ 544, ProcessorAffinity @ 552, LookaheadSize @ 568);
    assert_eq!(
        offset_of!(NDIS_NIC_SWITCH_VPORT_PARAMETERS, LookaheadSize) + 4,
        NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1 as usize
    );
    layout!(GROUP_AFFINITY, size 16, align 8; Mask @ 0, Group @ 8, Reserved @ 10);
}

/// NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS size 12 align 4; Header 0, Flags 4, VPortId 8.
#[test]
fn nic_switch_delete_vport_parameters() {
    layout!(NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS, size 12, align 4;
        Header @ 0, Flags @ 4, VPortId @ 8);
}

/// NDIS_RECEIVE_FILTER_CAPABILITIES size 84 align 4 (offsets 0, 4, 8, ... 80).
#[test]
fn receive_filter_capabilities() {
    layout!(NDIS_RECEIVE_FILTER_CAPABILITIES, size 84, align 4;
        Header @ 0, Flags @ 4, EnabledFilterTypes @ 8, EnabledQueueTypes @ 12, NumQueues @ 16,
        SupportedQueueProperties @ 20, SupportedFilterTests @ 24, SupportedHeaders @ 28,
        SupportedMacHeaderFields @ 32, MaxMacHeaderFilters @ 36, MaxQueueGroups @ 40,
        MaxQueuesPerQueueGroup @ 44, MinLookaheadSplitSize @ 48, MaxLookaheadSplitSize @ 52,
        SupportedARPHeaderFields @ 56, SupportedIPv4HeaderFields @ 60,
        SupportedIPv6HeaderFields @ 64, SupportedUdpHeaderFields @ 68,
        MaxFieldTestsPerPacketCoalescingFilter @ 72, MaxPacketCoalescingFilters @ 76,
        NdisReserved @ 80);
    assert_eq!(NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2, 84);
}

/// NDIS_RECEIVE_FILTER_PARAMETERS size 44 align 4; ... RequestedFilterIdBitCount 32,
/// MaxCoalescingDelay 36, VPortId 40.
#[test]
fn receive_filter_parameters() {
    layout!(NDIS_RECEIVE_FILTER_PARAMETERS, size 44, align 4;
        Header @ 0, Flags @ 4, FilterType @ 8, QueueId @ 12, FilterId @ 16,
        FieldParametersArrayOffset @ 20, FieldParametersArrayNumElements @ 24,
        FieldParametersArrayElementSize @ 28, RequestedFilterIdBitCount @ 32,
        MaxCoalescingDelay @ 36, VPortId @ 40);
    assert_eq!(NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_1, 36);
    assert_eq!(NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2, 44);
}

/// NDIS_RECEIVE_FILTER_FIELD_PARAMETERS size 56 align 8; Header 0, Flags 4, FrameHeader 8,
/// ReceiveFilterTest 12, HeaderField 16, FieldValue 24, ResultValue 40.
#[test]
fn receive_filter_field_parameters() {
    layout!(NDIS_RECEIVE_FILTER_FIELD_PARAMETERS, size 56, align 8;
        Header @ 0, Flags @ 4, FrameHeader @ 8, ReceiveFilterTest @ 12, HeaderField @ 16,
        FieldValue @ 24, ResultValue @ 40);
    assert_eq!(size_of::<NDIS_RECEIVE_FILTER_FIELD_VALUE>(), 16);
}

/// NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS size 16 align 4; NDIS_RECEIVE_FILTER_MOVE_FILTER_
/// PARAMETERS size 24 align 4.
#[test]
fn receive_filter_clear_and_move_parameters() {
    layout!(NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS, size 16, align 4;
        Header @ 0, Flags @ 4, QueueId @ 8, FilterId @ 12);
    layout!(NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS, size 24, align 4;
        Header @ 0, FilterId @ 4, SourceQueueId @ 8, SourceVPortId @ 12, DestQueueId @ 16,
        DestVPortId @ 20);
}

/// NDIS_SRIOV_READ/WRITE_VF_CONFIG_SPACE_PARAMETERS size 20 align 4; SET_VF_POWER_STATE 16;
/// VF_VENDOR_DEVICE_ID_INFO 10 align 2; PROBED_BARS_INFO 8; BAR_RESOURCES_INFO 12.
#[test]
fn sriov_pci_virtualization_structures() {
    layout!(NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS, size 20, align 4;
        Header @ 0, VFId @ 4, Offset @ 8, Length @ 12, BufferOffset @ 16);
    layout!(NDIS_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS, size 20, align 4;
        Header @ 0, VFId @ 4, Offset @ 8, Length @ 12, BufferOffset @ 16);
    layout!(NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS, size 16, align 4;
        Header @ 0, VFId @ 4, PowerState @ 8, WakeEnable @ 12);
    layout!(NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO, size 10, align 2;
        Header @ 0, VFId @ 4, VendorId @ 6, DeviceId @ 8);
    layout!(NDIS_SRIOV_PROBED_BARS_INFO, size 8, align 4; Header @ 0, BaseRegisterValuesOffset @ 4);
    layout!(NDIS_SRIOV_BAR_RESOURCES_INFO, size 12, align 4;
        Header @ 0, VFId @ 4, BarIndex @ 6, BarResourcesOffset @ 8);
    assert_eq!(
        NDIS_SIZEOF_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1,
        13
    );
}

/// CM_PARTIAL_RESOURCE_DESCRIPTOR size 20 align 4; Type 0, ShareDisposition 1, Flags 2, u 4,
/// u.Memory 4 (wdm.h packs it to 4: Start at 4, Length at 12).
#[test]
fn cm_partial_resource_descriptor() {
    layout!(CM_PARTIAL_RESOURCE_DESCRIPTOR, size 20, align 4;
        Type @ 0, ShareDisposition @ 1, Flags @ 2, u @ 4);
    assert_eq!(size_of::<CM_PARTIAL_RESOURCE_DESCRIPTOR_U>(), 16);
    layout!(CM_PARTIAL_RESOURCE_MEMORY, size 12, align 4; Start @ 0, Length @ 8);
}

/// The new OIDs (mingw-w64 `ntddndis.h` l.1289-1339; also compiled in c_oracle.rs).
#[test]
fn issue10_oid_values() {
    assert_eq!(OID_NIC_SWITCH_CREATE_VPORT, 0x0001_0241);
    assert_eq!(OID_NIC_SWITCH_VPORT_PARAMETERS, 0x0001_0242);
    assert_eq!(OID_NIC_SWITCH_DELETE_VPORT, 0x0001_0244);
    assert_eq!(OID_RECEIVE_FILTER_SET_FILTER, 0x0001_0227);
    assert_eq!(OID_RECEIVE_FILTER_CLEAR_FILTER, 0x0001_0228);
    assert_eq!(OID_RECEIVE_FILTER_MOVE_FILTER, 0x0001_0230);
    assert_eq!(OID_SRIOV_BAR_RESOURCES, 0x0001_0259);
    assert_eq!(OID_SRIOV_PROBED_BARS, 0x0001_0258);
}

// ---- Issue 11 ------------------------------------------------------------------------------
// The same WDK 10.0.22621.0 6.30 layout dump as issue 10's block above; the lines each test
// uses are quoted in its comment.

/// CM_PARTIAL_RESOURCE_LIST size 28 align 4; Version 0, Revision 2, Count 4,
/// PartialDescriptors 8. CM_RESOURCE_LIST size 40 align 4; Count 0, List 4 (so
/// CM_FULL_RESOURCE_DESCRIPTOR, which has no line, is 36 bytes: InterfaceType, BusNumber and
/// the partial list at 8, as mingw-w64 `ddk/wdm.h` l.3147 declares it).
#[test]
fn cm_resource_lists() {
    layout!(CM_PARTIAL_RESOURCE_LIST, size 28, align 4;
        Version @ 0, Revision @ 2, Count @ 4, PartialDescriptors @ 8);
    layout!(CM_FULL_RESOURCE_DESCRIPTOR, size 36, align 4;
        InterfaceType @ 0, BusNumber @ 4, PartialResourceList @ 8);
    layout!(CM_RESOURCE_LIST, size 40, align 4; Count @ 0, List @ 4);
}

/// MDL size 48 align 8; Next 0, Size 8, MdlFlags 10, Process 16, MappedSystemVa 24,
/// StartVa 32, ByteCount 40, ByteOffset 44.
#[test]
fn mdl() {
    layout!(MDL, size 48, align 8;
        Next @ 0, Size @ 8, MdlFlags @ 10, Process @ 16, MappedSystemVa @ 24, StartVa @ 32,
        ByteCount @ 40, ByteOffset @ 44);
}

/// NET_BUFFER size 176 align 16; Next 0, CurrentMdl 8, CurrentMdlOffset 16, DataLength 24,
/// stDataLength 24, MdlChain 32, DataOffset 40, ChecksumBias 48, Reserved 50,
/// NdisPoolHandle 56, NdisReserved 64, ProtocolReserved 80, MiniportReserved 128,
/// DataPhysicalAddress 160, SharedMemoryInfo 168, ScatterGatherList 168.
/// NET_BUFFER_DATA size 48 align 8 (same first six); NET_BUFFER_HEADER size 48 align 16.
#[test]
fn net_buffer() {
    layout!(NET_BUFFER, size 176, align 16;
        Next @ 0, CurrentMdl @ 8, CurrentMdlOffset @ 16, DataLength @ 24, MdlChain @ 32,
        DataOffset @ 40, ChecksumBias @ 48, Reserved @ 50, NdisPoolHandle @ 56,
        NdisReserved @ 64, ProtocolReserved @ 80, MiniportReserved @ 128,
        DataPhysicalAddress @ 160, ScatterGatherList @ 168);
    layout!(NET_BUFFER_DATA, size 48, align 8;
        Next @ 0, CurrentMdl @ 8, CurrentMdlOffset @ 16, DataLength @ 24, MdlChain @ 32,
        DataOffset @ 40);
    assert_eq!(size_of::<NET_BUFFER_DATA_LENGTH>(), 8);
    // The ULONG arm is the low half of stDataLength (little endian), as the WDK's union has it.
    let mut nb = NET_BUFFER::default();
    nb.DataLength.stDataLength = 0x1_0000_05EA;
    assert_eq!(nb.data_length(), 0x5EA);
}

/// NET_BUFFER_LIST size 336 align 16; Next 0, FirstNetBuffer 8, Context 16,
/// ParentNetBufferList 24, NdisPoolHandle 32, NdisReserved 48, ProtocolReserved 64,
/// MiniportReserved 96, Scratch 112, SourceHandle 120, NblFlags 128, ChildRefCount 132,
/// Flags 136, Status 140, NdisReserved2 140, NetBufferListInfo 144. NET_BUFFER_LIST_DATA
/// size 16 align 8. (versions: NET_BUFFER_LIST 630:336 650:352 680:368, only longer.)
#[test]
fn net_buffer_list() {
    layout!(NET_BUFFER_LIST, size 336, align 16;
        Next @ 0, FirstNetBuffer @ 8, Context @ 16, ParentNetBufferList @ 24,
        NdisPoolHandle @ 32, NdisReserved @ 48, ProtocolReserved @ 64, MiniportReserved @ 96,
        Scratch @ 112, SourceHandle @ 120, NblFlags @ 128, ChildRefCount @ 132, Flags @ 136,
        Status @ 140, NetBufferListInfo @ 144);
    layout!(NET_BUFFER_LIST_DATA, size 16, align 8; Next @ 0, FirstNetBuffer @ 8);
}

/// NET_BUFFER_LIST_POOL_PARAMETERS size 16 align 4; Header 0, ProtocolId 4,
/// fAllocateNetBuffer 5, ContextSize 6, PoolTag 8, DataSize 12.
#[test]
fn net_buffer_list_pool_parameters() {
    layout!(NET_BUFFER_LIST_POOL_PARAMETERS, size 16, align 4;
        Header @ 0, ProtocolId @ 4, fAllocateNetBuffer @ 5, ContextSize @ 6, PoolTag @ 8,
        DataSize @ 12);
    assert_eq!(
        NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1 as usize,
        size_of::<NET_BUFFER_LIST_POOL_PARAMETERS>()
    );
}

/// SCATTER_GATHER_ELEMENT size 24 align 8; Address 0, Length 8, Reserved 16.
/// SCATTER_GATHER_LIST size 16 align 8; NumberOfElements 0, Reserved 8, Elements 16.
#[test]
fn scatter_gather() {
    layout!(SCATTER_GATHER_ELEMENT, size 24, align 8; Address @ 0, Length @ 8, Reserved @ 16);
    layout!(SCATTER_GATHER_LIST, size 16, align 8;
        NumberOfElements @ 0, Reserved @ 8, Elements @ 16);
}

/// NDIS_SG_DMA_DESCRIPTION size 40 align 8; Header 0, Flags 4, MaximumPhysicalMapping 8,
/// ProcessSGListHandler 16, SharedMemAllocateCompleteHandler 24, ScatterGatherListSize 32
/// (versions: 630:40 685:48, PdoOverride added at 40).
#[test]
fn sg_dma_description() {
    layout!(NDIS_SG_DMA_DESCRIPTION, size 40, align 8;
        Header @ 0, Flags @ 4, MaximumPhysicalMapping @ 8, ProcessSGListHandler @ 16,
        SharedMemAllocateCompleteHandler @ 24, ScatterGatherListSize @ 32);
    assert_eq!(
        offset_of!(NDIS_SG_DMA_DESCRIPTION, ScatterGatherListSize) + 4,
        NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1 as usize
    );
}

/// NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS size 96 align 8; Header 0, InterruptHandler 8,
/// InterruptDpcHandler 16, DisableInterruptHandler 24, EnableInterruptHandler 32,
/// MsiSupported 40, MsiSyncWithAllMessages 41, MessageInterruptHandler 48,
/// MessageInterruptDpcHandler 56, DisableMessageInterruptHandler 64,
/// EnableMessageInterruptHandler 72, InterruptType 80, MessageInfoTable 88.
#[test]
fn miniport_interrupt_characteristics() {
    layout!(NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, size 96, align 8;
        Header @ 0, InterruptHandler @ 8, InterruptDpcHandler @ 16,
        DisableInterruptHandler @ 24, EnableInterruptHandler @ 32, MsiSupported @ 40,
        MsiSyncWithAllMessages @ 41, MessageInterruptHandler @ 48,
        MessageInterruptDpcHandler @ 56, DisableMessageInterruptHandler @ 64,
        EnableMessageInterruptHandler @ 72, InterruptType @ 80, MessageInfoTable @ 88);
    assert_eq!(
        NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1 as usize,
        size_of::<NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS>()
    );
}

// ---- Issue 11, resources -------------------------------------------------------------------
// IO_INTERRUPT_MESSAGE_INFO(_ENTRY) and the interrupt arm of CM_PARTIAL_RESOURCE_DESCRIPTOR are
// `wdm.h` types the WDK layout dump gives no line of their own (it lists the union member
// `CM_PARTIAL_RESOURCE_DESCRIPTOR.u.MessageInterrupt 4` only): their offsets are the x64 C
// layout of the WDK's declarations, as mingw-w64 `ddk/wdm.h` l.2943-2975 and l.4099-4114
// repeat them (compiled against it in `tests/tests/c_oracle.rs`).

/// `u.Interrupt` / `u.MessageInterrupt.Translated`: USHORT Level 0, USHORT Group 2, ULONG
/// Vector 4, KAFFINITY Affinity 8, inside the descriptor's `#pragma pack(4)`: 16 bytes, the
/// size of the union, which sits at 4 ("CM_PARTIAL_RESOURCE_DESCRIPTOR.u 4").
#[test]
fn cm_partial_resource_interrupt() {
    layout!(CM_PARTIAL_RESOURCE_INTERRUPT, size 16, align 4;
        Level @ 0, Group @ 2, Vector @ 4, Affinity @ 8);
    assert_eq!(size_of::<CM_PARTIAL_RESOURCE_DESCRIPTOR_U>(), 16);
    assert_eq!(CmResourceTypeInterrupt, 2);
    assert_eq!(CM_RESOURCE_INTERRUPT_LATCHED, 1);
    assert_eq!(CM_RESOURCE_INTERRUPT_MESSAGE, 2);
    assert_eq!(CM_RESOURCE_MEMORY_PREFETCHABLE, 4);
}

/// IO_INTERRUPT_MESSAGE_INFO_ENTRY: PHYSICAL_ADDRESS MessageAddress 0, KAFFINITY
/// TargetProcessorSet 8, PKINTERRUPT InterruptObject 16, ULONG MessageData 24, ULONG Vector 28,
/// KIRQL Irql 32, KINTERRUPT_MODE Mode 36, KINTERRUPT_POLARITY Polarity 40, size 48.
/// IO_INTERRUPT_MESSAGE_INFO: KIRQL UnifiedIrql 0, ULONG MessageCount 4, MessageInfo[1] 8,
/// size 56.
#[test]
fn io_interrupt_message_info() {
    layout!(IO_INTERRUPT_MESSAGE_INFO_ENTRY, size 48, align 8;
        MessageAddress @ 0, TargetProcessorSet @ 8, InterruptObject @ 16, MessageData @ 24,
        Vector @ 28, Irql @ 32, Mode @ 36, Polarity @ 40);
    layout!(IO_INTERRUPT_MESSAGE_INFO, size 56, align 8;
        UnifiedIrql @ 0, MessageCount @ 4, MessageInfo @ 8);
}

/// "NDIS_RECEIVE_THROTTLE_PARAMETERS size 8 align 4"; MaxNblsToIndicate 0, then
/// "NDIS_RECEIVE_THROTTLE_PARAMETERS.MoreNblsPending bit 32 width 1" (the ULONG at 4 here).
/// "NDIS_RESOURCE_LIST size 28 align 4": the same as CM_PARTIAL_RESOURCE_LIST.
#[test]
fn receive_throttle_parameters_and_resource_list() {
    layout!(NDIS_RECEIVE_THROTTLE_PARAMETERS, size 8, align 4;
        MaxNblsToIndicate @ 0, Flags @ 4);
    assert_eq!(size_of::<NDIS_RESOURCE_LIST>(), 28);
    assert_eq!(NDIS_INDICATE_ALL_NBLS, u32::MAX);
    assert_eq!(HIGH_LEVEL, 15);
}

// ---- Issue 10, the VF side -----------------------------------------------------------------
// The same WDK 10.0.22621.0 layout dump (NDIS 6.30 view), lines quoted per test.

/// "NDIS_STATISTICS_INFO size 152 align 8"; Header 0, SupportedStatistics 4, ifInDiscards 8,
/// ifInErrors 16, ifHCInOctets 24, ifHCInUcastPkts 32, ifHCInMulticastPkts 40,
/// ifHCInBroadcastPkts 48, ifHCOutOctets 56, ifHCOutUcastPkts 64, ifHCOutMulticastPkts 72,
/// ifHCOutBroadcastPkts 80, ifOutErrors 88, ifOutDiscards 96, ifHCInUcastOctets 104,
/// ifHCInMulticastOctets 112, ifHCInBroadcastOctets 120, ifHCOutUcastOctets 128,
/// ifHCOutMulticastOctets 136, ifHCOutBroadcastOctets 144. Revision 1 and its size (through
/// ifHCOutBroadcastOctets): mingw-w64 `ntddndis.h` l.246, l.257.
#[test]
fn statistics_info() {
    layout!(NDIS_STATISTICS_INFO, size 152, align 8;
        Header @ 0, SupportedStatistics @ 4, ifInDiscards @ 8, ifInErrors @ 16,
        ifHCInOctets @ 24, ifHCInUcastPkts @ 32, ifHCInMulticastPkts @ 40,
        ifHCInBroadcastPkts @ 48, ifHCOutOctets @ 56, ifHCOutUcastPkts @ 64,
        ifHCOutMulticastPkts @ 72, ifHCOutBroadcastPkts @ 80, ifOutErrors @ 88,
        ifOutDiscards @ 96, ifHCInUcastOctets @ 104, ifHCInMulticastOctets @ 112,
        ifHCInBroadcastOctets @ 120, ifHCOutUcastOctets @ 128, ifHCOutMulticastOctets @ 136,
        ifHCOutBroadcastOctets @ 144);
    assert_eq!(
        offset_of!(NDIS_STATISTICS_INFO, ifHCOutBroadcastOctets) + 8,
        NDIS_SIZEOF_STATISTICS_INFO_REVISION_1 as usize
    );
    assert_eq!(NDIS_STATISTICS_INFO_REVISION_1, 1);
    assert_eq!(OID_GEN_STATISTICS, 0x0002_0106);
}

/// The serialized answer puts each counter where the structure has it.
#[test]
fn statistics_info_bytes_follow_the_layout() {
    let mut c = common::hw::Counters::ZERO;
    c.rx_ucast_pkts = 0x0101;
    c.tx_bcast_octets = 0x0202;
    c.tx_discards = 0x0303;
    let bytes = common::miniport::statistics_info_bytes(&c.statistics_info());
    let at = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    assert_eq!(&bytes[..4], &[0x80, 1, 152, 0]);
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
        common::miniport::SUPPORTED_STATISTICS
    );
    assert_eq!(
        at(offset_of!(NDIS_STATISTICS_INFO, ifHCInUcastPkts)),
        0x0101
    );
    assert_eq!(
        at(offset_of!(NDIS_STATISTICS_INFO, ifHCOutBroadcastOctets)),
        0x0202
    );
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifHCOutOctets)), 0x0202);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifOutDiscards)), 0x0303);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifHCInOctets)), 0);
    // Every flag NDIS defines (mingw-w64 `ntddndis.h` l.224-241): all statistics supported.
    assert_eq!(common::miniport::SUPPORTED_STATISTICS, 0x003F_87FF);
}

/// Issue 11 values (mingw-w64 `ddk/ndis.h` l.468, 493, 513; `ntstatus.h` l.1777;
/// `ntddndis.h` l.131-132; the rest as `common/src/ffi/oids.rs` cites them).
#[test]
fn issue11_values() {
    assert_eq!(NDIS_STATUS_SEND_ABORTED as u32, 0xC023_000C);
    assert_eq!(NDIS_STATUS_ADAPTER_NOT_FOUND as u32, 0xC001_0006);
    assert_eq!(NDIS_STATUS_RESOURCE_CONFLICT as u32, 0xC001_001E);
    assert_eq!(NDIS_STATUS_PAUSED as u32, 0xC023_002A);
    assert_eq!(NDIS_STATUS_NOT_ACCEPTED as u32, 0x0001_0003);
    assert_eq!(NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION, 0x83);
    assert_eq!(NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT, 0x84);
    assert_eq!(
        (
            NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
            NDIS_RECEIVE_FLAGS_RESOURCES
        ),
        (1, 2)
    );
    assert_eq!(
        (NDIS_CONNECT_LINE_BASED, NDIS_CONNECT_MESSAGE_BASED),
        (1, 2)
    );
}

/// NDIS_NET_BUFFER_LIST_8021Q_INFO (WDK `ndis/nbl8021q.h`, earlier `ndis/nbl.h`): a union of
/// `PVOID Value` and `TagHeader { UINT32 UserPriority:3; UINT32 CanonicalFormatId:1; UINT32
/// VlanId:12; UINT32 Reserved:16; }`, so size 8 on x64 and, MSVC packing bitfields from the
/// least significant bit of their UINT32, UserPriority in bits 2:0, CanonicalFormatId bit 3,
/// VlanId bits 15:4, Reserved 31:16; the slot is `NetBufferListInfo[Ieee8021QNetBufferListInfo]`,
/// index 4 (TcpIpChecksum 0, IPsecOffloadV1 1, TcpLargeSend 2, ClassificationHandle 3).
#[test]
fn ieee_8021q_info_bitfields() {
    use common::nbl_info::{Ieee8021QInfo, NBL_INFO_IEEE8021Q};
    assert_eq!(NBL_INFO_IEEE8021Q, 4);
    assert_eq!(NBL_INFO_IEEE8021Q + 1, common::send::NBL_INFO_CANCEL_ID);
    let one = |user_priority, canonical_format_id, vlan_id| Ieee8021QInfo {
        user_priority,
        canonical_format_id,
        vlan_id,
    };
    // Each field alone, at its highest value: its bits and nothing else.
    assert_eq!(one(7, false, 0).to_value(), 0x0000_0007);
    assert_eq!(one(0, true, 0).to_value(), 0x0000_0008);
    assert_eq!(one(0, false, 0xFFF).to_value(), 0x0000_FFF0);
    assert_eq!(one(5, false, 0x123).to_value(), 0x1235);
    // Reserved bits (WMMInfo of the wireless form) are not part of the tag.
    assert_eq!(Ieee8021QInfo::from_value(0xF_1235), one(5, false, 0x123));
    // The wire's TCI: PCP 15:13, DEI 12, VID 11:0.
    assert_eq!(Ieee8021QInfo::from_tci(0xB123), one(5, true, 0x123));
    assert_eq!(one(5, true, 0x123).tci(), 0xB123);
    assert!(!Ieee8021QInfo::from_value(0).wants_tag());
    assert!(one(1, false, 0).wants_tag() && one(0, false, 1).wants_tag());
}
