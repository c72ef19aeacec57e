//! The test-facing handle, [`World`]: one simulated machine ([`Machine`]) with the drivers
//! loaded into it, host-linked or as cross-built images. Scenarios boot the host with the PF,
//! create the NIC switch, allocate VFs, attach each to a guest, change things on the host and
//! let the machine run ([`World::settle`]).
//! - this file: making a world, loading the drivers (DriverEntry, unload) and reaching them.
//! - [`lifecycle`]: what the host and the guests do (switch, VFs, pause, restart, halt, steps).
//! - [`checks`]: what tests look at (consistency of a VF with the PF, violations, timeline).
mod checks;
mod lifecycle;

use crate::exports;
use crate::irql;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use crate::loader;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use crate::tools;
use crate::world::{Config, Machine, OidOutcome, Role, SimAdapter, SimDriverObject};
use common::ffi::*;
use common::oid::RequestKind;
use std::sync::atomic::Ordering;

pub struct World {
    machine: Box<Machine>,
    /// The driver objects DriverEntry ran with: (is PF, object).
    driver_objects: std::sync::Mutex<Vec<(bool, usize)>>,
    /// Cross-built images run in place of the host-linked drivers (declared after `machine`, so
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
        let machine = Machine::new(cfg);
        exports::enter(&*machine);
        Self {
            machine,
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
        w.machine.pf_is_image.store(pf.is_some(), Ordering::Release);
        w.images = Images { pf, vf };
        w
    }

    /// A world whose drivers are both cross-built `.sys` images (built on first use with the
    /// README's cross-build command), loaded and nothing initialized yet.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub fn with_both_images(cfg: Config) -> Result<Self, String> {
        let load = |name: &str| {
            loader::LoadedImage::load(&tools::image_bytes(name), exports::resolve)
                .map_err(|e| format!("{name}: {e}"))
        };
        Ok(Self::with_images(
            cfg,
            Some(load("pf_miniport")?),
            Some(load("vf_miniport")?),
        ))
    }

    /// [`with_both_images`](Self::with_both_images) with the PF image initialized (no switch).
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub fn pf_image_host(cfg: Config) -> Result<Self, String> {
        let w = Self::with_both_images(cfg)?;
        w.load_pf()
            .map_err(|s| format!("PF image failed to initialize: {s:#x}"))?;
        Ok(w)
    }

    /// [`boot`](Self::boot) with both drivers as their cross-built `.sys` images.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub fn boot_images(cfg: Config, num_vfs: u16) -> Result<Self, String> {
        let w = Self::pf_image_host(cfg)?;
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

    /// The simulated machine under this handle.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// [`machine`](Self::machine) under its former name, kept so that code written against it
    /// still builds.
    pub fn inner(&self) -> &Machine {
        &self.machine
    }

    /// Makes this world the one that receives handle-less calls (DbgPrintEx) on this thread.
    pub fn enter_thread(&self) {
        exports::enter(&*self.machine);
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

    fn run_driver_entry(&self, pf: bool) -> NDIS_STATUS {
        let obj = self.machine.new_driver_object();
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
            self.machine.violation(v);
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
            self.machine
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
        let idx = self.machine.driver_index(true).ok_or(NDIS_STATUS_FAILURE)?;
        self.machine
            .start_adapter(Role::Pf, "PF".into(), idx)
            .map(|_| ())
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
            .machine
            .driver_index(pf)
            .and_then(|i| self.machine.driver_chars(i))
            .and_then(|c| c.UnloadHandler)
        else {
            return;
        };
        // SAFETY: the driver's own unload routine with the object its DriverEntry got.
        let ((), v) = irql::call_at(PASSIVE_LEVEL, "MiniportDriverUnload", || unsafe {
            unload(obj as PDRIVER_OBJECT)
        });
        if let Some(v) = v {
            self.machine.violation(v);
        }
    }

    /// Whether the PF (or VF) driver has called NdisMDeregisterMiniportDriver.
    pub fn driver_deregistered(&self, pf: bool) -> bool {
        self.machine
            .driver_index(pf)
            .is_some_and(|i| self.machine.driver_deregistered(i))
    }

    pub fn pf_sim(&self) -> &SimAdapter {
        self.machine.pf_adapter().expect("PF is loaded")
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
        self.machine.vf_adapter(vf)
    }

    /// The VF driver's adapter in its guest.
    pub fn vf(&self, vf: u16) -> Option<&vf_miniport::Adapter> {
        if self.is_image(false) {
            return None;
        }
        let a = self.machine.vf_adapter(vf)?;
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
        self.machine
            .call_oid(adapter, kind, oid, buf, input, output)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        exports::leave(&*self.machine);
    }
}

/// The address `common::miniport` uses as its driver-object extension id.
fn common_extension_id(obj: *mut SimDriverObject) -> *mut std::ffi::c_void {
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
