//! Namespaces: Active from the start with the `kubernetes` finalizer in spec.finalizers, as
//! kube-apiserver makes them. Deleting one marks it Terminating (deletionTimestamp, status.phase); the
//! namespace controller (controllers/namespace.rs) deletes what is in it, finalizers respected, then
//! takes its `kubernetes` finalizer away, and the namespace goes with whatever no controller follows
//! (its Events).

use serde_json::{json, Value};

use crate::control_plane::registry::delete::take_out;
use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;
use crate::control_plane::store::Stored;
use crate::resources::meta;

/// The finalizer kube-apiserver puts in every namespace's spec.finalizers.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

pub struct NamespaceStrategy;

/// The finalizers a namespace's spec holds.
pub fn spec_finalizers(namespace: &Value) -> Vec<&str> {
    namespace
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A namespace being deleted (nothing may be created in it).
pub fn is_terminating(namespace: &Value) -> bool {
    namespace.pointer("/metadata/deletionTimestamp").is_some()
        || namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
}

impl Strategy for NamespaceStrategy {
    fn prepare_for_create(&self, _ctx: &Context, object: &mut Value) {
        if object.pointer("/status/phase").is_none() {
            object["status"] = json!({"phase": "Active"});
        }
        if object.pointer("/spec/finalizers").is_none() {
            object["spec"]["finalizers"] = json!([KUBERNETES_FINALIZER]);
        }
    }

    /// While its spec holds finalizers, a deleted namespace is only marked Terminating.
    fn graceful_deletion(&self, object: &Value, _requested_grace: Option<i64>) -> Option<Value> {
        if spec_finalizers(object).is_empty() {
            return None;
        }
        let mut marked = object.clone();
        if marked.pointer("/metadata/deletionTimestamp").is_none() {
            marked["metadata"]["deletionTimestamp"] = json!(meta::now_rfc3339());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        marked["status"]["phase"] = json!("Terminating");
        Some(marked)
    }

    fn holds_deletion(&self, object: &Value) -> bool {
        !spec_finalizers(object).is_empty()
    }

    fn after_delete(&self, ctx: &Context, old: &Stored) {
        let object: Value = serde_json::from_slice(&old.value).unwrap_or(Value::Null);
        let namespace = meta::name(&object).unwrap_or_default();
        for kind in crate::resources::kinds::all().into_iter().filter(|k| k.namespaced) {
            let Ok((items, _)) = ctx.store.list(&kind.prefix(Some(namespace))) else { continue };
            for item in items {
                let object: Value = serde_json::from_slice(&item.value).unwrap_or(Value::Null);
                // Gone already (deleted meanwhile) is what was wanted.
                let _ = take_out(ctx, kind, &item.key, (&object, item.revision), None);
            }
        }
    }
}
