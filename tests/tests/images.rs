//! The Windows images themselves: cross-builds both drivers for `x86_64-pc-windows-msvc`
//! with rust-lld (the README's command) and inspects the PE32+ files: headers, entry point,
//! relocations, sections, imports, and every imported name against mingw-w64's import
//! libraries for ndis.sys, ntoskrnl.exe and hal.dll (an independent export list), each import's
//! minimum Windows version (docs/imports.md) against the INFs' target, what the linker must say
//! for a driver (checksum, non-pageable sections, CET compatibility), and each function's stack
//! frame from its unwind codes. What the PDBs hold: `debugging.rs`; the signed packages:
//! `package.rs`.
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{LittleEndian as LE, Object, ObjectSection};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Exports newer than mingw-w64 10's import libraries, each with its source (none today: the
/// one there was, ExAllocatePool2, is newer than the INFs' target and no longer imported).
const NEWER_THAN_MINGW: &[(&str, &str, &str)] = &[];

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

#[test]
fn images_carry_the_pe_checksum() {
    for name in ["pf_miniport", "vf_miniport"] {
        let bytes = &images()[name].bytes;
        assert_ne!(
            xtask::pe::stored_checksum(bytes),
            Ok(0),
            "{name}: no checksum"
        );
        assert_eq!(
            xtask::pe::verify_checksum(bytes),
            Ok(()),
            "{name}: checksum"
        );
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn loader_refuses_a_missing_or_wrong_checksum() {
    let good = images()["vf_miniport"].bytes.clone();
    let at = xtask::pe::layout(&good).unwrap().checksum;
    let stored = xtask::pe::stored_checksum(&good).unwrap();
    for (what, value) in [("missing", 0u32), ("wrong", stored ^ 0x10)] {
        let mut bad = good.clone();
        bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
        match sim::loader::LoadedImage::load(&bad, sim::exports::resolve) {
            Err(e) => assert!(e.contains("checksum"), "{what}: {e}"),
            Ok(_) => panic!("an image with a {what} checksum was loaded"),
        }
    }
    // A changed byte elsewhere (here in the DOS stub) no longer matches the stored sum either.
    let mut changed = good.clone();
    changed[0x40] ^= 0xFF;
    assert!(sim::loader::LoadedImage::load(&changed, sim::exports::resolve).is_err());
    assert!(sim::loader::LoadedImage::load(&good, sim::exports::resolve).is_ok());
}

/// link.exe's /DRIVER marks a driver's sections not pageable; rust-lld is told with /SECTION
/// (common/driver_build.rs). Only the discardable .reloc may lack it.
#[test]
fn resident_sections_are_not_pageable() {
    for name in ["pf_miniport", "vf_miniport"] {
        let file = pe(name);
        let mut resident = 0;
        for s in file.section_table().iter() {
            let flags = s.characteristics.get(LE);
            let section = String::from_utf8_lossy(s.raw_name()).into_owned();
            assert!(
                !section.starts_with("PAGE") && !section.starts_with("INIT"),
                "{name}: pageable or discardable code section {section}"
            );
            if flags & pe::IMAGE_SCN_MEM_DISCARDABLE != 0 {
                continue;
            }
            resident += 1;
            assert_ne!(
                flags & pe::IMAGE_SCN_MEM_NOT_PAGED,
                0,
                "{name}: section {section} is pageable ({flags:#010x})"
            );
        }
        assert!(resident >= 3, "{name}: only {resident} resident sections");
    }
}

/// /CETCOMPAT: the extended DLL characteristics debug entry (IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS,
/// 20) carries IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT (0x01), "PE Format".
#[test]
fn images_are_cet_compatible() {
    for name in ["pf_miniport", "vf_miniport"] {
        let bytes = &images()[name].bytes[..];
        let file = pe(name);
        let dir = file
            .data_directory(pe::IMAGE_DIRECTORY_ENTRY_DEBUG)
            .expect("a debug directory");
        let entries = dir
            .data(bytes, &file.section_table())
            .expect("debug entries");
        let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let ex = entries
            .chunks_exact(28)
            .find(|e| u32_at(e, 12) == 20)
            .unwrap_or_else(|| {
                panic!("{name}: no extended DLL characteristics (link with /CETCOMPAT)")
            });
        let at = u32_at(ex, 24) as usize;
        assert_ne!(u32_at(bytes, at) & 0x01, 0, "{name}: not CET compatible");
    }
}

/// docs/imports.md: (module, import) -> (minimum build, minimum Windows).
fn import_table() -> BTreeMap<(String, String), (u32, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/imports.md");
    let text = std::fs::read_to_string(&path).expect("docs/imports.md");
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| module"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let build = cells[4]
                .parse::<u32>()
                .unwrap_or_else(|_| panic!("docs/imports.md: bad build in {l}"));
            assert!(!cells[5].is_empty(), "docs/imports.md: no page for {l}");
            (
                (cells[1].to_string(), cells[2].to_string()),
                (build, cells[3].to_string()),
            )
        })
        .collect()
}

/// The oldest Windows build the INFs install on: the lowest build their models decorations name
/// (`NTamd64.10.0...17763`); a decoration without one would mean every NT release.
fn inf_target_build() -> u32 {
    ["pf_miniport", "vf_miniport"]
        .iter()
        .flat_map(|d| {
            let path =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../inf/{d}.inx"));
            let inx = std::fs::read_to_string(path).unwrap();
            xtask::inf::Inf::parse(&inx).targets()
        })
        .map(|(section, t)| {
            t.build
                .unwrap_or_else(|| panic!("[{section}] names no build: every NT would be a target"))
        })
        .min()
        .expect("a models section")
}

/// Imports that `table` does not know or that are newer than `target`.
fn too_new(
    imports: &[(String, String)],
    table: &BTreeMap<(String, String), (u32, String)>,
    target: u32,
) -> Vec<String> {
    imports
        .iter()
        .filter_map(|(m, f)| match table.get(&(m.clone(), f.clone())) {
            None => Some(format!("{m}!{f} is not in docs/imports.md")),
            Some((build, windows)) if *build > target => Some(format!(
                "{m}!{f} needs {windows} (build {build}), newer than build {target}"
            )),
            Some(_) => None,
        })
        .collect()
}

#[test]
fn no_import_is_newer_than_the_infs_target() {
    let table = import_table();
    let target = inf_target_build();
    assert_eq!(
        target, 17763,
        "the INFs target Windows 10 1809 / Server 2019"
    );
    for name in ["pf_miniport", "vf_miniport"] {
        let bad = too_new(&imports(name), &table, target);
        assert!(bad.is_empty(), "{name}:\n  {}", bad.join("\n  "));
    }
    // The check bites: the allocator's old import, and one the table lacks.
    let old = [
        ("ntoskrnl.exe".to_string(), "ExAllocatePool2".to_string()),
        ("ntoskrnl.exe".to_string(), "ExAllocatePool3".to_string()),
    ];
    let bad = too_new(&old, &table, target);
    assert!(bad[0].contains("Windows 10, version 2004"), "{bad:?}");
    assert!(bad[1].contains("not in docs/imports.md"), "{bad:?}");
}

/// Every prototype `common/src/ffi/imports.rs` declares, as (module, name), whether or not an
/// image imports it yet.
fn declared_prototypes() -> Vec<(String, String)> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../common/src/ffi/imports.rs");
    let text = std::fs::read_to_string(path).expect("common/src/ffi/imports.rs");
    let mut module = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("module = \"") {
            module = m.trim_end_matches("\";").to_string();
        } else if let Some(rest) = line.strip_prefix("pub fn ") {
            let name = rest.split('(').next().unwrap_or_default().to_string();
            assert!(!module.is_empty(), "{name} outside an ndis_imports! block");
            out.push((module.clone(), name));
        }
    }
    out
}

/// A prototype is declared only for a routine the real module exports and docs/imports.md
/// lists no newer than the INFs' target, so that using it later cannot break either rule.
#[test]
fn every_declared_prototype_is_exported_and_listed() {
    let declared = declared_prototypes();
    assert!(
        declared
            .iter()
            .any(|(m, n)| m == "ndis.sys" && n == "NdisMMapIoSpace"),
        "{declared:?}"
    );
    let bad = too_new(&declared, &import_table(), inf_target_build());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    for (module, lib) in [("ndis.sys", "ndis"), ("ntoskrnl.exe", "ntoskrnl")] {
        let Some(exports) = sim::tools::exports(lib) else {
            return;
        };
        for (m, f) in declared.iter().filter(|(m, _)| m == module) {
            let known =
                exports.contains(f) || NEWER_THAN_MINGW.iter().any(|(mm, n, _)| mm == m && n == f);
            assert!(known, "{m}!{f} is declared but {lib} does not export it");
        }
    }
}
