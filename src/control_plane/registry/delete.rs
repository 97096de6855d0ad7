//! Delete: preconditions, graceful deletion (the kind's), finalizers that hold the object marked until
//! the controllers that own them let go (foreground and orphan propagation), and what leaving the store
//! frees, freed in the same write.

use crate::control_plane::admission::Operation;
use serde_json::{json, Value};

use super::admit::finalizers;
use super::error::describe;
use super::guaranteed::guaranteed;
use super::strategy::for_kind;
use super::webhooks::Write;
use super::Part;
use super::{served, Context, Registry, RegistryError};
use crate::control_plane::store::{StoreError, Stored, Txn};
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

/// Delete `key` (an object of `kind`, as the caller read it: `object` at `revision`) from the store, with
/// what the object held (its kind's `released`) in the same transaction, then do what follows its
/// deletion; the object as it was. With `precondition`, only at that revision; without, an object written
/// since the caller's read is read again and deleted as it is then.
pub(super) fn take_out(
    ctx: &Context,
    kind: &ResourceKind,
    key: &str,
    (object, revision): (&Value, u64),
    precondition: Option<u64>,
) -> Result<Stored, StoreError> {
    let strategy = for_kind(kind);
    let mut reread: Option<(Value, u64)> = None;
    loop {
        let (object, revision) = reread.as_ref().map_or((object, revision), |(o, r)| (o, *r));
        let txn = Txn::delete(key, Some(precondition.unwrap_or(revision))).and(strategy.released(object));
        match ctx.store.txn(txn) {
            Ok(events) => {
                let event = &events[0];
                let old = Stored { key: event.key.clone(), value: event.value.clone(), revision: event.revision };
                strategy.after_delete(ctx, &old);
                return Ok(old);
            }
            Err(StoreError::Conflict { .. }) if precondition.is_none() => {
                let current = ctx.store.get(key)?.ok_or_else(|| StoreError::NotFound(key.into()))?;
                reread = Some((serde_json::from_slice(&current.value).unwrap_or(Value::Null), current.revision));
            }
            Err(e) => return Err(e),
        }
    }
}

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// metav1.DeleteOptions, as far as they are honoured here.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub preconditions: Option<Preconditions>,
    pub propagation_policy: Option<String>,
    /// The pre-1.7 spelling of propagationPolicy Orphan (true) / Background (false).
    pub orphan_dependents: Option<bool>,
    /// `All`: answer as if deleted, delete nothing.
    #[serde(default)]
    pub dry_run: Vec<String>,
    /// Who asks (None: the server itself), for the admission webhooks' reviews.
    #[serde(skip)]
    pub user: Option<super::User>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl Registry {
    /// Delete the object (or mark it, when finalizers or graceful deletion hold it); returns it as it
    /// was deleted or as it is now marked.
    pub fn delete(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        options: DeleteOptions,
    ) -> Result<Value, RegistryError> {
        if options.dry_run.iter().any(|d| d == "All") {
            return self.get(kind, namespace, name);
        }
        let precondition = options.preconditions.as_ref().is_some_and(|p| p.resource_version.is_some());
        guaranteed(precondition, || self.delete_once(kind, namespace, name, &options))
    }

    /// One attempt of a delete: read, check the preconditions, mark or remove at the revision read.
    fn delete_once(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Value, RegistryError> {
        let existing = self.existing(kind, namespace, name)?;
        let object: Value = serde_json::from_slice(&existing.value).unwrap_or(Value::Null);
        let preconditions = options.preconditions.clone().unwrap_or_default();
        // kube-apiserver's storage.Preconditions.Check, answered 409 as it answers them.
        if let Some(uid) = preconditions.uid {
            let actual = object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
            if actual != uid {
                return Err(RegistryError::Precondition(format!(
                    "Operation cannot be fulfilled on {}: Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}",
                    describe(kind, name)
                )));
            }
        }
        if let Some(version) = preconditions.resource_version {
            if version != existing.revision.to_string() {
                return Err(RegistryError::Precondition(format!(
                    "Operation cannot be fulfilled on {}: Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
                    describe(kind, name),
                    existing.revision
                )));
            }
        }
        let write = Write {
            kind,
            namespace,
            name,
            part: Part::Object,
            operation: Operation::Delete,
            dry_run: false,
            user: options.user.as_ref(),
        };
        // A deletion already under way (finalizers, grace) was admitted when it began.
        if !meta::is_deleting(&object) {
            self.delete_through_webhooks(&write, &object)?;
        }
        let strategy = for_kind(kind);
        if let Some(marked) = strategy.graceful_deletion(&object, options.grace_period_seconds) {
            return self.write_marked(kind, name, &existing, &object, marked);
        }
        let policy = options
            .propagation_policy
            .clone()
            .or(options.orphan_dependents.map(|o| if o { "Orphan".into() } else { "Background".into() }))
            .unwrap_or_else(|| strategy.default_propagation().into());
        let finalizer = match policy.as_str() {
            "Foreground" => Some(FOREGROUND_FINALIZER),
            "Orphan" => Some(ORPHAN_FINALIZER),
            "Background" => None,
            other => {
                return Err(RegistryError::invalid(
                    kind,
                    name,
                    "propagationPolicy",
                    format!(
                        "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    ),
                ))
            }
        };
        // Finalizers hold the object (marked) until the controllers that own them let go.
        let mut marked = object.clone();
        if let Some(f) = finalizer {
            meta::add_finalizer(&mut marked, f);
        }
        if !finalizers(&marked).is_empty() {
            if marked.pointer("/metadata/deletionTimestamp").is_none() {
                marked["metadata"]["deletionTimestamp"] = json!(meta::now_rfc3339());
                marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            }
            return self.write_marked(kind, name, &existing, &object, marked);
        }
        self.remove(kind, &existing.key, name, &object, existing.revision)
    }

    /// Take the object (`object`, as read) out of the store, only at `expected`, and free what it held.
    pub(super) fn remove(
        &self,
        kind: &'static ResourceKind,
        key: &str,
        name: &str,
        object: &Value,
        expected: u64,
    ) -> Result<Value, RegistryError> {
        let old = take_out(&self.context(), kind, key, (object, expected), Some(expected))
            .map_err(|e| RegistryError::from_store(kind, name, e))?;
        Ok(served(kind, &old.value, old.revision))
    }

    /// A deletion that only marks the object: the marked object is written, or, when it is already
    /// marked so, answered as it is with nothing written.
    fn write_marked(
        &self,
        kind: &'static ResourceKind,
        name: &str,
        existing: &Stored,
        object: &Value,
        marked: Value,
    ) -> Result<Value, RegistryError> {
        if marked == *object {
            return Ok(served(kind, &existing.value, existing.revision));
        }
        let bytes = serde_json::to_vec(&marked).expect("json");
        let revision = self
            .store()
            .update(&existing.key, &bytes, Some(existing.revision))
            .map_err(|e| RegistryError::from_store(kind, name, e))?;
        Ok(served(kind, &bytes, revision))
    }
}
