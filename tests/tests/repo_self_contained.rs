//! The repository stands alone: no file cites the notebook the facts were first collected in,
//! or a path outside the repository. The facts the code relies on are in
//! `docs/ndis-reference.md` and `docs/facts.md`, and comments cite Microsoft's pages and the
//! WDK headers instead.
use std::path::{Path, PathBuf};

/// Built at run time so that this file does not match itself.
fn forbidden() -> [String; 4] {
    [
        ["NDIS", "-FACTS"].concat(),
        ["shared/", "NDIS-", "FACTS"].concat(),
        ["..", "/shared"].concat(),
        // The design notes the team keeps beside the repository, not in it.
        ["DESIGN", ".md"].concat(),
    ]
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir`, skipping `.git` (a directory, or a file in a worktree) and build
/// output; symbolic links are not followed.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let name = entry.file_name();
        if name == ".git" || name == "target" {
            continue;
        }
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            files(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

#[test]
fn no_file_cites_anything_outside_the_repository() {
    let root = repo_root();
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(
        all.iter().any(|p| p.ends_with("docs/ndis-reference.md")),
        "the walk must see docs/ndis-reference.md (root {})",
        root.display()
    );
    let patterns = forbidden();
    let mut hits = Vec::new();
    for path in &all {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if let Some(p) = patterns.iter().find(|p| line.contains(p.as_str())) {
                let rel = path.strip_prefix(&root).unwrap_or(path);
                hits.push(format!("{}:{}: {p}", rel.display(), n + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "citations of files outside the repository:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_reference_is_linked_from_the_readme() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    assert!(readme.contains("docs/ndis-reference.md"));
}
