//! The Windows images themselves: cross-builds both drivers for `x86_64-pc-windows-msvc`
//! with rust-lld (the README's command) and inspects the PE32+ files: headers, entry point,
//! relocations, sections, imports, and every imported name against mingw-w64's import
//! libraries for ndis.sys, ntoskrnl.exe and hal.dll (an independent export list).
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

#[test]
fn pdbs_carry_the_natvis_views() {
    for (name, ty) in [
        ("pf_miniport", "pf_miniport::adapter::Adapter"),
        ("vf_miniport", "vf_miniport::adapter::Adapter"),
    ] {
        let pdb = std::fs::read(&images()[name].pdb).expect("a PDB next to the image");
        let find = |needle: &[u8]| pdb.windows(needle.len()).any(|w| w == needle);
        assert!(find(b"AutoVisualizer"), "{name}.pdb has no natvis");
        assert!(
            find(ty.as_bytes()),
            "{name}.pdb natvis does not describe {ty}"
        );
    }
}

/// Every procedure (S_GPROC32/S_LPROC32) the image's PDB describes: qualified name and RVA.
fn pdb_procedures(name: &str) -> Vec<(String, Option<u32>)> {
    use pdb::FallibleIterator;
    let file = std::fs::File::open(&images()[name].pdb).expect("a PDB next to the image");
    let mut pdb = pdb::PDB::open(file).expect("a readable PDB");
    let dbi = pdb.debug_information().expect("a DBI stream");
    let addresses = pdb.address_map().expect("an address map");
    let mut modules = dbi.modules().expect("module list");
    let mut names = Vec::new();
    while let Some(module) = modules.next().expect("module entry") {
        let Some(info) = pdb.module_info(&module).expect("module stream") else {
            continue;
        };
        let mut symbols = info.symbols().expect("module symbols");
        while let Some(sym) = symbols.next().expect("symbol record") {
            if let Ok(pdb::SymbolData::Procedure(p)) = sym.parse() {
                let rva = p.offset.to_rva(&addresses).map(|r| r.0);
                names.push((p.name.to_string().into_owned(), rva));
            }
        }
    }
    names
}

/// WinDbg's `bm` wildcard match (`*` only, case-insensitive, as symbol matching is).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty()
}

#[test]
fn wildcard_match_behaves_like_bm() {
    assert!(wildcard_match(
        "*backchannel*read*",
        "pf::backchannel::read_config_block"
    ));
    assert!(wildcard_match(
        "*Adapter*invalidate*",
        "pf::adapter::Adapter::invalidate"
    ));
    assert!(!wildcard_match(
        "*backchannel*read*",
        "pf::handlers::oid_request"
    ));
    assert!(!wildcard_match("a*b", "a_b_c"));
    assert!(wildcard_match("exact", "EXACT"));
}

/// The breakpoints docs/windbg.md gives must land somewhere: a `bm` pattern that matches no
/// procedure (say, because the optimizer inlined it) sets nothing and says little.
#[test]
fn windbg_breakpoints_name_real_procedures() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/windbg.md"),
    )
    .expect("docs/windbg.md");
    let mut procedures: BTreeMap<&str, Vec<(String, Option<u32>)>> = BTreeMap::new();
    let mut checked = 0;
    for line in doc.lines() {
        let Some(target) = line.trim().strip_prefix("kd> bm ") else {
            continue;
        };
        let target = target.split_whitespace().next().unwrap_or_default();
        let (module, pattern) = target.split_once('!').expect("bm module!pattern");
        let procs = procedures.entry(module).or_insert_with(|| {
            assert!(images().contains_key(module), "{module} is not one of ours");
            pdb_procedures(module)
        });
        assert!(
            procs.iter().any(|(p, _)| wildcard_match(pattern, p)),
            "docs/windbg.md: `bm {target}` matches no procedure in {module}.pdb"
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "found only {checked} `bm` lines in docs/windbg.md"
    );
}

/// The PDB's type records, reduced to what a natvis path walks through.
enum Ty {
    Record {
        name: String,
        forward: bool,
        fields: Option<u32>,
    },
    Fields {
        members: Vec<(String, u32)>,
        next: Option<u32>,
    },
    Pointer(u32),
    Modifier(u32),
    Array(u32),
    Other,
}

struct PdbTypes {
    types: std::collections::HashMap<u32, Ty>,
    definitions: std::collections::HashMap<String, u32>,
}

impl PdbTypes {
    fn load(name: &str) -> Self {
        use pdb::{FallibleIterator, TypeData};
        let file = std::fs::File::open(&images()[name].pdb).expect("a PDB next to the image");
        let mut pdb = pdb::PDB::open(file).expect("a readable PDB");
        let info = pdb.type_information().expect("a TPI stream");
        let mut iter = info.iter();
        let (mut types, mut definitions) = (
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
        );
        while let Some(item) = iter.next().expect("type record") {
            let index = item.index().0;
            let ty = match item.parse() {
                Ok(TypeData::Class(c)) => Ty::Record {
                    name: c.name.to_string().into_owned(),
                    forward: c.properties.forward_reference(),
                    fields: c.fields.map(|f| f.0),
                },
                Ok(TypeData::Union(u)) => Ty::Record {
                    name: u.name.to_string().into_owned(),
                    forward: u.properties.forward_reference(),
                    fields: Some(u.fields.0),
                },
                Ok(TypeData::FieldList(list)) => Ty::Fields {
                    members: list
                        .fields
                        .iter()
                        .filter_map(|f| match f {
                            TypeData::Member(m) => {
                                Some((m.name.to_string().into_owned(), m.field_type.0))
                            }
                            _ => None,
                        })
                        .collect(),
                    next: list.continuation.map(|c| c.0),
                },
                Ok(TypeData::Pointer(p)) => Ty::Pointer(p.underlying_type.0),
                Ok(TypeData::Modifier(m)) => Ty::Modifier(m.underlying_type.0),
                Ok(TypeData::Array(a)) => Ty::Array(a.element_type.0),
                _ => Ty::Other,
            };
            if let Ty::Record {
                name,
                forward: false,
                ..
            } = &ty
            {
                definitions.insert(name.clone(), index);
            }
            types.insert(index, ty);
        }
        Self { types, definitions }
    }

    /// Past modifiers and forward references, to the type's definition.
    fn resolve(&self, mut index: u32) -> u32 {
        loop {
            match self.types.get(&index) {
                Some(Ty::Modifier(inner)) => index = *inner,
                Some(Ty::Record {
                    name,
                    forward: true,
                    ..
                }) => match self.definitions.get(name) {
                    Some(def) => return *def,
                    None => return index,
                },
                _ => return index,
            }
        }
    }

    fn member(&self, record: u32, member: &str) -> Option<u32> {
        let Some(Ty::Record { fields, .. }) = self.types.get(&self.resolve(record)) else {
            return None;
        };
        let mut list = *fields;
        while let Some(Ty::Fields { members, next }) = list.and_then(|l| self.types.get(&l)) {
            if let Some((_, ty)) = members.iter().find(|(n, _)| n == member) {
                return Some(*ty);
            }
            list = *next;
        }
        None
    }

    /// Walks `a.b->c[0].d` from `root`; the error names the first step that does not exist.
    fn walk(&self, root: u32, path: &str) -> Result<(), String> {
        let mut ty = root;
        let mut rest = path;
        let mut deref = false;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("->") {
                (rest, deref) = (r, true);
                continue;
            }
            if let Some(r) = rest.strip_prefix('.') {
                rest = r;
                continue;
            }
            if let Some(r) = rest.strip_prefix('[') {
                let close = r.find(']').ok_or("unclosed [")?;
                ty = match self.types.get(&self.resolve(ty)) {
                    Some(Ty::Array(e)) | Some(Ty::Pointer(e)) => *e,
                    _ => return Err(format!("`{path}`: indexes a non-array")),
                };
                rest = &r[close + 1..];
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let (name, r) = rest.split_at(end);
            if deref {
                ty = match self.types.get(&self.resolve(ty)) {
                    Some(Ty::Pointer(p)) => *p,
                    _ => return Err(format!("`{path}`: -> on a non-pointer before {name}")),
                };
                deref = false;
            }
            ty = self
                .member(ty, name)
                .ok_or_else(|| format!("`{path}`: no member `{name}`"))?;
            rest = r;
        }
        Ok(())
    }
}

/// The member paths in one natvis expression (`inner.data.value.state == 0`, `mac[0],x`,
/// `(T*)inner.vfs`): identifier chains that are not type names, numbers or format specifiers.
fn natvis_paths(expr: &str) -> Vec<String> {
    let expr = match expr.rsplit_once(',') {
        Some((e, spec)) if spec.chars().all(|c| c.is_ascii_alphabetic()) => e,
        _ => expr,
    };
    let bytes = expr.as_bytes();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() {
                let c = bytes[i] as char;
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    i += 1;
                } else if expr[i..].starts_with("->") || expr[i..].starts_with("::") {
                    i += 2;
                } else if c == '[' {
                    i += expr[i..].find(']').map_or(1, |e| e + 1);
                } else {
                    break;
                }
            }
            let token = &expr[start..i];
            let is_type = token.contains("::") || expr[i..].starts_with('*');
            if !is_type {
                paths.push(token.to_string());
            }
        } else {
            i += 1;
        }
    }
    paths
}

/// Every (type pattern, expression) in a natvis file: Condition attributes, Item, Size,
/// ValuePointer and ExpandedItem bodies, and the `{...}` parts of DisplayStrings.
fn natvis_expressions(natvis: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    for block in natvis.split("<Type Name=\"").skip(1) {
        let (ty, body) = block.split_once('"').expect("Type Name=\"...\"");
        let body = body.split("</Type>").next().unwrap_or_default();
        let ty = unescape(ty);
        for cond in body.split("Condition=\"").skip(1) {
            out.push((
                ty.clone(),
                unescape(cond.split('"').next().unwrap_or_default()),
            ));
        }
        for tag in ["Item", "Size", "ValuePointer", "ExpandedItem"] {
            for part in body.split(&format!("<{tag}")).skip(1) {
                let Some((_, rest)) = part.split_once('>') else {
                    continue;
                };
                let text = rest.split(&format!("</{tag}>")).next().unwrap_or_default();
                out.push((ty.clone(), unescape(text)));
            }
        }
        for part in body.split("<DisplayString").skip(1) {
            let Some((_, rest)) = part.split_once('>') else {
                continue;
            };
            let text = unescape(rest.split("</DisplayString>").next().unwrap_or_default());
            let text = text.replace("{{", "").replace("}}", "");
            for piece in text.split('{').skip(1) {
                out.push((
                    ty.clone(),
                    piece.split('}').next().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn natvis_expression_parsing() {
    assert_eq!(
        natvis_paths("inner.data.value.state"),
        ["inner.data.value.state"]
    );
    assert_eq!(natvis_paths("pending.v.value,x"), ["pending.v.value"]);
    assert_eq!(natvis_paths("__0 != 0"), ["__0"]);
    assert_eq!(natvis_paths("__0->vf_id"), ["__0->vf_id"]);
    assert_eq!(natvis_paths("(a::b::C*)inner.vfs"), ["inner.vfs"]);
    assert_eq!(natvis_paths("mac[0],x"), ["mac[0]"]);
    let e = natvis_expressions(
        "<Type Name=\"X&lt;*&gt;\"><DisplayString Condition=\"a == 0\">{{ {b,x} }}</DisplayString>\
         <Item Name=\"[c]\">c.d</Item></Type>",
    );
    let e: Vec<_> = e.iter().map(|(t, x)| format!("{t}|{x}")).collect();
    assert_eq!(e, ["X<*>|a == 0", "X<*>|c.d", "X<*>|b,x"]);
}

/// A natvis view that names a field the type no longer has shows an error in WinDbg and
/// nothing else; walk every path in both natvis files through the PDB's type records.
#[test]
fn natvis_paths_exist_in_the_pdb_types() {
    for (name, natvis) in [
        ("pf_miniport", "../pf-miniport/pf_miniport.natvis"),
        ("vf_miniport", "../vf-miniport/vf_miniport.natvis"),
    ] {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(natvis))
                .expect("natvis file");
        let types = PdbTypes::load(name);
        let mut walked = 0;
        for (pattern, expr) in natvis_expressions(&text) {
            let roots: Vec<u32> = types
                .definitions
                .iter()
                .filter(|(n, _)| wildcard_match(&pattern, n))
                .map(|(_, i)| *i)
                .collect();
            assert!(
                !roots.is_empty(),
                "{natvis}: no type in {name}.pdb matches {pattern}"
            );
            for path in natvis_paths(&expr) {
                for &root in &roots {
                    if let Err(e) = types.walk(root, &path) {
                        panic!("{natvis}, {pattern}: {e}");
                    }
                    walked += 1;
                }
            }
        }
        assert!(walked >= 10, "{natvis}: only {walked} paths walked");
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
        let procs = pdb_procedures(name);
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
