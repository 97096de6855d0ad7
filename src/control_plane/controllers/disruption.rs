//! Kubernetes' disruption controller: keeps each PodDisruptionBudget's status — the pods it expects,
//! how many are healthy, how many it requires, and so how many disruptions are allowed now — which the
//! eviction subresource reads and decrements. Pods an eviction took (status.disruptedPods) stay out of
//! the healthy count until their deletion is seen, or for two minutes if it never is.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::control_plane::runtime::{Cache, Change, Plan, Reconciler};
use crate::resources::disruption_budget::{counts_controllers, covers, desired_healthy, healthy};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta::{self, parse_rfc3339, rfc3339};
use crate::resources::pod::controller_uid;

/// How long an eviction's pod stays counted as disrupted without its deletion being seen (kube's
/// DeletionTimeout).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

pub struct DisruptionController;

pub fn budgets() -> &'static ResourceKind {
    kinds::served("policy", "poddisruptionbudgets")
}

fn pods() -> &'static ResourceKind {
    kinds::served("", "pods")
}

fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

/// The kinds whose scale is a budget's expected pod count.
const SCALED: [(&str, &str); 4] =
    [("apps", "replicasets"), ("apps", "deployments"), ("apps", "statefulsets"), ("", "replicationcontrollers")];

/// The expected pod count of the pods' controllers (a ReplicaSet a Deployment owns counts as the
/// Deployment), each counted once; None when a pod has no controller that has a scale.
fn controllers_scale(pods: &[&Value], cache: &Cache) -> Option<i64> {
    let mut counted = BTreeSet::new();
    let mut total = 0;
    for pod in pods {
        let mut owner = cache.by_uid(controller_uid(pod)?)?;
        if let Some(deployment) = controller_uid(owner).and_then(|u| cache.by_uid(u)) {
            if deployment["kind"] == "Deployment" {
                owner = deployment;
            }
        }
        let scaled = SCALED.iter().any(|(group, resource)| owner["kind"] == kinds::served(group, resource).kind);
        if !scaled {
            return None;
        }
        if counted.insert(owner["metadata"]["uid"].as_str().unwrap_or_default().to_string()) {
            total += owner.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        }
    }
    Some(total)
}

/// The budget's status from the pods it covers at `now`, and when to look again (a disrupted pod's
/// timeout).
pub fn status(pdb: &Value, covered: &[&Value], cache: &Cache, now: OffsetDateTime) -> (Value, Option<Duration>) {
    let mut disrupted = Map::new();
    let mut next: Option<Duration> = None;
    for (name, since) in pdb.pointer("/status/disruptedPods").and_then(Value::as_object).into_iter().flatten() {
        let pod = covered.iter().find(|p| meta::name(p) == Some(name.as_str()));
        let gone = pod.is_none_or(|p| meta::is_deleting(p));
        let expires = since.as_str().and_then(parse_rfc3339).map(|t| t + DELETION_TIMEOUT);
        let left = expires.map(|e| (e - now).as_seconds_f64()).unwrap_or(0.0);
        if !gone && left > 0.0 {
            disrupted.insert(name.clone(), since.clone());
            let wait = Duration::from_secs_f64(left);
            next = Some(next.map_or(wait, |n| n.min(wait)));
        }
    }
    let generation = pdb.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    let expected = if counts_controllers(pdb) { controllers_scale(covered, cache) } else { Some(covered.len() as i64) };
    let current =
        covered.iter().filter(|p| healthy(p) && !disrupted.contains_key(meta::name(p).unwrap_or(""))).count() as i64;
    let (expected, desired, allowed, condition) = match expected {
        Some(expected) => {
            let desired = desired_healthy(pdb, expected);
            let allowed = if expected > 0 { (current - desired).max(0) } else { 0 };
            let reason = if allowed > 0 { "SufficientPods" } else { "InsufficientPods" };
            (expected, desired, allowed, (allowed > 0, reason, String::new()))
        }
        // kube's disruption controller cannot count these either: nothing may be disrupted.
        None => (0, 0, 0, (false, "SyncFailed", "found no controller with a scale for a pod it covers".into())),
    };
    let (allowed_now, reason, message) = condition;
    let state = if allowed_now { "True" } else { "False" };
    let previous = pdb
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "DisruptionAllowed"));
    let since = previous
        .filter(|c| c["status"] == state)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(rfc3339(now)));
    let mut status = json!({
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [{"type": "DisruptionAllowed", "status": state, "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": since}],
    });
    if !disrupted.is_empty() {
        status["disruptedPods"] = Value::Object(disrupted);
    }
    (status, next)
}

impl Reconciler for DisruptionController {
    fn name(&self) -> &'static str {
        "disruption"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&budgets().prefix(None)) {
            return vec![change.key.clone()];
        }
        let is_pod = change.key.starts_with(&pods().prefix(None));
        let scales = SCALED.iter().any(|(g, r)| change.key.starts_with(&kinds::served(g, r).prefix(None)));
        if !is_pod && !scales {
            return Vec::new();
        }
        let mut keys = BTreeSet::new();
        for object in [&change.old, &change.new].into_iter().flatten() {
            for pdb in cache.list(budgets(), namespace(object)) {
                if scales || covers(pdb, object) {
                    keys.insert(budgets().key(namespace(pdb), meta::name(pdb).unwrap_or_default()));
                }
            }
        }
        keys.into_iter().collect()
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(pdb) = cache.get(key) else { return plan };
        if meta::is_deleting(pdb) {
            return plan;
        }
        let covered: Vec<&Value> =
            cache.list(pods(), namespace(pdb)).map(|p| p.as_ref()).filter(|p| covers(pdb, p)).collect();
        let (status, next) = status(pdb, &covered, cache, now);
        plan.update_status(budgets(), pdb, status);
        plan.requeue_after = next;
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pod(name: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "d", "uid": name, "labels": {"app": "web"}},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn a_budget_counts_its_healthy_pods_and_its_disrupted_ones() {
        let now = OffsetDateTime::now_utc();
        let cache = Cache::default();
        let mut pdb = json!({"metadata": {"name": "web", "namespace": "d", "generation": 2},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptedPods": {"a": rfc3339(now)}}});
        let (a, b, c, d) = (pod("a", true), pod("b", true), pod("c", true), pod("d", false));
        let (status, next) = status(&pdb, &[&a, &b, &c, &d], &cache, now);
        assert_eq!(
            (&status["expectedPods"], &status["currentHealthy"], &status["desiredHealthy"]),
            (&json!(4), &json!(2), &json!(2))
        );
        assert_eq!(status["disruptionsAllowed"], 0, "a was evicted and is not seen deleted yet");
        assert_eq!(status["conditions"][0]["reason"], "InsufficientPods");
        assert_eq!(status["observedGeneration"], 2);
        assert!(next.is_some_and(|n| n <= DELETION_TIMEOUT));
        // Its deletion seen: a is no longer disrupted, nor healthy.
        pdb["status"] = status;
        let mut deleting = a.clone();
        deleting["metadata"]["deletionTimestamp"] = json!(rfc3339(now));
        let (status, next) = super::status(&pdb, &[&deleting, &b, &c, &d], &cache, now);
        assert_eq!((&status["currentHealthy"], &status["disruptionsAllowed"]), (&json!(2), &json!(0)));
        assert!(status.get("disruptedPods").is_none() && next.is_none());
        let (status, _) = super::status(&pdb, &[&b, &c, &pod("e", true)], &cache, now);
        assert_eq!(status["disruptionsAllowed"], 1);
        assert_eq!(status["conditions"][0]["reason"], "SufficientPods");
    }

    #[test]
    fn a_percent_or_max_unavailable_counts_the_controllers_scale() {
        let mut cache = Cache::default();
        let deployment = json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "d", "uid": "dep"},
            "spec": {"replicas": 4}});
        let rs = json!({"kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "d", "uid": "rs",
            "ownerReferences": [{"uid": "dep", "controller": true, "kind": "Deployment", "name": "web"}]},
            "spec": {"replicas": 4}});
        cache.apply(&kinds::served("apps", "deployments").key(Some("d"), "web"), Some(Arc::new(deployment)));
        cache.apply(&kinds::served("apps", "replicasets").key(Some("d"), "web-1"), Some(Arc::new(rs)));
        let owned = |name: &str| {
            let mut p = pod(name, true);
            p["metadata"]["ownerReferences"] = json!([{"uid": "rs", "controller": true, "kind": "ReplicaSet"}]);
            p
        };
        let pdb = json!({"metadata": {"name": "web", "namespace": "d"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
        let (a, b, c) = (owned("a"), owned("b"), owned("c"));
        let (status, _) = status(&pdb, &[&a, &b, &c], &cache, OffsetDateTime::now_utc());
        assert_eq!((&status["expectedPods"], &status["desiredHealthy"]), (&json!(4), &json!(3)));
        assert_eq!(status["disruptionsAllowed"], 0, "one of four is missing already");
        let bare = pod("x", true);
        let (status, _) = super::status(&pdb, &[&a, &bare], &cache, OffsetDateTime::now_utc());
        assert_eq!(status["conditions"][0]["reason"], "SyncFailed");
    }
}
