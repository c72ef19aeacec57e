//! The hardware layer: the seam between the drivers' NDIS code and the NIC (issue 11).
//!
//! The NDIS code talks only to the traits here: [`NicHw`] for what every function has (PF
//! and VF alike: identity, reset, DMA and interrupt enables, link, counters, queue pairs with
//! their rings), [`TxQueue`]/[`RxQueue`] for posting descriptors and reading completions, and
//! [`SwitchHw`] for what only the PF has (the embedded switch's VPorts and MAC/VLAN filters,
//! VF control). [`refnic::RefNic`] implements them for the reference NIC of
//! `docs/reference-nic.md`; a vendor replaces it with their silicon's.
//!
//! The NDIS side of the seam is here too: [`map_bar`] finds the memory BAR in
//! `NDIS_MINIPORT_INIT_PARAMETERS.AllocatedResources` and maps it with `NdisMMapIoSpace`.
//!
//! Rules for every implementation: no panics, no unchecked indexing, every value read from
//! the device or from shared memory validated before it steers anything, and no allocation:
//! memory for rings and buffers comes from the NDIS code (`NdisMAllocateSharedMemory` at
//! initialize) and is handed in as a [`DmaRegion`].
pub mod mmio;
pub mod refnic;
pub mod regs;
pub mod resources;
pub mod ring;

pub use mmio::{DmaRegion, Mmio};

use crate::ffi::imports::{NdisMMapIoSpace, NdisMUnmapIoSpace};
use crate::ffi::*;

/// Why the hardware refused or failed an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwError {
    /// Registers read all ones: the device is gone (surprise removal) or not mapped.
    Gone,
    /// The device is not the function this driver drives, or speaks another revision.
    WrongDevice,
    /// A reset or a stop did not finish within its bound.
    Timeout,
    /// A queue, vector, VPort, filter or VF number, ring length, region or fragment the
    /// hardware cannot take.
    InvalidArgument,
    /// No free descriptor for the whole frame.
    RingFull,
    /// The queue is still active (stop it and wait first).
    Busy,
    /// The device refused the queue's configuration (`*Q_STATUS.FAULT`).
    Fault,
}

impl HwError {
    /// The NDIS status an NDIS handler reports for this error.
    pub fn status(self) -> NDIS_STATUS {
        match self {
            HwError::Gone => NDIS_STATUS_ADAPTER_REMOVED,
            HwError::WrongDevice => NDIS_STATUS_ADAPTER_NOT_FOUND,
            HwError::RingFull => NDIS_STATUS_RESOURCES,
            HwError::InvalidArgument => NDIS_STATUS_INVALID_PARAMETER,
            HwError::Timeout | HwError::Busy | HwError::Fault => NDIS_STATUS_DEVICE_FAILED,
        }
    }
}

/// Which function a driver sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Pf,
    Vf,
}

/// What [`NicHw::identify`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub kind: FunctionKind,
    pub device_id: u16,
    pub revision: u8,
    /// Queue pairs the driver may start (1..=4).
    pub queue_pairs: u8,
    /// MSI-X vectors of the function.
    pub vectors: u8,
}

/// Link as the function sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkState {
    pub up: bool,
    pub full_duplex: bool,
    /// Mb/s; 0 while down.
    pub speed_mbps: u32,
    /// Changes on every link change (compare with the last value seen).
    pub seq: u32,
}

/// Declares [`Counters`] from one list of its fields, in register order (section 4's table),
/// with the array conversions field-wise arithmetic uses.
macro_rules! counters {
    ($($field:ident),* $(,)?) => {
        /// The function's counters (docs/reference-nic.md section 4), in `NDIS_STATISTICS_INFO`
        /// terms.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $(pub $field: u64,)*
        }

        impl Counters {
            /// Every counter in register order, for field-wise arithmetic.
            pub const fn to_array(&self) -> [u64; 16] {
                [$(self.$field),*]
            }

            /// The inverse of [`to_array`](Self::to_array).
            pub const fn from_array(a: [u64; 16]) -> Counters {
                let [$($field),*] = a;
                Counters { $($field),* }
            }
        }
    };
}

counters!(
    rx_ucast_pkts,
    rx_mcast_pkts,
    rx_bcast_pkts,
    rx_ucast_octets,
    rx_mcast_octets,
    rx_bcast_octets,
    rx_discards,
    rx_errors,
    tx_ucast_pkts,
    tx_mcast_pkts,
    tx_bcast_pkts,
    tx_ucast_octets,
    tx_mcast_octets,
    tx_bcast_octets,
    tx_discards,
    tx_errors,
);

impl Counters {
    pub const ZERO: Counters = Counters::from_array([0; 16]);

    /// Field-wise `f(self, other)`.
    pub fn zip_with(&self, other: &Counters, f: impl Fn(u64, u64) -> u64) -> Counters {
        let (a, b) = (self.to_array(), other.to_array());
        let mut out = [0u64; 16];
        for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
        Counters::from_array(out)
    }

    /// Frames received without error (OID_GEN_RCV_OK).
    pub const fn rcv_ok(&self) -> u64 {
        self.rx_ucast_pkts
            .saturating_add(self.rx_mcast_pkts)
            .saturating_add(self.rx_bcast_pkts)
    }

    /// Frames sent without error (OID_GEN_XMIT_OK).
    pub const fn xmit_ok(&self) -> u64 {
        self.tx_ucast_pkts
            .saturating_add(self.tx_mcast_pkts)
            .saturating_add(self.tx_bcast_pkts)
    }

    /// What OID_GEN_STATISTICS answers (the one conversion to NDIS_STATISTICS_INFO) ("OID_GEN_STATISTICS", NDIS_STATISTICS_INFO revision 1):
    /// every counter the reference NIC keeps, each flagged in `SupportedStatistics`; the
    /// totals are sums (saturating, never wrapping).
    pub fn statistics_info(&self) -> NDIS_STATISTICS_INFO {
        let sum = |a: u64, b: u64, c: u64| a.saturating_add(b).saturating_add(c);
        NDIS_STATISTICS_INFO {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_STATISTICS_INFO_REVISION_1,
                NDIS_SIZEOF_STATISTICS_INFO_REVISION_1,
            ),
            // Every member, as the drivers' own counters claim (one list of the flags).
            SupportedStatistics: crate::miniport::SUPPORTED_STATISTICS,
            ifInDiscards: self.rx_discards,
            ifInErrors: self.rx_errors,
            ifHCInOctets: sum(
                self.rx_ucast_octets,
                self.rx_mcast_octets,
                self.rx_bcast_octets,
            ),
            ifHCInUcastPkts: self.rx_ucast_pkts,
            ifHCInMulticastPkts: self.rx_mcast_pkts,
            ifHCInBroadcastPkts: self.rx_bcast_pkts,
            ifHCOutOctets: sum(
                self.tx_ucast_octets,
                self.tx_mcast_octets,
                self.tx_bcast_octets,
            ),
            ifHCOutUcastPkts: self.tx_ucast_pkts,
            ifHCOutMulticastPkts: self.tx_mcast_pkts,
            ifHCOutBroadcastPkts: self.tx_bcast_pkts,
            ifOutErrors: self.tx_errors,
            ifOutDiscards: self.tx_discards,
            ifHCInUcastOctets: self.rx_ucast_octets,
            ifHCInMulticastOctets: self.rx_mcast_octets,
            ifHCInBroadcastOctets: self.rx_bcast_octets,
            ifHCOutUcastOctets: self.tx_ucast_octets,
            ifHCOutMulticastOctets: self.tx_mcast_octets,
            ifHCOutBroadcastOctets: self.tx_bcast_octets,
        }
    }
}

/// One buffer of a frame: a scatter-gather element's bus address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frag {
    pub addr: u64,
    pub len: u16,
}

/// A TX frame reclaimed from its ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxDone {
    /// What [`TxQueue::post`] returned for the frame: the driver's index for its context.
    pub slot: u16,
    /// The device sent it (false: failed, or never processed before the queue stopped).
    pub sent: bool,
}

/// An RX buffer back from the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxDone {
    /// What [`RxQueue::post`] returned for the buffer.
    pub slot: u16,
    /// Bytes of the frame in the buffer.
    pub len: u16,
    /// The 802.1Q tag the device stripped, if it did.
    pub vlan_tci: Option<u16>,
    pub broadcast: bool,
    pub multicast: bool,
    /// False when the device reported a length of 0 or larger than the buffer: drop the
    /// frame and post the buffer again.
    pub valid: bool,
}

impl RxDone {
    /// A placeholder for arrays of completions (slot 0, not valid).
    pub const EMPTY: RxDone = RxDone {
        slot: 0,
        len: 0,
        vlan_tci: None,
        broadcast: false,
        multicast: false,
        valid: false,
    };
}

/// The driver's side of a TX ring. Called under the driver's TX lock (one caller at a time).
pub trait TxQueue {
    /// Descriptors free for posting.
    fn free(&self) -> u16;
    /// Writes one frame's descriptors (1..=16 fragments, the VLAN tag to insert if any);
    /// returns the frame's slot, which [`complete`](Self::complete) gives back. Nothing
    /// reaches the device before [`flush`](Self::flush).
    fn post(&mut self, frags: &[Frag], vlan_tci: Option<u16>) -> Result<u16, HwError>;
    /// Rings the doorbell for everything posted since the last flush.
    fn flush(&mut self);
    /// The oldest frame, once the device is done with it.
    fn complete(&mut self) -> Option<TxDone>;
    /// After the queue stopped (idle): the oldest frame whether done or not. A queue started
    /// again is a new ring object ([`NicHw::start_tx`]), starting from slot 0 as the device does.
    fn drain(&mut self) -> Option<TxDone>;
    /// Descriptors posted and not yet reclaimed.
    fn in_flight(&self) -> u16;
}

/// The driver's side of an RX ring. Called from the queue's DPC (one caller at a time).
pub trait RxQueue {
    fn free(&self) -> u16;
    /// Posts one receive buffer (bus address, bytes); returns its slot.
    fn post(&mut self, addr: u64, buf_len: u16) -> Result<u16, HwError>;
    fn flush(&mut self);
    /// The oldest buffer, once the device has written a frame to it.
    fn complete(&mut self) -> Option<RxDone>;
    /// After the queue stopped (idle): the oldest buffer still posted.
    fn drain(&mut self) -> Option<u16>;
    /// Buffers posted and not yet reclaimed.
    fn posted(&self) -> u16;
}

/// What every function of the NIC offers its driver. Methods take `&self`: register access
/// is by single volatile loads and stores, each register has one writer (the spec's rules),
/// and ring state lives in the queue objects the driver owns.
pub trait NicHw {
    type Tx: TxQueue;
    type Rx: RxQueue;

    /// Bytes of shared memory a ring of `len` descriptors needs (`None`: `len` refused), and
    /// the alignment of its bus address.
    fn ring_bytes(len: u16) -> Option<u32>;
    const RING_ALIGN: u64;

    /// Reads the identity; `WrongDevice` unless it is the function kind expected at the
    /// revision this code speaks, `Gone` if the registers read all ones.
    fn identify(&self, expected: FunctionKind) -> Result<Identity, HwError>;
    /// Function reset, waiting for its end with `sleep(microseconds)` between polls.
    fn reset(&self, sleep: &mut dyn FnMut(u32)) -> Result<(), HwError>;
    /// Lets the function's DMA run (after its queues are set up) or stops it.
    fn set_dma(&self, enabled: bool);
    /// MiniportShutdownEx: DMA and every vector off. Register writes only: no lock, no wait,
    /// safe at any IRQL.
    fn quiesce(&self);
    /// Whether the device still answers (false after surprise removal).
    fn present(&self) -> bool;
    fn mac(&self) -> [u8; 6];
    fn link(&self) -> LinkState;
    fn set_max_frame(&self, bytes: u32) -> Result<(), HwError>;
    fn counters(&self) -> Counters;

    /// Starts TX queue `q` on `mem` with `len` descriptors, its completions on `vector`.
    fn start_tx(
        &self,
        q: u8,
        mem: DmaRegion,
        len: u16,
        vector: Option<u8>,
    ) -> Result<Self::Tx, HwError>;
    fn start_rx(
        &self,
        q: u8,
        mem: DmaRegion,
        len: u16,
        vector: Option<u8>,
    ) -> Result<Self::Rx, HwError>;
    /// Asks the queue to stop; [`tx_idle`](Self::tx_idle) says when its memory is the driver's.
    fn stop_tx(&self, q: u8);
    fn stop_rx(&self, q: u8);
    fn tx_idle(&self, q: u8) -> bool;
    fn rx_idle(&self, q: u8) -> bool;

    /// Lets vector `v` fire (the DPC's last step) or holds it (the ISR's first).
    fn set_vector(&self, v: u8, enabled: bool);
    /// Whether vector `v` may fire now (false for a vector out of range or a device gone).
    fn vector_enabled(&self, v: u8) -> bool;
    /// Routes the link cause to `vector` (`None`: never signalled).
    fn route_link(&self, vector: Option<u8>);
    /// Whether the link cause is routed (`MISC_IVAR.VALID`): the driver routes it at start, and
    /// only a function reset clears it (section 9), so reading it clear while the driver runs
    /// tells of a reset the driver did not make.
    fn link_routed(&self) -> bool;
    /// Causes latched and not yet signalled (`INT_CAUSE`).
    fn pending_causes(&self) -> u32;
}

/// Which function a VPort is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    Pf,
    Vf(u16),
}

/// One VPort of the embedded switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VPortConfig {
    pub function: Attached,
    /// The RX queue of that function the VPort's frames go to.
    pub rx_queue: u8,
    /// Receives wire unicast that no filter matched (the default VPort).
    pub promiscuous: bool,
    pub accept_broadcast: bool,
    pub accept_multicast: bool,
    /// Port VLAN: (VLAN id, priority); frames are tagged leaving the VPort, stripped arriving.
    pub port_vlan: Option<(u16, u8)>,
}

/// One MAC (+ VLAN) receive filter of the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    pub mac: [u8; 6],
    /// `Some(id)`: frames of that VLAN; `None`: untagged frames (or VLAN 0).
    pub vlan: Option<u16>,
    pub vport: u16,
}

/// What the PF sets for one VF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VfControl {
    pub enabled: bool,
    pub link_forced_down: bool,
    /// What the VF reads as its MAC.
    pub mac: [u8; 6],
    pub queue_pairs: u8,
}

/// What only the PF has: the embedded switch and control of its VFs.
pub trait SwitchHw: NicHw {
    /// Forward by the tables (true) or bypass (false: wire <-> PF only).
    fn set_switch(&self, enabled: bool);
    /// Writes VPort `p` (`None`: disabled). Takes effect at the next [`commit`](Self::commit).
    fn set_vport(&self, p: u16, cfg: Option<&VPortConfig>) -> Result<(), HwError>;
    /// Writes filter entry `f` (`None`: invalid). Takes effect at the next commit.
    fn set_filter(&self, f: u16, filter: Option<&Filter>) -> Result<(), HwError>;
    /// Puts every table change so far in force; returns a token for [`committed`](Self::committed).
    fn commit(&self) -> u32;
    /// Whether the device forwards with the tables as of `token` (or of a later commit).
    fn committed(&self, token: u32) -> bool;
    fn set_vf(&self, vf: u16, ctl: &VfControl) -> Result<(), HwError>;
    /// Function reset of one VF, waiting as [`NicHw::reset`] does.
    fn reset_vf(&self, vf: u16, sleep: &mut dyn FnMut(u32)) -> Result<(), HwError>;
}

/// A BAR mapped with `NdisMMapIoSpace`, unmapped with [`unmap_bar`].
#[derive(Debug)]
pub struct MappedBar {
    pub mmio: Mmio,
    /// The CPU physical address NDIS gave in the translated resources.
    pub physical: i64,
}

/// The first `CmResourceTypeMemory` descriptor of `resources` at least `min_len` bytes long,
/// as (start, length). `None` for a null list, no such descriptor, or a count over 64.
///
/// # Safety
/// `resources` is null or the `AllocatedResources` NDIS passed to MiniportInitializeEx.
pub unsafe fn find_memory_resource(
    resources: *const CM_PARTIAL_RESOURCE_LIST,
    min_len: u32,
) -> Option<(i64, u32)> {
    // SAFETY: caller contract: null or a valid list.
    let list = unsafe { resources.as_ref() }?;
    // A PCI function has at most 6 BARs and a few interrupt descriptors; a larger count is a
    // list this code will not walk.
    let count = list.Count;
    if count > 64 {
        return None;
    }
    let first =
        core::ptr::addr_of!(list.PartialDescriptors).cast::<CM_PARTIAL_RESOURCE_DESCRIPTOR>();
    for i in 0..count as usize {
        // SAFETY: NDIS's list holds `Count` descriptors back to back after the header.
        let d = unsafe { first.add(i).read_unaligned() };
        if d.Type != CmResourceTypeMemory {
            continue;
        }
        // SAFETY: the memory arm of the union is the one a CmResourceTypeMemory descriptor uses.
        let m = unsafe { d.u.Memory };
        let (start, length) = (m.Start, m.Length);
        if length >= min_len {
            return Some((start, length));
        }
    }
    None
}

/// Maps the function's register BAR: the first memory resource of at least `min_len` bytes
/// (the reference NIC's BAR 0: [`regs::PF_BAR0_LEN`] or [`regs::VF_BAR0_LEN`]), `min_len`
/// bytes of it. PASSIVE_LEVEL, during MiniportInitializeEx (the page of NdisMMapIoSpace).
///
/// # Safety
/// `handle` is the adapter handle of the initialization in progress; `resources` its
/// `AllocatedResources` (or null).
pub unsafe fn map_bar(
    handle: NDIS_HANDLE,
    resources: *const CM_PARTIAL_RESOURCE_LIST,
    min_len: u32,
) -> Result<MappedBar, NDIS_STATUS> {
    // "MINIPORT_INITIALIZE callback function": NDIS_STATUS_RESOURCES when MiniportInitializeEx
    // "could not allocate resources to perform network I/O operations" (the page names a device
    // memory range among them); NDIS_STATUS_RESOURCE_CONFLICT is not one of its statuses.
    // SAFETY: forwarded caller contract.
    let Some((start, _)) = (unsafe { find_memory_resource(resources, min_len) }) else {
        crate::ndis_log!(
            ERROR,
            "hw",
            "initialize: no memory resource of at least {:#x} bytes in AllocatedResources",
            min_len
        );
        return Err(NDIS_STATUS_RESOURCES);
    };
    let mut va: *mut core::ffi::c_void = core::ptr::null_mut();
    // SAFETY: valid handle during initialize; `va` is a valid out-pointer.
    let status = unsafe { NdisMMapIoSpace(&mut va, handle, start, min_len) };
    if status != NDIS_STATUS_SUCCESS {
        crate::ndis_log!(
            ERROR,
            "hw",
            "initialize: NdisMMapIoSpace of the BAR in AllocatedResources failed, status {:#010x}",
            status
        );
        return Err(NDIS_STATUS_RESOURCES);
    }
    // SAFETY: NdisMMapIoSpace mapped `min_len` bytes at `va` until NdisMUnmapIoSpace.
    match unsafe { Mmio::new(va.cast(), min_len) } {
        Some(mmio) => Ok(MappedBar {
            mmio,
            physical: start,
        }),
        None => {
            // SAFETY: the mapping just made, never used.
            unsafe { NdisMUnmapIoSpace(handle, va, min_len) };
            Err(NDIS_STATUS_RESOURCES)
        }
    }
}

/// Unmaps a BAR [`map_bar`] mapped. PASSIVE_LEVEL (halt, or a failed initialize).
///
/// # Safety
/// `bar` came from [`map_bar`] with this `handle`, and nothing uses its registers any more.
pub unsafe fn unmap_bar(handle: NDIS_HANDLE, bar: MappedBar) {
    // SAFETY: caller contract.
    unsafe { NdisMUnmapIoSpace(handle, bar.mmio.base().cast(), bar.mmio.len()) }
}
