//! The PF-side API: how the host (virtual switch policy, hardware events, an IHV management
//! path) changes a VF's configuration. Each update is one transaction on the VF's store, and
//! `NdisMInvalidateConfigBlock` is called with exactly the blocks that changed; an update that
//! changes nothing sends nothing. Callable at `<= DISPATCH_LEVEL`.

use crate::LOG;
use crate::adapter::{Adapter, MAX_VFS, link_block};
use crate::store::Staged;
use common::blocks::*;
use common::ffi::*;
use common::miniport;
use common::ndis_log;

impl Adapter {
    /// Applies staged blocks to one VF as a single transaction and invalidates what changed.
    pub fn set_blocks(&self, vf_id: u16, updates: &[Staged]) -> Result<BlockMask, NDIS_STATUS> {
        if updates.iter().any(|u| !HOST_BLOCKS.contains(u.id)) {
            return Err(NDIS_STATUS_INVALID_PARAMETER);
        }
        let changed = {
            let mut st = self.inner.lock();
            let vf = st.ready_vf_mut(vf_id).map_err(|e| e.status)?;
            vf.update(updates).map_err(|_| NDIS_STATUS_INVALID_DATA)?
        };
        self.invalidate(vf_id, changed);
        Ok(changed)
    }

    /// One block, encoded from its typed value.
    pub fn set_block<B: ConfigBlock>(
        &self,
        vf_id: u16,
        block: &B,
    ) -> Result<BlockMask, NDIS_STATUS> {
        let staged = Staged::of(block).map_err(|_| NDIS_STATUS_INVALID_DATA)?;
        self.set_blocks(vf_id, &[staged])
    }

    /// The switch assigns a VF's MAC and VLAN.
    pub fn set_vf_mac_vlan(
        &self,
        vf_id: u16,
        mac: [u8; 6],
        vlan_id: u16,
        priority: u8,
    ) -> Result<BlockMask, NDIS_STATUS> {
        let block = MacVlanBlock {
            mac,
            vlan_id,
            priority,
        };
        // Validate exactly as the VF will, so the host cannot publish what the guest refuses.
        let mut probe = [0u8; MAX_BLOCK_LEN];
        MacVlanBlock::encode(&block, 1, BlockMask::EMPTY, &mut probe)
            .and_then(|n| MacVlanBlock::decode(probe.get(..n).unwrap_or(&[])))
            .map_err(|_| NDIS_STATUS_INVALID_PARAMETER)?;
        self.set_block(vf_id, &block)
    }

    /// Sets an IHV extension block (5..=63). The first time a block is set, block 0's
    /// `defined` mask gains it in the same transaction, so the VF learns that it exists.
    pub fn set_ihv_block(
        &self,
        vf_id: u16,
        id: BlockId,
        data: &[u8],
    ) -> Result<BlockMask, NDIS_STATUS> {
        let block = IhvBlock::new(data).ok_or(NDIS_STATUS_INVALID_LENGTH)?;
        let staged = Staged::ihv(id, &block).map_err(|_| NDIS_STATUS_INVALID_PARAMETER)?;
        let changed = {
            let mut st = self.inner.lock();
            let vf = st.ready_vf_mut(vf_id).map_err(|e| e.status)?;
            let (version, _) = vf.decode::<VersionBlock>().ok_or(NDIS_STATUS_FAILURE)?;
            let announced = VersionBlock {
                defined: version.defined.with(id),
                ..version
            };
            let version = Staged::of(&announced).map_err(|_| NDIS_STATUS_FAILURE)?;
            vf.update(&[version, staged])
                .map_err(|_| NDIS_STATUS_INVALID_DATA)?
        };
        self.invalidate(vf_id, changed);
        Ok(changed)
    }

    pub fn set_vf_policy(&self, vf_id: u16, policy: PolicyBlock) -> Result<BlockMask, NDIS_STATUS> {
        self.set_block(vf_id, &policy)
    }

    /// A link or MTU change from the hardware: updates the PF's own link (with an
    /// NDIS_STATUS_LINK_STATE indication to the host stack) and every VF's link block.
    pub fn set_link(&self, link_up: bool, speed_bps: u64, mtu: u32) -> Result<u32, NDIS_STATUS> {
        if !(LinkBlock::MIN_MTU..=LinkBlock::MAX_MTU).contains(&mtu) {
            return Err(NDIS_STATUS_INVALID_PARAMETER);
        }
        let (info, was) = {
            let mut st = self.inner.lock();
            let was = st.info;
            st.info.link_up = link_up;
            st.info.speed_bps = speed_bps;
            st.info.mtu = mtu;
            (st.info, was)
        };
        if (was.link_up, was.speed_bps) != (link_up, speed_bps) {
            // SAFETY: valid adapter handle between initialize and halt.
            unsafe { miniport::indicate_link_state(self.handle, link_up, speed_bps) };
        }
        let staged = Staged::of(&link_block(&info)).map_err(|_| NDIS_STATUS_INVALID_DATA)?;
        let mut touched = 0;
        for vf_id in 0..MAX_VFS as u16 {
            match self.set_blocks(vf_id, &[staged]) {
                Ok(mask) if !mask.is_empty() => touched += 1,
                _ => {}
            }
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
        st.allocated_vf(vf_id)
            .ok()?
            .decode::<VfStatusBlock>()
            .map(|(b, _)| b)
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
            .map(|v| (v.reads, v.writes, v.rejected))
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
