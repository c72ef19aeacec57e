//! The NDIS half of receive, shared by both drivers (issue 11): the receive NBL pool, one
//! preallocated NET_BUFFER_LIST (with its NET_BUFFER and MDL) per receive buffer, indications,
//! MiniportReturnNetBufferLists, and what pause, restart and halt do to receives.
//!
//! The rules, each from its page:
//! - The pool: NdisAllocateNetBufferListPool with a NET_BUFFER_LIST_POOL_PARAMETERS whose
//!   header is NDIS_OBJECT_TYPE_DEFAULT / revision 1 / NDIS_SIZEOF_..._REVISION_1, ProtocolId
//!   NDIS_PROTOCOL_ID_DEFAULT ("Miniport, filter, and intermediate drivers set this field to
//!   zero") and fAllocateNetBuffer TRUE, so that NdisAllocateNetBufferAndNetBufferList can give
//!   each NBL its NET_BUFFER ("NET_BUFFER_LIST_POOL_PARAMETERS structure"). Everything is
//!   allocated at MiniportInitializeEx; nothing is allocated per frame.
//! - Each NET_BUFFER is attached to its own NET_BUFFER_LIST ("Receiving Network Data": "Every
//!   NET_BUFFER structure should usually be attached to a separate NET_BUFFER_LIST"), and
//!   `SourceHandle` is the miniport adapter handle ("NET_BUFFER_LIST Structure": the handle
//!   NDIS gave the driver in MiniportInitializeEx).
//! - NdisMIndicateReceiveNetBufferLists: `<= DISPATCH_LEVEL`; NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
//!   says the current IRQL is DISPATCH_LEVEL; PortNumber 0 is the default port of an adapter
//!   that allocated none; NumberOfNetBufferLists counts the chain.
//! - Without NDIS_RECEIVE_FLAGS_RESOURCES the NBLs are NDIS's until it hands them to
//!   MiniportReturnNetBufferLists, possibly several indications' NBLs in one chain ("Indicating
//!   Received Data from a Miniport Driver", MINIPORT_RETURN_NET_BUFFER_LISTS); the driver does
//!   not touch them meanwhile. With it they are the driver's again as soon as the call returns
//!   and never come back; a driver sets it when it runs low on receive resources ("Receiving
//!   Network Data"): here, when fewer than `low_water` buffers remain posted to the hardware.
//! - No indication while pausing or paused; MiniportPause completes only when every indication
//!   has returned and NDIS has returned every NBL ("Pausing an Adapter"; MINIPORT_PAUSE);
//!   otherwise it returns NDIS_STATUS_PENDING and the driver calls NdisMPauseComplete when the
//!   last one comes back ("NdisMPauseComplete function"). Frames that arrive meanwhile are
//!   dropped, counted and their buffers posted again.
//! - Halt frees every NBL with NdisFreeNetBufferList before the pool ("NdisFreeNetBufferListPool
//!   function": "Before freeing a NET_BUFFER_LIST structure pool, you must free all the
//!   NET_BUFFER_LIST structures in the pool"); NdisFreeNetBufferList frees the preallocated
//!   NET_BUFFER but not the MDL, which the driver frees with NdisFreeMdl after the NBL that
//!   points at it ("NdisFreeNetBufferList function"; the order of MDL and NBL the pages leave
//!   open: the NBL first, so nothing is left pointing at a freed MDL).
//!
//! Where buffers come from is a parameter (the [`RxBuffers`] trait: a CPU address, a bus
//! address and a length per slot): both drivers use the RX-buffer block of shared memory their
//! [`crate::hw::resources::DataPath`] allocated (NdisMAllocateSharedMemory, one [`RxRegion`]
//! cut into equal slots); [`RxRegion::allocate_pool`] (nonpaged pool, no bus address) is another
//! source, for tests of the queue alone. Where buffers go back to is the [`RxPoster`] trait:
//! the hardware's RX ring (the data path posts a descriptor and rings the doorbell). Frames
//! arrive from the interrupt DPC ([`crate::handlers::receive`]).
use crate::ffi::imports::{
    KeGetCurrentIrql, NdisAllocateMdl, NdisAllocateMemoryWithTagPriority,
    NdisAllocateNetBufferAndNetBufferList, NdisAllocateNetBufferListPool, NdisFreeMdl,
    NdisFreeMemoryWithTagPriority, NdisFreeNetBufferList, NdisFreeNetBufferListPool,
    NdisMIndicateReceiveNetBufferLists,
};
use crate::ffi::*;
use crate::sync::SpinLock;
use core::ffi::c_void;

/// Most receive buffers one queue keeps (its slot table is inline in the adapter context).
pub const MAX_RX_SLOTS: usize = 64;
/// Receive buffers each driver has: one per descriptor its RX ring can hold posted.
pub const RX_SLOTS: u16 = crate::hw::resources::RX_BUFFERS;
/// Bytes per receive buffer: a 1514-byte frame plus a VLAN tag and FCS fit.
pub const RX_BUFFER_BYTES: u32 = crate::hw::resources::RX_BUF_BYTES;
/// Below this many posted buffers, indications carry NDIS_RECEIVE_FLAGS_RESOURCES.
pub const RX_LOW_WATER: u16 = 2;

/// One receive buffer: where the CPU reads it, where the device writes it, its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxBuffer {
    pub va: *mut u8,
    pub bus: u64,
    pub len: u32,
}

/// The driver's receive buffers: `slots` buffers of `slot_bytes` each, back to back from `va`
/// (bus address `bus`). All-zero is "none".
#[derive(Clone, Copy, Debug)]
pub struct RxRegion {
    pub va: *mut u8,
    pub bus: u64,
    pub slot_bytes: u32,
    pub slots: u16,
}

impl RxRegion {
    pub const NONE: RxRegion = RxRegion {
        va: core::ptr::null_mut(),
        bus: 0,
        slot_bytes: 0,
        slots: 0,
    };

    /// Total bytes (`None` on overflow).
    pub fn bytes(&self) -> Option<u32> {
        self.slot_bytes.checked_mul(u32::from(self.slots))
    }

    /// Buffer `slot`, if the region has it.
    pub fn buffer(&self, slot: u16) -> Option<RxBuffer> {
        if slot >= self.slots || self.va.is_null() {
            return None;
        }
        let off = u64::from(slot) * u64::from(self.slot_bytes);
        Some(RxBuffer {
            // SAFETY: inside the region (slot < slots), which the caller allocated whole.
            va: unsafe { self.va.add(usize::try_from(off).ok()?) },
            bus: self.bus.wrapping_add(off),
            len: self.slot_bytes,
        })
    }

    /// `slots` buffers in one nonpaged pool allocation (no bus address: the stand-in until
    /// shared memory is wired in). `None` when the pool is exhausted. `<= DISPATCH_LEVEL`.
    ///
    /// # Safety
    /// `handle` is the miniport adapter handle; free with [`free_pool`](Self::free_pool).
    pub unsafe fn allocate_pool(
        handle: NDIS_HANDLE,
        tag: u32,
        slots: u16,
        slot_bytes: u32,
    ) -> Option<RxRegion> {
        let mut r = RxRegion {
            va: core::ptr::null_mut(),
            bus: 0,
            slot_bytes,
            slots,
        };
        let bytes = r.bytes().filter(|b| *b > 0)?;
        // SAFETY: plain allocation with our handle; null handled below.
        let va =
            unsafe { NdisAllocateMemoryWithTagPriority(handle, bytes, tag, NormalPoolPriority) };
        if va.is_null() {
            return None;
        }
        r.va = va.cast();
        Some(r)
    }

    /// Frees what [`allocate_pool`](Self::allocate_pool) returned.
    ///
    /// # Safety
    /// Nothing refers to the buffers any more (no MDL, no posted slot).
    pub unsafe fn free_pool(self, handle: NDIS_HANDLE, tag: u32) {
        if !self.va.is_null() {
            // SAFETY: caller contract; the allocation made with this handle and tag.
            unsafe { NdisFreeMemoryWithTagPriority(handle, self.va.cast(), tag) };
        }
    }
}

/// Where receive buffers come from: one buffer (CPU address, bus address, length) per slot.
/// [`RxRegion`] is one contiguous allocation cut into equal slots; a source of separately
/// allocated buffers (e.g. one NdisMAllocateSharedMemory block each) implements it as well.
pub trait RxBuffers {
    /// Buffers the source holds (the queue takes at most [`MAX_RX_SLOTS`]).
    fn count(&self) -> u16;
    /// Buffer `slot`, nonpaged, owned by the driver until halt.
    fn buffer(&self, slot: u16) -> Option<RxBuffer>;
}

impl RxBuffers for RxRegion {
    fn count(&self) -> u16 {
        self.slots
    }

    fn buffer(&self, slot: u16) -> Option<RxBuffer> {
        RxRegion::buffer(self, slot)
    }
}

/// Where a buffer goes when it is the driver's again: the hardware's RX ring (`RxQueue::post`
/// behind the driver's ring lock). May be called at DISPATCH_LEVEL, from
/// MiniportReturnNetBufferLists or the receive DPC; never with the queue's lock held.
pub trait RxPoster {
    /// Writes buffer `slot`'s descriptor (not yet visible to the device).
    fn post(&self, slot: u16, buf: RxBuffer);
    /// [`post`](Self::post) for each, in order; an implementation takes its lock once.
    fn post_many(&self, bufs: &[(u16, RxBuffer)]) {
        for &(slot, buf) in bufs {
            self.post(slot, buf);
        }
    }
    /// Makes every buffer posted since the last call visible to the device (the doorbell).
    fn flush(&self) {}
}

/// A frame the device wrote into buffer `slot` (the DPC's view of an `RxDone`, after the ring
/// index is mapped to the buffer posted there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxFrame {
    pub slot: u16,
    pub len: u32,
    /// False when the device reported an error or a length it cannot have written.
    pub valid: bool,
    /// The 802.1Q TCI the device stripped (RX descriptor `STATUS.VLAN`, `VLAN_TCI`): the NBL
    /// carries it as its `Ieee8021QNetBufferListInfo` ("NDIS_NET_BUFFER_LIST_8021Q_INFO
    /// structure").
    pub vlan_tci: Option<u16>,
}

/// What the receive side counted (for OID_GEN_STATISTICS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxCounters {
    /// Frames indicated (either way) and their bytes.
    pub frames: u64,
    pub bytes: u64,
    /// Calls of NdisMIndicateReceiveNetBufferLists, and how many of them with RESOURCES.
    pub indications: u64,
    pub resources_indications: u64,
    /// Frames dropped: arrived while pausing or paused; invalid (length 0, over the buffer,
    /// device error, a slot that was not posted). A frame that finds no buffer posted is the
    /// device's drop (its `RX_DISCARDS` counter), never seen here.
    pub dropped_paused: u64,
    pub dropped_invalid: u64,
    /// MiniportReturnNetBufferLists gave back an NBL that was not this queue's or not NDIS's.
    pub bad_returns: u64,
}

impl RxCounters {
    /// Every frame the driver did not give NDIS (part of ifInDiscards).
    pub fn dropped(&self) -> u64 {
        self.dropped_paused.saturating_add(self.dropped_invalid)
    }
}

/// Who owns a slot's buffer and NBL. Zero: nothing allocated yet (or the driver's, unposted).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Driver = 0,
    /// Posted to the hardware, waiting for a frame.
    Hardware,
    /// Indicated without RESOURCES: NDIS's until MiniportReturnNetBufferLists.
    Ndis,
    /// Inside a RESOURCES indication: the driver's again when the call returns.
    Lent,
}

#[derive(Clone, Copy)]
struct Slot {
    nbl: *mut NET_BUFFER_LIST,
    mdl: *mut MDL,
    buf: RxBuffer,
    owner: Owner,
}

const NO_BUFFER: RxBuffer = RxBuffer {
    va: core::ptr::null_mut(),
    bus: 0,
    len: 0,
};

struct Inner {
    /// Indications allowed (Running).
    open: bool,
    /// MiniportPause returned PENDING: whoever brings `outstanding` to zero completes it.
    pause_pending: bool,
    pool: NDIS_HANDLE,
    count: u16,
    low_water: u16,
    slots: [Slot; MAX_RX_SLOTS],
    /// Slots with NDIS or inside an indication.
    outstanding: u16,
    /// Slots posted to the hardware.
    posted: u16,
    counters: RxCounters,
}

// SAFETY: the raw pointers are this queue's pool objects and buffers, touched only under the
// lock (or by NDIS while it owns them).
unsafe impl Send for Inner {}

/// Slot numbers collected under the lock, acted on after it is released.
/// Buffers reposted per lock acquisition ([`RecvQueue::post`]); bounded so that the group
/// stays small on a DPC's stack (16 x 24 bytes).
const POST_BATCH: usize = 16;

struct Slots {
    list: [u16; MAX_RX_SLOTS],
    len: usize,
}

impl Slots {
    const fn new() -> Self {
        Self {
            list: [0; MAX_RX_SLOTS],
            len: 0,
        }
    }

    fn push(&mut self, slot: u16) {
        if let Some(e) = self.list.get_mut(self.len) {
            *e = slot;
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.list.iter().take(self.len).copied()
    }
}

/// What MiniportPause found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseOutcome {
    /// Nothing outstanding: the pause is complete now.
    Done,
    /// NBLs are outstanding: the pause completes when the last comes back (NdisMPauseComplete).
    Pending,
}

/// The adapter's receive side. All-zero is a valid value (nothing allocated, closed), so it
/// can sit in a zeroed adapter context.
pub struct RecvQueue {
    inner: SpinLock<Inner>,
}

fn at_dispatch_now() -> bool {
    // SAFETY: plain IRQL read.
    unsafe { KeGetCurrentIrql() >= DISPATCH_LEVEL }
}

impl RecvQueue {
    pub fn new() -> Self {
        Self {
            inner: SpinLock::new(Inner {
                open: false,
                pause_pending: false,
                pool: core::ptr::null_mut(),
                count: 0,
                low_water: 0,
                slots: [Slot {
                    nbl: core::ptr::null_mut(),
                    mdl: core::ptr::null_mut(),
                    buf: NO_BUFFER,
                    owner: Owner::Driver,
                }; MAX_RX_SLOTS],
                outstanding: 0,
                posted: 0,
                counters: RxCounters {
                    frames: 0,
                    bytes: 0,
                    indications: 0,
                    resources_indications: 0,
                    dropped_paused: 0,
                    dropped_invalid: 0,
                    bad_returns: 0,
                },
            }),
        }
    }

    /// MiniportInitializeEx: the pool, then an MDL and an NBL (with its NET_BUFFER) for each
    /// buffer of `buffers` (at most [`MAX_RX_SLOTS`]). On failure everything made so far is
    /// freed and the error is NDIS_STATUS_RESOURCES. PASSIVE_LEVEL.
    ///
    /// # Safety
    /// `handle` is the miniport adapter handle of the initialization in progress; the buffers
    /// stay allocated until [`free`](Self::free) has run.
    pub unsafe fn allocate(
        &self,
        handle: NDIS_HANDLE,
        buffers: &dyn RxBuffers,
        low_water: u16,
        tag: u32,
    ) -> Result<(), NDIS_STATUS> {
        let mut params = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: TRUE,
            ContextSize: 0,
            PoolTag: tag,
            DataSize: 0,
        };
        // SAFETY: our adapter handle; the parameters are read during the call.
        let pool = unsafe { NdisAllocateNetBufferListPool(handle, &mut params) };
        if pool.is_null() {
            return Err(NDIS_STATUS_RESOURCES);
        }
        let count = buffers.count().min(MAX_RX_SLOTS as u16);
        {
            let mut st = self.inner.lock();
            st.pool = pool;
            st.low_water = low_water;
            st.count = 0;
        }
        for i in 0..count {
            // SAFETY: forwarded caller contract.
            if unsafe { self.allocate_slot(handle, pool, buffers.buffer(i)) }.is_none() {
                // SAFETY: nothing was indicated yet; frees what was made.
                unsafe { self.free() };
                return Err(NDIS_STATUS_RESOURCES);
            }
        }
        Ok(())
    }

    /// # Safety
    /// As [`allocate`](Self::allocate); `pool` its pool.
    unsafe fn allocate_slot(
        &self,
        handle: NDIS_HANDLE,
        pool: NDIS_HANDLE,
        buf: Option<RxBuffer>,
    ) -> Option<()> {
        let buf = buf.filter(|b| !b.va.is_null() && b.len > 0)?;
        // SAFETY: nonpaged buffer of `len` bytes the driver owns until halt.
        let mdl = unsafe { NdisAllocateMdl(handle, buf.va.cast(), buf.len) };
        if mdl.is_null() {
            return None;
        }
        // SAFETY: our pool; the MDL describes the whole buffer; no data yet.
        let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, 0, 0) };
        // SAFETY: a fresh NBL of our pool, or null.
        let Some(n) = (unsafe { nbl.as_mut() }) else {
            // SAFETY: the MDL just made, referenced by nothing.
            unsafe { NdisFreeMdl(mdl) };
            return None;
        };
        let mut st = self.inner.lock();
        let count = st.count;
        // The slot number rides in MiniportReserved, the area the NBL keeps for the miniport.
        n.MiniportReserved.0[0] = usize::from(count) as *mut c_void;
        n.SourceHandle = handle;
        let Some(slot) = st.slots.get_mut(usize::from(count)) else {
            drop(st);
            // SAFETY: the NBL and MDL just made, referenced by nothing else.
            unsafe {
                NdisFreeNetBufferList(nbl);
                NdisFreeMdl(mdl);
            }
            return None;
        };
        *slot = Slot {
            nbl,
            mdl,
            buf,
            owner: Owner::Driver,
        };
        st.count = count.wrapping_add(1);
        Some(())
    }

    /// MiniportHaltEx (or a failed initialize): every NBL (NdisFreeNetBufferList), then every
    /// MDL (NdisFreeMdl), then the pool (NdisFreeNetBufferListPool); the buffers are the
    /// caller's to free after. A slot NDIS still holds (never, after a completed pause) is
    /// left alone rather than freed under NDIS.
    ///
    /// # Safety
    /// Nothing else runs on this queue (halt, or initialize's failure path).
    pub unsafe fn free(&self) {
        let (pool, slots, count) = {
            let mut st = self.inner.lock();
            let out = (st.pool, st.slots, st.count);
            st.pool = core::ptr::null_mut();
            st.count = 0;
            st.open = false;
            st.posted = 0;
            out
        };
        let live = slots.iter().take(usize::from(count));
        let mut held = false;
        for s in live.clone() {
            if matches!(s.owner, Owner::Ndis | Owner::Lent) {
                held = true;
            } else if !s.nbl.is_null() {
                // SAFETY: an NBL of our pool that NDIS does not hold.
                unsafe { NdisFreeNetBufferList(s.nbl) };
            }
        }
        for s in live {
            if !matches!(s.owner, Owner::Ndis | Owner::Lent) && !s.mdl.is_null() {
                // SAFETY: our MDL; the NBL that pointed at it is freed above.
                unsafe { NdisFreeMdl(s.mdl) };
            }
        }
        if !pool.is_null() && !held {
            // SAFETY: every NBL of the pool is freed.
            unsafe { NdisFreeNetBufferListPool(pool) };
        }
    }

    /// MiniportInitializeEx's receive step: the pool, an NBL and MDL per buffer of `buffers`
    /// ([`allocate`](Self::allocate), low-water mark [`RX_LOW_WATER`]), then every buffer posted
    /// to `hw`. On failure nothing is left allocated. PASSIVE_LEVEL.
    ///
    /// # Safety
    /// As [`allocate`](Self::allocate); undo with [`free`](Self::free) before the buffers go.
    pub unsafe fn setup(
        &self,
        handle: NDIS_HANDLE,
        buffers: &dyn RxBuffers,
        hw: &dyn RxPoster,
        tag: u32,
    ) -> Result<(), NDIS_STATUS> {
        // SAFETY: forwarded caller contract.
        unsafe { self.allocate(handle, buffers, RX_LOW_WATER, tag) }?;
        self.post_all(hw);
        Ok(())
    }

    /// Posts every buffer the driver holds to `hw` (after initialize, or a ring restart).
    pub fn post_all(&self, hw: &dyn RxPoster) {
        let mut todo = Slots::new();
        {
            let mut st = self.inner.lock();
            let count = usize::from(st.count);
            let mut posted = 0u16;
            for (i, s) in st.slots.iter_mut().take(count).enumerate() {
                if s.owner == Owner::Driver {
                    s.owner = Owner::Hardware;
                    posted = posted.wrapping_add(1);
                    todo.push(i as u16);
                }
            }
            st.posted = st.posted.wrapping_add(posted);
        }
        self.post(&todo, hw);
    }

    /// Reposts `slots` to the hardware: their buffers are read in groups of [`POST_BATCH`]
    /// under one acquisition of this queue's lock, and each group posted under one of the
    /// ring's (not two locks per buffer), then one doorbell. The two locks are never nested.
    fn post(&self, slots: &Slots, hw: &dyn RxPoster) {
        if slots.len == 0 {
            return;
        }
        let none = RxBuffer {
            va: core::ptr::null_mut(),
            bus: 0,
            len: 0,
        };
        let mut group = [(0u16, none); POST_BATCH];
        let mut left = slots.iter();
        loop {
            let mut n = 0;
            {
                let st = self.inner.lock();
                for slot in left.by_ref() {
                    let buf = st.slots.get(usize::from(slot)).filter(|_| slot < st.count);
                    if let (Some(s), Some(e)) = (buf, group.get_mut(n)) {
                        *e = (slot, s.buf);
                        n += 1;
                    }
                    if n == POST_BATCH {
                        break;
                    }
                }
            }
            if n == 0 {
                break;
            }
            hw.post_many(group.get(..n).unwrap_or(&[]));
        }
        hw.flush();
    }

    /// MiniportRestart succeeded: indications flow again.
    pub fn restart(&self) {
        let mut st = self.inner.lock();
        st.open = true;
        st.pause_pending = false;
    }

    /// MiniportPause: no indication from now on; done now, or when the last NBL comes back.
    pub fn pause(&self) -> PauseOutcome {
        let mut st = self.inner.lock();
        st.open = false;
        if st.outstanding == 0 {
            st.pause_pending = false;
            PauseOutcome::Done
        } else {
            st.pause_pending = true;
            PauseOutcome::Pending
        }
    }

    /// Takes `outstanding` down by `n`; `true` when that completes a pending pause.
    fn settle(st: &mut Inner, n: u16) -> bool {
        st.outstanding = st.outstanding.saturating_sub(n);
        if st.pause_pending && st.outstanding == 0 {
            st.pause_pending = false;
            return true;
        }
        false
    }

    /// The receive DPC's step ([`crate::handlers::receive`]):
    /// the frames the device wrote into posted buffers are indicated in one chain, with
    /// NDIS_RECEIVE_FLAGS_RESOURCES when fewer than `low_water` buffers stay posted (those
    /// NBLs are reposted as soon as the call returns); while paused they are dropped, counted
    /// and reposted. Returns `true` when this completed a pending pause (the caller then
    /// calls NdisMPauseComplete). `<= DISPATCH_LEVEL`.
    ///
    /// # Safety
    /// `handle` is the miniport adapter handle this queue was allocated with.
    pub unsafe fn indicate(
        &self,
        handle: NDIS_HANDLE,
        frames: &[RxFrame],
        hw: &dyn RxPoster,
    ) -> bool {
        let mut repost = Slots::new();
        let mut chain = Slots::new();
        let mut head: *mut NET_BUFFER_LIST = core::ptr::null_mut();
        let mut tail: *mut NET_BUFFER_LIST = core::ptr::null_mut();
        let resources;
        {
            let mut guard = self.inner.lock();
            let st = &mut *guard;
            let open = st.open;
            let count = st.count;
            for f in frames {
                let taken = match st.slots.get_mut(usize::from(f.slot)) {
                    Some(s) if f.slot < count && s.owner == Owner::Hardware => s,
                    _ => {
                        // Not a buffer the device had: nothing to indicate or repost.
                        st.counters.dropped_invalid = st.counters.dropped_invalid.wrapping_add(1);
                        continue;
                    }
                };
                let nbl = taken.nbl;
                if !open || !f.valid || f.len == 0 || f.len > taken.buf.len {
                    taken.owner = Owner::Hardware;
                    repost.push(f.slot);
                    let c = &mut st.counters;
                    if open {
                        c.dropped_invalid = c.dropped_invalid.wrapping_add(1);
                    } else {
                        c.dropped_paused = c.dropped_paused.wrapping_add(1);
                    }
                    continue;
                }
                taken.owner = Owner::Ndis;
                st.posted = st.posted.saturating_sub(1);
                // SAFETY: our NBL, ours while its slot was posted; its NB was preallocated.
                unsafe { Self::prepare(nbl, f.len, f.vlan_tci, handle) };
                // SAFETY: `tail` is an NBL of this chain, ours until the indication.
                match unsafe { tail.as_mut() } {
                    Some(t) => t.Next = nbl,
                    None => head = nbl,
                }
                tail = nbl;
                chain.push(f.slot);
                st.counters.frames = st.counters.frames.wrapping_add(1);
                st.counters.bytes = st.counters.bytes.wrapping_add(u64::from(f.len));
            }
            resources = st.posted < st.low_water;
            if chain.len > 0 {
                if resources {
                    for slot in chain.iter() {
                        if let Some(s) = st.slots.get_mut(usize::from(slot)) {
                            s.owner = Owner::Lent;
                        }
                    }
                    st.counters.resources_indications =
                        st.counters.resources_indications.wrapping_add(1);
                }
                st.outstanding = st.outstanding.wrapping_add(chain.len as u16);
                st.counters.indications = st.counters.indications.wrapping_add(1);
            }
        }
        self.post(&repost, hw);
        if chain.len == 0 {
            return false;
        }
        let mut flags = if at_dispatch_now() {
            NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
        if resources {
            flags |= NDIS_RECEIVE_FLAGS_RESOURCES;
        }
        // SAFETY: a chain of `chain.len` NBLs of our pool, each prepared above. Without
        // RESOURCES they are NDIS's from here on (not touched again until returned).
        unsafe {
            NdisMIndicateReceiveNetBufferLists(
                handle,
                head,
                NDIS_DEFAULT_PORT_NUMBER,
                chain.len as u32,
                flags,
            )
        };
        if !resources {
            return false;
        }
        let done = {
            let mut st = self.inner.lock();
            for slot in chain.iter() {
                if let Some(s) = st.slots.get_mut(usize::from(slot)) {
                    s.owner = Owner::Hardware;
                }
            }
            st.posted = st.posted.wrapping_add(chain.len as u16);
            Self::settle(&mut st, chain.len as u16)
        };
        self.post(&chain, hw);
        done
    }

    /// Fills in an NBL for a frame of `len` bytes at the start of its buffer, with the tag the
    /// device stripped as its 802.1Q info (every other info slot zero).
    ///
    /// # Safety
    /// `nbl` is one of this queue's NBLs, owned by the driver now.
    unsafe fn prepare(
        nbl: *mut NET_BUFFER_LIST,
        len: u32,
        vlan_tci: Option<u16>,
        handle: NDIS_HANDLE,
    ) {
        // SAFETY: caller contract.
        let Some(n) = (unsafe { nbl.as_mut() }) else {
            return;
        };
        n.Next = core::ptr::null_mut();
        n.SourceHandle = handle;
        n.Status = NDIS_STATUS_SUCCESS;
        n.NetBufferListInfo = [core::ptr::null_mut(); NET_BUFFER_LIST_INFO_COUNT_630];
        if let (Some(tci), Some(slot)) = (
            vlan_tci,
            n.NetBufferListInfo
                .get_mut(crate::nbl_info::NBL_INFO_IEEE8021Q),
        ) {
            // The slot holds the value itself (the union's `Value`), not a pointer.
            // CanonicalFormatId "should be set to zero" (the page): Ethernet addresses are
            // canonical; the tag's DEI bit (CFI's old position) is not reported as it.
            let q = crate::nbl_info::Ieee8021QInfo {
                canonical_format_id: false,
                ..crate::nbl_info::Ieee8021QInfo::from_tci(tci)
            };
            *slot = q.to_value() as *mut c_void;
        }
        // SAFETY: the NET_BUFFER NdisAllocateNetBufferAndNetBufferList attached to it.
        if let Some(nb) = unsafe { n.FirstNetBuffer.as_mut() } {
            nb.Next = core::ptr::null_mut();
            nb.CurrentMdl = nb.MdlChain;
            nb.CurrentMdlOffset = 0;
            nb.DataOffset = 0;
            nb.DataLength = NET_BUFFER_DATA_LENGTH {
                stDataLength: len as usize,
            };
        }
    }

    /// MiniportReturnNetBufferLists: each NBL of the chain is this queue's again and its
    /// buffer goes back to `hw`. Returns `true` when this completed a pending pause.
    ///
    /// # Safety
    /// `chain` is what NDIS passed MiniportReturnNetBufferLists for this adapter.
    pub unsafe fn returned(&self, chain: *mut NET_BUFFER_LIST, hw: &dyn RxPoster) -> bool {
        let mut repost = Slots::new();
        let done = {
            let mut guard = self.inner.lock();
            let st = &mut *guard;
            let mut nbl = chain;
            let mut n = 0u16;
            let mut walked = 0usize;
            // SAFETY: NDIS's chain of NBLs we indicated; `Next` read before anything else.
            while let Some(cur) = unsafe { nbl.as_ref() } {
                walked += 1;
                if walked > MAX_RX_SLOTS {
                    // Longer than every NBL this queue has: not a chain of ours.
                    st.counters.bad_returns = st.counters.bad_returns.wrapping_add(1);
                    break;
                }
                let next = cur.Next;
                let slot = cur.MiniportReserved.0[0] as usize;
                let count = usize::from(st.count);
                match st.slots.get_mut(slot) {
                    Some(s) if slot < count && s.nbl == nbl && s.owner == Owner::Ndis => {
                        s.owner = Owner::Hardware;
                        repost.push(slot as u16);
                        n = n.wrapping_add(1);
                    }
                    _ => st.counters.bad_returns = st.counters.bad_returns.wrapping_add(1),
                }
                nbl = next;
            }
            st.posted = st.posted.wrapping_add(n);
            Self::settle(st, n)
        };
        self.post(&repost, hw);
        done
    }

    pub fn counters(&self) -> RxCounters {
        self.inner.lock().counters
    }

    /// NBLs with NDIS or inside an indication.
    pub fn outstanding(&self) -> u16 {
        self.inner.lock().outstanding
    }

    /// Buffers posted to the hardware.
    pub fn posted(&self) -> u16 {
        self.inner.lock().posted
    }

    /// Buffers (and NBLs) allocated.
    pub fn slots(&self) -> u16 {
        self.inner.lock().count
    }

    pub fn buffer(&self, slot: u16) -> Option<RxBuffer> {
        let st = self.inner.lock();
        st.slots
            .get(usize::from(slot))
            .filter(|_| slot < st.count)
            .map(|s| s.buf)
    }
}

impl Default for RecvQueue {
    fn default() -> Self {
        Self::new()
    }
}
