//! Runs the cross-built `.sys` images themselves: maps a PE32+ kernel image into this process,
//! applies its base relocations, points its imports at the simulator's functions (which use
//! the same Windows x64 ABI, see `common::abi`), and hands back its `DriverEntry`. The bytes
//! shipped to Windows then run the same scenarios as the host-linked drivers.
//!
//! An image whose PE checksum is missing or wrong is refused, as the Windows loader may refuse
//! a driver's. x86_64 Linux only: the image's code runs natively.
use common::ffi::*;
use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use std::collections::BTreeMap;

pub type DriverEntry = common::ndis_fn_type!(fn(PDRIVER_OBJECT, PUNICODE_STRING) -> NTSTATUS);

/// A mapped image. Unmapped on drop: drop it only after its driver was halted and unloaded.
pub struct LoadedImage {
    base: *mut u8,
    size: usize,
    pub entry: DriverEntry,
    /// Every import the image has, as (module, name).
    pub imports: Vec<(String, String)>,
}

// SAFETY: the mapping is plain memory owned by this value; the code in it is re-entrant
// driver code that synchronizes through the simulator.
unsafe impl Send for LoadedImage {}
// SAFETY: as above.
unsafe impl Sync for LoadedImage {}

impl Drop for LoadedImage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mmap returned.
        unsafe { libc::munmap(self.base.cast(), self.size) };
    }
}

impl LoadedImage {
    /// Loads `bytes`, resolving each import with `resolve(module, name)`.
    pub fn load(
        bytes: &[u8],
        resolve: impl Fn(&str, &str) -> Option<usize>,
    ) -> Result<Self, String> {
        let file = PeFile64::parse(bytes).map_err(|e| format!("not a PE32+ image: {e}"))?;
        // Windows requires a driver's checksum ("the operating system requires the Checksum
        // for device drivers", /RELEASE in the MSVC linker reference); refuse as it may.
        xtask::pe::verify_checksum(bytes)?;
        let nt = file.nt_headers();
        if nt.file_header().machine.get(LE) != pe::IMAGE_FILE_MACHINE_AMD64 {
            return Err("not an AMD64 image".into());
        }
        let opt = nt.optional_header();
        let size = opt.size_of_image() as usize;
        let headers = opt.size_of_headers() as usize;
        // SAFETY: a fresh anonymous private mapping; the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err("mmap failed".into());
        }
        let base = base.cast::<u8>();
        // SAFETY: `size` bytes are mapped at `base`; every copy below is bounds-checked first.
        let image = unsafe { std::slice::from_raw_parts_mut(base, size) };
        let mut loaded = LoadedImage {
            base,
            size,
            entry: dummy_entry,
            imports: Vec::new(),
        };

        let head = bytes.get(..headers).ok_or("headers past the file")?;
        image
            .get_mut(..headers)
            .ok_or("headers past the image")?
            .copy_from_slice(head);
        for s in file.section_table().iter() {
            let va = s.virtual_address.get(LE) as usize;
            let (off, len) = s.pe_file_range();
            let data = bytes
                .get(off as usize..(off + len) as usize)
                .ok_or("section past the file")?;
            image
                .get_mut(va..va + data.len())
                .ok_or("section past the image")?
                .copy_from_slice(data);
        }

        // Base relocations: every absolute address moves by the load delta.
        let delta = (base as u64).wrapping_sub(opt.image_base());
        if let Some(mut blocks) = file
            .data_directories()
            .relocation_blocks(bytes, &file.section_table())
            .map_err(|e| format!("relocations: {e}"))?
        {
            while let Some(block) = blocks.next().map_err(|e| format!("relocations: {e}"))? {
                for r in block {
                    match r.typ {
                        pe::IMAGE_REL_BASED_ABSOLUTE => {}
                        pe::IMAGE_REL_BASED_DIR64 => {
                            let at = r.virtual_address as usize;
                            let slot = image
                                .get_mut(at..at + 8)
                                .ok_or("relocation past the image")?;
                            let v = u64::from_le_bytes(slot.try_into().map_err(|_| "bad slot")?);
                            slot.copy_from_slice(&v.wrapping_add(delta).to_le_bytes());
                        }
                        other => return Err(format!("relocation type {other} not supported")),
                    }
                }
            }
        }

        // Imports: fill each IAT slot with the simulator's function.
        if let Some(table) = file.import_table().map_err(|e| format!("imports: {e}"))? {
            let mut descs = table.descriptors().map_err(|e| format!("imports: {e}"))?;
            while let Some(d) = descs.next().map_err(|e| format!("imports: {e}"))? {
                let module = String::from_utf8_lossy(
                    table.name(d.name.get(LE)).map_err(|e| format!("{e}"))?,
                )
                .to_lowercase();
                let mut thunks = table
                    .thunks(d.original_first_thunk.get(LE))
                    .map_err(|e| format!("{e}"))?;
                let mut iat = d.first_thunk.get(LE) as usize;
                while let Some(t) = thunks
                    .next::<pe::ImageNtHeaders64>()
                    .map_err(|e| format!("{e}"))?
                {
                    let name = match table
                        .import::<pe::ImageNtHeaders64>(t)
                        .map_err(|e| format!("{e}"))?
                    {
                        object::read::pe::Import::Name(_, n) => {
                            String::from_utf8_lossy(n).into_owned()
                        }
                        object::read::pe::Import::Ordinal(o) => {
                            return Err(format!("{module} ordinal {o}"));
                        }
                    };
                    let addr = resolve(&module, &name)
                        .ok_or(format!("no simulator function for {module}!{name}"))?;
                    image
                        .get_mut(iat..iat + 8)
                        .ok_or("IAT past the image")?
                        .copy_from_slice(&(addr as u64).to_le_bytes());
                    loaded.imports.push((module.clone(), name));
                    iat += 8;
                }
            }
        }

        let exports: BTreeMap<Vec<u8>, u32> = file
            .export_table()
            .map_err(|e| format!("exports: {e}"))?
            .map(|t| {
                t.exports()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| match e.target {
                        object::read::pe::ExportTarget::Address(rva) => {
                            Some((e.name?.to_vec(), rva))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let entry_rva = opt.address_of_entry_point() as usize;
        if exports.get(&b"DriverEntry"[..]).map(|&r| r as usize) != Some(entry_rva) {
            return Err("the entry point is not the DriverEntry export".into());
        }
        // SAFETY: the entry point is code inside the mapped, relocated image, and DriverEntry
        // has this signature (it is the driver's own `driver_entry`).
        loaded.entry = unsafe { std::mem::transmute::<*mut u8, DriverEntry>(base.add(entry_rva)) };
        Ok(loaded)
    }

    /// Whether `addr` lies inside the image (a handler NDIS got from it).
    pub fn contains(&self, addr: usize) -> bool {
        (self.base as usize..self.base as usize + self.size).contains(&addr)
    }
}

common::ndis_fn! {
    unsafe fn dummy_entry(_d: PDRIVER_OBJECT, _r: PUNICODE_STRING) -> NTSTATUS {
        NDIS_STATUS_FAILURE
    }
}
