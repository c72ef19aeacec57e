//! The debugging story docs/windbg.md tells, held to the PDBs the cross-build produces: the
//! natvis views are embedded and every member path they use exists, and every `bm`
//! breakpoint matches a real procedure (not one the optimizer inlined away).
use sim::debug_info::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DRIVERS: [&str; 2] = ["pf_miniport", "vf_miniport"];

/// `<name>.pdb` beside the image (`sim::tools::cross_built_images` builds them once per process).
fn pdb_path(name: &str) -> PathBuf {
    sim::tools::cross_built_images().join(format!("{name}.pdb"))
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn pdbs_carry_the_natvis_views() {
    for (name, ty) in [
        ("pf_miniport", "pf_miniport::adapter::Adapter"),
        ("vf_miniport", "vf_miniport::adapter::Adapter"),
    ] {
        let pdb = std::fs::read(pdb_path(name)).expect("a PDB next to the image");
        let find = |needle: &[u8]| pdb.windows(needle.len()).any(|w| w == needle);
        assert!(find(b"AutoVisualizer"), "{name}.pdb has no natvis");
        assert!(
            find(ty.as_bytes()),
            "{name}.pdb natvis does not describe {ty}"
        );
    }
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
    let doc = repo_file("docs/windbg.md");
    let mut by_module: BTreeMap<&str, Vec<(String, Option<u32>)>> = BTreeMap::new();
    let mut checked = 0;
    for line in doc.lines() {
        let Some(target) = line.trim().strip_prefix("kd> bm ") else {
            continue;
        };
        let target = target.split_whitespace().next().unwrap_or_default();
        let (module, pattern) = target.split_once('!').expect("bm module!pattern");
        let procs = by_module.entry(module).or_insert_with(|| {
            assert!(DRIVERS.contains(&module), "{module} is not one of ours");
            procedures(&pdb_path(module))
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
        ("pf_miniport", "pf-miniport/pf_miniport.natvis"),
        ("vf_miniport", "vf-miniport/vf_miniport.natvis"),
    ] {
        let text = repo_file(natvis);
        let types = PdbTypes::load(&pdb_path(name));
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
