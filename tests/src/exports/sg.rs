//! The scatter-gather exports of `ndis.sys` for a bus-master miniport's sends:
//! NdisMAllocateNetBufferSGList and NdisMFreeNetBufferSGList, each checking its page's rules
//! (named on each) against the ledger of `world::sg_lists`. Bus addresses are host addresses
//! (the identity IOMMU of the device model), split at 4 KiB page boundaries as HAL's map
//! registers would.
#![allow(non_snake_case)]

use super::irql_max;
use crate::world::sg_lists::{DeferredSg, SgRecord};
use common::ffi::*;
use common::ndis_fn;
use std::ffi::c_void;

const PAGE: usize = 4096;

/// The (address, length) elements of the bytes `nb` describes: from `CurrentMdl` at
/// `CurrentMdlOffset`, `DataLength` bytes, split at page boundaries; `None` if the MDL chain
/// holds fewer bytes.
///
/// # Safety
/// `nb` is a valid NET_BUFFER whose MDLs map their bytes at `MappedSystemVa`.
unsafe fn elements(nb: *const NET_BUFFER) -> Option<Vec<(usize, u32)>> {
    // SAFETY: caller contract.
    let nb = unsafe { &*nb };
    let mut left = nb.data_length() as usize;
    let mut mdl = nb.CurrentMdl;
    let mut skip = nb.CurrentMdlOffset as usize;
    let mut out = Vec::new();
    while left > 0 {
        // SAFETY: caller contract: the chain's MDLs are valid.
        let m = unsafe { mdl.as_ref() }?;
        let count = (m.ByteCount as usize).checked_sub(skip)?;
        let mut va = (m.MappedSystemVa as usize).checked_add(skip)?;
        let mut take = count.min(left);
        left -= take;
        while take > 0 {
            let chunk = (PAGE - va % PAGE).min(take);
            out.push((va, chunk as u32));
            va += chunk;
            take -= chunk;
        }
        skip = 0;
        mdl = m.Next;
    }
    Some(out)
}

/// Writes a SCATTER_GATHER_LIST of `els` at `at` (8-byte aligned, room for it).
///
/// # Safety
/// `at` points at `16 + 24 * els.len()` writable bytes, 8-byte aligned.
unsafe fn write_list(at: *mut u8, els: &[(usize, u32)]) {
    let list = at.cast::<SCATTER_GATHER_LIST>();
    // SAFETY: caller contract.
    unsafe {
        (*list).NumberOfElements = els.len() as u32;
        (*list).Reserved = 0;
        let first = std::ptr::addr_of_mut!((*list).Elements).cast::<SCATTER_GATHER_ELEMENT>();
        for (i, &(va, len)) in els.iter().enumerate() {
            first.add(i).write(SCATTER_GATHER_ELEMENT {
                Address: va as i64,
                Length: len,
                Reserved: 0,
            });
        }
    }
}

ndis_fn! {
    /// "NdisMAllocateNetBufferSGList function": `<= DISPATCH_LEVEL`; the DMA handle
    /// NdisMRegisterScatterGatherDma gave; called from the send path once per NET_BUFFER (a
    /// NET_BUFFER of an NBL the miniport holds: sent to it and not completed; a second list
    /// for a NET_BUFFER that holds one is a violation); on the send path with
    /// NDIS_SG_LIST_WRITE_TO_DEVICE (the page: "should set"; the harsher reading: must).
    /// Returns NDIS_STATUS_RESOURCES when injected to fail (MiniportProcessSGList is then not
    /// called). The list goes into the driver's buffer when it is large enough, except when
    /// the seed picks NDIS's own storage (the page: "driver writers must not assume that the
    /// buffer ... contains the scatter/gather list"). MiniportProcessSGList runs inline or at
    /// the next device step ([`crate::world::sg_lists::SgTiming`]).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMAllocateNetBufferSGList(DmaHandle: NDIS_HANDLE, NetBuffer: *mut NET_BUFFER, Context: *mut c_void, Flags: u32, Buffer: *mut c_void, BufferSize: u32) -> NDIS_STATUS {
        let Some(w) = super::current_world() else { return NDIS_STATUS_FAILURE };
        irql_max(w, DISPATCH_LEVEL, "NdisMAllocateNetBufferSGList");
        let Some((adapter, handler)) = w.with_dma(DmaHandle, |key, e| e.process_sg.map(|h| (key, h))).flatten() else {
            w.violation(format!("NdisMAllocateNetBufferSGList with unknown DMA handle {DmaHandle:p}"));
            return NDIS_STATUS_FAILURE;
        };
        // SAFETY: the SimAdapter the ledger is keyed by, alive with the machine.
        let a = unsafe { &*(adapter as *const crate::world::SimAdapter) };
        let name = &a.name;
        let nb_key = NetBuffer as usize;
        let owned = !NetBuffer.is_null() && crate::world::lock(&a.sends_out).iter().any(|&nbl| {
            // SAFETY: NBLs the test sent and the miniport holds (alive).
            let mut nb = unsafe { (*(nbl as *const NET_BUFFER_LIST)).FirstNetBuffer };
            let mut n = 0;
            while !nb.is_null() && n < 1 << 16 {
                if nb as usize == nb_key { return true; }
                n += 1;
                // SAFETY: as above.
                nb = unsafe { (*nb).Next };
            }
            false
        });
        if !owned {
            w.violation(format!("{name}: NdisMAllocateNetBufferSGList for NET_BUFFER {nb_key:#x} of no NBL it holds (sent to it and not completed)"));
            return NDIS_STATUS_FAILURE;
        }
        if Flags & NDIS_SG_LIST_WRITE_TO_DEVICE == 0 {
            w.violation(format!("{name}: NdisMAllocateNetBufferSGList on the send path without NDIS_SG_LIST_WRITE_TO_DEVICE (flags {Flags:#x})"));
        }
        if w.with_hw(a, |e, _| e.sg_lists.iter().any(|r| r.nb == nb_key)).unwrap_or(false) {
            w.violation(format!("{name}: a second SG list for NET_BUFFER {nb_key:#x} (\"once for each NET_BUFFER\")"));
            return NDIS_STATUS_FAILURE;
        }
        if w.fails("NdisMAllocateNetBufferSGList") {
            return NDIS_STATUS_RESOURCES;
        }
        // SAFETY: a NET_BUFFER the miniport holds (checked above), the test's MDLs.
        let Some(els) = (unsafe { elements(NetBuffer) }) else {
            w.violation(format!("{name}: NET_BUFFER {nb_key:#x} longer than its MDL chain"));
            return NDIS_STATUS_RESOURCES;
        };
        let need = 16 + 24 * els.len();
        let fits = !Buffer.is_null() && BufferSize as usize >= need && (Buffer as usize).is_multiple_of(8);
        let theirs = fits && !crate::world::lock(&w.rng).chance(0.25);
        let mut own = None;
        let at = if theirs {
            Buffer.cast::<u8>()
        } else {
            let mut v = vec![0u64; need.div_ceil(8)];
            let p = v.as_mut_ptr().cast::<u8>();
            own = Some(v);
            p
        };
        // SAFETY: `need` bytes at `at`: the driver's buffer (checked size and alignment) or ours.
        unsafe { write_list(at, &els) };
        let sgl = at as usize;
        w.with_hw(a, |e, _| e.sg_lists.push(SgRecord { sgl, nb: nb_key, delivered: false, own }));
        if w.sg_inline() {
            w.process_sg_now(adapter, handler, sgl, Context as usize);
        } else {
            w.hw().deferred_sg.push(DeferredSg { adapter, handler, sgl, context: Context as usize });
        }
        NDIS_STATUS_SUCCESS
    }

    /// "NdisMFreeNetBufferSGList function": `<= DISPATCH_LEVEL`; a list MiniportProcessSGList
    /// was given, with the NET_BUFFER it was built for, freed once.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMFreeNetBufferSGList(DmaHandle: NDIS_HANDLE, Sgl: *mut SCATTER_GATHER_LIST, NetBuffer: *mut NET_BUFFER) {
        let Some(w) = super::current_world() else { return };
        irql_max(w, DISPATCH_LEVEL, "NdisMFreeNetBufferSGList");
        let (sgl, nb) = (Sgl as usize, NetBuffer as usize);
        let found = w.with_dma(DmaHandle, |_, e| {
            let i = e.sg_lists.iter().position(|r| r.sgl == sgl);
            match i {
                Some(i) if e.sg_lists[i].nb == nb && e.sg_lists[i].delivered => {
                    e.sg_lists.swap_remove(i);
                    Ok(())
                }
                Some(i) if e.sg_lists[i].nb != nb => Err(format!("{}: NdisMFreeNetBufferSGList of list {sgl:#x} with NET_BUFFER {nb:#x}, not the one it was built for", e.name)),
                Some(_) => Err(format!("{}: NdisMFreeNetBufferSGList of list {sgl:#x} before MiniportProcessSGList had it", e.name)),
                None => Err(format!("{}: NdisMFreeNetBufferSGList of list {sgl:#x}: freed twice, or never allocated", e.name)),
            }
        });
        match found {
            Some(Ok(())) => {}
            Some(Err(m)) => w.violation(m),
            None => w.violation(format!("NdisMFreeNetBufferSGList with unknown DMA handle {DmaHandle:p}")),
        }
    }
}
