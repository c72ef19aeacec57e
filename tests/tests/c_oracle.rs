//! The Rust layouts against a C compiler: a probe of `_Static_assert`s over mingw-w64's
//! `ntddndis.h` (an independent re-implementation of the Windows headers), generated from the
//! Rust `size_of`/`offset_of` values and compiled with `x86_64-w64-mingw32-gcc -S`.
//!
//! The compiler comes from Debian's `gcc-mingw-w64-x86-64`; `sim::tools` installs it when it
//! can and otherwise fails saying why (see there for the one case that skips).
#![cfg(target_pointer_width = "64")]

use common::ffi::*;
use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

const GCC: &str = "x86_64-w64-mingw32-gcc";

struct Probe(String);

impl Probe {
    fn size(&mut self, c: &str, size: usize) {
        writeln!(
            self.0,
            "_Static_assert(sizeof({c}) == {size}, \"sizeof({c}) != {size} (Rust)\");"
        )
        .unwrap();
    }
    fn field(&mut self, c: &str, f: &str, off: usize) {
        writeln!(
            self.0,
            "_Static_assert(offsetof({c}, {f}) == {off}, \"offsetof({c}, {f}) != {off} (Rust)\");"
        )
        .unwrap();
    }
    fn value(&mut self, c: &str, v: i128) {
        writeln!(
            self.0,
            "_Static_assert((long long)({c}) == {v}LL, \"{c} != {v} (Rust)\");"
        )
        .unwrap();
    }
}

macro_rules! probe {
    ($p:expr, $t:ty, $c:literal; $($f:ident),*) => {{
        $p.size($c, size_of::<$t>());
        $($p.field($c, stringify!($f), offset_of!($t, $f));)*
    }};
}

fn build_probe() -> String {
    let mut p = Probe(String::from(
        "#include <winsock2.h>\n#include <windows.h>\n#include <ntddndis.h>\n#include <stddef.h>\n",
    ));
    probe!(p, NDIS_OBJECT_HEADER, "NDIS_OBJECT_HEADER"; Type, Revision, Size);
    probe!(p, NDIS_SRIOV_CAPABILITIES, "NDIS_SRIOV_CAPABILITIES"; Header, Flags, SriovCapabilities);
    probe!(p, NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS, "NDIS_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS"; Header, VFId, BlockId, Length, BufferOffset);
    probe!(p, NDIS_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS, "NDIS_SRIOV_WRITE_VF_CONFIG_BLOCK_PARAMETERS"; Header, VFId, BlockId, Length, BufferOffset);
    probe!(p, NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO, "NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO"; Header, BlockMask);
    probe!(p, NDIS_SRIOV_RESET_VF_PARAMETERS, "NDIS_SRIOV_RESET_VF_PARAMETERS"; Header, VFId);
    probe!(p, NDIS_NIC_SWITCH_PARAMETERS, "NDIS_NIC_SWITCH_PARAMETERS"; Header, Flags, SwitchType, SwitchId, SwitchFriendlyName, NumVFs, NdisReserved1, NdisReserved2, NdisReserved3);
    probe!(p, NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS, "NDIS_NIC_SWITCH_DELETE_SWITCH_PARAMETERS"; Header, Flags, SwitchId);
    probe!(p, NDIS_NIC_SWITCH_VF_PARAMETERS, "NDIS_NIC_SWITCH_VF_PARAMETERS"; Header, Flags, SwitchId, VMName, VMFriendlyName, NicName, MacAddressLength, PermanentMacAddress, CurrentMacAddress, VFId, RequestorId);
    probe!(p, NDIS_NIC_SWITCH_FREE_VF_PARAMETERS, "NDIS_NIC_SWITCH_FREE_VF_PARAMETERS"; Header, Flags, VFId);
    probe!(p, NDIS_NIC_SWITCH_CAPABILITIES, "NDIS_NIC_SWITCH_CAPABILITIES"; Header, Flags, NdisReserved1, NumTotalMacAddresses, NumMacAddressesPerPort, NumVlansPerPort, NdisReserved2, NdisReserved3, NicSwitchCapabilities, MaxNumSwitches, MaxNumVPorts, NdisReserved4, MaxNumVFs, MaxNumQueuePairs, MaxNumQueuePairsPerNonDefaultVPort, MaxNumMacAddresses, NdisReserved17);
    probe!(p, NDIS_LINK_STATE, "NDIS_LINK_STATE"; Header, MediaConnectState, MediaDuplexState, XmitLinkSpeed, RcvLinkSpeed, PauseFunctions, AutoNegotiationFlags);
    probe!(p, GUID, "GUID"; Data1, Data2, Data3, Data4);
    probe!(p, NDIS_STATISTICS_INFO, "NDIS_STATISTICS_INFO"; Header, SupportedStatistics, ifInDiscards, ifInErrors, ifHCInOctets, ifHCInUcastPkts, ifHCInMulticastPkts, ifHCInBroadcastPkts, ifHCOutOctets, ifHCOutUcastPkts, ifHCOutMulticastPkts, ifHCOutBroadcastPkts, ifOutErrors, ifOutDiscards, ifHCInUcastOctets, ifHCInMulticastOctets, ifHCInBroadcastOctets, ifHCOutUcastOctets, ifHCOutMulticastOctets, ifHCOutBroadcastOctets);
    // Issue 10: the VPort, receive-filter and PCI-virtualization structures mingw-w64 defines.
    probe!(p, NDIS_NIC_SWITCH_VPORT_PARAMETERS, "NDIS_NIC_SWITCH_VPORT_PARAMETERS"; Header, Flags, SwitchId, VPortId, VPortName, AttachedFunctionId, NumQueuePairs, InterruptModeration, VPortState, ProcessorAffinity, LookaheadSize);
    probe!(p, NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS, "NDIS_NIC_SWITCH_DELETE_VPORT_PARAMETERS"; Header, Flags, VPortId);
    probe!(p, NDIS_RECEIVE_FILTER_CAPABILITIES, "NDIS_RECEIVE_FILTER_CAPABILITIES"; Header, Flags, EnabledFilterTypes, EnabledQueueTypes, NumQueues, SupportedQueueProperties, SupportedFilterTests, SupportedHeaders, SupportedMacHeaderFields, MaxMacHeaderFilters, MaxQueueGroups, MaxQueuesPerQueueGroup, MinLookaheadSplitSize, MaxLookaheadSplitSize, SupportedARPHeaderFields, SupportedIPv4HeaderFields, SupportedIPv6HeaderFields, SupportedUdpHeaderFields, MaxFieldTestsPerPacketCoalescingFilter, MaxPacketCoalescingFilters, NdisReserved);
    probe!(p, NDIS_RECEIVE_FILTER_PARAMETERS, "NDIS_RECEIVE_FILTER_PARAMETERS"; Header, Flags, FilterType, QueueId, FilterId, FieldParametersArrayOffset, FieldParametersArrayNumElements, FieldParametersArrayElementSize, RequestedFilterIdBitCount, MaxCoalescingDelay, VPortId);
    probe!(p, NDIS_RECEIVE_FILTER_FIELD_PARAMETERS, "NDIS_RECEIVE_FILTER_FIELD_PARAMETERS"; Header, Flags, FrameHeader, ReceiveFilterTest, HeaderField, FieldValue, ResultValue);
    probe!(p, NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS, "NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS"; Header, Flags, QueueId, FilterId);
    probe!(p, NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS, "NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS"; Header, FilterId, SourceQueueId, SourceVPortId, DestQueueId, DestVPortId);
    probe!(p, NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS, "NDIS_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS"; Header, VFId, Offset, Length, BufferOffset);
    probe!(p, NDIS_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS, "NDIS_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS"; Header, VFId, Offset, Length, BufferOffset);
    probe!(p, NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS, "NDIS_SRIOV_SET_VF_POWER_STATE_PARAMETERS"; Header, VFId, PowerState, WakeEnable);
    probe!(p, NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO, "NDIS_SRIOV_VF_VENDOR_DEVICE_ID_INFO"; Header, VFId, VendorId, DeviceId);
    probe!(p, NDIS_SRIOV_PROBED_BARS_INFO, "NDIS_SRIOV_PROBED_BARS_INFO"; Header, BaseRegisterValuesOffset);
    probe!(p, NDIS_SRIOV_BAR_RESOURCES_INFO, "NDIS_SRIOV_BAR_RESOURCES_INFO"; Header, VFId, BarIndex, BarResourcesOffset);

    // Issue 11.
    probe!(p, NDIS_STATISTICS_INFO, "NDIS_STATISTICS_INFO"; Header, SupportedStatistics, ifInDiscards, ifInErrors, ifHCInOctets, ifHCInUcastPkts, ifHCInMulticastPkts, ifHCInBroadcastPkts, ifHCOutOctets, ifHCOutUcastPkts, ifHCOutMulticastPkts, ifHCOutBroadcastPkts, ifOutErrors, ifOutDiscards, ifHCInUcastOctets, ifHCInMulticastOctets, ifHCInBroadcastOctets, ifHCOutUcastOctets, ifHCOutMulticastOctets, ifHCOutBroadcastOctets);
    for (c, v) in [
        (
            "NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION",
            NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION as i128,
        ),
        (
            "NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT",
            NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT as i128,
        ),
        (
            "NDIS_STATISTICS_INFO_REVISION_1",
            NDIS_STATISTICS_INFO_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_STATISTICS_INFO_REVISION_1",
            NDIS_SIZEOF_STATISTICS_INFO_REVISION_1 as i128,
        ),
        ("OID_GEN_STATISTICS", OID_GEN_STATISTICS as i128),
        (
            "NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS",
            NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR",
            NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR",
            NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS",
            NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV",
            NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT as i128,
        ),
        (
            "NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT",
            NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT as i128,
        ),
    ] {
        p.value(c, v);
    }
    for (c, v) in [
        (
            "OID_SRIOV_READ_VF_CONFIG_BLOCK",
            OID_SRIOV_READ_VF_CONFIG_BLOCK as i128,
        ),
        (
            "OID_SRIOV_WRITE_VF_CONFIG_BLOCK",
            OID_SRIOV_WRITE_VF_CONFIG_BLOCK as i128,
        ),
        (
            "OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK",
            OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK as i128,
        ),
        ("OID_SRIOV_RESET_VF", OID_SRIOV_RESET_VF as i128),
        (
            "OID_NIC_SWITCH_CREATE_SWITCH",
            OID_NIC_SWITCH_CREATE_SWITCH as i128,
        ),
        (
            "OID_NIC_SWITCH_DELETE_SWITCH",
            OID_NIC_SWITCH_DELETE_SWITCH as i128,
        ),
        (
            "OID_NIC_SWITCH_ALLOCATE_VF",
            OID_NIC_SWITCH_ALLOCATE_VF as i128,
        ),
        ("OID_NIC_SWITCH_FREE_VF", OID_NIC_SWITCH_FREE_VF as i128),
        (
            "OID_GEN_CURRENT_PACKET_FILTER",
            OID_GEN_CURRENT_PACKET_FILTER as i128,
        ),
        ("OID_GEN_LINK_STATE", OID_GEN_LINK_STATE as i128),
        (
            "OID_802_3_CURRENT_ADDRESS",
            OID_802_3_CURRENT_ADDRESS as i128,
        ),
        ("OID_802_3_MULTICAST_LIST", OID_802_3_MULTICAST_LIST as i128),
        ("NDIS_OBJECT_TYPE_DEFAULT", NDIS_OBJECT_TYPE_DEFAULT as i128),
        (
            "NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT",
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT as i128,
        ),
        (
            "NDIS_SRIOV_CAPS_PF_MINIPORT",
            NDIS_SRIOV_CAPS_PF_MINIPORT as i128,
        ),
        (
            "NDIS_SRIOV_CAPS_VF_MINIPORT",
            NDIS_SRIOV_CAPS_VF_MINIPORT as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_BLOCK_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1",
            NDIS_SIZEOF_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_SRIOV_RESET_VF_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_NIC_SWITCH_CAPABILITIES_REVISION_2",
            NDIS_SIZEOF_NIC_SWITCH_CAPABILITIES_REVISION_2 as i128,
        ),
        (
            "NDIS_SIZEOF_LINK_STATE_REVISION_1",
            NDIS_SIZEOF_LINK_STATE_REVISION_1 as i128,
        ),
        (
            "OID_NIC_SWITCH_CREATE_VPORT",
            OID_NIC_SWITCH_CREATE_VPORT as i128,
        ),
        (
            "OID_NIC_SWITCH_VPORT_PARAMETERS",
            OID_NIC_SWITCH_VPORT_PARAMETERS as i128,
        ),
        (
            "OID_NIC_SWITCH_DELETE_VPORT",
            OID_NIC_SWITCH_DELETE_VPORT as i128,
        ),
        (
            "OID_NIC_SWITCH_PARAMETERS",
            OID_NIC_SWITCH_PARAMETERS as i128,
        ),
        (
            "OID_RECEIVE_FILTER_SET_FILTER",
            OID_RECEIVE_FILTER_SET_FILTER as i128,
        ),
        (
            "OID_RECEIVE_FILTER_CLEAR_FILTER",
            OID_RECEIVE_FILTER_CLEAR_FILTER as i128,
        ),
        (
            "OID_RECEIVE_FILTER_MOVE_FILTER",
            OID_RECEIVE_FILTER_MOVE_FILTER as i128,
        ),
        (
            "OID_RECEIVE_FILTER_HARDWARE_CAPABILITIES",
            OID_RECEIVE_FILTER_HARDWARE_CAPABILITIES as i128,
        ),
        (
            "OID_RECEIVE_FILTER_CURRENT_CAPABILITIES",
            OID_RECEIVE_FILTER_CURRENT_CAPABILITIES as i128,
        ),
        (
            "OID_SRIOV_READ_VF_CONFIG_SPACE",
            OID_SRIOV_READ_VF_CONFIG_SPACE as i128,
        ),
        (
            "OID_SRIOV_WRITE_VF_CONFIG_SPACE",
            OID_SRIOV_WRITE_VF_CONFIG_SPACE as i128,
        ),
        ("OID_SRIOV_PROBED_BARS", OID_SRIOV_PROBED_BARS as i128),
        (
            "OID_SRIOV_VF_VENDOR_DEVICE_ID",
            OID_SRIOV_VF_VENDOR_DEVICE_ID as i128,
        ),
        (
            "OID_SRIOV_SET_VF_POWER_STATE",
            OID_SRIOV_SET_VF_POWER_STATE as i128,
        ),
        ("OID_SRIOV_BAR_RESOURCES", OID_SRIOV_BAR_RESOURCES as i128),
        (
            "NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_NIC_SWITCH_VPORT_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_NIC_SWITCH_DELETE_VPORT_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2",
            NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2 as i128,
        ),
        (
            "NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2",
            NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2 as i128,
        ),
        (
            "NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_SRIOV_READ_VF_CONFIG_SPACE_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_SRIOV_WRITE_VF_CONFIG_SPACE_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1",
            NDIS_SIZEOF_SRIOV_SET_VF_POWER_STATE_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_VF_VENDOR_DEVICE_ID_INFO_REVISION_1",
            NDIS_SIZEOF_SRIOV_VF_VENDOR_DEVICE_ID_INFO_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_PROBED_BARS_INFO_REVISION_1",
            NDIS_SIZEOF_SRIOV_PROBED_BARS_INFO_REVISION_1 as i128,
        ),
        (
            "NDIS_SIZEOF_SRIOV_BAR_RESOURCES_INFO_REVISION_1",
            NDIS_SIZEOF_SRIOV_BAR_RESOURCES_INFO_REVISION_1 as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_CHANGE_MASK",
            NDIS_NIC_SWITCH_VPORT_PARAMS_CHANGE_MASK as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_FLAGS_CHANGED",
            NDIS_NIC_SWITCH_VPORT_PARAMS_FLAGS_CHANGED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_NAME_CHANGED",
            NDIS_NIC_SWITCH_VPORT_PARAMS_NAME_CHANGED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_INT_MOD_CHANGED",
            NDIS_NIC_SWITCH_VPORT_PARAMS_INT_MOD_CHANGED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED",
            NDIS_NIC_SWITCH_VPORT_PARAMS_STATE_CHANGED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_PROCESSOR_AFFINITY_CHANGED",
            NDIS_NIC_SWITCH_VPORT_PARAMS_PROCESSOR_AFFINITY_CHANGED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_VPORT_PARAMS_LOOKAHEAD_SPLIT_ENABLED",
            NDIS_NIC_SWITCH_VPORT_PARAMS_LOOKAHEAD_SPLIT_ENABLED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_PARAMETERS_SWITCH_NAME_CHANGED",
            NDIS_NIC_SWITCH_PARAMETERS_SWITCH_NAME_CHANGED as i128,
        ),
        (
            "NDIS_NIC_SWITCH_CAPS_VLAN_SUPPORTED",
            NDIS_NIC_SWITCH_CAPS_VLAN_SUPPORTED as i128,
        ),
        (
            "NdisNicSwitchVPortStateActivated",
            NdisNicSwitchVPortStateActivated as i128,
        ),
        (
            "NdisNicSwitchVPortStateDeactivated",
            NdisNicSwitchVPortStateDeactivated as i128,
        ),
        (
            "NdisNicSwitchVPortInterruptModerationHigh",
            NdisNicSwitchVPortInterruptModerationHigh as i128,
        ),
        (
            "NdisNicSwitchTypeExternal",
            NdisNicSwitchTypeExternal as i128,
        ),
        (
            "NdisReceiveFilterTypeVMQueue",
            NdisReceiveFilterTypeVMQueue as i128,
        ),
        ("NdisFrameHeaderMac", NdisFrameHeaderMac as i128),
        (
            "NdisReceiveFilterTestEqual",
            NdisReceiveFilterTestEqual as i128,
        ),
        (
            "NdisMacHeaderFieldDestinationAddress",
            NdisMacHeaderFieldDestinationAddress as i128,
        ),
        ("NdisMacHeaderFieldVlanId", NdisMacHeaderFieldVlanId as i128),
        (
            "NDIS_RECEIVE_FILTER_MAC_HEADER_SUPPORTED",
            NDIS_RECEIVE_FILTER_MAC_HEADER_SUPPORTED as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED",
            NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED",
            NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_TEST_HEADER_FIELD_EQUAL_SUPPORTED",
            NDIS_RECEIVE_FILTER_TEST_HEADER_FIELD_EQUAL_SUPPORTED as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED",
            NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO",
            NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_2",
            NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_2 as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_PARAMETERS_REVISION_2",
            NDIS_RECEIVE_FILTER_PARAMETERS_REVISION_2 as i128,
        ),
        (
            "NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1",
            NDIS_RECEIVE_FILTER_MOVE_FILTER_PARAMETERS_REVISION_1 as i128,
        ),
        (
            "NDIS_SRIOV_BAR_RESOURCES_INFO_REVISION_1",
            NDIS_SRIOV_BAR_RESOURCES_INFO_REVISION_1 as i128,
        ),
        (
            "NDIS_SRIOV_PROBED_BARS_INFO_REVISION_1",
            NDIS_SRIOV_PROBED_BARS_INFO_REVISION_1 as i128,
        ),
        ("NDIS_DEFAULT_VPORT_ID", NDIS_DEFAULT_VPORT_ID as i128),
        ("NdisDeviceStateD0", NdisDeviceStateD0 as i128),
        ("NdisDeviceStateD3", NdisDeviceStateD3 as i128),
        // The receive pool's ProtocolId (common::recv); mingw-w64 has no
        // NET_BUFFER_LIST_POOL_PARAMETERS, whose layout is checked against the WDK table only.
        ("NDIS_PROTOCOL_ID_DEFAULT", NDIS_PROTOCOL_ID_DEFAULT as i128),
    ] {
        p.value(c, v);
    }
    p.0
}

/// Issue 11: the kernel structures mingw-w64 defines in `ddk/wdm.h` (which cannot be
/// included beside the user-mode `windows.h` of [`build_probe`]).
fn build_kernel_probe() -> String {
    let mut p = Probe(String::from("#include <ddk/wdm.h>\n#include <stddef.h>\n"));
    probe!(p, CM_PARTIAL_RESOURCE_DESCRIPTOR, "CM_PARTIAL_RESOURCE_DESCRIPTOR"; Type, ShareDisposition, Flags, u);
    probe!(p, CM_PARTIAL_RESOURCE_LIST, "CM_PARTIAL_RESOURCE_LIST"; Version, Revision, Count, PartialDescriptors);
    probe!(p, CM_FULL_RESOURCE_DESCRIPTOR, "CM_FULL_RESOURCE_DESCRIPTOR"; InterfaceType, BusNumber, PartialResourceList);
    probe!(p, CM_RESOURCE_LIST, "CM_RESOURCE_LIST"; Count, List);
    p.field(
        "CM_PARTIAL_RESOURCE_DESCRIPTOR",
        "u.Memory.Start",
        offset_of!(CM_PARTIAL_RESOURCE_DESCRIPTOR, u)
            + offset_of!(CM_PARTIAL_RESOURCE_MEMORY, Start),
    );
    p.field(
        "CM_PARTIAL_RESOURCE_DESCRIPTOR",
        "u.Memory.Length",
        offset_of!(CM_PARTIAL_RESOURCE_DESCRIPTOR, u)
            + offset_of!(CM_PARTIAL_RESOURCE_MEMORY, Length),
    );
    p.value("CmResourceTypeMemory", CmResourceTypeMemory as i128);
    p.value("CmResourceTypePort", CmResourceTypePort as i128);
    // Issue 11, resources: the interrupt arm (its members, not Level/Group, whose split
    // depends on NT_PROCESSOR_GROUPS), the message flags, and the message table NDIS returns.
    p.field(
        "CM_PARTIAL_RESOURCE_DESCRIPTOR",
        "u.MessageInterrupt.Translated.Vector",
        offset_of!(CM_PARTIAL_RESOURCE_DESCRIPTOR, u)
            + offset_of!(CM_PARTIAL_RESOURCE_INTERRUPT, Vector),
    );
    p.field(
        "CM_PARTIAL_RESOURCE_DESCRIPTOR",
        "u.MessageInterrupt.Translated.Affinity",
        offset_of!(CM_PARTIAL_RESOURCE_DESCRIPTOR, u)
            + offset_of!(CM_PARTIAL_RESOURCE_INTERRUPT, Affinity),
    );
    p.field(
        "CM_PARTIAL_RESOURCE_DESCRIPTOR",
        "u.Interrupt.Vector",
        offset_of!(CM_PARTIAL_RESOURCE_DESCRIPTOR, u)
            + offset_of!(CM_PARTIAL_RESOURCE_INTERRUPT, Vector),
    );
    p.value("CmResourceTypeInterrupt", CmResourceTypeInterrupt as i128);
    p.value(
        "CM_RESOURCE_INTERRUPT_LATCHED",
        CM_RESOURCE_INTERRUPT_LATCHED as i128,
    );
    p.value(
        "CM_RESOURCE_INTERRUPT_MESSAGE",
        CM_RESOURCE_INTERRUPT_MESSAGE as i128,
    );
    p.value(
        "CM_RESOURCE_MEMORY_PREFETCHABLE",
        CM_RESOURCE_MEMORY_PREFETCHABLE as i128,
    );
    probe!(p, IO_INTERRUPT_MESSAGE_INFO_ENTRY, "IO_INTERRUPT_MESSAGE_INFO_ENTRY"; MessageAddress, TargetProcessorSet, InterruptObject, MessageData, Vector, Irql, Mode, Polarity);
    probe!(p, IO_INTERRUPT_MESSAGE_INFO, "IO_INTERRUPT_MESSAGE_INFO"; UnifiedIrql, MessageCount, MessageInfo);
    probe!(p, MDL, "MDL"; Next, Size, MdlFlags, Process, MappedSystemVa, StartVa, ByteCount, ByteOffset);
    probe!(p, SCATTER_GATHER_ELEMENT, "SCATTER_GATHER_ELEMENT"; Address, Length, Reserved);
    // mingw-w64 declares Elements[1] where the WDK has a flexible array: offsets only.
    p.field(
        "SCATTER_GATHER_LIST",
        "NumberOfElements",
        offset_of!(SCATTER_GATHER_LIST, NumberOfElements),
    );
    p.field(
        "SCATTER_GATHER_LIST",
        "Reserved",
        offset_of!(SCATTER_GATHER_LIST, Reserved),
    );
    p.field(
        "SCATTER_GATHER_LIST",
        "Elements",
        offset_of!(SCATTER_GATHER_LIST, Elements),
    );
    p.value("MDL_MAPPED_TO_SYSTEM_VA", MDL_MAPPED_TO_SYSTEM_VA as i128);
    p.value(
        "MDL_SOURCE_IS_NONPAGED_POOL",
        MDL_SOURCE_IS_NONPAGED_POOL as i128,
    );
    p.0
}

fn compile(name: &str, source: &str) -> std::process::Output {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    Command::new(GCC)
        .args(["-DUM_NDIS630", "-std=c11", "-S", "-o"])
        .arg(dir.join(format!("{name}.s")))
        .arg(&c)
        .output()
        .expect("compiler runs")
}

#[test]
fn rust_layouts_match_mingw_ntddndis() {
    if sim::tools::mingw(GCC).is_none() {
        return;
    }
    let out = compile("probe", &build_probe());
    assert!(
        out.status.success(),
        "C layout oracle disagrees with the Rust layouts:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rust_layouts_match_mingw_wdm() {
    if sim::tools::mingw(GCC).is_none() {
        return;
    }
    let out = compile("kernel_probe", &build_kernel_probe());
    assert!(
        out.status.success(),
        "C layout oracle (ddk/wdm.h) disagrees with the Rust layouts:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The oracle must be able to fail: a deliberately wrong assertion is rejected.
#[test]
fn oracle_rejects_a_wrong_layout() {
    if sim::tools::mingw(GCC).is_none() {
        return;
    }
    let mut p = build_probe();
    p.push_str("_Static_assert(offsetof(NDIS_SRIOV_VF_INVALIDATE_CONFIG_BLOCK_INFO, BlockMask) == 4, \"expected failure\");\n");
    let out = compile("wrong", &p);
    assert!(
        !out.status.success(),
        "a wrong offset compiled: the oracle proves nothing"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected failure"));
}
