//! Kubernetes' pvc-protection and pv-protection controllers: a claim being deleted keeps its
//! `kubernetes.io/pvc-protection` finalizer while a pod that has not finished uses it, and a volume being
//! deleted keeps `kubernetes.io/pv-protection` while it is Bound — so data is never pulled from under a
//! running pod.

use serde_json::Value;
use time::OffsetDateTime;

use super::volume_binder::{claims, volumes};
use crate::control_plane::runtime::{Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds;
use crate::resources::meta::{has_finalizer, is_deleting, without_finalizer};
use crate::resources::pod::is_terminal;
use crate::resources::storage::{pod_claims, PVC_PROTECTION, PV_PROTECTION};

/// A pod that has not finished refers to the claim.
fn in_use(pvc: &Value, cache: &Cache) -> bool {
    let namespace = pvc.pointer("/metadata/namespace").and_then(Value::as_str);
    let name = pvc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    cache
        .list(kinds::served("", "pods"), namespace)
        .any(|pod| !is_terminal(pod) && pod_claims(pod).iter().any(|c| c == name))
}

pub struct VolumeProtection;

impl Reconciler for VolumeProtection {
    fn name(&self) -> &'static str {
        "volume-protection"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&claims().prefix(None)) || change.key.starts_with(&volumes().prefix(None)) {
            return vec![change.key.clone()];
        }
        if !change.key.starts_with(&kinds::served("", "pods").prefix(None)) {
            return Vec::new();
        }
        // A pod that finished or went away may free the claims it used.
        let mut keys = Vec::new();
        for pod in [&change.old, &change.new].into_iter().flatten() {
            let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str);
            keys.extend(pod_claims(pod).iter().map(|c| claims().key(namespace, c)));
        }
        keys.dedup();
        keys
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(object) = cache.get(key) else { return plan };
        if !is_deleting(object) {
            return plan;
        }
        if key.starts_with(&claims().prefix(None)) {
            if has_finalizer(object, PVC_PROTECTION) && !in_use(object, cache) {
                plan.push(Action::Update { kind: claims(), object: without_finalizer(object, PVC_PROTECTION) });
            }
        } else if has_finalizer(object, PV_PROTECTION)
            && object.pointer("/status/phase").and_then(Value::as_str) != Some("Bound")
        {
            plan.push(Action::Update { kind: volumes(), object: without_finalizer(object, PV_PROTECTION) });
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn a_claim_in_use_stays_until_its_pod_is_gone() {
        let mut cache = Cache::default();
        let key = claims().key(Some("default"), "data");
        cache.apply(
            &key,
            Some(Arc::new(json!({"metadata": {"name": "data", "namespace": "default",
                "deletionTimestamp": "2026-12-04T00:00:00Z", "finalizers": [PVC_PROTECTION]}}))),
        );
        let pod_key = kinds::served("", "pods").key(Some("default"), "web");
        let pod = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
            "status": {"phase": "Running"}});
        cache.apply(&pod_key, Some(Arc::new(pod.clone())));
        assert!(VolumeProtection.reconcile(&key, &cache, OffsetDateTime::now_utc()).actions.is_empty());
        let change = Change { key: pod_key.clone(), old: Some(Arc::new(pod)), new: None };
        assert_eq!(VolumeProtection.keys_for(&change, &cache), std::slice::from_ref(&key));
        cache.apply(&pod_key, None);
        let plan = VolumeProtection.reconcile(&key, &cache, OffsetDateTime::now_utc());
        let [Action::Update { object, .. }] = plan.actions.as_slice() else { panic!("{plan:?}") };
        assert_eq!(object["metadata"]["finalizers"], json!([]));

        let volume_key = volumes().key(None, "pv-1");
        let bound = json!({"metadata": {"name": "pv-1", "deletionTimestamp": "2026-12-04T00:00:00Z",
            "finalizers": [PV_PROTECTION]}, "status": {"phase": "Bound"}});
        cache.apply(&volume_key, Some(Arc::new(bound.clone())));
        assert!(VolumeProtection.reconcile(&volume_key, &cache, OffsetDateTime::now_utc()).actions.is_empty());
        let mut released = bound;
        released["status"]["phase"] = json!("Released");
        cache.apply(&volume_key, Some(Arc::new(released)));
        assert_eq!(VolumeProtection.reconcile(&volume_key, &cache, OffsetDateTime::now_utc()).actions.len(), 1);
    }
}
