//! Update (PUT) and patch: optimistic concurrency on resourceVersion, the fields only the server sets
//! kept, the status apart from the main resource, the generation counted, and the end of a deletion
//! whose last finalizer was just removed.

use serde_json::{json, Value};

use super::admit::{admit, finalizers, strict_fields, well_formed};
use super::apply::is_apply;
use super::guaranteed::{self, guaranteed};
use super::managed_fields::Tracking;
use super::strategy::{for_kind, Strategy};
use super::webhooks::Write;
use super::{client_form, served, stored_form, Registry, RegistryError, WriteOptions};
use crate::control_plane::admission::Operation;
use crate::control_plane::store::Stored;
use crate::resources::kinds::ResourceKind;
use crate::resources::{meta, patch};

/// A patch's result: the object, and whether the patch created it (an apply of an object not there yet).
#[derive(Debug)]
pub struct Patched {
    pub object: Value,
    pub created: bool,
}

/// The object a patch writes, as read: at `revision`.
pub(super) struct Target<'a> {
    pub kind: &'static ResourceKind,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub revision: u64,
}

/// Which part of the object a write replaces: the object (its status kept, for kinds with a status
/// subresource) or only the status (`/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Object,
    Status,
}

impl Registry {
    /// Replace the object `object` names (PUT); its resourceVersion, when set, is the precondition
    /// (without one, a write that another came between is made again on the object as it is then).
    pub fn update(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        object: Value,
        part: Part,
        options: WriteOptions,
    ) -> Result<Value, RegistryError> {
        let new = stored_form(kind, object);
        if meta::name(&new) != Some(name) {
            return Err(name_mismatch());
        }
        let precondition = meta::resource_version(&new);
        guaranteed(precondition.is_some(), || {
            let existing = self.existing(kind, namespace, name)?;
            if precondition.is_some_and(|expected| expected != existing.revision) {
                return Err(RegistryError::Conflict { kind, name: name.into() });
            }
            let old: Value = serde_json::from_slice(&existing.value).unwrap_or(Value::Null);
            well_formed(kind, &new)?;
            strict_fields(kind, options.strict_fields, &new)?;
            let merged = merge_update(kind, for_kind(kind), &old, new.clone(), part);
            let at = (existing.revision, false);
            self.write_update(kind, namespace, name, &old, merged, at, part, &options, Tracking::Update)
        })
    }

    /// Patch the object with `body` of `content_type` (JSON, merge, strategic merge, apply). An apply of
    /// an object not there yet creates it (`created`).
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        body: &[u8],
        content_type: &str,
        part: Part,
        options: WriteOptions,
    ) -> Result<Patched, RegistryError> {
        let precondition = guaranteed::patch_has_precondition(body, content_type);
        guaranteed(precondition, || {
            if is_apply(content_type) {
                return self.apply_once(kind, namespace, name, body, part, &options);
            }
            self.patch_once(kind, namespace, name, body, content_type, part, &options)
        })
    }

    /// One attempt of a patch: read, patch, write at the revision read.
    #[allow(clippy::too_many_arguments)]
    fn patch_once(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        body: &[u8],
        content_type: &str,
        part: Part,
        options: &WriteOptions,
    ) -> Result<Patched, RegistryError> {
        let existing = self.existing(kind, namespace, name)?;
        let old = served(kind, &existing.value, existing.revision);
        let patched = patch::apply(&old, body, content_type).map_err(|e| match e {
            patch::PatchError::Unsupported(t) => RegistryError::UnsupportedPatch(t),
            e => RegistryError::PatchInvalid(e.to_string()),
        })?;
        if meta::resource_version(&patched).is_some_and(|given| given != existing.revision) {
            return Err(RegistryError::Conflict { kind, name: name.into() });
        }
        let target = Target { kind, namespace, name, revision: existing.revision };
        self.write_patched(&target, old, patched, part, options, Tracking::Update)
    }

    /// Write a patch's result (`patched`, made from `old`, both as the client reads them) over the
    /// object read at `target.revision`: checked and merged as the store keeps it; nothing is written when
    /// it changes nothing.
    pub(super) fn write_patched(
        &self,
        target: &Target,
        old: Value,
        patched: Value,
        part: Part,
        options: &WriteOptions,
        tracking: Tracking,
    ) -> Result<Patched, RegistryError> {
        let kind = target.kind;
        let (old, patched) = (stored_form(kind, old), stored_form(kind, patched));
        well_formed(kind, &patched)?;
        strict_fields(kind, options.strict_fields, &patched)?;
        let merged = merge_update(kind, for_kind(kind), &old, patched, part);
        let unchanged = {
            let (mut a, mut b) = (old.clone(), merged.clone());
            meta::strip_resource_version(&mut a);
            meta::strip_resource_version(&mut b);
            a == b
        };
        let at = (target.revision, unchanged);
        let (namespace, name) = (target.namespace, target.name);
        let object = self.write_update(kind, namespace, name, &old, merged, at, part, options, tracking)?;
        Ok(Patched { object, created: false })
    }

    /// The stored object, or NotFound.
    pub(super) fn existing(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Stored, RegistryError> {
        match self.store().get(&kind.key(namespace, name)) {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(RegistryError::NotFound { kind, name: name.into() }),
            Err(e) => Err(RegistryError::from_store(kind, name, e)),
        }
    }

    /// Write `merged` over `old` (stored at `expected`; `unchanged` when the write changes nothing).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_update(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        old: &Value,
        merged: Value,
        (expected, unchanged): (u64, bool),
        part: Part,
        options: &WriteOptions,
        tracking: Tracking,
    ) -> Result<Value, RegistryError> {
        if meta::name(&merged) != Some(name) {
            return Err(RegistryError::invalid(kind, name, "metadata.name", "field is immutable"));
        }
        let strategy = for_kind(kind);
        let mut object = admit(self.store(), kind, strategy, namespace, merged, false)?;
        if !unchanged {
            let write = Write {
                kind,
                namespace,
                name,
                part,
                operation: Operation::Update,
                dry_run: options.dry_run,
                user: options.user.as_ref(),
            };
            self.through_webhooks(&write, strategy, &mut object, Some(old))?;
            self.track(kind, Some(old), &mut object, options, part, tracking)?;
        }
        let deleting = object.pointer("/metadata/deletionTimestamp").is_some();
        if deleting {
            if let Some(added) = finalizers(&object).into_iter().find(|f| !finalizers(old).contains(f)) {
                return Err(RegistryError::invalid(
                    kind,
                    name,
                    "metadata.finalizers",
                    format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [{added}]"),
                ));
            }
        }
        let key = kind.key(namespace, name);
        // The last finalizer of an object being deleted is gone: the deletion completes now (a pod in
        // graceful deletion, grace > 0, is left to its node's agent).
        let grace = object.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0);
        if deleting
            && grace == 0
            && finalizers(&object).is_empty()
            && !strategy.holds_deletion(&object)
            && !options.dry_run
        {
            return self.remove(kind, &key, name, old, expected);
        }
        if unchanged || options.dry_run {
            meta::set_resource_version(&mut object, expected);
            return Ok(client_form(kind, object));
        }
        let (mut object, revision) =
            self.write_object(kind, name, &key, object, Some((old, expected)), part == Part::Object)?;
        meta::set_resource_version(&mut object, revision);
        Ok(client_form(kind, object))
    }
}

/// A body that names another object than the request.
pub(super) fn name_mismatch() -> RegistryError {
    RegistryError::BadRequest("the name of the object does not match the name on the URL".into())
}

/// What an update may change merged into the stored object: of the status part only the status; of
/// the object everything but the status (for kinds with a status subresource), and never what only the
/// server sets.
fn merge_update(kind: &ResourceKind, strategy: &dyn Strategy, old: &Value, mut new: Value, part: Part) -> Value {
    if part == Part::Status {
        let mut merged = old.clone();
        merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        return merged;
    }
    for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old.pointer(&format!("/metadata/{field}")) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    strategy.spec_defaults(kind, &mut new);
    strategy.prepare_for_update(&mut new);
    if strategy.tracks_generation() && strategy.spec_changed(old, &new) {
        let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        new["metadata"]["generation"] = json!(generation + 1);
    }
    if strategy.status_is_subresource(kind) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    new
}
