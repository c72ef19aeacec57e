//! A simulated Hyper-V host and guests that load the real PF and VF miniports.
//!
//! The drivers are linked in as libraries; every NDIS and ntoskrnl function they import is
//! defined here under its real name ([`exports`]), so the tests run the very callbacks NDIS
//! would call, with real `#[repr(C)]` structures. [`World`] is the handle scenarios use:
//! boot the host with the PF, create the NIC switch, allocate VFs, attach each to a guest,
//! change things on the host and let the machine run ([`World::settle`]).
//!
//! Determinism: one thread drives everything and every choice (delivery order and delays,
//! injected faults) comes from the seeded [`rng::Rng`], so a run reproduces from its seed.

pub mod chaos;
pub mod debug_info;
pub mod exports;
pub mod host_flow; // issue 10
pub mod hyperv; // issue 10
pub mod irql;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod loader;
pub mod pci; // issue 10
pub mod rng;
pub mod timeline;
pub mod tools;
pub mod world;

use common::blocks::wire;
use common::blocks::*;
use common::ffi::*;
use common::oid::RequestKind;
use std::sync::atomic::Ordering;
use timeline::Event;
pub use world::{Config, OidOutcome, ReadCtx, ReadFault, Role, SimAdapter, WorldInner};

pub struct World {
    inner: Box<WorldInner>,
    /// The driver objects DriverEntry ran with: (is PF, object).
    driver_objects: std::sync::Mutex<Vec<(bool, usize)>>,
    /// Cross-built images run in place of the host-linked drivers (declared after `inner`, so
    /// the world is gone before their code is unmapped).
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    images: Images,
    applied_seen: std::sync::Mutex<std::collections::BTreeMap<u16, u32>>,
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[derive(Default)]
struct Images {
    pf: Option<loader::LoadedImage>,
    vf: Option<loader::LoadedImage>,
}

type DriverEntryFn = common::ndis_fn_type!(fn(PDRIVER_OBJECT, PUNICODE_STRING) -> NTSTATUS);

impl World {
    pub fn new(cfg: Config) -> Self {
        let inner = WorldInner::new_world(cfg);
        exports::enter(&*inner);
        Self {
            inner,
            driver_objects: Default::default(),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            images: Images::default(),
            applied_seen: Default::default(),
        }
    }

    /// A world whose PF and/or VF driver is a cross-built `.sys` image loaded into this process
    /// (`loader`), instead of the host-linked crate. Their host APIs (`pf()`, `vf()`) are then
    /// unavailable: drive them through NDIS, as Windows would.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub fn with_images(
        cfg: Config,
        pf: Option<loader::LoadedImage>,
        vf: Option<loader::LoadedImage>,
    ) -> Self {
        let mut w = Self::new(cfg);
        w.inner.pf_is_image.store(pf.is_some(), Ordering::Release);
        w.images = Images { pf, vf };
        w
    }

    /// [`boot`](Self::boot) with both drivers as their cross-built `.sys` images (built on first
    /// use with the README's cross-build command).
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub fn boot_images(cfg: Config, num_vfs: u16) -> Result<Self, String> {
        let load = |name: &str| {
            loader::LoadedImage::load(&tools::image_bytes(name), exports::resolve)
                .map_err(|e| format!("{name}: {e}"))
        };
        let w = Self::with_images(cfg, Some(load("pf_miniport")?), Some(load("vf_miniport")?));
        w.load_pf()
            .map_err(|s| format!("PF image failed to initialize: {s:#x}"))?;
        if w.create_switch(num_vfs) != NDIS_STATUS_SUCCESS {
            return Err("the PF image refused the NIC switch".into());
        }
        for _ in 0..num_vfs {
            let vf = w
                .allocate_vf()
                .map_err(|s| format!("VF allocation failed: {s:#x}"))?;
            w.attach_vf(vf)
                .map_err(|s| format!("VF image failed to initialize: {s:#x}"))?;
        }
        w.settle();
        Ok(w)
    }

    /// A block as the PF serves it to `vf` (OID_SRIOV_READ_VF_CONFIG_BLOCK), whatever the PF is.
    pub fn pf_block_via_oid(&self, vf: u16, id: BlockId) -> Result<Vec<u8>, String> {
        let len = descriptor_of(id).len;
        let mut buf = vec![0u8; 20 + len];
        world::write_params(&mut buf, vf, id.get() as u32, len as u32, 20);
        let n = buf.len() as u32;
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Method,
            OID_SRIOV_READ_VF_CONFIG_BLOCK,
            &mut buf,
            20,
            n,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(format!(
                "PF read of VF {vf} block {}: {}",
                id.get(),
                timeline::status_text(o.status)
            ));
        }
        Ok(buf.split_off(20))
    }

    /// The MAC a VF reports to NDIS (OID_802_3_CURRENT_ADDRESS).
    pub fn vf_mac_via_oid(&self, vf: u16) -> Result<[u8; 6], String> {
        let a = self.vf_sim(vf).ok_or(format!("VF {vf} is not attached"))?;
        let mut buf = [0u8; 6];
        let o = self.oid(
            a,
            RequestKind::Query,
            OID_802_3_CURRENT_ADDRESS,
            &mut buf,
            0,
            6,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(format!(
                "VF {vf} MAC query: {}",
                timeline::status_text(o.status)
            ));
        }
        Ok(buf)
    }

    /// The consistency check through NDIS alone (for loaded images): the VF reports the MAC the
    /// PF serves, and its status block names the PF's latest generation and that MAC.
    pub fn check_consistent_via_oids(&self, vf: u16) -> Result<(), String> {
        let mac = MacVlanBlock::decode(&self.pf_block_via_oid(vf, MacVlanBlock::id())?)
            .map_err(|e| format!("{e:?}"))?
            .0
            .mac;
        let reported = self.vf_mac_via_oid(vf)?;
        if reported != mac {
            return Err(format!(
                "VF {vf} reports MAC {} but the PF serves {}",
                mac_text(&reported),
                mac_text(&mac)
            ));
        }
        let mut generation = 0;
        for id in HOST_BLOCKS.intersection(BASE_BLOCKS) {
            let block = self.pf_block_via_oid(vf, id)?;
            generation = generation.max(
                wire::decode(&block)
                    .map_err(|e| format!("{e:?}"))?
                    .0
                    .generation,
            );
        }
        let status = VfStatusBlock::decode(&self.pf_block_via_oid(vf, VfStatusBlock::id())?)
            .map_err(|e| format!("{e:?}"))?
            .0;
        if (status.applied_generation, status.applied_mac) != (generation, mac) {
            return Err(format!(
                "VF {vf} reported generation {} MAC {}, the PF is at {generation} with {}",
                status.applied_generation,
                mac_text(&status.applied_mac),
                mac_text(&mac)
            ));
        }
        Ok(())
    }

    fn driver_entry_for(&self, pf: bool) -> DriverEntryFn {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            let image = if pf { &self.images.pf } else { &self.images.vf };
            if let Some(image) = image {
                return image.entry;
            }
        }
        if pf {
            pf_miniport::driver_entry
        } else {
            vf_miniport::driver_entry
        }
    }

    /// Whether `addr` (e.g. a registered handler) lies in the PF's (or VF's) loaded image.
    pub fn image_contains(&self, pf: bool, addr: usize) -> bool {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            let image = if pf { &self.images.pf } else { &self.images.vf };
            image.as_ref().is_some_and(|i| i.contains(addr))
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            let _ = (pf, addr);
            false
        }
    }

    /// Whether the PF (or VF) driver is a loaded image rather than the host-linked crate.
    pub fn is_image(&self, pf: bool) -> bool {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            if pf {
                self.images.pf.is_some()
            } else {
                self.images.vf.is_some()
            }
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            let _ = pf;
            false
        }
    }

    /// Host with the PF, a NIC switch of `num_vfs`, every VF allocated and attached to a
    /// guest, all initial reads done.
    pub fn boot(cfg: Config, num_vfs: u16) -> Self {
        let w = Self::new(cfg);
        w.load_pf().expect("PF initializes");
        assert_eq!(
            w.create_switch(num_vfs),
            NDIS_STATUS_SUCCESS,
            "NIC switch created"
        );
        for _ in 0..num_vfs {
            let vf = w.allocate_vf().expect("VF allocated");
            w.attach_vf(vf).expect("VF initializes in its guest");
        }
        w.settle();
        w
    }

    pub fn inner(&self) -> &WorldInner {
        &self.inner
    }

    /// Makes this world the one that receives handle-less calls (DbgPrintEx) on this thread.
    pub fn enter_thread(&self) {
        exports::enter(&*self.inner);
    }

    fn run_driver_entry(&self, pf: bool) -> NDIS_STATUS {
        let obj = self.inner.new_driver_object();
        self.driver_objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pf, obj as usize));
        let entry = self.driver_entry_for(pf);
        // SAFETY: a fresh simulated driver object; DriverEntry registers through our exports.
        let (status, v) = irql::call_at(PASSIVE_LEVEL, "DriverEntry", || unsafe {
            entry(obj.cast(), std::ptr::null_mut())
        });
        if let Some(v) = v {
            self.inner.violation(v);
        }
        if status == NDIS_STATUS_SUCCESS {
            // SAFETY: the extension holds the handle the driver got from registration.
            let h = unsafe {
                let ext = exports::IoGetDriverObjectExtension(obj.cast(), common_extension_id(obj));
                if ext.is_null() {
                    std::ptr::null_mut()
                } else {
                    *(ext as *const NDIS_HANDLE)
                }
            };
            self.inner
                .set_driver_index(if pf { Role::Pf } else { Role::Vf { vf_id: 0 } }, h);
        }
        status
    }

    /// Loads the PF driver in the host partition and brings its adapter up.
    pub fn load_pf(&self) -> Result<(), NDIS_STATUS> {
        let status = self.run_driver_entry(true);
        if status != NDIS_STATUS_SUCCESS {
            return Err(status);
        }
        let idx = self.inner.driver_index(true).ok_or(NDIS_STATUS_FAILURE)?;
        self.inner
            .start_adapter(Role::Pf, "PF".into(), idx)
            .map(|_| ())
    }

    pub fn pf_sim(&self) -> &SimAdapter {
        self.inner.pf_adapter().expect("PF is loaded")
    }

    /// The PF driver's adapter: its host-side API.
    pub fn pf(&self) -> &pf_miniport::Adapter {
        assert!(
            !self.is_image(true),
            "the PF is a loaded image: use its OIDs, not the host API"
        );
        // SAFETY: the context of the live PF adapter.
        unsafe {
            common::handlers::adapter_from_context::<pf_miniport::Adapter>(self.pf_sim().ctx())
        }
        .expect("PF adapter context")
    }

    pub fn vf_sim(&self, vf: u16) -> Option<&SimAdapter> {
        self.inner.vf_adapter(vf)
    }

    /// The VF driver's adapter in its guest.
    pub fn vf(&self, vf: u16) -> Option<&vf_miniport::Adapter> {
        if self.is_image(false) {
            return None;
        }
        let a = self.inner.vf_adapter(vf)?;
        // SAFETY: the context of a live VF adapter.
        unsafe { common::handlers::adapter_from_context::<vf_miniport::Adapter>(a.ctx()) }
    }

    pub fn oid(
        &self,
        adapter: &SimAdapter,
        kind: RequestKind,
        oid: NDIS_OID,
        buf: &mut [u8],
        input: u32,
        output: u32,
    ) -> OidOutcome {
        self.inner.call_oid(adapter, kind, oid, buf, input, output)
    }

    /// OID_NIC_SWITCH_CREATE_SWITCH with `num_vfs`.
    pub fn create_switch(&self, num_vfs: u16) -> NDIS_STATUS {
        let mut p = vec![0u8; NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1 as usize];
        p[0] = NDIS_OBJECT_TYPE_DEFAULT;
        p[1] = NDIS_NIC_SWITCH_PARAMETERS_REVISION_1;
        p[2..4].copy_from_slice(&NDIS_SIZEOF_NIC_SWITCH_PARAMETERS_REVISION_1.to_le_bytes());
        p[8..12].copy_from_slice(&NdisNicSwitchTypeExternal.to_le_bytes());
        p[12..16].copy_from_slice(&NDIS_DEFAULT_SWITCH_ID.to_le_bytes());
        p[532..536].copy_from_slice(&(num_vfs as u32).to_le_bytes());
        let n = p.len() as u32;
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Method,
            OID_NIC_SWITCH_CREATE_SWITCH,
            &mut p,
            n,
            n,
        );
        self.inner.record(Event::Lifecycle {
            who: "PF".into(),
            what: format!(
                "OID_NIC_SWITCH_CREATE_SWITCH({num_vfs} VFs) -> {}",
                timeline::status_text(o.status)
            ),
        });
        o.status
    }

    /// OID_NIC_SWITCH_ALLOCATE_VF; returns the VFId the PF assigned.
    pub fn allocate_vf(&self) -> Result<u16, NDIS_STATUS> {
        let size = NDIS_SIZEOF_NIC_SWITCH_VF_PARAMETERS_REVISION_1 as usize;
        let mut p = vec![0u8; size];
        p[0] = NDIS_OBJECT_TYPE_DEFAULT;
        p[1] = NDIS_NIC_SWITCH_VF_PARAMETERS_REVISION_1;
        p[2..4].copy_from_slice(&(size as u16).to_le_bytes());
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Method,
            OID_NIC_SWITCH_ALLOCATE_VF,
            &mut p,
            size as u32,
            size as u32,
        );
        if o.status != NDIS_STATUS_SUCCESS {
            return Err(o.status);
        }
        let vf = u16::from_le_bytes([p[0x65A], p[0x65B]]);
        self.inner.record(Event::Lifecycle {
            who: "PF".into(),
            what: format!("OID_NIC_SWITCH_ALLOCATE_VF -> VF {vf}"),
        });
        Ok(vf)
    }

    /// Starts a guest VM holding `vf`: loads the VF driver there and initializes the adapter.
    pub fn attach_vf(&self, vf: u16) -> Result<(), NDIS_STATUS> {
        if self.inner.driver_index(false).is_none() {
            let status = self.run_driver_entry(false);
            if status != NDIS_STATUS_SUCCESS {
                return Err(status);
            }
        }
        let idx = self.inner.driver_index(false).ok_or(NDIS_STATUS_FAILURE)?;
        self.inner
            .start_adapter(Role::Vf { vf_id: vf }, format!("VF {vf}"), idx)?;
        self.note_applied(vf);
        Ok(())
    }

    /// The VF leaves its guest (surprise removal): guest NDIS pauses and halts it.
    pub fn detach_vf(&self, vf: u16) {
        if let Some(a) = self.inner.vf_adapter(vf) {
            // No flush first: the VF must itself wait for a refresh work item still queued.
            self.inner.halt(a, NdisHaltDeviceSurpriseRemoved);
        }
    }

    /// Removes the VF from its guest, then OID_NIC_SWITCH_FREE_VF on the host; the
    /// virtualization stack forgets whatever was cached for it.
    pub fn free_vf(&self, vf: u16) -> NDIS_STATUS {
        self.detach_vf(vf);
        let mut p = vec![0u8; 12];
        p[0] = NDIS_OBJECT_TYPE_DEFAULT;
        p[1] = NDIS_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1;
        p[2..4]
            .copy_from_slice(&NDIS_SIZEOF_NIC_SWITCH_FREE_VF_PARAMETERS_REVISION_1.to_le_bytes());
        p[8..10].copy_from_slice(&vf.to_le_bytes());
        let o = self.oid(
            self.pf_sim(),
            RequestKind::Set,
            OID_NIC_SWITCH_FREE_VF,
            &mut p,
            12,
            12,
        );
        self.inner.drop_channel(vf);
        self.inner.record(Event::Lifecycle {
            who: "PF".into(),
            what: format!(
                "OID_NIC_SWITCH_FREE_VF(VF {vf}) -> {}",
                timeline::status_text(o.status)
            ),
        });
        o.status
    }

    /// MiniportDriverUnload for the PF or VF driver, as the I/O manager calls it.
    pub fn unload_driver(&self, pf: bool) {
        let objects = self
            .driver_objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some((_, obj)) = objects.into_iter().find(|(p, _)| *p == pf) else {
            return;
        };
        // The table the driver registered: the host-linked crate's or a loaded image's.
        let Some(unload) = self
            .inner
            .driver_index(pf)
            .and_then(|i| self.inner.driver_chars(i))
            .and_then(|c| c.UnloadHandler)
        else {
            return;
        };
        // SAFETY: the driver's own unload routine with the object its DriverEntry got.
        let ((), v) = irql::call_at(PASSIVE_LEVEL, "MiniportDriverUnload", || unsafe {
            unload(obj as PDRIVER_OBJECT)
        });
        if let Some(v) = v {
            self.inner.violation(v);
        }
    }

    /// Whether the PF (or VF) driver has called NdisMDeregisterMiniportDriver.
    pub fn driver_deregistered(&self, pf: bool) -> bool {
        self.inner
            .driver_index(pf)
            .is_some_and(|i| self.inner.driver_deregistered(i))
    }

    /// Halts the PF (every guest VF is removed first, as the host would).
    pub fn halt_pf(&self) {
        let vfs: Vec<u16> = (0..pf_miniport::MAX_VFS as u16)
            .filter(|v| self.inner.vf_adapter(*v).is_some())
            .collect();
        for vf in vfs {
            self.detach_vf(vf);
        }
        if let Some(pf) = self.inner.pf_adapter() {
            self.inner.halt(pf, NdisHaltDeviceDisabled);
        }
    }

    pub fn pause_vf(&self, vf: u16) -> NDIS_STATUS {
        self.inner
            .vf_adapter(vf)
            .map_or(NDIS_STATUS_FAILURE, |a| self.inner.pause(a))
    }

    pub fn restart_vf(&self, vf: u16) -> NDIS_STATUS {
        let s = self
            .inner
            .vf_adapter(vf)
            .map_or(NDIS_STATUS_FAILURE, |a| self.inner.restart(a));
        self.note_applied(vf);
        s
    }

    pub fn reset_vf_in_guest(&self, vf: u16) -> NDIS_STATUS {
        self.inner
            .vf_adapter(vf)
            .map_or(NDIS_STATUS_FAILURE, |a| self.inner.reset(a))
    }

    /// A host-side change, recorded on the timeline and run against the PF's API.
    pub fn host_change<R>(
        &self,
        what: impl Into<String>,
        f: impl FnOnce(&pf_miniport::Adapter) -> R,
    ) -> R {
        self.inner.record(Event::HostChange { what: what.into() });
        f(self.pf())
    }

    /// One step of the machine; notes what VFs applied.
    pub fn step(&self) -> bool {
        let progressed = self.inner.step();
        for vf in self.vf_ids() {
            self.note_applied(vf);
        }
        progressed
    }

    /// Runs until nothing is left to deliver or do.
    pub fn settle(&self) -> u64 {
        let mut steps = 0;
        let mut quiet = 0;
        while quiet < 2 {
            steps += 1;
            // A delivery held back by the seeded delay is still work to do.
            if self.step() || self.inner.has_pending_work() {
                quiet = 0
            } else {
                quiet += 1
            }
            if steps > 100_000 {
                self.inner
                    .violation("simulation did not settle after 100000 steps".into());
                break;
            }
        }
        steps
    }

    pub fn vf_ids(&self) -> Vec<u16> {
        (0..pf_miniport::MAX_VFS as u16)
            .filter(|v| self.inner.vf_adapter(*v).is_some())
            .collect()
    }

    fn note_applied(&self, vf: u16) {
        let Some(a) = self.vf(vf) else { return };
        let s = a.snapshot();
        let mut seen = self.applied_seen.lock().unwrap_or_else(|e| e.into_inner());
        let last = seen.get(&vf).copied();
        if last != Some(s.applied_generation) && s.applied_generation != 0 {
            seen.insert(vf, s.applied_generation);
            let ap = s.applied;
            let summary = format!(
                "mac {} vlan {} mtu {} link {} {} Gb/s, policy {:#x} qp {}",
                mac_text(&ap.mac),
                ap.vlan_id,
                ap.mtu,
                if ap.link_up { "up" } else { "down" },
                ap.speed_bps / 1_000_000_000,
                ap.policy_flags,
                ap.queue_pairs
            );
            drop(seen);
            self.inner.record(Event::Applied {
                vf,
                generation: s.applied_generation,
                summary,
            });
        }
    }

    /// Checks that a VF holds exactly the PF's current data for every host block and has
    /// applied the PF's latest generation.
    pub fn check_consistent(&self, vf: u16) -> Result<(), String> {
        let Some(a) = self.vf(vf) else {
            return Err(format!("VF {vf} is not attached"));
        };
        let snap = a.snapshot();
        let (version, n) = self
            .pf()
            .vf_block(vf, VersionBlock::id())
            .ok_or(format!("PF has no VF {vf}"))?;
        let defined = VersionBlock::decode(&version[..n])
            .map_err(|e| format!("PF version block: {e:?}"))?
            .0
            .defined;
        for id in HOST_BLOCKS.intersection(defined) {
            let (pf_bytes, len) = self
                .pf()
                .vf_block(vf, id)
                .ok_or(format!("PF has no block {} for VF {vf}", id.get()))?;
            let vf_bytes = snap.view.block(id).ok_or(format!(
                "VF {vf} holds no block {}: its view defines {:#x}, the PF's {:#x}; pending {:#x}, channel {:?}, {:?}",
                id.get(),
                snap.view.defined().bits(),
                defined.bits(),
                snap.pending.bits(),
                self.inner.channel(vf),
                snap.counters
            ))?;
            if vf_bytes != &pf_bytes[..len] {
                let g = |b: &[u8]| {
                    wire::decode(b)
                        .map(|(h, _)| (h.generation, h.txn.bits()))
                        .ok()
                };
                return Err(format!(
                    "VF {vf} block {} differs from the PF's: VF holds (generation, txn) {:?}, PF {:?}; VF {:?} pending {:#x}, channel {:?}",
                    id.get(),
                    g(vf_bytes),
                    g(&pf_bytes[..len]),
                    snap.state,
                    snap.pending.bits(),
                    self.inner.channel(vf)
                ));
            }
        }
        let pf_gen = self.pf().vf_generation(vf).unwrap_or(0);
        if snap.applied_generation != pf_gen {
            return Err(format!(
                "VF {vf} applied generation {} but the PF is at {pf_gen}",
                snap.applied_generation
            ));
        }
        if !snap.pending.is_empty() {
            return Err(format!(
                "VF {vf} still has pending blocks {:#x}",
                snap.pending.bits()
            ));
        }
        Ok(())
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.violations()
    }

    /// Panics (in test code, outside any driver frame) if a Verifier-style rule was broken.
    pub fn assert_clean(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "driver verifier violations:\n  {}",
            v.join("\n  ")
        );
    }

    pub fn timeline(&self) -> Vec<(u64, Event)> {
        self.inner.timeline()
    }

    pub fn log(&self) -> Vec<String> {
        self.inner.log()
    }

    /// How many times a VF read `block` from the PF, per the timeline.
    pub fn reads_of(&self, vf: u16, block: u32) -> usize {
        self.timeline().iter().filter(|(_, e)| matches!(e, Event::Read { vf: v, block: b, .. } if *v == vf && *b == block)).count()
    }

    pub fn deliveries(&self, vf: u16) -> u64 {
        self.inner.channel(vf).map_or(0, |c| c.deliveries)
    }

    pub fn is_running(&self, vf: u16) -> bool {
        self.inner
            .vf_adapter(vf)
            .is_some_and(|a| a.running.load(Ordering::Acquire))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        exports::leave(&*self.inner);
    }
}

/// The address `common::miniport` uses as its driver-object extension id.
fn common_extension_id(obj: *mut world::SimDriverObject) -> *mut std::ffi::c_void {
    // SAFETY: the driver object is alive; its first (and only) extension is the one
    // common::miniport allocated during DriverEntry.
    unsafe {
        (*obj)
            .extensions
            .lock()
            .map(|e| e.first().map_or(0, |(k, _)| *k))
            .unwrap_or(0) as *mut std::ffi::c_void
    }
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
