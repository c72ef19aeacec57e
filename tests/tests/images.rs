//! The Windows images themselves: cross-builds both drivers for `x86_64-pc-windows-msvc`
//! with rust-lld (the README's command) and inspects the PE32+ files: headers, entry point,
//! relocations, sections, imports, and every imported name against mingw-w64's import
//! libraries for ndis.sys, ntoskrnl.exe and hal.dll (an independent export list), and each
//! function's stack frame from its unwind codes. What the PDBs hold: `debugging.rs`.
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{LittleEndian as LE, Object, ObjectSection};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Exports newer than mingw-w64 10's import libraries, each with its source.
const NEWER_THAN_MINGW: &[(&str, &str, &str)] = &[(
    "ntoskrnl.exe",
    "ExAllocatePool2",
    "Windows 10 2004+, learn.microsoft.com ddi/wdm/nf-wdm-exallocatepool2",
)];

struct Image {
    bytes: Vec<u8>,
    pdb: PathBuf,
}

/// Both images, cross-built once per test process (`sim::tools::cross_built_images`).
fn images() -> &'static BTreeMap<&'static str, Image> {
    static IMAGES: OnceLock<BTreeMap<&'static str, Image>> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = sim::tools::cross_built_images();
        ["pf_miniport", "vf_miniport"]
            .into_iter()
            .map(|name| {
                (
                    name,
                    Image {
                        bytes: sim::tools::image_bytes(name),
                        pdb: dir.join(format!("{name}.pdb")),
                    },
                )
            })
            .collect()
    })
}

fn pe(name: &str) -> PeFile64<'static> {
    PeFile64::parse(&images()[name].bytes[..]).expect("a PE32+ image")
}

/// (module, imported name) pairs; panics on an import by ordinal.
fn imports(name: &str) -> Vec<(String, String)> {
    let file = pe(name);
    let table = file.import_table().unwrap().expect("an import table");
    let mut out = Vec::new();
    let mut descs = table.descriptors().unwrap();
    while let Some(d) = descs.next().unwrap() {
        let module = String::from_utf8_lossy(table.name(d.name.get(LE)).unwrap()).to_lowercase();
        let mut thunks = table.thunks(d.original_first_thunk.get(LE)).unwrap();
        while let Some(t) = thunks.next::<pe::ImageNtHeaders64>().unwrap() {
            match table.import::<pe::ImageNtHeaders64>(t).unwrap() {
                object::read::pe::Import::Name(_, n) => {
                    out.push((module.clone(), String::from_utf8_lossy(n).into_owned()))
                }
                object::read::pe::Import::Ordinal(o) => {
                    panic!("{name} imports {module} ordinal {o}")
                }
            }
        }
    }
    out
}

#[test]
fn images_are_pe32plus_native_drivers_for_amd64() {
    for name in ["pf_miniport", "vf_miniport"] {
        let file = pe(name);
        let nt = file.nt_headers();
        assert_eq!(
            nt.file_header().machine.get(LE),
            pe::IMAGE_FILE_MACHINE_AMD64,
            "{name}"
        );
        assert_eq!(
            nt.optional_header().magic(),
            pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC,
            "{name}: PE32+"
        );
        assert_eq!(
            nt.optional_header().subsystem(),
            pe::IMAGE_SUBSYSTEM_NATIVE,
            "{name}: subsystem NATIVE"
        );
        let dll = nt.optional_header().dll_characteristics();
        assert_ne!(
            dll & pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
            0,
            "{name}: NX compatible"
        );
        assert_ne!(
            dll & pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE,
            0,
            "{name}: relocatable"
        );
    }
}

#[test]
fn entry_point_is_driver_entry() {
    for name in ["pf_miniport", "vf_miniport"] {
        let file = pe(name);
        let entry = file.nt_headers().optional_header().address_of_entry_point();
        let exports = file.exports().unwrap();
        let de = exports
            .iter()
            .find(|e| e.name() == b"DriverEntry")
            .unwrap_or_else(|| panic!("{name} exports DriverEntry"));
        let base = file.relative_address_base();
        assert_eq!(
            de.address() - base,
            entry as u64,
            "{name}: entry point is DriverEntry"
        );
    }
}

#[test]
fn every_absolute_address_has_a_base_relocation() {
    for name in ["pf_miniport", "vf_miniport"] {
        let file = pe(name);
        let dirs = file.data_directories();
        let relocs = dirs
            .relocation_blocks(&images()[name].bytes[..], &file.section_table())
            .unwrap()
            .expect("a .reloc directory");
        let mut count = 0;
        let mut blocks = relocs;
        while let Some(block) = blocks.next().unwrap() {
            for r in block {
                assert!(
                    r.typ == pe::IMAGE_REL_BASED_DIR64 || r.typ == pe::IMAGE_REL_BASED_ABSOLUTE,
                    "{name}: unexpected relocation type {}",
                    r.typ
                );
                count += (r.typ == pe::IMAGE_REL_BASED_DIR64) as usize;
            }
        }
        // The handler table, the SupportedOidList pointer and the import thunks all need them.
        assert!(count >= 15, "{name}: only {count} DIR64 relocations");
    }
}

#[test]
fn no_section_is_both_writable_and_executable() {
    for name in ["pf_miniport", "vf_miniport"] {
        let file = pe(name);
        for s in file.sections() {
            let flags = match s.flags() {
                object::SectionFlags::Coff { characteristics } => characteristics,
                _ => unreachable!(),
            };
            let wx = pe::IMAGE_SCN_MEM_WRITE | pe::IMAGE_SCN_MEM_EXECUTE;
            assert_ne!(
                flags & wx,
                wx,
                "{name}: section {} is W+X",
                s.name().unwrap_or("?")
            );
        }
    }
}

#[test]
fn imports_come_only_from_the_kernel_and_ndis() {
    for name in ["pf_miniport", "vf_miniport"] {
        for (module, f) in imports(name) {
            assert!(
                ["ntoskrnl.exe", "ndis.sys", "hal.dll"].contains(&module.as_str()),
                "{name} imports {f} from {module}"
            );
        }
    }
}

#[test]
fn each_driver_imports_its_side_of_the_backchannel() {
    let has = |name: &str, f: &str| imports(name).iter().any(|(m, n)| m == "ndis.sys" && n == f);
    assert!(has("pf_miniport", "NdisMInvalidateConfigBlock"));
    assert!(has("pf_miniport", "NdisMEnableVirtualization"));
    assert!(has("vf_miniport", "NdisMReadConfigBlock"));
    assert!(has("vf_miniport", "NdisMWriteConfigBlock"));
    assert!(
        !has("vf_miniport", "NdisMInvalidateConfigBlock"),
        "the VF never invalidates"
    );
    assert!(
        !has("pf_miniport", "NdisMReadConfigBlock"),
        "the PF never reads through the backchannel"
    );
    for name in ["pf_miniport", "vf_miniport"] {
        assert!(has(name, "NdisMRegisterMiniportDriver"));
        assert!(has(name, "NdisMSetMiniportAttributes"));
    }
}

#[test]
fn every_import_exists_in_the_real_modules_export_lists() {
    let mut lists = BTreeMap::new();
    for (module, lib) in [
        ("ndis.sys", "ndis"),
        ("ntoskrnl.exe", "ntoskrnl"),
        ("hal.dll", "hal"),
    ] {
        let Some(exports) = sim::tools::exports(lib) else {
            return;
        };
        assert!(exports.len() > 50, "{lib}: export list looks empty");
        lists.insert(module, exports);
    }
    for name in ["pf_miniport", "vf_miniport"] {
        for (module, f) in imports(name) {
            let known = lists[module.as_str()].contains(&f)
                || NEWER_THAN_MINGW
                    .iter()
                    .any(|(m, n, _)| *m == module && *n == f);
            assert!(
                known,
                "{name} imports {f} from {module}, which does not export it"
            );
        }
    }
}

#[test]
fn kernel_runtime_is_real() {
    for name in ["pf_miniport", "vf_miniport"] {
        let names: Vec<String> = imports(name).into_iter().map(|(_, n)| n).collect();
        // Panic handler -> bugcheck. The global allocator (tests/pool_allocator.rs) is linked
        // in only once code uses `alloc`; the drivers allocate through NDIS, so it is absent.
        for needed in [
            "KeBugCheckEx",
            "KeAcquireSpinLockRaiseToDpc",
            "KeReleaseSpinLock",
            "DbgPrintEx",
        ] {
            assert!(
                names.iter().any(|n| n == needed),
                "{name} does not import {needed}"
            );
        }
    }
}

/// Bytes of stack each function allocates, from its x64 unwind codes (.pdata/.xdata, the
/// record Windows itself unwinds with): pushes plus UWOP_ALLOC_SMALL/LARGE.
fn frame_sizes(name: &str) -> Vec<(u32, u32)> {
    let bytes = &images()[name].bytes[..];
    let file = pe(name);
    let sections = file.section_table();
    let dir = file
        .data_directory(pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION)
        .expect("an exception directory (.pdata)");
    let pdata = dir.data(bytes, &sections).expect(".pdata bytes");
    let at = |rva: u32, len: usize| {
        sections
            .pe_data_at(bytes, rva)
            .and_then(|d| d.get(..len))
            .unwrap_or_else(|| panic!("{name}: RVA {rva:#x} outside the image"))
    };
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let mut frames = Vec::new();
    for entry in pdata.chunks_exact(12) {
        let (begin, unwind) = (u32_at(entry, 0), u32_at(entry, 8));
        let head = at(unwind, 4);
        // Version 1 is what LLVM and MSVC emit; the codes below are version 1's.
        assert_eq!(head[0] & 7, 1, "{name}: unwind info version at {begin:#x}");
        let count = head[2] as usize;
        let codes = at(unwind + 4, count * 2);
        let slot = |i: usize| u16::from_le_bytes([codes[2 * i], codes[2 * i + 1]]) as u32;
        let (mut i, mut size) = (0, 0u32);
        while i < count {
            let (op, info) = (codes[2 * i + 1] & 0xF, codes[2 * i + 1] >> 4);
            i += match op {
                0 => {
                    size += 8; // UWOP_PUSH_NONVOL
                    1
                }
                1 if info == 0 => {
                    size += slot(i + 1) * 8; // UWOP_ALLOC_LARGE, size / 8 in one slot
                    2
                }
                1 => {
                    size += slot(i + 1) | (slot(i + 2) << 16); // UWOP_ALLOC_LARGE, 32-bit size
                    3
                }
                2 => {
                    size += info as u32 * 8 + 8; // UWOP_ALLOC_SMALL
                    1
                }
                3 | 10 => 1, // SET_FPREG, PUSH_MACHFRAME
                4 | 8 => 2,  // SAVE_NONVOL, SAVE_XMM128
                5 | 9 => 3,  // their _FAR forms
                op => panic!("{name}: unwind op {op} at {begin:#x}"),
            };
        }
        frames.push((begin, size));
    }
    frames
}

/// The x64 kernel stack is 24 KiB (`KERNEL_STACK_SIZE` 0x6000, mingw-w64 `ddk/ntddk.h`),
/// shared with NDIS, the protocol stack above and interrupts. No driver frame may take more
/// than a page: beyond that the compiler needs stack probes, and a few such frames on one
/// call chain overflow the stack (bugcheck 0x7F). Prints the largest frames.
#[test]
fn kernel_stack_frames_stay_under_a_page() {
    for name in ["pf_miniport", "vf_miniport"] {
        let procs = sim::debug_info::procedures(&images()[name].pdb);
        let named = |rva: u32| {
            procs
                .iter()
                .find(|(_, r)| *r == Some(rva))
                .map_or_else(|| format!("{rva:#x}"), |(n, _)| n.clone())
        };
        let mut frames = frame_sizes(name);
        assert!(
            frames.len() > 20,
            "{name}: only {} functions in .pdata",
            frames.len()
        );
        frames.sort_by_key(|&(_, size)| std::cmp::Reverse(size));
        for &(rva, size) in frames.iter().take(8) {
            println!("{name}: {size:5} B  {}", named(rva));
        }
        let (rva, size) = frames[0];
        assert!(
            size < 4096,
            "{name}: {} allocates {size} B of kernel stack",
            named(rva)
        );
        assert!(size > 0, "{name}: no frame sizes decoded");
    }
}
