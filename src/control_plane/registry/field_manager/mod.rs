//! Field management, as kube-apiserver's field manager does it over structured-merge-diff: every write
//! records who set which field in `metadata.managedFields`; an apply (server-side apply) merges what its
//! manager states into the object, takes out what that manager stated last time and no longer does (when
//! nobody else owns it), and refuses to change a field another manager owns unless forced.
//!
//! - Update (create, PUT, the other patches): the manager takes every field the write added or changed
//!   from whoever owned it; a field removed is nobody's. An object without managed fields that is updated
//!   stays untracked (kube's skip-non-applied); the first apply to it gives its fields to
//!   `before-first-apply`.
//! - Apply: the manager owns exactly the fields its configuration states. A change to a field another
//!   manager owns is a conflict (409 naming the manager and the fields) unless `force`; forced, the field
//!   changes owner. `kubectl` taking over from client-side apply may change the fields the
//!   last-applied-configuration annotation still matches, and keeps the annotation current.
//!
//! The schema knowledge (list types, atomic objects) is resources/list_types.rs.

pub mod field_set;
pub mod merge;

use std::cell::OnceCell;

use serde_json::{json, Map, Value};

use field_set::{compare, display, of_object, Comparison, FieldSet};

pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Who owns an object's fields from before its first apply.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The manager kubectl's server-side apply uses by default; only it takes over from client-side apply.
const KUBECTL: &str = "kubectl";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One managedFields entry: a manager (with its operation and subresource) and the fields it owns.
///
/// The fields are kept as read (FieldsV1) and parsed into a set only when a write may change them: most
/// writes touch none of the other managers' fields, and parsing every entry on every write was most of
/// what field management cost.
#[derive(Debug, Clone)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    parsed: OnceCell<FieldSet>,
    /// The FieldsV1 as read, while the fields are unchanged: written back as it was, not encoded again.
    raw: Option<Value>,
}

impl Entry {
    fn new(manager: &Manager, operation: Operation, time: Option<String>, fields: FieldSet) -> Entry {
        Entry {
            manager: manager.name.clone(),
            operation,
            api_version: manager.api_version.clone(),
            time,
            subresource: manager.subresource.clone(),
            parsed: OnceCell::from(fields),
            raw: None,
        }
    }

    /// The fields the entry owns.
    pub fn fields(&self) -> &FieldSet {
        self.parsed.get_or_init(|| {
            self.raw.as_ref().and_then(FieldSet::from_fields_v1).expect("entries hold FieldsV1 or a set")
        })
    }

    /// Whether the entry owns `path` itself (not only beneath it), without parsing what was read.
    fn owns(&self, path: &[String]) -> bool {
        match (self.parsed.get(), &self.raw) {
            (None, Some(raw)) => field_set::fields_v1_holds(raw, path),
            _ => self.fields().contains(path),
        }
    }

    fn owns_any(&self, paths: &FieldSet) -> bool {
        paths.paths().any(|p| self.owns(p))
    }

    fn is_empty(&self) -> bool {
        match (self.parsed.get(), &self.raw) {
            (None, Some(raw)) => raw.as_object().is_none_or(Map::is_empty),
            _ => self.fields().is_empty(),
        }
    }

    /// Take `paths` away from the entry (parsing it only when it owns one of them).
    fn release(&mut self, paths: &FieldSet) {
        if self.owns_any(paths) {
            let kept = self.fields().difference(paths);
            self.set_fields(kept);
        }
    }

    /// Replace the fields the entry owns (dropping the FieldsV1 read, when they change).
    fn set_fields(&mut self, fields: FieldSet) {
        if &fields != self.fields() {
            self.parsed = OnceCell::from(fields);
            self.raw = None;
        }
    }

    fn same_manager(&self, manager: &Manager) -> bool {
        self.manager == manager.name && self.operation == manager.operation && self.subresource == manager.subresource
    }

    /// How a conflict names it: `"mgr"`, or `"mgr" using v1 at TIME` for an update's manager.
    fn describe(&self) -> String {
        let mut text = format!("{:?}", self.manager);
        if let Some(subresource) = &self.subresource {
            text.push_str(&format!(" with subresource {subresource:?}"));
        }
        if self.operation == Operation::Update {
            text.push_str(&format!(" using {}", self.api_version));
            if let Some(time) = &self.time {
                text.push_str(&format!(" at {time}"));
            }
        }
        text
    }

    // Built field by field: `json!` would serialize the FieldsV1 tree again rather than move it.
    fn into_json(self) -> Value {
        let fields = match self.raw {
            Some(raw) => raw,
            None => self.fields().to_fields_v1(),
        };
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager));
        entry.insert("operation".into(), Value::String(self.operation.name().into()));
        entry.insert("apiVersion".into(), Value::String(self.api_version));
        if let Some(time) = self.time {
            entry.insert("time".into(), Value::String(time));
        }
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), fields);
        if let Some(subresource) = self.subresource {
            entry.insert("subresource".into(), Value::String(subresource));
        }
        Value::Object(entry)
    }

    fn from_json(value: &Value) -> Option<Entry> {
        let operation = match value.get("operation")?.as_str()? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        let fields = value.get("fieldsV1").cloned().unwrap_or_else(|| json!({}));
        if !field_set::is_fields_v1(&fields) {
            return None;
        }
        Some(Entry {
            manager: value.get("manager").and_then(Value::as_str).unwrap_or_default().to_string(),
            operation,
            api_version: value.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string(),
            time: value.get("time").and_then(Value::as_str).map(String::from),
            subresource: value.get("subresource").and_then(Value::as_str).map(String::from),
            parsed: OnceCell::new(),
            raw: Some(fields),
        })
    }
}

/// Who writes, and how: the manager's name (the request's fieldManager, or its User-Agent's product),
/// the operation, the subresource written (`status`), and the served version.
#[derive(Debug, Clone)]
pub struct Manager {
    pub name: String,
    pub operation: Operation,
    pub subresource: Option<String>,
    pub api_version: String,
}

/// The managed fields an object carries; None when they are not managedFields at all.
pub fn entries_of(object: &Value) -> Option<Vec<Entry>> {
    match object.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Entry::from_json).collect(),
        Some(_) => None,
    }
}

/// Write `entries` into `object`'s metadata, in kube-apiserver's order (applies first, then by time).
pub fn set_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.is_empty());
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if entries.is_empty() {
        metadata.remove("managedFields");
        return;
    }
    entries.sort_by(|a, b| {
        (a.operation.name(), &a.time, &a.manager, &a.api_version).cmp(&(
            b.operation.name(),
            &b.time,
            &b.manager,
            &b.api_version,
        ))
    });
    metadata.insert("managedFields".into(), Value::Array(entries.into_iter().map(Entry::into_json).collect()));
}

/// Where a write's fields are counted: the main resource leaves out the status (a subresource of its
/// own), the status subresource counts only the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Object { status_apart: bool },
    Status,
}

/// An object's identity and bookkeeping, which nobody manages.
pub const UNMANAGED_METADATA: [&str; 11] = [
    "name",
    "namespace",
    "generateName",
    "creationTimestamp",
    "selfLink",
    "uid",
    "generation",
    "managedFields",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Whether the field `key` under `names` is outside what `scope` manages: apiVersion and kind, the
/// unmanaged metadata, and the part of the object the write's scope does not cover.
fn unmanaged(scope: Scope, names: &[&str], key: &str) -> bool {
    match names {
        [] => {
            matches!(key, "apiVersion" | "kind")
                || match scope {
                    Scope::Status => key != "status",
                    Scope::Object { status_apart } => status_apart && key == "status",
                }
        }
        [parent] if *parent == "metadata" => UNMANAGED_METADATA.contains(&key),
        _ => false,
    }
}

/// What of an object fields are managed in: not its identity and bookkeeping (name, uid,
/// resourceVersion, managedFields itself), and only the part of it the write's scope covers.
pub fn content(object: &Value, scope: Scope) -> Map<String, Value> {
    let mut out = object.as_object().cloned().unwrap_or_default();
    out.retain(|k, _| !unmanaged(scope, &[], k));
    if let Some(metadata) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.retain(|k, _| !unmanaged(scope, &["metadata"], k));
        if metadata.is_empty() {
            out.remove("metadata");
        }
    }
    out
}

/// `after_update` over whole objects (`old` None: a create), comparing in place what `scope` manages —
/// the path every write takes, so nothing is copied.
pub fn after_update_of(
    entries: Vec<Entry>,
    old: Option<&Value>,
    new: &Value,
    scope: Scope,
    manager: &Manager,
    now: &str,
) -> Vec<Entry> {
    let empty = Map::new();
    let new = new.as_object().unwrap_or(&empty);
    let old = old.map(|o| o.as_object().unwrap_or(&empty));
    updated_between(entries, old, new, &|names, key| unmanaged(scope, names, key), manager, now)
}

/// The managed fields after an update by `manager` from `old` (None: a create) to `new`, both only what
/// is managed (`content`); `entries` are the old object's (or those the client sent to replace them).
pub fn after_update(
    entries: Vec<Entry>,
    old: Option<&Map<String, Value>>,
    new: &Map<String, Value>,
    manager: &Manager,
    now: &str,
) -> Vec<Entry> {
    updated_between(entries, old, new, &|_, _| false, manager, now)
}

fn updated_between(
    entries: Vec<Entry>,
    old: Option<&Map<String, Value>>,
    new: &Map<String, Value>,
    ignore: field_set::Ignore,
    manager: &Manager,
    now: &str,
) -> Vec<Entry> {
    // An existing object nobody tracks stays so until it is applied to.
    if old.is_some() && entries.is_empty() {
        return entries;
    }
    let created = created_base(new);
    let comparison = field_set::compare_without(old.unwrap_or(&created), new, ignore);
    updated(entries, &comparison, manager, now)
}

/// The empty object of a type a create is compared with: metadata, spec and status (Go structs, not
/// pointers) exist there already, so they are not added; a ConfigMap's data (a map) is.
fn created_base(new: &Map<String, Value>) -> Map<String, Value> {
    ["metadata", "spec", "status"]
        .into_iter()
        .filter(|k| new.get(*k).is_some_and(Value::is_object))
        .map(|k| (k.to_string(), json!({})))
        .collect()
}

fn updated(mut entries: Vec<Entry>, comparison: &Comparison, manager: &Manager, now: &str) -> Vec<Entry> {
    let taken = comparison.changed();
    let released = taken.union(&comparison.removed);
    for entry in &mut entries {
        // The writer's own entry keeps what it takes again, so its FieldsV1 stays as read when it
        // owned all of that already.
        entry.release(if entry.same_manager(manager) { &comparison.removed } else { &released });
    }
    if !taken.is_empty() {
        match entries.iter_mut().find(|e| e.same_manager(manager)) {
            Some(entry) => {
                if !taken.paths().all(|p| entry.owns(p)) {
                    let grown = entry.fields().union(&taken);
                    entry.set_fields(grown);
                }
                entry.time = Some(now.to_string());
                entry.api_version = manager.api_version.clone();
            }
            None => entries.push(Entry::new(manager, manager.operation, Some(now.to_string()), taken)),
        }
    }
    entries.retain(|e| !e.is_empty());
    entries
}

/// An apply refused: the fields other managers own that it would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(pub Vec<(String, String)>);

impl Conflicts {
    /// kube-apiserver's message: `Apply failed with 1 conflict: conflict with "mgr": .data.k`.
    pub fn message(&self) -> String {
        if let [(manager, path)] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
        }
        let mut managers: Vec<&String> = self.0.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(self.0.iter().filter(|(m, _)| m == manager).map(|(_, p)| format!("- {p}")));
        }
        format!("Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }
}

/// What an apply makes: the object's new content and its managed fields.
pub struct Applied {
    pub content: Map<String, Value>,
    pub entries: Vec<Entry>,
}

/// Apply `config` (its content) by `manager` to `live` (its content and entries; None: not there yet).
pub fn apply(
    live: Option<(&Map<String, Value>, Vec<Entry>)>,
    config: &Map<String, Value>,
    manager: &Manager,
    force: bool,
    now: &str,
) -> Result<Applied, Conflicts> {
    let empty = Map::new();
    let existed = live.is_some();
    let (live_content, mut entries) = match live {
        Some((content, entries)) => (content, entries),
        None => (&empty, Vec::new()),
    };
    if existed && entries.is_empty() {
        let before = Manager {
            name: BEFORE_FIRST_APPLY.into(),
            operation: Operation::Update,
            subresource: None,
            api_version: manager.api_version.clone(),
        };
        entries = after_update(Vec::new(), None, live_content, &before, now);
    }
    let stated = of_object(config);
    let mut merged = merge::merge(live_content, config);
    // What the manager stated last time and no longer does goes, unless someone else owns it (or
    // anything beneath it).
    let own = entries.iter().find(|e| e.same_manager(manager));
    let last = own.map(|e| e.fields().clone()).unwrap_or_default();
    let previous_time = own.and_then(|e| e.time.clone());
    let others: Vec<&Entry> = entries.iter().filter(|e| !e.same_manager(manager)).collect();
    for path in last.difference(&stated).paths() {
        let owned = stated.reaches(path) || others.iter().any(|e| e.fields().reaches(path));
        if !owned {
            merge::remove(&mut merged, path);
        }
    }
    let comparison = compare(live_content, &merged);
    let changed = comparison.changed();
    let mut conflicts = Vec::new();
    for entry in &others {
        for path in entry.fields().intersection(&changed).paths() {
            conflicts.push((entry.describe(), display(path), path.clone()));
        }
    }
    let force = force
        || (!conflicts.is_empty()
            && manager.name == KUBECTL
            && allowed_from_last_applied(live_content)
                .is_some_and(|allowed| conflicts.iter().all(|(_, _, path)| allowed.contains(path))));
    if !conflicts.is_empty() && !force {
        return Err(Conflicts(conflicts.into_iter().map(|(m, p, _)| (m, p)).collect()));
    }
    let object_changed = merged != *live_content;
    let released = changed.union(&comparison.removed);
    let mut entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| !e.same_manager(manager))
        .map(|mut e| {
            e.release(&released);
            e
        })
        .collect();
    let time = if object_changed || last != stated { Some(now.to_string()) } else { previous_time };
    entries.push(Entry::new(manager, Operation::Apply, time, stated));
    entries.retain(|e| !e.is_empty());
    Ok(Applied { content: merged, entries })
}

/// The fields client-side apply last stated that still hold the values it stated: kubectl may take
/// these over from it without a conflict. None without the annotation.
fn allowed_from_last_applied(live: &Map<String, Value>) -> Option<FieldSet> {
    let text = live.get("metadata")?.get("annotations")?.get(LAST_APPLIED_ANNOTATION)?.as_str()?;
    let last_applied: Value = serde_json::from_str(text).ok()?;
    let last_applied = content(&last_applied, Scope::Object { status_apart: false });
    let stated = of_object(&last_applied);
    let comparison = compare(&last_applied, live);
    Some(stated.difference(&comparison.modified).difference(&comparison.added).difference(&comparison.removed))
}

/// kubectl's server-side apply keeps an existing last-applied-configuration annotation equal to what it
/// applied (`config`, the whole applied object), so going back to client-side apply finds the truth there.
pub fn keep_last_applied_current(manager: &Manager, object: &mut Value, config: &Value) {
    if manager.name != KUBECTL || manager.operation != Operation::Apply {
        return;
    }
    let Some(annotations) =
        object.get_mut("metadata").and_then(|m| m.get_mut("annotations")).and_then(Value::as_object_mut)
    else {
        return;
    };
    if annotations.get(LAST_APPLIED_ANNOTATION).and_then(Value::as_str).is_none_or(str::is_empty) {
        return;
    }
    let mut applied = config.clone();
    if let Some(own) = applied.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        own.remove(LAST_APPLIED_ANNOTATION);
    }
    annotations.insert(LAST_APPLIED_ANNOTATION.into(), json!(applied.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        content(&value, Scope::Object { status_apart: true })
    }

    fn by(name: &str, operation: Operation) -> Manager {
        Manager { name: name.into(), operation, subresource: None, api_version: "v1".into() }
    }

    const NOW: &str = "2026-12-05T00:00:00Z";

    #[test]
    fn an_apply_owns_what_it_states_as_kubernetes_records_it() {
        // kubernetes.io's server-side apply page: kubectl applying test-cm records exactly this.
        let config = object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
            "data": {"key": "some value"}}));
        let applied = apply(None, &config, &by("kubectl", Operation::Apply), false, NOW).unwrap();
        assert_eq!(
            applied.entries[0].fields().to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:test-label": {}}}, "f:data": {"f:key": {}}})
        );
        // A create records an Update: the map it added is owned itself (`.`), as kubectl create shows.
        let created = after_update(Vec::new(), None, &config, &by("kubectl-create", Operation::Update), NOW);
        assert_eq!(
            created[0].fields().to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:test-label": {}}}, "f:data": {".": {}, "f:key": {}}})
        );
    }

    #[test]
    fn lists_are_owned_item_by_item_by_their_keys() {
        let config = object(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}], "args": ["a", "b"]}
        ]}}, "selector": {"matchLabels": {"app": "web"}}}}));
        let set = field_set::of_object(&config);
        let fields = set.to_fields_v1();
        let web = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"web"}"#];
        assert_eq!(web["."], json!({}));
        assert_eq!(web["f:args"], json!({}), "args are atomic");
        assert_eq!(web["f:ports"][r#"k:{"containerPort":80,"protocol":"TCP"}"#]["f:containerPort"], json!({}));
        assert_eq!(fields["f:spec"]["f:selector"], json!({}), "a label selector is atomic");
        assert_eq!(FieldSet::from_fields_v1(&fields), Some(set.clone()), "FieldsV1 both ways");
        let image: Vec<String> = ["f:spec", "f:template", "f:spec", "f:containers", r#"k:{"name":"web"}"#, "f:image"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(set.contains(&image));
        assert_eq!(field_set::display(&image), r#".spec.template.spec.containers[name="web"].image"#);
    }

    #[test]
    fn conflicts_read_as_kube_apiserver_writes_them() {
        let live = object(json!({"data": {"x": "1", "y": "1"}}));
        let owner = after_update(Vec::new(), None, &live, &by("writer", Operation::Update), NOW);
        let config = object(json!({"data": {"x": "2", "y": "2"}}));
        let refused =
            apply(Some((&live, owner.clone())), &config, &by("mgr", Operation::Apply), false, NOW).err().unwrap();
        assert_eq!(
            refused.message(),
            "Apply failed with 2 conflicts: conflicts with \"writer\" using v1 at 2026-12-05T00:00:00Z:\n- .data.x\n- .data.y"
        );
        let forced = apply(Some((&live, owner)), &config, &by("mgr", Operation::Apply), true, NOW).unwrap();
        assert_eq!(forced.content, config);
        let writer = forced.entries.iter().find(|e| e.manager == "writer").unwrap();
        assert_eq!(writer.fields().to_fields_v1(), json!({"f:data": {}}), "the writer keeps only the map");
    }

    #[test]
    fn an_updated_object_nobody_tracks_stays_untracked_until_applied() {
        let old = object(json!({"data": {"a": "1"}}));
        let new = object(json!({"data": {"a": "2"}}));
        assert!(after_update(Vec::new(), Some(&old), &new, &by("w", Operation::Update), NOW).is_empty());
        let applied = apply(
            Some((&old, Vec::new())),
            &object(json!({"data": {"b": "1"}})),
            &by("m", Operation::Apply),
            false,
            NOW,
        )
        .unwrap();
        let before = applied.entries.iter().find(|e| e.manager == BEFORE_FIRST_APPLY).unwrap();
        assert!(before.fields().reaches(&["f:data".to_string(), "f:a".to_string()]));
    }

    #[test]
    fn entries_read_are_parsed_only_when_a_write_touches_them() {
        // Key order as read is kept for an entry nobody's write touches; one that loses a field is
        // encoded again.
        let read = json!({"metadata": {"managedFields": [
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:x": {}, ".": {}}}},
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:y": {}}}}]},
            "data": {"x": "1", "y": "1"}});
        let mut new = read.clone();
        new["data"]["y"] = json!("2");
        let writer = by("a", Operation::Update);
        let entries = entries_of(&read).unwrap();
        assert!(entries[0].owns(&["f:data".into()]) && entries[0].owns(&["f:data".into(), "f:x".into()]));
        assert!(!entries[0].owns(&["f:data".into(), "f:y".into()]));
        let scope = Scope::Object { status_apart: true };
        let after = after_update_of(entries, Some(&read), &new, scope, &writer, "2026-12-06T00:00:00Z");
        assert_eq!(after.len(), 1, "b lost its only field");
        assert_eq!(after[0].fields().to_fields_v1(), json!({"f:data": {".": {}, "f:x": {}, "f:y": {}}}));
        // A writer that already owns what it changes keeps its FieldsV1 as read; only the time moves.
        let mut again = new.clone();
        set_entries(&mut again, after);
        let mut newer = again.clone();
        newer["data"]["y"] = json!("3");
        let after = after_update_of(entries_of(&again).unwrap(), Some(&again), &newer, scope, &writer, "later");
        assert!(after[0].raw.is_some() && after[0].time.as_deref() == Some("later"));
        // Not FieldsV1 at all: not managed fields.
        assert!(entries_of(&json!({"metadata": {"managedFields": [{"operation": "Update", "fieldsV1": {"f:a": 1}}]}}))
            .is_none());
    }
}
