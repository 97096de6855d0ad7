//! Kubernetes' namespace controller: a namespace being deleted (Terminating) has everything in it
//! deleted, each object as a delete by name would delete it (finalizers and graceful deletion
//! respected), and once nothing the controllers follow is left its `kubernetes` finalizer is taken
//! from spec.finalizers, which ends the deletion (the registry then sweeps what no controller follows:
//! Events).

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::control_plane::registry::kinds::namespace::{spec_finalizers, KUBERNETES_FINALIZER};
use crate::control_plane::runtime::{Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta::is_deleting;

pub struct NamespaceController;

fn namespaces() -> &'static ResourceKind {
    kinds::served("", "namespaces")
}

/// The namespaced objects the cache holds in `namespace`, with their kinds.
fn contents<'a>(cache: &'a Cache, namespace: &'a str) -> impl Iterator<Item = (&'static ResourceKind, &'a Value)> + 'a {
    let mut seen = std::collections::BTreeSet::new();
    kinds::all().into_iter().filter(|k| k.namespaced).flat_map(move |kind| {
        // Kinds served in two versions share one store prefix: list it once.
        let fresh = seen.insert(kind.prefix(None));
        fresh.then(|| cache.list(kind, Some(namespace)).map(move |o| (kind, o.as_ref()))).into_iter().flatten()
    })
}

impl Reconciler for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&namespaces().prefix(None)) {
            return vec![change.key.clone()];
        }
        // Something in a namespace went or changed: a namespace waiting for it to go looks again.
        let object = change.new.as_ref().or(change.old.as_ref());
        let Some(namespace) = object.and_then(|o| o.pointer("/metadata/namespace")).and_then(Value::as_str) else {
            return Vec::new();
        };
        let key = namespaces().key(None, namespace);
        match cache.get(&key) {
            Some(ns) if is_deleting(ns) => vec![key],
            _ => Vec::new(),
        }
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(namespace) = cache.get(key) else { return plan };
        if !is_deleting(namespace) || !spec_finalizers(namespace).contains(&KUBERNETES_FINALIZER) {
            return plan;
        }
        let name = namespace.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let mut left = 0;
        for (kind, object) in contents(cache, name) {
            left += 1;
            if !is_deleting(object) {
                plan.push(Action::delete(kind, object, Some("Background"), None));
            }
        }
        if left == 0 {
            let mut finalized = namespace.as_ref().clone();
            let rest: Vec<&str> =
                spec_finalizers(namespace).into_iter().filter(|f| *f != KUBERNETES_FINALIZER).collect();
            finalized["spec"]["finalizers"] = json!(rest);
            plan.push(Action::Update { kind: namespaces(), object: finalized });
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_terminating_namespace_is_emptied_then_finalized() {
        let mut cache = Cache::default();
        let ns_key = namespaces().key(None, "gone");
        let terminating = json!({"metadata": {"name": "gone", "uid": "n1", "deletionTimestamp": "2026-12-06T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}});
        cache.apply(&ns_key, Some(Arc::new(terminating)));
        let configmaps = kinds::served("", "configmaps");
        let cm_key = configmaps.key(Some("gone"), "settings");
        cache.apply(
            &cm_key,
            Some(Arc::new(json!({"metadata": {"name": "settings", "namespace": "gone", "uid": "c1"}}))),
        );
        let now = OffsetDateTime::now_utc();
        let plan = NamespaceController.reconcile(&ns_key, &cache, now);
        assert_eq!(plan.actions.len(), 1);
        assert!(matches!(&plan.actions[0], Action::Delete { name, .. } if name == "settings"));
        cache.apply(&cm_key, None);
        let plan = NamespaceController.reconcile(&ns_key, &cache, now);
        let Action::Update { object, .. } = &plan.actions[0] else { panic!("{:?}", plan.actions) };
        assert_eq!(object["spec"]["finalizers"], json!([]));
    }
}
