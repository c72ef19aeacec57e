//! The PF-side API: how the host (virtual switch policy, hardware events, an IHV management
//! path) changes a VF's configuration. Each update is one transaction on the VF's store, and
//! `NdisMInvalidateConfigBlock` is called with exactly the blocks that changed (and the commit
//! block); an update that changes nothing sends nothing. Every block is checked as the VF will
//! check it before anything changes. Callable at `<= DISPATCH_LEVEL`.

use crate::LOG;
use crate::adapter::{Adapter, MAX_VFS, link_block};
use crate::store::Staged;
use common::blocks::*;
use common::ffi::*;
use common::miniport;
use common::ndis_log;

/// A block the VF would refuse (a value out of range, an undefined block) is the caller's
/// error: INVALID_PARAMETER, and nothing changes.
fn refused(e: BlockError) -> NDIS_STATUS {
    match e {
        BlockError::BadValue { .. } | BlockError::WrongBlock { .. } => {
            NDIS_STATUS_INVALID_PARAMETER
        }
        _ => NDIS_STATUS_INVALID_DATA,
    }
}

impl Adapter {
    /// Applies staged blocks to one VF as a single transaction and invalidates what changed.
    /// Every block is checked as the VF will check it first; one refusal changes nothing.
    /// Once the VF has a VPort its queue pairs are the VPort's (OID_NIC_SWITCH_CREATE_VPORT,
    /// within the switch's accounting): a policy block naming others is refused, checked and
    /// applied under one hold of the lock.
    pub fn set_blocks(&self, vf_id: u16, updates: &[Staged]) -> Result<BlockMask, NDIS_STATUS> {
        let policy = updates
            .iter()
            .find(|u| u.id == PolicyBlock::id())
            .map(crate::store::decode_staged::<PolicyBlock>)
            .transpose()
            .map_err(refused)?;
        crate::store::transact(
            &self.inner,
            |st| {
                let vport = st.sw.vport_of_vf(vf_id).and_then(|id| st.sw.vport(id));
                if let (Some(p), Some(v)) = (policy, vport)
                    && v.queue_pairs != u32::from(p.queue_pairs)
                {
                    ndis_log!(
                        WARN,
                        LOG,
                        "VF {} policy refused: queue pairs are its VPort's",
                        vf_id
                    );
                    return Err(NDIS_STATUS_INVALID_PARAMETER);
                }
                st.ready_vf_mut(vf_id).map_err(|e| e.status)
            },
            updates,
            refused,
            |changed| self.invalidate(vf_id, changed),
        )
    }

    /// One block, encoded from its typed value.
    pub fn set_block<B: ConfigBlock>(
        &self,
        vf_id: u16,
        block: &B,
    ) -> Result<BlockMask, NDIS_STATUS> {
        let staged = Staged::of(block).map_err(refused)?;
        self.set_blocks(vf_id, &[staged])
    }

    /// Read-modify-write of one block under one hold of the lock, so that a concurrent change
    /// of the same block (the host API on another CPU) is not lost; invalidates what changed.
    pub(crate) fn modify_block<B: ConfigBlock>(
        &self,
        vf_id: u16,
        f: impl FnOnce(B) -> B,
    ) -> Result<BlockMask, NDIS_STATUS> {
        let changed = {
            let mut st = self.inner.lock();
            let vf = st.ready_vf_mut(vf_id).map_err(|e| e.status)?;
            let current = vf.decode::<B>().ok_or(NDIS_STATUS_INVALID_DATA)?;
            let staged = Staged::of(&f(current)).map_err(refused)?;
            vf.update(&[staged]).map_err(refused)?
        };
        self.invalidate(vf_id, changed);
        Ok(changed)
    }

    /// The switch assigns a VF's MAC and VLAN.
    pub fn set_vf_mac_vlan(
        &self,
        vf_id: u16,
        mac: [u8; 6],
        vlan_id: u16,
        priority: u8,
    ) -> Result<BlockMask, NDIS_STATUS> {
        // The VF's control entry carries its MAC (docs/reference-nic.md section 8) before the
        // VF is told; if the block is refused, the entry goes back.
        let old = self.program_vf_mac(vf_id, mac);
        let r = self.set_block(
            vf_id,
            &MacVlanBlock {
                mac,
                vlan_id,
                priority,
            },
        );
        if r.is_err() {
            self.program_vf_mac(vf_id, old);
        }
        r
    }

    /// Sets an IHV extension block (6..=63). The first time a block is set it comes into
    /// existence: block 0 and the commit block name it in the same transaction.
    pub fn set_ihv_block(
        &self,
        vf_id: u16,
        id: BlockId,
        data: &[u8],
    ) -> Result<BlockMask, NDIS_STATUS> {
        let block = IhvBlock::new(data).ok_or(NDIS_STATUS_INVALID_LENGTH)?;
        let staged = Staged::ihv(id, &block).map_err(|_| NDIS_STATUS_INVALID_PARAMETER)?;
        self.set_blocks(vf_id, &[staged])
    }

    /// The host's policy for a VF (its queue pairs are its VPort's once it has one).
    pub fn set_vf_policy(&self, vf_id: u16, policy: PolicyBlock) -> Result<BlockMask, NDIS_STATUS> {
        self.set_block(vf_id, &policy)
    }

    /// A link or MTU change from the hardware: updates the PF's own link (with an
    /// NDIS_STATUS_LINK_STATE indication to the host stack) and every VF's link block, all
    /// under one hold of the lock, so that concurrent changes and VF allocations see either
    /// all of it or none (a VF allocated meanwhile starts from the link in force when it is
    /// linked into the table). Returns how many VFs changed.
    pub fn set_link(&self, link_up: bool, speed_bps: u64, mtu: u32) -> Result<u32, NDIS_STATUS> {
        self.update_link(link_up, speed_bps, Some(mtu))
    }

    /// [`set_link`](Self::set_link); `mtu` `None` keeps the MTU in force, read under the same
    /// hold of the lock that commits the change (the wire's link from the DPC must not write
    /// back an MTU the host changed since: a stale copy would undo it).
    fn update_link(
        &self,
        link_up: bool,
        speed_bps: u64,
        new_mtu: Option<u32>,
    ) -> Result<u32, NDIS_STATUS> {
        let mut changed = [0u64; MAX_VFS];
        let (was, touched, mtu) = {
            let mut st = self.inner.lock();
            let mtu = new_mtu.unwrap_or(st.info.mtu);
            let block = link_block(&miniport::EthernetInfo {
                link_up,
                speed_bps,
                mtu,
                ..st.info
            });
            let staged = Staged::of(&block).map_err(refused)?;
            // A link the VF would refuse is refused here, for the PF too, before anything
            // changes.
            staged.check().map_err(refused)?;
            if !st.state.accepts_oids() {
                return Err(NDIS_STATUS_ADAPTER_NOT_READY);
            }
            let was = st.info;
            st.info.link_up = link_up;
            st.info.speed_bps = speed_bps;
            st.info.mtu = mtu;
            let mut touched = 0u32;
            for (slot, out) in st.vfs.iter_mut().zip(changed.iter_mut()) {
                if let Some(vf) = slot.get_mut() {
                    // Checked above, so no store refuses it; one that did would keep its link
                    // and be said so, without cutting the others' invalidations short.
                    let mask = vf.update(&[staged]).unwrap_or_else(|e| {
                        ndis_log!(ERROR, LOG, "VF {}: link block refused: {:?}", vf.vf_id, e);
                        BlockMask::EMPTY
                    });
                    *out = mask.bits();
                    touched = touched.saturating_add(u32::from(!mask.is_empty()));
                }
            }
            (was, touched, mtu)
        };
        // MAX_FRAME follows the MTU, up to what the buffers allocated at initialize hold (a
        // change that keeps the MTU leaves it to the change that set it).
        let in_force = if new_mtu.is_some() {
            self.dp.set_mtu(mtu)
        } else {
            mtu
        };
        if in_force != mtu {
            ndis_log!(
                WARN,
                LOG,
                "MTU {} above what *JumboPacket sized the buffers for: {} in force on the PF",
                mtu,
                in_force
            );
        }
        if (was.link_up, was.speed_bps) != (link_up, speed_bps) {
            self.indicate_link();
        }
        for (vf_id, mask) in changed.iter().enumerate() {
            self.invalidate(vf_id as u16, BlockMask(*mask));
        }
        ndis_log!(
            INFO,
            LOG,
            "link {} {} bps mtu {}: {} VFs updated",
            if link_up { "up" } else { "down" },
            speed_bps,
            mtu,
            touched
        );
        Ok(touched)
    }

    /// The wire's link as the hardware reports it (the interrupt DPC, DISPATCH_LEVEL, when
    /// `LINK_SEQ` moved: docs/reference-nic.md section 9): a change of up/down or speed is
    /// [`set_link`](Self::set_link) keeping the MTU in force, so the PF indicates
    /// NDIS_STATUS_LINK_STATE and every VF's link block follows the wire. A device that says
    /// up with no speed keeps the speed in force.
    pub(crate) fn hardware_link(&self, link: common::hw::LinkState) {
        let (up, speed) = {
            let st = self.inner.lock();
            (st.info.link_up, st.info.speed_bps)
        };
        let new_speed = match (link.up, link.speed_mbps) {
            (false, _) => 0,
            (true, 0) => speed,
            (true, mbps) => u64::from(mbps).saturating_mul(1_000_000),
        };
        if link.up == up && (!up || new_speed == speed) {
            return;
        }
        if let Err(status) = self.update_link(link.up, new_speed, None) {
            ndis_log!(
                WARN,
                LOG,
                "hardware link {} not applied: {:#010x}",
                if link.up { "up" } else { "down" },
                status
            );
        }
    }

    /// NDIS_STATUS_LINK_STATE for the link committed now. Concurrent changes commit in some
    /// order under the lock but would indicate after it in any order; one indicator at a time,
    /// each indicating the link in force when it does, leaves NDIS with the committed one.
    fn indicate_link(&self) {
        let take = || {
            let mut st = self.inner.lock();
            let now = (st.info.link_up, st.info.speed_bps);
            miniport::fresh_link(&mut st.indicated, now)
        };
        // SAFETY: valid adapter handle between initialize and halt.
        unsafe { miniport::indicate_link_changes(self.handle, &self.link_indications, take) };
    }

    /// A copy of a VF's encoded block, as the VF would read it.
    pub fn vf_block(&self, vf_id: u16, id: BlockId) -> Option<([u8; MAX_BLOCK_LEN], usize)> {
        let st = self.inner.lock();
        let src = st.allocated_vf(vf_id).ok()?.block(id)?;
        let mut out = [0u8; MAX_BLOCK_LEN];
        out.get_mut(..src.len())?.copy_from_slice(src);
        Some((out, src.len()))
    }

    /// The last status block the VF wrote.
    pub fn vf_status(&self, vf_id: u16) -> Option<VfStatusBlock> {
        let st = self.inner.lock();
        st.allocated_vf(vf_id).ok()?.decode::<VfStatusBlock>()
    }

    /// The state the PF holds for a VF: its generation and the digest of every block that
    /// exists (what a VF holding exactly that state reports in its status block).
    pub fn vf_committed(&self, vf_id: u16) -> Option<(u32, u32)> {
        let st = self.inner.lock();
        let vf = st.allocated_vf(vf_id).ok()?;
        Some((vf.generation, vf.digest()))
    }

    /// Test hook (host builds only): moves a VF's generation counter, e.g. next to its wrap.
    #[cfg(not(kernel_image))]
    pub fn set_vf_generation_for_tests(&self, vf_id: u16, generation: u32) {
        if let Ok(vf) = self.inner.lock().ready_vf_mut(vf_id) {
            vf.generation = generation;
        }
    }

    /// The VF's current transaction generation.
    pub fn vf_generation(&self, vf_id: u16) -> Option<u32> {
        self.inner
            .lock()
            .allocated_vf(vf_id)
            .ok()
            .map(|v| v.generation)
    }

    /// (reads, writes, rejected writes) seen for a VF.
    pub fn vf_counters(&self, vf_id: u16) -> Option<(u32, u32, u32)> {
        self.inner
            .lock()
            .allocated_vf(vf_id)
            .ok()
            .map(|v| (v.reads, v.guest_writes, v.rejected))
    }

    pub fn allocated_vfs(&self) -> usize {
        self.inner
            .lock()
            .vfs
            .iter()
            .filter(|v| !v.0.is_null())
            .count()
    }

    pub fn link(&self) -> miniport::EthernetInfo {
        self.inner.lock().info
    }

    /// The MAC the simulated PF hardware reports.
    pub fn permanent_mac_for_tests() -> [u8; 6] {
        crate::adapter::PF_MAC
    }

    /// Invalidations sent since initialization.
    pub fn invalidations_sent(&self) -> u32 {
        self.inner.lock().invalidations
    }
}
