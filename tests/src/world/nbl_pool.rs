//! NET_BUFFER_LIST pools, the NBLs (with their preallocated NET_BUFFER) allocated from them,
//! and MDLs: what NdisAllocateNetBufferListPool, NdisAllocateNetBufferAndNetBufferList and
//! NdisAllocateMdl hand out, per owning adapter, so that tests see leaks and the Verifier-style
//! checks of their frees:
//! - "NdisFreeNetBufferListPool function": every NBL of the pool is freed first.
//! - "NdisFreeNetBufferList function": the NBL came from a pool ("previously allocated from a
//!   NET_BUFFER_LIST structure pool"); a preallocated NET_BUFFER goes with it, the MDLs do not.
//!   Freeing an NBL NDIS still holds (indicated, not returned) is the driver giving away what
//!   is not its own: a violation.
//! - "NdisFreeMdl function": the MDL came from NdisAllocateMdl. The pages do not say whether it
//!   may be freed while a NET_BUFFER still points at it; the harsher reading: not.
//! - "NdisAllocateNetBufferAndNetBufferList function": the pool must have been allocated with
//!   `fAllocateNetBuffer` TRUE (NET_BUFFER_LIST_POOL_PARAMETERS: otherwise its NBLs carry no
//!   NET_BUFFER); ContextSize a multiple of MEMORY_ALLOCATION_ALIGNMENT.
//! - "NET_BUFFER_LIST_POOL_PARAMETERS structure": header NDIS_OBJECT_TYPE_DEFAULT, revision 1,
//!   size NDIS_SIZEOF_..._REVISION_1; a miniport's ProtocolId is NDIS_PROTOCOL_ID_DEFAULT.
use super::{Machine, SimAdapter, lock};
use common::ffi::*;
use std::ffi::c_void;

const POOL_MAGIC: u64 = 0x5349_4D5F_4E42_4C50; // "SIM_NBLP"

/// An NBL as the simulator allocates it: room for the longer NBLs of later NDIS versions
/// (6.50: 352 bytes), then the preallocated NET_BUFFER.
#[repr(C)]
struct SimNbl {
    nbl: NET_BUFFER_LIST,
    later_revisions: [u8; 64],
    nb: NET_BUFFER,
}

/// An NBL pool's handle points at one of these.
pub struct SimNblPool {
    magic: u64,
    allocate_nb: bool,
}

/// The live objects, by address.
#[derive(Default)]
pub(super) struct NblObjects {
    pools: crate::digest::AddrMap<usize, usize>,
    /// NBL -> its pool.
    nbls: crate::digest::AddrMap<usize, usize>,
    /// MDL -> the adapter handle it was allocated with.
    mdls: crate::digest::AddrMap<usize, usize>,
}

/// What an adapter still holds (all zero after a correct halt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolObjects {
    pub pools: usize,
    pub nbls: usize,
    pub mdls: usize,
}

impl Machine {
    pub fn nbl_pool_new(
        &self,
        a: &SimAdapter,
        params: &NET_BUFFER_LIST_POOL_PARAMETERS,
    ) -> NDIS_HANDLE {
        let h = params.Header;
        if h.Type != NDIS_OBJECT_TYPE_DEFAULT
            || h.Revision < NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1
            || h.Size < NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1
        {
            self.violation(format!(
                "{}: malformed NET_BUFFER_LIST_POOL_PARAMETERS header {h:?}",
                a.name
            ));
            return std::ptr::null_mut();
        }
        if params.ProtocolId != NDIS_PROTOCOL_ID_DEFAULT {
            self.violation(format!(
                "{}: a miniport's NBL pool with ProtocolId {}",
                a.name, params.ProtocolId
            ));
        }
        if !params.ContextSize.is_multiple_of(16) {
            self.violation(format!(
                "{}: ContextSize {} not a multiple of 16",
                a.name, params.ContextSize
            ));
            return std::ptr::null_mut();
        }
        let pool = Box::into_raw(Box::new(SimNblPool {
            magic: POOL_MAGIC,
            allocate_nb: params.fAllocateNetBuffer != 0,
        }));
        lock(&self.nbl_objects)
            .pools
            .insert(pool as usize, a.handle() as usize);
        pool.cast()
    }

    fn pool_of(&self, pool: NDIS_HANDLE, what: &str) -> Option<&SimNblPool> {
        if !lock(&self.nbl_objects).pools.contains_key(&(pool as usize)) {
            self.violation(format!("{what}: {pool:p} is not a live NBL pool"));
            return None;
        }
        // SAFETY: a live pool this machine made.
        let p = unsafe { &*(pool as *const SimNblPool) };
        (p.magic == POOL_MAGIC).then_some(p)
    }

    /// NdisAllocateNetBufferAndNetBufferList: one NBL with one NET_BUFFER over `mdl`.
    pub fn nbl_new(
        &self,
        pool: NDIS_HANDLE,
        context_size: u16,
        mdl: *mut MDL,
        offset: u32,
        len: usize,
    ) -> *mut NET_BUFFER_LIST {
        let Some(p) = self.pool_of(pool, "NdisAllocateNetBufferAndNetBufferList") else {
            return std::ptr::null_mut();
        };
        if !p.allocate_nb {
            self.violation(
                "NdisAllocateNetBufferAndNetBufferList from a pool without fAllocateNetBuffer"
                    .into(),
            );
            return std::ptr::null_mut();
        }
        if !context_size.is_multiple_of(16) {
            self.violation(format!(
                "NdisAllocateNetBufferAndNetBufferList: ContextSize {context_size}"
            ));
            return std::ptr::null_mut();
        }
        // SAFETY: all-zero is a valid NBL, NB and padding (plain data and null pointers).
        let mut s: Box<SimNbl> = Box::new(unsafe { std::mem::zeroed() });
        let nb: *mut NET_BUFFER = &mut s.nb;
        s.nbl.FirstNetBuffer = nb;
        s.nbl.NdisPoolHandle = pool;
        s.nb.NdisPoolHandle = pool;
        s.nb.MdlChain = mdl;
        s.nb.CurrentMdl = mdl;
        s.nb.DataOffset = offset;
        s.nb.CurrentMdlOffset = offset;
        s.nb.DataLength = NET_BUFFER_DATA_LENGTH { stDataLength: len };
        let nbl = Box::into_raw(s);
        lock(&self.nbl_objects)
            .nbls
            .insert(nbl as usize, pool as usize);
        nbl.cast()
    }

    pub fn nbl_free(&self, nbl: *mut NET_BUFFER_LIST) {
        if !lock(&self.nbl_objects).nbls.contains_key(&(nbl as usize)) {
            self.violation(format!(
                "NdisFreeNetBufferList({nbl:p}): not an NBL allocated from a pool"
            ));
            return;
        }
        if let Some(a) = self.nbl_owner(nbl)
            && a.recv.holds(nbl as usize)
        {
            self.violation(format!("{}: NdisFreeNetBufferList of NBL {nbl:p} that NDIS holds (indicated, not returned)", a.name));
            return;
        }
        lock(&self.nbl_objects).nbls.remove(&(nbl as usize));
        // SAFETY: made by `nbl_new` as a boxed SimNbl (the NBL is its first field), freed once.
        drop(unsafe { Box::from_raw(nbl.cast::<SimNbl>()) });
    }

    pub fn nbl_pool_free(&self, pool: NDIS_HANDLE) {
        if self.pool_of(pool, "NdisFreeNetBufferListPool").is_none() {
            return;
        }
        let left = lock(&self.nbl_objects)
            .nbls
            .values()
            .filter(|p| **p == pool as usize)
            .count();
        if left > 0 {
            self.violation(format!(
                "NdisFreeNetBufferListPool with {left} NBLs of the pool not freed"
            ));
            return;
        }
        lock(&self.nbl_objects).pools.remove(&(pool as usize));
        // SAFETY: made by `nbl_pool_new`, freed once.
        drop(unsafe { Box::from_raw(pool.cast::<SimNblPool>()) });
    }

    /// NdisAllocateMdl: an MDL for `len` bytes of nonpaged memory at `va`, mapped.
    pub fn mdl_new(&self, a: &SimAdapter, va: *mut c_void, len: u32) -> *mut MDL {
        if va.is_null() || len == 0 {
            self.violation(format!("{}: NdisAllocateMdl({va:p}, {len})", a.name));
            return std::ptr::null_mut();
        }
        let page = (va as usize) & !0xFFF;
        let mdl = Box::into_raw(Box::new(MDL {
            Size: std::mem::size_of::<MDL>() as i16,
            MdlFlags: MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA,
            MappedSystemVa: va,
            StartVa: page as *mut c_void,
            ByteCount: len,
            ByteOffset: (va as usize - page) as u32,
            ..Default::default()
        }));
        lock(&self.nbl_objects)
            .mdls
            .insert(mdl as usize, a.handle() as usize);
        mdl
    }

    pub fn mdl_free(&self, mdl: *mut MDL) {
        let mut o = lock(&self.nbl_objects);
        if !o.mdls.contains_key(&(mdl as usize)) {
            drop(o);
            self.violation(format!(
                "NdisFreeMdl({mdl:p}): not an MDL from NdisAllocateMdl"
            ));
            return;
        }
        let in_use = o.nbls.keys().any(|&nbl| {
            // SAFETY: live NBLs made by `nbl_new`, with their NET_BUFFER.
            let nb = unsafe { &*(*(nbl as *const NET_BUFFER_LIST)).FirstNetBuffer };
            std::ptr::eq(nb.MdlChain, mdl) || std::ptr::eq(nb.CurrentMdl, mdl)
        });
        if in_use {
            drop(o);
            self.violation(format!("NdisFreeMdl({mdl:p}) while a live NET_BUFFER still points at it (free the NBL first)"));
            return;
        }
        let key = mdl as usize;
        o.mdls.remove(&key);
        drop(o);
        // SAFETY: made by `mdl_new` (the live entry just removed), freed once.
        drop(unsafe { Box::from_raw(key as *mut MDL) });
    }

    /// The adapter whose pool `nbl` came from, if it is a live NBL of a live adapter.
    pub fn nbl_owner(&self, nbl: *const NET_BUFFER_LIST) -> Option<&SimAdapter> {
        let o = lock(&self.nbl_objects);
        let pool = *o.nbls.get(&(nbl as usize))?;
        let owner = *o.pools.get(&pool)?;
        drop(o);
        // SAFETY: pool owners are adapter handles of this machine (checked by magic).
        unsafe { SimAdapter::from_handle(owner as NDIS_HANDLE) }
    }

    /// What `adapter` (a handle) still holds.
    pub fn pool_objects_of(&self, adapter: NDIS_HANDLE) -> PoolObjects {
        let o = lock(&self.nbl_objects);
        let owner = adapter as usize;
        let pools: Vec<usize> = o
            .pools
            .iter()
            .filter(|(_, a)| **a == owner)
            .map(|(p, _)| *p)
            .collect();
        PoolObjects {
            pools: pools.len(),
            nbls: o.nbls.values().filter(|p| pools.contains(p)).count(),
            mdls: o.mdls.values().filter(|a| **a == owner).count(),
        }
    }

    /// Every pool object of the machine, live (all adapters).
    pub fn pool_objects(&self) -> PoolObjects {
        let o = lock(&self.nbl_objects);
        PoolObjects {
            pools: o.pools.len(),
            nbls: o.nbls.len(),
            mdls: o.mdls.len(),
        }
    }

    /// MiniportHaltEx (or a failed MiniportInitializeEx) returned: "it must free all resources
    /// allocated in MiniportInitializeEx" (MINIPORT_HALT): no pool, NBL or MDL left.
    pub(super) fn check_pool_objects_freed(&self, a: &SimAdapter, when: &str) {
        let left = self.pool_objects_of(a.handle());
        if left != PoolObjects::default() {
            self.violation(format!("{}: {when} left {left:?} allocated", a.name));
        }
    }

    /// The machine is going away: whatever the drivers still hold goes.
    pub(super) fn release_nbl_objects(&mut self) {
        let o = std::mem::take(&mut *lock(&self.nbl_objects));
        for nbl in o.nbls.keys() {
            // SAFETY: boxes made by `nbl_new`, never freed.
            drop(unsafe { Box::from_raw(*nbl as *mut SimNbl) });
        }
        for mdl in o.mdls.keys() {
            // SAFETY: boxes made by `mdl_new`, never freed.
            drop(unsafe { Box::from_raw(*mdl as *mut MDL) });
        }
        for pool in o.pools.keys() {
            // SAFETY: boxes made by `nbl_pool_new`, never freed.
            drop(unsafe { Box::from_raw(*pool as *mut SimNblPool) });
        }
    }
}
