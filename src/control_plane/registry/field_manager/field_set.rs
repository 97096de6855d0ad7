//! Sets of field paths, as structured-merge-diff keeps them: a path is a list of elements written as
//! FieldsV1 writes them — `f:name` (a field), `k:{"name":"web"}` (a map-list item by its keys),
//! `v:"x"` (a set item by its value). A set holds the paths of the fields someone owns: leaves, and the
//! items and objects owned as such (FieldsV1's `.`). Here the set of an object (what an apply states),
//! the comparison of two objects (what a write added, changed, removed), and FieldsV1 both ways.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::resources::list_types::{atomic_object, key_default, list_type, ListType};

pub type Path = Vec<String>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, path: &[String]) {
        self.0.insert(path.to_vec());
    }

    pub fn contains(&self, path: &[String]) -> bool {
        self.0.contains(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Whether the set holds `path` or anything beneath it.
    pub fn reaches(&self, path: &[String]) -> bool {
        self.0.range(path.to_vec()..).next().is_some_and(|p| p.starts_with(path))
    }

    /// The set as FieldsV1: nested objects, `{}` for a path that ends there, `.` for an owned node that
    /// also has owned fields beneath it.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for element in path {
                node = node
                    .entry(element.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("object");
            }
            if !node.is_empty() {
                node.insert(".".into(), Value::Object(Map::new()));
            }
        }
        // A node first written as a leaf that later got children needs its `.` too.
        fn mark(node: &mut Map<String, Value>, owned: &BTreeSet<Path>, path: &mut Path) {
            for (key, child) in node.iter_mut() {
                if key == "." {
                    continue;
                }
                path.push(key.clone());
                if let Some(child) = child.as_object_mut() {
                    if !child.is_empty() && owned.contains(path) {
                        child.insert(".".into(), Value::Object(Map::new()));
                    }
                    mark(child, owned, path);
                }
                path.pop();
            }
        }
        mark(&mut root, &self.0, &mut Vec::new());
        Value::Object(root)
    }

    /// The set FieldsV1 `fields` describes; None when it is not FieldsV1.
    pub fn from_fields_v1(fields: &Value) -> Option<FieldSet> {
        fn walk(node: &Map<String, Value>, path: &mut Path, out: &mut BTreeSet<Path>) -> Option<()> {
            for (key, child) in node {
                if key == "." {
                    out.insert(path.clone());
                    continue;
                }
                let child = child.as_object()?;
                path.push(key.clone());
                if child.is_empty() {
                    out.insert(path.clone());
                } else {
                    walk(child, path, out)?;
                }
                path.pop();
            }
            Some(())
        }
        let mut out = BTreeSet::new();
        walk(fields.as_object()?, &mut Vec::new(), &mut out)?;
        Some(FieldSet(out))
    }
}

/// Whether `fields` is FieldsV1: objects all the way down.
pub fn is_fields_v1(fields: &Value) -> bool {
    fields.as_object().is_some_and(|map| map.values().all(is_fields_v1))
}

/// Whether the FieldsV1 `fields` owns `path` itself: its node is there and ends there or is marked `.`.
pub fn fields_v1_holds(fields: &Value, path: &[String]) -> bool {
    if path.is_empty() {
        return fields.get(".").is_some();
    }
    let mut node = fields;
    for element in path {
        match node.get(element) {
            Some(child) => node = child,
            None => return false,
        }
    }
    node.as_object().is_some_and(|map| map.is_empty() || map.contains_key("."))
}

/// A path as Kubernetes prints it in a conflict: `.spec.containers[name="web"].image`.
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(keys) = element.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", keys.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else {
            out.push_str(element);
        }
    }
    out
}

pub fn field(name: &str) -> String {
    format!("f:{name}")
}

/// The path element of a map-list item: its keys (defaults for keys it leaves out), as FieldsV1 writes
/// them (JSON, keys sorted).
pub fn item_key(item: &Value, keys: &[&str]) -> String {
    let mut map = Map::new();
    for key in keys {
        if let Some(value) = item.get(*key).cloned().or_else(|| key_default(key)) {
            map.insert(key.to_string(), value);
        }
    }
    format!("k:{}", Value::Object(map))
}

pub fn set_item(value: &Value) -> String {
    format!("v:{value}")
}

/// What an object's node is in a schema's eyes, from its field name and the names above it.
pub(super) enum Node<'a> {
    /// Replaced whole and owned as one field: scalars, atomic lists and objects.
    Leaf,
    Fields(&'a Map<String, Value>),
    Items(&'a [Value], ListType),
}

pub(super) fn node<'a>(names: &[&str], value: &'a Value) -> Node<'a> {
    let field = names.last().copied().unwrap_or("");
    match value {
        Value::Object(map) if !atomic_object(&names[..names.len().saturating_sub(1)], field) => Node::Fields(map),
        Value::Array(items) => match list_type(&names[..names.len().saturating_sub(1)], field) {
            ListType::Atomic => Node::Leaf,
            t => Node::Items(items, t),
        },
        _ => Node::Leaf,
    }
}

/// The path element of each item of a list of type `list`.
pub(super) fn item_element(item: &Value, list: ListType) -> String {
    match list {
        ListType::Map(keys) => item_key(item, keys),
        _ => set_item(item),
    }
}

/// The fields `object` states, as an apply's set: each leaf, each list item, each empty object.
pub fn of_object(object: &Map<String, Value>) -> FieldSet {
    fn fields(map: &Map<String, Value>, names: &mut Vec<String>, path: &mut Path, out: &mut FieldSet) {
        for (key, value) in map {
            names.push(key.clone());
            path.push(field(key));
            walk(value, names, path, out);
            path.pop();
            names.pop();
        }
    }
    fn walk(value: &Value, names: &mut Vec<String>, path: &mut Path, out: &mut FieldSet) {
        let view: Vec<&str> = names.iter().map(String::as_str).collect();
        match node(&view, value) {
            Node::Leaf => out.insert(path),
            // An empty object is stated as such: it is owned itself.
            Node::Fields(map) if map.is_empty() => out.insert(path),
            Node::Fields(map) => fields(map, names, path, out),
            Node::Items(items, list) => {
                for item in items {
                    path.push(item_element(item, list));
                    if let (ListType::Map(_), Some(map)) = (list, item.as_object()) {
                        fields(map, names, path, out);
                    }
                    out.insert(path);
                    path.pop();
                }
            }
        }
    }
    let mut out = FieldSet::default();
    fields(object, &mut Vec::new(), &mut Vec::new(), &mut out);
    out
}

/// What changed from `old` to `new`: the paths added, modified and removed (an object or item added or
/// removed is named itself, as are its fields).
#[derive(Debug, Default)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Added or modified: what the write took from whoever owned it.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

/// Which fields a comparison leaves out: called with the names above a field and its own.
pub type Ignore<'i> = &'i dyn Fn(&[&str], &str) -> bool;

fn nothing_ignored(_: &[&str], _: &str) -> bool {
    false
}

pub fn compare(old: &Map<String, Value>, new: &Map<String, Value>) -> Comparison {
    compare_without(old, new, &nothing_ignored)
}

/// `compare`, leaving out the fields `ignore` names (without copying the objects to strip them).
pub fn compare_without(old: &Map<String, Value>, new: &Map<String, Value>, ignore: Ignore) -> Comparison {
    let mut out = Comparison::default();
    compare_fields(old, new, &mut Vec::new(), &mut Vec::new(), &mut out, ignore);
    out
}

// Equal subtrees are skipped before anything is allocated for them: most writes change a few fields of
// a big object.
fn compare_fields<'a>(
    old: &'a Map<String, Value>,
    new: &'a Map<String, Value>,
    names: &mut Vec<&'a str>,
    path: &mut Path,
    out: &mut Comparison,
    ignore: Ignore,
) {
    let added = new.keys().filter(|k| !old.contains_key(*k));
    for key in old.keys().chain(added) {
        let (a, b) = (old.get(key), new.get(key));
        if a == b || ignore(names, key) {
            continue;
        }
        names.push(key);
        path.push(field(key));
        compare_values(a, b, names, path, out, ignore);
        path.pop();
        names.pop();
    }
}

fn compare_values<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    names: &mut Vec<&'a str>,
    path: &mut Path,
    out: &mut Comparison,
    ignore: Ignore,
) {
    let old_node = old.map(|v| node(names, v));
    let new_node = new.map(|v| node(names, v));
    match (old_node, new_node) {
        (Some(Node::Fields(a)), Some(Node::Fields(b))) => compare_fields(a, b, names, path, out, ignore),
        (Some(Node::Fields(a)), None) => {
            compare_fields(a, &EMPTY, names, path, out, ignore);
            out.removed.insert(path);
        }
        (None, Some(Node::Fields(b))) => {
            compare_fields(&EMPTY, b, names, path, out, ignore);
            out.added.insert(path);
        }
        (Some(Node::Items(a, list)), Some(Node::Items(b, _))) => compare_items(a, b, list, names, path, out, ignore),
        (Some(Node::Items(a, list)), None) => {
            compare_items(a, &[], list, names, path, out, ignore);
            out.removed.insert(path);
        }
        (None, Some(Node::Items(b, list))) => {
            compare_items(&[], b, list, names, path, out, ignore);
            out.added.insert(path);
        }
        (None, None) => {}
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        (Some(_), Some(_)) => {
            if old != new {
                out.modified.insert(path);
            }
        }
    }
}

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// A list's items with their path elements.
fn elements_of(items: &[Value], list: ListType) -> Vec<(String, &Value)> {
    items.iter().map(|item| (item_element(item, list), item)).collect()
}

fn compare_items<'a>(
    old: &'a [Value],
    new: &'a [Value],
    list: ListType,
    names: &mut Vec<&'a str>,
    path: &mut Path,
    out: &mut Comparison,
    ignore: Ignore,
) {
    let (old, new) = (elements_of(old, list), elements_of(new, list));
    let mut elements: Vec<&String> = old.iter().map(|(e, _)| e).collect();
    elements.extend(new.iter().map(|(e, _)| e).filter(|e| !old.iter().any(|(o, _)| o == *e)));
    for element in elements {
        let a: Option<&Value> = old.iter().find(|(e, _)| e == element).map(|(_, v)| *v);
        let b: Option<&Value> = new.iter().find(|(e, _)| e == element).map(|(_, v)| *v);
        if a == b {
            continue;
        }
        path.push(element.clone());
        match (list, a.and_then(Value::as_object), b.and_then(Value::as_object)) {
            (ListType::Map(_), a_map, b_map) if a_map.is_some() || b_map.is_some() => {
                compare_fields(a_map.unwrap_or(&*EMPTY), b_map.unwrap_or(&*EMPTY), names, path, out, ignore);
                if a.is_none() {
                    out.added.insert(path);
                } else if b.is_none() {
                    out.removed.insert(path);
                }
            }
            _ => match (a, b) {
                (None, Some(_)) => out.added.insert(path),
                (Some(_), None) => out.removed.insert(path),
                (Some(x), Some(y)) if x != y => out.modified.insert(path),
                _ => {}
            },
        }
        path.pop();
    }
}
