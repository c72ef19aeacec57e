//! The virtualization stack and the guest's VPCI driver: the whole BlockMask story, in the
//! order it happens.
//!
//! 1. The PF enables virtualization (NdisMEnableVirtualization).
//! 2. A VF's device arrives in its guest: guest NDIS posts an `IOCTL_VPCI_INVALIDATE_BLOCK`
//!    ([`post_first_ioctl`]).
//! 3. The PF calls NdisMInvalidateConfigBlock: the virtualization stack ORs the mask into the
//!    VF's cache ([`Machine::invalidate`]); nothing reaches the guest yet.
//! 4. Each step, for every VF with a cached mask and an IOCTL outstanding (in a seeded order,
//!    some held back), guest VPCI completes the IOCTL with the cached mask and clears the
//!    cache; guest NDIS re-issues the IOCTL and sends the VF miniport
//!    `OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK` ([`Machine::deliver`]).
//! 5. The VF reads the flagged blocks (NdisMReadConfigBlock), routed to the PF as
//!    `OID_SRIOV_READ_VF_CONFIG_BLOCK` with the VF id filled in by the host side
//!    ([`Machine::read_block`]; a read hook may inject a failure or a VF reset here), and
//!    writes its status back (NdisMWriteConfigBlock as `OID_SRIOV_WRITE_VF_CONFIG_BLOCK`,
//!    [`Machine::write_block`]).
//! 6. The device leaves the guest: no IOCTL is outstanding ([`ioctl_gone`]); the cache keeps
//!    ORing until OID_NIC_SWITCH_FREE_VF, when the stack forgets the VF
//!    ([`Machine::drop_channel`]).
use super::{Machine, State, lock};
use crate::payloads::{self, CONFIG_BLOCK_PARAMS_LEN, write_config_block_params};
use crate::timeline::Event;
use common::blocks::{ConfigBlock, VersionBlock, VfStatusBlock};
use common::ffi::*;
use common::oid::RequestKind;
use std::sync::atomic::Ordering;

/// Per-VF state of the virtualization stack and the guest VPCI driver.
#[derive(Default, Clone, Copy, Debug)]
pub struct VfChannel {
    /// ORed BlockMask waiting for the guest (the documented per-VF cache).
    pub cache: u64,
    /// Guest NDIS has an IOCTL_VPCI_INVALIDATE_BLOCK outstanding.
    pub ioctl_pending: bool,
    pub reads: u64,
    pub writes: u64,
    pub deliveries: u64,
}

/// What a read-path fault hook asks the simulator to do with the read in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFault {
    Proceed,
    /// The backchannel answers with an error.
    Fail,
    /// OID_SRIOV_RESET_VF reaches the PF now; this read fails and the guest resets the VF.
    ResetVf,
    /// The read succeeds but one byte of what arrives is flipped (a PF bug or a corrupted
    /// block): the VF must refuse it, and keep its bounds doing so.
    Corrupt,
}

/// Given to a read hook: the PF to act on, and which read this is.
pub struct ReadCtx<'a> {
    pub pf: &'a pf_miniport::Adapter,
    pub vf: u16,
    pub block: u32,
    /// Reads this VF has issued so far, this one included.
    pub nth: u64,
}

pub type ReadHook = Box<dyn FnMut(&ReadCtx<'_>) -> ReadFault + Send>;

/// Guest NDIS posts its first IOCTL_VPCI_INVALIDATE_BLOCK with the device.
pub(super) fn post_first_ioctl(st: &mut State, vf: u16) {
    st.channels.entry(vf).or_default().ioctl_pending = true;
}

/// The device left its guest: no IOCTL_VPCI_INVALIDATE_BLOCK is outstanding any more.
pub(super) fn ioctl_gone(st: &mut State, vf: u16) {
    if let Some(ch) = st.channels.get_mut(&vf) {
        ch.ioctl_pending = false;
    }
}

impl Machine {
    /// The PF's NdisMEnableVirtualization: SR-IOV on with `num_vfs`, or off.
    pub fn enable_virtualization(&self, num_vfs: u16, enable: bool) -> NDIS_STATUS {
        let mut st = lock(&self.state);
        match (enable, st.virtualization) {
            (true, Some(_)) => NDIS_STATUS_FAILURE,
            (false, _) if num_vfs != 0 => NDIS_STATUS_INVALID_PARAMETER,
            (true, None) => {
                st.virtualization = Some(num_vfs);
                NDIS_STATUS_SUCCESS
            }
            (false, _) => {
                st.virtualization = None;
                NDIS_STATUS_SUCCESS
            }
        }
    }

    pub fn virtualization(&self) -> Option<u16> {
        lock(&self.state).virtualization
    }

    /// The PF's NdisMInvalidateConfigBlock: OR the mask into the VF's cache.
    pub fn invalidate(&self, vf: u16, mask: u64) {
        self.note_commit(vf);
        let mut st = lock(&self.state);
        let present = st.vfs.contains_key(&vf) || st.channels.contains_key(&vf);
        if !present {
            drop(st);
            self.record(Event::InvalidateDropped { vf, mask });
            return;
        }
        let ch = st.channels.entry(vf).or_default();
        ch.cache |= mask;
        let cache = ch.cache;
        drop(st);
        self.record(Event::Invalidate { vf, mask, cache });
    }

    /// Every VF with a cached mask and an IOCTL outstanding gets its delivery, in a seeded
    /// order, some held back for a step under `delivery_delay`.
    pub(super) fn deliver_ready(&self) -> bool {
        let mut progressed = false;

        let ready: Vec<u16> = {
            let st = lock(&self.state);
            st.channels
                .iter()
                .filter(|(vf, ch)| ch.cache != 0 && ch.ioctl_pending && st.vfs.contains_key(vf))
                .map(|(vf, _)| *vf)
                .collect()
        };
        let mut order = ready;
        lock(&self.rng).shuffle(&mut order);
        for vf in order {
            if self.cfg.delivery_delay > 0.0 && lock(&self.rng).chance(self.cfg.delivery_delay) {
                continue;
            }
            progressed |= self.deliver(vf);
        }
        progressed
    }

    /// Guest VPCI completes the pending IOCTL with the cached mask (clearing the cache);
    /// guest NDIS re-issues the IOCTL and sends OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK.
    pub fn deliver(&self, vf: u16) -> bool {
        let Some(adapter) = self.vf_adapter(vf) else {
            return false;
        };
        if !adapter.initialized.load(Ordering::Acquire) {
            return false;
        }
        let mask = {
            let mut st = lock(&self.state);
            let Some(ch) = st.channels.get_mut(&vf) else {
                return false;
            };
            if ch.cache == 0 || !ch.ioctl_pending {
                return false;
            }
            ch.deliveries += 1;
            std::mem::take(&mut ch.cache)
        };
        let out = VPCI_INVALIDATE_BLOCK_OUTPUT { BlockMask: mask };
        self.record(Event::IoctlComplete {
            vf,
            mask: out.BlockMask,
        });
        let mut buf = payloads::invalidate_info(out.BlockMask);
        let n = buf.len() as u32;
        let o = self.call_oid(
            adapter,
            RequestKind::Method,
            OID_SRIOV_VF_INVALIDATE_CONFIG_BLOCK,
            &mut buf,
            n,
            n,
        );
        self.record(Event::OidInvalidate {
            vf,
            mask,
            status: o.status,
        });
        true
    }

    /// VF NdisMReadConfigBlock: routed to the PF as OID_SRIOV_READ_VF_CONFIG_BLOCK (method),
    /// with the VF id filled in by the host side.
    pub fn read_block(&self, vf: u16, block: u32, out: &mut [u8]) -> NDIS_STATUS {
        let nth = {
            let mut st = lock(&self.state);
            let ch = st.channels.entry(vf).or_default();
            ch.reads += 1;
            ch.reads
        };
        let len = out.len() as u32;
        let fault = if self.cfg.backchannel_absent {
            ReadFault::Fail
        } else {
            self.run_read_hook(vf, block, nth)
        };
        let status = match fault {
            ReadFault::Fail => NDIS_STATUS_FAILURE,
            ReadFault::ResetVf => {
                self.record(Event::Fault {
                    what: format!("VF {vf} reset while its read of block {block} is in flight"),
                });
                // The read fails now; the host's OID_SRIOV_RESET_VF goes to the PF once the
                // PF's request in progress (if any) has completed: NDIS serializes a miniport's
                // OID requests, so it cannot run inside this read's OID ("MiniportOidRequest").
                lock(&self.state).pending_resets.push_back(vf);
                NDIS_STATUS_FAILURE
            }
            ReadFault::Proceed | ReadFault::Corrupt => match self.pf_adapter() {
                None => NDIS_STATUS_FAILURE,
                Some(pf) => {
                    let at = CONFIG_BLOCK_PARAMS_LEN;
                    let mut buf = vec![0u8; at + out.len()];
                    write_config_block_params(&mut buf, vf, block, len, at as u32);
                    let o = self.call_oid(
                        pf,
                        RequestKind::Method,
                        OID_SRIOV_READ_VF_CONFIG_BLOCK,
                        &mut buf,
                        at as u32,
                        at as u32 + len,
                    );
                    if o.status == NDIS_STATUS_SUCCESS {
                        out.copy_from_slice(&buf[at..]);
                        if fault == ReadFault::Corrupt
                            && let Some(last) = out.last_mut()
                        {
                            *last ^= 0x40;
                        }
                        if block == VersionBlock::ID as u32
                            && let Some(major) = self.cfg.foreign_pf_major
                        {
                            foreign_version(out, major);
                        }
                    }
                    o.status
                }
            },
        };
        self.record(Event::Read {
            vf,
            block,
            len,
            status,
        });
        // NdisMReadConfigBlock documents SUCCESS or FAILURE only.
        if status == NDIS_STATUS_SUCCESS {
            status
        } else {
            NDIS_STATUS_FAILURE
        }
    }

    fn run_read_hook(&self, vf: u16, block: u32, nth: u64) -> ReadFault {
        if self.pf_is_image.load(Ordering::Acquire) {
            return ReadFault::Proceed;
        }
        let Some(mut hook) = lock(&self.read_hook).take() else {
            return ReadFault::Proceed;
        };
        let fault = match self.pf_adapter().and_then(|a| {
            // SAFETY: the PF context is live while its adapter is not halted.
            unsafe { common::handlers::adapter_from_context::<pf_miniport::Adapter>(a.ctx()) }
        }) {
            Some(pf) => hook(&ReadCtx { pf, vf, block, nth }),
            None => ReadFault::Proceed,
        };
        *lock(&self.read_hook) = Some(hook);
        fault
    }

    pub fn set_read_hook(&self, hook: Option<ReadHook>) {
        *lock(&self.read_hook) = hook;
    }

    /// A configuration write of the guest's bus driver: OID_SRIOV_WRITE_VF_CONFIG_SPACE to
    /// the PF (that OID's page).
    pub fn guest_config_write(&self, vf: u16, offset: u32, bytes: &[u8]) -> NDIS_STATUS {
        let Some(pf) = self.pf_adapter() else {
            return NDIS_STATUS_FAILURE;
        };
        let mut b = crate::hyperv::config_space_params(vf, offset, bytes.len() as u32);
        b[20..].copy_from_slice(bytes);
        let n = b.len() as u32;
        self.call_oid(
            pf,
            RequestKind::Set,
            OID_SRIOV_WRITE_VF_CONFIG_SPACE,
            &mut b,
            n,
            n,
        )
        .status
    }

    /// The guest side of a VF reset injected during a read: guest NDIS resets the VF miniport.
    pub(super) fn run_guest_resets(&self) -> bool {
        let mut progressed = false;
        let resets: Vec<u16> = lock(&self.state).pending_resets.drain(..).collect();
        for vf in resets {
            // The guest's PCI bus driver saved the function's configuration and restores it
            // after the reset it asked for (PCI Express Base: software saves and restores a
            // function's configuration around an FLR), through the same OID its writes take.
            let saved = self.pf_adapter().map(|pf| {
                let c = pf.ext.pci().vf_config(vf);
                let m = crate::pci::VF_MSIX_CAP_AT + 2;
                [(4u32, [c[4], c[5]]), (m as u32, [c[m], c[m + 1]])]
            });
            self.host_reset_vf(vf);
            for (offset, bytes) in saved.into_iter().flatten() {
                self.guest_config_write(vf, offset, &bytes);
            }
            if let Some(a) = self.vf_adapter(vf) {
                progressed = true;
                self.reset(a);
            }
        }
        progressed
    }

    /// VF NdisMWriteConfigBlock: routed to the PF as OID_SRIOV_WRITE_VF_CONFIG_BLOCK (set).
    pub fn write_block(&self, vf: u16, block: u32, data: &[u8]) -> NDIS_STATUS {
        lock(&self.state).channels.entry(vf).or_default().writes += 1;
        let len = data.len() as u32;
        let status = if self.cfg.backchannel_absent {
            NDIS_STATUS_FAILURE
        } else {
            match self.pf_adapter() {
                None => NDIS_STATUS_FAILURE,
                Some(pf) => {
                    let at = CONFIG_BLOCK_PARAMS_LEN;
                    let mut buf = vec![0u8; at + data.len()];
                    write_config_block_params(&mut buf, vf, block, len, at as u32);
                    buf[at..].copy_from_slice(data);
                    let n = buf.len() as u32;
                    self.call_oid(
                        pf,
                        RequestKind::Set,
                        OID_SRIOV_WRITE_VF_CONFIG_BLOCK,
                        &mut buf,
                        n,
                        n,
                    )
                    .status
                }
            }
        };
        self.record(Event::Write {
            vf,
            block,
            len,
            status,
        });
        if status == NDIS_STATUS_SUCCESS && block == VfStatusBlock::ID as u32 {
            self.check_status_report(vf, data);
        }
        if status == NDIS_STATUS_SUCCESS {
            status
        } else {
            NDIS_STATUS_FAILURE
        }
    }

    /// The host's side of a VF reset: OID_SRIOV_RESET_VF to the PF.
    pub fn host_reset_vf(&self, vf: u16) -> NDIS_STATUS {
        let Some(pf) = self.pf_adapter() else {
            return NDIS_STATUS_FAILURE;
        };
        let mut buf = payloads::reset_vf_parameters(vf);
        let n = buf.len() as u32;
        self.call_oid(pf, RequestKind::Set, OID_SRIOV_RESET_VF, &mut buf, n, n)
            .status
    }

    pub fn channel(&self, vf: u16) -> Option<VfChannel> {
        lock(&self.state).channels.get(&vf).copied()
    }

    pub fn drop_channel(&self, vf: u16) {
        lock(&self.state).channels.remove(&vf);
        self.forget_history(vf);
    }
}

/// Block 0 as a PF speaking protocol `major` would serve it: the same block, another major.
fn foreign_version(block: &mut [u8], major: u16) {
    let Ok((v, h)) = VersionBlock::decode(block) else {
        return;
    };
    let _ = VersionBlock { major, ..v }.encode(h.generation, h.writes, block);
}
