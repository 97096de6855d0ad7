//! Server-side apply (PATCH with application/apply-patch+yaml): the configuration merged into the
//! object by field_manager::apply, with its managed fields, then written as any patch is (defaults,
//! admission, validation, the status kept apart); an object not there yet is created.

use serde_json::{json, Map, Value};

use super::admit::well_formed;
use super::field_manager::{self, content, entries_of, set_entries, Operation, Scope};
use super::managed_fields::{manager, scope, Tracking};
use super::update::{name_mismatch, Target};
use super::{served, Part, Patched, Registry, RegistryError, WriteOptions};
use crate::resources::custom_kinds;
use crate::resources::kinds::ResourceKind;
use crate::resources::list_types::with_schema;
use crate::resources::meta;

pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

pub fn is_apply(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == APPLY_PATCH
}

impl Registry {
    /// One attempt of an apply: read, merge, write at the revision read (or create).
    pub(super) fn apply_once(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        body: &[u8],
        part: Part,
        options: &WriteOptions,
    ) -> Result<Patched, RegistryError> {
        let Some(manager_name) = options.field_manager.as_deref() else {
            return Err(RegistryError::field_manager_required());
        };
        let config = applied_configuration(kind, body)?;
        let scope = scope(kind, part);
        let writer = manager(kind, manager_name, Operation::Apply, part);
        let existing = match self.existing(kind, namespace, name) {
            Ok(stored) => Some(stored),
            Err(e) if e.is_not_found() && part == Part::Object => None,
            Err(e) => return Err(e),
        };
        // The object is the one the request names (and was authorized for), whatever the body says: a
        // rename of an existing one is refused as kube-apiserver's validation refuses it.
        if meta::name(&config).is_some_and(|n| n != name) {
            return Err(match existing {
                Some(_) => RegistryError::invalid(kind, name, "metadata.name", "field is immutable"),
                None => name_mismatch(),
            });
        }
        let live = existing.as_ref().map(|s| served(kind, &s.value, s.revision));
        let live_content = live.as_ref().map(|l| content(l, scope));
        let live_entries = live.as_ref().and_then(entries_of).unwrap_or_default();
        let now = meta::now_rfc3339();
        let applied = with_schema(custom_kinds::version_of(kind), || {
            field_manager::apply(
                live_content.as_ref().map(|c| (c, live_entries)),
                &content(&config, scope),
                &writer,
                options.force,
                &now,
            )
        })
        .map_err(RegistryError::ApplyConflict)?;
        let base = live.clone().unwrap_or_else(
            || json!({"apiVersion": kind.api_version(), "kind": kind.kind, "metadata": {"name": name}}),
        );
        let mut object = with_content(base, applied.content, scope);
        set_entries(&mut object, applied.entries);
        field_manager::keep_last_applied_current(&writer, &mut object, &config);
        let (Some(existing), Some(live)) = (existing, live) else {
            return match self.create_tracked(kind, namespace, object, options, Tracking::Keep) {
                Ok(object) => Ok(Patched { object, created: true }),
                // Created meanwhile by another write: apply to that one.
                Err(e) if e.already_exists() => Err(RegistryError::Conflict { kind, name: name.into() }),
                Err(e) => Err(e),
            };
        };
        let target = Target { kind, namespace, name, revision: existing.revision };
        self.write_patched(&target, live, object, part, options, Tracking::Keep)
    }
}

/// The body of an apply: a YAML (or JSON) object of the request's kind, without
/// managed fields of its own.
fn applied_configuration(kind: &'static ResourceKind, body: &[u8]) -> Result<Value, RegistryError> {
    let config: Value = crate::yaml::from_str(&String::from_utf8_lossy(body))
        .map_err(|e| RegistryError::BadRequest(format!("error decoding YAML: {e}")))?;
    well_formed(kind, &config)?;
    if config.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(RegistryError::BadRequest("metadata.managedFields must be nil".into()));
    }
    Ok(config)
}

/// `object` with the part `scope` covers replaced by `applied` (its identity and bookkeeping kept).
fn with_content(mut object: Value, mut applied: Map<String, Value>, scope: Scope) -> Value {
    let Some(map) = object.as_object_mut() else { return object };
    let covered = |key: &str| match scope {
        Scope::Status => key == "status",
        Scope::Object { status_apart } => {
            !(matches!(key, "apiVersion" | "kind" | "metadata") || status_apart && key == "status")
        }
    };
    map.retain(|k, _| !covered(k));
    let applied_metadata = applied.remove("metadata");
    if scope != Scope::Status {
        let metadata = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            // The live object's identity and bookkeeping stay; what is managed comes from the apply.
            metadata.retain(|k, _| field_manager::UNMANAGED_METADATA.contains(&k.as_str()));
            if let Some(Value::Object(fields)) = applied_metadata {
                metadata.extend(fields);
            }
        }
    }
    map.extend(applied);
    object
}
