//! The standardized keywords and the hardware-assist attributes they decide.
//!
//! [`read`] follows "Handling SR-IOV, VMQ, and RSS Standardized INF Keywords" step by step:
//! 1. `*SriovPreferred` (hidden, never in the INF; absent means 0: "Standardized INF Keywords
//!    for SR-IOV");
//! 2. `*RssOrVmqPreference` (0 or absent: RSS preference);
//! 3. SR-IOV preference: `*SRIOV` (INF default 1) and `*VMQVlanFiltering` (default 1,
//!    "Standardized INF Keywords for VMQ"), never an RSS keyword; `*VMQ` too when VMQ is
//!    preferred as well (the page's table: SR-IOV and VMQ together);
//! 4. VMQ preference without SR-IOV preference: `*VMQ` only;
//! 5. RSS preference: `*RSS` only.
//!
//! This hardware has a NIC switch and MAC/VLAN receive filters but no VM queues and no RSS,
//! so VMQ and RSS never become current; the keywords are still read where the procedure
//! says, and what they asked for is logged. Hardware capabilities are always reported,
//! current ones only for the interface enabled ("The miniport driver must always report the
//! complete RSS, VMQ, and SR-IOV hardware capabilities regardless of which interface is
//! enabled").
use crate::LOG;
use crate::adapter::MAX_VFS;
use crate::vport::{
    MAX_FILTERS, MAX_FILTERS_PER_VPORT, MAX_QUEUE_PAIRS, MAX_QUEUE_PAIRS_PER_NONDEFAULT_VPORT,
    MAX_VPORTS,
};
use common::ffi::imports::*;
use common::ffi::*;
use common::miniport::{self, utf16};
use common::ndis_log;
use core::ptr;

static SRIOV_PREFERRED: [u16; 15] = utf16(b"*SriovPreferred");
static RSS_OR_VMQ_PREFERENCE: [u16; 19] = utf16(b"*RssOrVmqPreference");
static SRIOV: [u16; 6] = utf16(b"*SRIOV");
static VMQ_VLAN_FILTERING: [u16; 17] = utf16(b"*VMQVlanFiltering");
static VMQ: [u16; 4] = utf16(b"*VMQ");
static RSS: [u16; 4] = utf16(b"*RSS");

/// What the keywords decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keywords {
    pub sriov_preferred: bool,
    pub vmq_preferred: bool,
    /// SR-IOV is the current interface: current SR-IOV, NIC switch and receive-filter
    /// capabilities are reported.
    pub sriov: bool,
    /// `*VMQVlanFiltering`: VLAN id filters are current.
    pub vlan_filtering: bool,
}

/// Reads the keywords in the documented order (PASSIVE_LEVEL, inside MiniportInitializeEx).
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn read(handle: NDIS_HANDLE) -> Keywords {
    let get = |k: &[u16]| {
        // SAFETY: the caller's adapter handle, at PASSIVE_LEVEL inside MiniportInitializeEx.
        unsafe { miniport::read_keyword_u32(handle, k) }
    };
    let mut kw = Keywords {
        sriov_preferred: get(&SRIOV_PREFERRED) == Some(1),
        vmq_preferred: get(&RSS_OR_VMQ_PREFERENCE) == Some(1),
        ..Keywords::default()
    };
    if kw.sriov_preferred {
        kw.sriov = get(&SRIOV) != Some(0);
        if !kw.sriov {
            ndis_log!(INFO, LOG, "*SRIOV is 0: SR-IOV disabled on this adapter");
        }
        kw.vlan_filtering = get(&VMQ_VLAN_FILTERING) != Some(0);
        if kw.vmq_preferred && get(&VMQ) != Some(0) {
            ndis_log!(
                INFO,
                LOG,
                "*VMQ asked for, but this hardware has no VM queues"
            );
        }
    } else if kw.vmq_preferred {
        ndis_log!(
            INFO,
            LOG,
            "*SriovPreferred is not 1: VMQ preference, no SR-IOV"
        );
        if get(&VMQ) != Some(0) {
            ndis_log!(
                INFO,
                LOG,
                "*VMQ asked for, but this hardware has no VM queues"
            );
        }
    } else if get(&RSS) != Some(0) {
        ndis_log!(INFO, LOG, "*RSS asked for, but this hardware has no RSS");
    }
    ndis_log!(
        INFO,
        LOG,
        "keywords: SriovPreferred {} VmqPreferred {} -> SR-IOV {}, VLAN filtering {}",
        kw.sriov_preferred,
        kw.vmq_preferred,
        kw.sriov,
        kw.vlan_filtering
    );
    kw
}

/// The NIC switch the hardware can build ("Determining NIC Switch Capabilities").
pub fn nic_switch_caps(vlan: bool) -> NDIS_NIC_SWITCH_CAPABILITIES {
    NDIS_NIC_SWITCH_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_NIC_SWITCH_CAPABILITIES_REVISION_2,
            NDIS_SIZEOF_NIC_SWITCH_CAPABILITIES_REVISION_2,
        ),
        NicSwitchCapabilities: if vlan {
            NDIS_NIC_SWITCH_CAPS_VLAN_SUPPORTED
        } else {
            0
        },
        NumTotalMacAddresses: MAX_FILTERS as u32,
        NumMacAddressesPerPort: MAX_FILTERS_PER_VPORT as u32,
        NumVlansPerPort: if vlan {
            MAX_FILTERS_PER_VPORT as u32
        } else {
            0
        },
        MaxNumSwitches: 1,
        MaxNumVPorts: MAX_VPORTS as u32,
        MaxNumVFs: MAX_VFS as u32,
        MaxNumQueuePairs: MAX_QUEUE_PAIRS,
        MaxNumQueuePairsPerNonDefaultVPort: MAX_QUEUE_PAIRS_PER_NONDEFAULT_VPORT,
        MaxNumMacAddresses: MAX_FILTERS as u32,
        ..Default::default()
    }
}

/// Receive-filter capabilities ("Determining Receive Filtering Capabilities"): revision 2,
/// MAC destination address and (when `vlan`) VLAN id equality tests on the MAC header, VMQ
/// filters enabled, and `NumQueues` 0 (SR-IOV uses VPorts, not VM queues).
/// `SupportedQueueProperties` has the two flags the NDIS_RECEIVE_FILTER_CAPABILITIES page
/// requires of a driver enabled for SR-IOV: MSI_X_SUPPORTED ("mandatory for miniport drivers
/// that support the VMQ or SR-IOV interface"; the reference NIC gives each queue pair its own
/// MSI-X vector) and VM_QUEUE_SUPPORTED ("must set this flag if it is enabled to use the VMQ
/// or SR-IOV interface").
pub fn receive_filter_caps(vlan: bool) -> NDIS_RECEIVE_FILTER_CAPABILITIES {
    NDIS_RECEIVE_FILTER_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_2,
            NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2,
        ),
        EnabledFilterTypes: NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED,
        EnabledQueueTypes: 0,
        NumQueues: 0,
        SupportedQueueProperties: NDIS_RECEIVE_FILTER_MSI_X_SUPPORTED
            | NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED,
        SupportedFilterTests: NDIS_RECEIVE_FILTER_TEST_HEADER_FIELD_EQUAL_SUPPORTED,
        SupportedHeaders: NDIS_RECEIVE_FILTER_MAC_HEADER_SUPPORTED,
        SupportedMacHeaderFields: NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED
            | if vlan {
                NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED
            } else {
                0
            },
        MaxMacHeaderFilters: MAX_FILTERS as u32,
        ..Default::default()
    }
}

/// The hardware-assist attributes: SR-IOV, NIC switch and receive-filter capabilities, the
/// hardware's always, the current ones only when `kw.sriov` ("Determining SR-IOV
/// Capabilities", "Determining Receive Filtering Capabilities": CurrentReceiveFilter-
/// Capabilities is NULL when SR-IOV, VMQ and packet coalescing are all disabled).
///
/// # Safety
/// `handle` is the miniport adapter handle of the current MiniportInitializeEx.
pub unsafe fn set_hardware_assist_attributes(handle: NDIS_HANDLE, kw: &Keywords) -> NDIS_STATUS {
    let mut sriov = NDIS_SRIOV_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_SRIOV_CAPABILITIES_REVISION_1,
            NDIS_SIZEOF_SRIOV_CAPABILITIES_REVISION_1,
        ),
        Flags: 0,
        SriovCapabilities: NDIS_SRIOV_CAPS_SRIOV_SUPPORTED | NDIS_SRIOV_CAPS_PF_MINIPORT,
    };
    let mut hw_switch = nic_switch_caps(true);
    let mut cur_switch = nic_switch_caps(kw.vlan_filtering);
    let mut hw_filters = receive_filter_caps(true);
    let mut cur_filters = receive_filter_caps(kw.vlan_filtering);
    let current = |p: *mut core::ffi::c_void| if kw.sriov { p } else { ptr::null_mut() };
    let mut a = NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
            NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
        ),
        HardwareReceiveFilterCapabilities: ptr::addr_of_mut!(hw_filters).cast(),
        CurrentReceiveFilterCapabilities: current(ptr::addr_of_mut!(cur_filters).cast()),
        HardwareNicSwitchCapabilities: ptr::addr_of_mut!(hw_switch),
        CurrentNicSwitchCapabilities: current(ptr::addr_of_mut!(cur_switch).cast()).cast(),
        HardwareSriovCapabilities: ptr::addr_of_mut!(sriov),
        CurrentSriovCapabilities: current(ptr::addr_of_mut!(sriov).cast()).cast(),
        ..Default::default()
    };
    // SAFETY: every pointer in `a` refers to a local that outlives the call; NDIS copies.
    unsafe { NdisMSetMiniportAttributes(handle, ptr::addr_of_mut!(a).cast()) }
}
