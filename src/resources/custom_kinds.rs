//! The kinds CustomResourceDefinitions add, as this process serves them now: each served version of each
//! established definition, with what serving it takes (its schema, printer columns, scale paths).
//!
//! One set per process (a process serves one cluster). Every API server keeps its own from the store's
//! CRDs (control_plane/api_extensions.rs follows them), so all masters serve the same kinds. A kind is
//! handed out as `&'static ResourceKind` like the built-in ones: each distinct one is leaked once and
//! reused when a definition names it again, so the memory kept is bounded by the distinct kinds ever
//! defined, not by how often definitions change.

use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

use super::kinds::ResourceKind;

/// A column `kubectl get` shows for the kind (additionalPrinterColumns).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// OpenAPI type: string, integer, number, boolean, date.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// Where the `scale` subresource reads and writes (subresources.scale).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    /// ".spec.replicas"
    pub spec_replicas: String,
    /// ".status.replicas"
    pub status_replicas: String,
    /// ".status.selector", when given.
    pub label_selector: Option<String>,
}

/// One served version of a custom kind.
#[derive(Debug, Clone)]
pub struct CustomVersion {
    pub kind: &'static ResourceKind,
    /// The definition's name (PLURAL.GROUP).
    pub definition: String,
    /// The version's openAPIV3Schema (None: anything goes, as a CRD without a schema).
    pub schema: Option<Value>,
    pub printer_columns: Vec<PrinterColumn>,
    pub scale: Option<ScalePaths>,
    /// The version objects are kept in (apiVersion GROUP/VERSION).
    pub storage_version: String,
    /// The definition is being deleted: its objects are read and deleted, no new one is made.
    pub terminating: bool,
}

#[derive(Default)]
struct Served {
    versions: Vec<Arc<CustomVersion>>,
    /// Counts changes of the set (documents built from it, like OpenAPI's, are rebuilt when it moves).
    generation: u64,
}

fn served() -> &'static RwLock<Served> {
    static SERVED: RwLock<Served> = RwLock::new(Served { versions: Vec::new(), generation: 0 });
    &SERVED
}

/// The served custom kinds, in definition order.
pub fn kinds() -> Vec<&'static ResourceKind> {
    served().read().expect("custom kinds").versions.iter().map(|v| v.kind).collect()
}

/// What serving `kind` takes, when it is a custom kind served now.
pub fn version_of(kind: &ResourceKind) -> Option<Arc<CustomVersion>> {
    if !kind.custom {
        return None;
    }
    let set = served().read().expect("custom kinds");
    set.versions
        .iter()
        .find(|v| v.kind.group == kind.group && v.kind.version == kind.version && v.kind.plural == kind.plural)
        .cloned()
}

/// Every served version, in definition order.
pub fn versions() -> Vec<Arc<CustomVersion>> {
    served().read().expect("custom kinds").versions.clone()
}

/// How many times the set changed.
pub fn generation() -> u64 {
    served().read().expect("custom kinds").generation
}

/// Serve `versions` for the definition `name` in place of what it served before (none: it serves
/// nothing now). Returns whether anything changed.
pub fn set_definition(name: &str, versions: Vec<CustomVersion>) -> bool {
    let mut set = served().write().expect("custom kinds");
    let before: Vec<String> = set.versions.iter().filter(|v| v.definition == name).map(|v| describe(v)).collect();
    let after: Vec<String> = versions.iter().map(describe).collect();
    if before == after {
        return false;
    }
    let at = set.versions.iter().position(|v| v.definition == name).unwrap_or(set.versions.len());
    set.versions.retain(|v| v.definition != name);
    let at = at.min(set.versions.len());
    for (i, version) in versions.into_iter().enumerate() {
        set.versions.insert(at + i, Arc::new(version));
    }
    set.generation += 1;
    true
}

/// Keep only the definitions named in `names` (the rest were deleted while nobody listened).
pub fn retain_definitions(names: &[String]) -> bool {
    let mut set = served().write().expect("custom kinds");
    let before = set.versions.len();
    set.versions.retain(|v| names.contains(&v.definition));
    let changed = set.versions.len() != before;
    if changed {
        set.generation += 1;
    }
    changed
}

/// A version's whole serving form, to tell a real change from a status write that changes nothing served.
fn describe(v: &CustomVersion) -> String {
    format!("{:?}|{:?}|{:?}|{:?}|{}|{}", v.kind, v.schema, v.printer_columns, v.scale, v.storage_version, v.terminating)
}

/// The one `&'static` copy of `kind` (leaked the first time it is seen).
pub fn intern(kind: OwnedKind) -> &'static ResourceKind {
    static LEAKED: Mutex<Vec<&'static ResourceKind>> = Mutex::new(Vec::new());
    let mut leaked = LEAKED.lock().expect("interned kinds");
    if let Some(found) = leaked.iter().find(|k| kind.matches(k)) {
        return found;
    }
    let text = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let list = |v: Vec<String>| -> &'static [&'static str] {
        Box::leak(v.into_iter().map(text).collect::<Vec<_>>().into_boxed_slice())
    };
    let made: &'static ResourceKind = Box::leak(Box::new(ResourceKind {
        group: text(kind.group),
        version: text(kind.version),
        plural: text(kind.plural),
        singular: text(kind.singular),
        kind: text(kind.kind),
        namespaced: kind.namespaced,
        short_names: list(kind.short_names),
        categories: list(kind.categories),
        status: kind.status,
        custom: true,
    }));
    leaked.push(made);
    made
}

/// A custom kind as read from its definition, before it is interned.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedKind {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
}

impl OwnedKind {
    fn matches(&self, k: &ResourceKind) -> bool {
        self.group == k.group
            && self.version == k.version
            && self.plural == k.plural
            && self.singular == k.singular
            && self.kind == k.kind
            && self.namespaced == k.namespaced
            && self.short_names.iter().map(String::as_str).eq(k.short_names.iter().copied())
            && self.categories.iter().map(String::as_str).eq(k.categories.iter().copied())
            && self.status == k.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(group: &str, version: &str) -> OwnedKind {
        OwnedKind {
            group: group.into(),
            version: version.into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            kind: "Widget".into(),
            namespaced: true,
            short_names: vec!["wg".into()],
            categories: vec![],
            status: true,
        }
    }

    fn version(kind: &'static ResourceKind, definition: &str) -> CustomVersion {
        CustomVersion {
            kind,
            definition: definition.into(),
            schema: None,
            printer_columns: vec![],
            scale: None,
            storage_version: "v1".into(),
            terminating: false,
        }
    }

    #[test]
    fn a_kind_is_leaked_once_and_served_until_its_definition_goes() {
        let a = intern(owned("kinds-test.example.com", "v1"));
        let b = intern(owned("kinds-test.example.com", "v1"));
        assert!(std::ptr::eq(a, b), "the same kind is not leaked twice");
        assert_eq!(a.prefix(Some("ns")), "/custom/kinds-test.example.com/widgets/ns/");
        let name = "widgets.kinds-test.example.com";
        assert!(set_definition(name, vec![version(a, name)]));
        assert!(!set_definition(name, vec![version(a, name)]), "nothing served changed");
        let found = crate::resources::kinds::find("kinds-test.example.com", "v1", "widgets").expect("served");
        assert!(std::ptr::eq(found, a));
        assert_eq!(version_of(found).map(|v| v.definition.clone()).as_deref(), Some(name));
        assert!(crate::resources::kinds::of_key("/custom/kinds-test.example.com/widgets/ns/w").is_some());
        assert!(set_definition(name, vec![]));
        assert!(crate::resources::kinds::find("kinds-test.example.com", "v1", "widgets").is_none());
    }
}
