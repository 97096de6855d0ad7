//! Where the registry records who wrote what (field_manager/): each create, update and patch gives its
//! writer the fields it added or changed; an apply has set them already.

use serde_json::Value;

use super::field_manager::{after_update_of, entries_of, set_entries, Entry, Manager, Operation, Scope};
use super::strategy::for_kind;
use super::{Part, Registry, RegistryError, WriteOptions};
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

/// How a write's managed fields are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tracking {
    /// The writer takes what its write added or changed.
    Update,
    /// An apply set them on the object already.
    Keep,
}

/// The part of an object `part` writes, as the field manager counts it.
pub(super) fn scope(kind: &ResourceKind, part: Part) -> Scope {
    match part {
        Part::Status => Scope::Status,
        Part::Object => Scope::Object { status_apart: for_kind(kind).status_is_subresource(kind) },
    }
}

/// Who writes `part` of an object of `kind`, by `operation`.
pub(super) fn manager(kind: &ResourceKind, name: &str, operation: Operation, part: Part) -> Manager {
    Manager {
        name: name.to_string(),
        operation,
        subresource: (part == Part::Status).then(|| "status".to_string()),
        api_version: kind.api_version(),
    }
}

/// The entries a write starts from: the old object's, unless the request replaced them. `[]` (or none
/// sent) keeps them, as kube-apiserver does so that clients unaware of the field never strip it; other
/// entries replace them, and entries that are not managedFields (`[{}]`) reset them.
fn starting_entries(old: Option<&Value>, new: &Value) -> Vec<Entry> {
    let old_entries = || old.and_then(entries_of).unwrap_or_default();
    match new.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => old_entries(),
        Some(Value::Array(given)) if given.is_empty() => old_entries(),
        Some(given) if Some(given) == old.and_then(|o| o.pointer("/metadata/managedFields")) => old_entries(),
        Some(_) => entries_of(new).unwrap_or_default(),
    }
}

impl Registry {
    /// Set `object`'s managed fields for a write of `part` from `old` (None: a create).
    pub(super) fn track(
        &self,
        kind: &ResourceKind,
        old: Option<&Value>,
        object: &mut Value,
        options: &WriteOptions,
        part: Part,
        tracking: Tracking,
    ) -> Result<(), RegistryError> {
        if tracking == Tracking::Keep {
            return Ok(());
        }
        let entries = starting_entries(old, object);
        let entries = match &options.field_manager {
            Some(name) => {
                let scope = scope(kind, part);
                let writer = manager(kind, name, Operation::Update, part);
                let version = crate::resources::custom_kinds::version_of(kind);
                crate::resources::list_types::with_schema(version, || {
                    after_update_of(entries, old, object, scope, &writer, &meta::now_rfc3339())
                })
            }
            // The server's own writes at start name no manager: they change no one's fields.
            None => entries,
        };
        set_entries(object, entries);
        Ok(())
    }
}
