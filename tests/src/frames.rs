//! Frames as NDIS hands them to a miniport's MiniportSendNetBufferLists: real
//! NET_BUFFER_LIST → NET_BUFFER → MDL chains over bytes the test owns ("NET_BUFFER_LIST
//! structure", "NET_BUFFER structure", the MDL chain of "NET_BUFFER Architecture"). NDIS
//! does not promise what `NET_BUFFER_LIST.Status` holds when it sends (the pages are
//! silent), so the simulator poisons it: a miniport that completes without setting it is
//! caught (the harsher reading).
use common::ffi::*;
use std::ffi::c_void;

/// What `Status` holds until the miniport sets it: not an NDIS_STATUS any code uses.
pub const STATUS_POISON: NDIS_STATUS = 0x1BAD_5EED;

/// One NBL with its NBs, MDLs and bytes, kept alive (and at a fixed address) by the test.
// The boxes keep each NB and MDL at a fixed address while the vectors grow: the NBL's chain
// points at them.
#[allow(clippy::vec_box)]
pub struct TestNbl {
    nbl: Box<NET_BUFFER_LIST>,
    nbs: Vec<Box<NET_BUFFER>>,
    mdls: Vec<Box<MDL>>,
    data: Vec<Vec<u8>>,
}

impl TestNbl {
    /// An NBL of one NET_BUFFER per frame in `frames`, each frame split over MDLs of at most
    /// `mdl_bytes` bytes, with `cancel_id` as its cancel id.
    pub fn new(frames: &[&[u8]], mdl_bytes: usize, cancel_id: usize) -> Self {
        let mut t = TestNbl {
            nbl: Box::new(NET_BUFFER_LIST::default()),
            nbs: Vec::new(),
            mdls: Vec::new(),
            data: Vec::new(),
        };
        t.nbl.Status = STATUS_POISON;
        t.nbl.NetBufferListInfo[common::send::NBL_INFO_CANCEL_ID] = cancel_id as *mut c_void;
        for frame in frames {
            let mut first: *mut MDL = std::ptr::null_mut();
            let mut prev: *mut MDL = std::ptr::null_mut();
            for chunk in frame.chunks(mdl_bytes.max(1)) {
                let mut bytes = chunk.to_vec();
                let mut mdl = Box::new(MDL {
                    ByteCount: bytes.len() as u32,
                    MappedSystemVa: bytes.as_mut_ptr().cast(),
                    StartVa: bytes.as_mut_ptr().cast(),
                    MdlFlags: MDL_SOURCE_IS_NONPAGED_POOL,
                    ..Default::default()
                });
                let p: *mut MDL = &mut *mdl;
                // SAFETY: `prev` is a boxed MDL of this NBL, alive as long as `t`.
                match unsafe { prev.as_mut() } {
                    Some(pm) => pm.Next = p,
                    None => first = p,
                }
                prev = p;
                t.mdls.push(mdl);
                t.data.push(bytes);
            }
            let mut nb = Box::new(NET_BUFFER::default());
            nb.MdlChain = first;
            nb.CurrentMdl = first;
            nb.DataLength.DataLength = frame.len() as u32;
            let p: *mut NET_BUFFER = &mut *nb;
            match t.nbs.last_mut() {
                Some(last) => last.Next = p,
                None => t.nbl.FirstNetBuffer = p,
            }
            t.nbs.push(nb);
        }
        t
    }

    /// A 60-byte frame to `dst` (a minimal Ethernet frame).
    pub fn frame(dst: [u8; 6], cancel_id: usize) -> Self {
        let mut f = vec![0u8; 60];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        Self::new(&[&f], 64, cancel_id)
    }

    /// Sets the NBL's `Ieee8021QNetBufferListInfo` (the value itself, "NDIS_NET_BUFFER_LIST_8021Q_INFO
    /// structure"), as a protocol driver asking for a tag does.
    pub fn with_8021q(mut self, info: common::nbl_info::Ieee8021QInfo) -> Self {
        self.nbl.NetBufferListInfo[common::nbl_info::NBL_INFO_IEEE8021Q] =
            info.to_value() as *mut c_void;
        self
    }

    /// Clears every MDL's `MDL_MAPPED_TO_SYSTEM_VA`/`MDL_SOURCE_IS_NONPAGED_POOL`: buffers
    /// with no system address a driver may read without mapping them.
    pub fn without_system_address(mut self) -> Self {
        for m in &mut self.mdls {
            m.MdlFlags = 0;
        }
        self
    }

    pub fn ptr(&mut self) -> *mut NET_BUFFER_LIST {
        &mut *self.nbl
    }

    pub fn addr(&self) -> usize {
        &*self.nbl as *const NET_BUFFER_LIST as usize
    }

    pub fn status(&self) -> NDIS_STATUS {
        self.nbl.Status
    }

    pub fn net_buffers(&self) -> usize {
        self.nbs.len()
    }
}

/// Links `nbls` into one chain (through `Next`, in order) and returns its head.
pub fn chain(nbls: &mut [TestNbl]) -> *mut NET_BUFFER_LIST {
    let ptrs: Vec<*mut NET_BUFFER_LIST> = nbls.iter_mut().map(TestNbl::ptr).collect();
    for (i, &p) in ptrs.iter().enumerate() {
        // SAFETY: boxed NBLs owned by `nbls`.
        unsafe { (*p).Next = ptrs.get(i + 1).copied().unwrap_or(std::ptr::null_mut()) };
    }
    ptrs.first().copied().unwrap_or(std::ptr::null_mut())
}
