//! What WinDbg sees of the cross-built drivers: the procedures and type records in their PDBs
//! (through the `pdb` crate), and the member paths their natvis views use. The tests hold the
//! debugging docs and the natvis files to what the PDBs really contain.
use std::path::Path;

/// Every procedure (S_GPROC32/S_LPROC32) a PDB describes: qualified name and RVA.
pub fn procedures(pdb_path: &Path) -> Vec<(String, Option<u32>)> {
    use pdb::FallibleIterator;
    let file = std::fs::File::open(pdb_path).expect("a PDB next to the image");
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
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
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

/// The PDB's type records, reduced to what a natvis path walks through.
pub enum Ty {
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

pub struct PdbTypes {
    types: std::collections::HashMap<u32, Ty>,
    /// Defined (not forward-declared) records by name.
    pub definitions: std::collections::HashMap<String, u32>,
}

impl PdbTypes {
    pub fn load(pdb_path: &Path) -> Self {
        use pdb::{FallibleIterator, TypeData};
        let file = std::fs::File::open(pdb_path).expect("a PDB next to the image");
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
    pub fn walk(&self, root: u32, path: &str) -> Result<(), String> {
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
pub fn natvis_paths(expr: &str) -> Vec<String> {
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
pub fn natvis_expressions(natvis: &str) -> Vec<(String, String)> {
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
