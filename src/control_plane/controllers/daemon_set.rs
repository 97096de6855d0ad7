//! The DaemonSet controller: one pod on every eligible node (its nodeSelector and required node affinity
//! hold, and it tolerates the node's NoSchedule/NoExecute taints, with the tolerations Kubernetes adds to
//! daemon pods), pinned to that node by node affinity on `metadata.name` and placed by the scheduler.
//! Extra and misscheduled pods go, failed ones are replaced. RollingUpdate (maxUnavailable, default 1)
//! replaces pods of an older template (`controller-revision-hash`) while no more than maxUnavailable nodes
//! are without an available pod; OnDelete waits for the user. The status is what `kubectl rollout status
//! ds` and `kubectl get ds` read.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::replica_set::{availability, claim, deleting, is_active};
use super::rollout::{scaled_value, template_hash};
use crate::control_plane::runtime::{cache, Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::control_plane::scheduler::filters::{effective_taints, matches_affinity, tolerates};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::label_selector::labels;
use crate::resources::meta;
use crate::resources::pod;

pub const REVISION_HASH: &str = "controller-revision-hash";

pub struct DaemonSetController;

pub fn daemon_sets() -> &'static ResourceKind {
    kinds::served("apps", "daemonsets")
}

fn pods() -> &'static ResourceKind {
    kinds::served("", "pods")
}

/// The tolerations every daemon pod gets (the DaemonSet controller's, in Kubernetes).
fn daemon_tolerations() -> Vec<Value> {
    let mut list: Vec<Value> = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
        .iter()
        .map(|k| json!({"key": k, "operator": "Exists", "effect": "NoExecute"}))
        .collect();
    for key in [
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
    ] {
        list.push(json!({"key": key, "operator": "Exists", "effect": "NoSchedule"}));
    }
    list
}

fn with_daemon_tolerations(spec: &Value) -> Vec<Value> {
    let mut tolerations: Vec<Value> = spec.get("tolerations").and_then(Value::as_array).cloned().unwrap_or_default();
    for t in daemon_tolerations() {
        if !tolerations.iter().any(|have| have["key"] == t["key"] && have["effect"] == t["effect"]) {
            tolerations.push(t);
        }
    }
    tolerations
}

/// Whether the daemon's pods belong on `node`.
pub fn eligible(ds: &Value, node: &Value) -> bool {
    let spec = &ds["spec"]["template"]["spec"];
    let tolerations = with_daemon_tolerations(spec);
    let taints_ok = effective_taints(node)
        .iter()
        .filter(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")))
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)));
    taints_ok && matches_affinity(&json!({"spec": spec}), node)
}

/// The node a daemon pod is for: its nodeName, else the node its affinity pins it to.
fn target_node(p: &Value) -> Option<&str> {
    pod::node_name(p).or_else(|| {
        p.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
            .and_then(Value::as_str)
    })
}

fn daemon_pod(ds: &Value, node: &str, hash: &str) -> Value {
    let mut p = super::replica_set::pod_from_template(ds, daemon_sets());
    p["metadata"]["labels"][REVISION_HASH] = json!(hash);
    let generation = ds.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    p["metadata"]["labels"]["pod-template-generation"] = json!(generation.to_string());
    p["spec"]["tolerations"] = json!(with_daemon_tolerations(&ds["spec"]["template"]["spec"]));
    let term = json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]});
    p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
        json!({"nodeSelectorTerms": [term]});
    p
}

fn note(ds: &Value, reason: &str, message: String) -> EventNote {
    EventNote { about: ds.clone(), kind: "DaemonSet", warning: false, reason: reason.into(), message }
}

fn delete(p: &Value, ds: &Value, plan: &mut Plan) {
    let name = meta::name(p).unwrap_or_default();
    let event = note(ds, "SuccessfulDelete", format!("Deleted pod: {name}"));
    plan.push(Action::delete(pods(), p, None, Some(event)));
}

impl Reconciler for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        // A node's placement may change where daemons belong (a heartbeat does not).
        if change.key.starts_with("/nodes/") {
            let view = crate::resources::node::placement_view;
            if change.old.as_deref().map(view) == change.new.as_deref().map(view) {
                return Vec::new();
            }
            return cache
                .list(daemon_sets(), None)
                .filter_map(|ds| cache::uid(ds).and_then(|u| cache.key_of_uid(u)).map(String::from))
                .collect();
        }
        super::own_or_owner_keys(change, cache, &daemon_sets().prefix(None), &pods().prefix(None))
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(ds) = cache.get(key) else { return plan };
        let ds = ds.as_ref();
        let hash = template_hash(&ds["spec"]["template"]);
        let owned = claim(ds, daemon_sets(), cache, &mut plan);
        let min_ready = ds.pointer("/spec/minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
        let mut by_node: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for p in owned.iter().copied() {
            if pod::phase(p) == "Failed" && !deleting(p) {
                delete(p, ds, &mut plan);
                continue;
            }
            if is_active(p) {
                if let Some(node) = target_node(p) {
                    by_node.entry(node).or_default().push(p);
                }
            }
        }
        let nodes: Vec<&Value> = cache.list(kinds::served("", "nodes"), None).map(|n| n.as_ref()).collect();
        let (mut desired, mut current, mut misscheduled, mut ready, mut updated, mut available) = (0, 0, 0, 0, 0, 0);
        let mut old_pods: Vec<&Value> = Vec::new();
        let mut unavailable_nodes = 0;
        for node in &nodes {
            let name = meta::name(node).unwrap_or_default();
            let here = by_node.remove(name).unwrap_or_default();
            if !eligible(ds, node) {
                if !here.is_empty() {
                    misscheduled += 1;
                    for p in here {
                        delete(p, ds, &mut plan);
                    }
                }
                continue;
            }
            desired += 1;
            if here.is_empty() {
                if !deleting(ds) {
                    let event = Some(note(ds, "SuccessfulCreate", "Created pod: {name}".into()));
                    plan.push(Action::Create { kind: pods(), object: daemon_pod(ds, name, &hash), event });
                }
                unavailable_nodes += 1;
                continue;
            }
            current += 1;
            // One per node: the newest extras go.
            let mut here = here;
            here.sort_by_key(|p| p.pointer("/metadata/creationTimestamp").and_then(Value::as_str).map(String::from));
            for extra in here.iter().skip(1) {
                delete(extra, ds, &mut plan);
            }
            let p = here[0];
            let is_ready = super::replica_set::ready_since(p).is_some();
            let is_available = availability(p, min_ready, now).is_ok();
            ready += is_ready as i64;
            available += is_available as i64;
            if !is_available {
                unavailable_nodes += 1;
            }
            if labels(p).and_then(|l| l.get(REVISION_HASH)).and_then(Value::as_str) == Some(hash.as_str()) {
                updated += 1;
            } else {
                old_pods.push(p);
            }
        }
        // Pods for nodes that no longer exist.
        for p in by_node.into_values().flatten() {
            delete(p, ds, &mut plan);
        }
        let rolling = ds.pointer("/spec/updateStrategy/type").and_then(Value::as_str).unwrap_or("RollingUpdate")
            == "RollingUpdate";
        if rolling && !deleting(ds) && !old_pods.is_empty() {
            let max_unavailable =
                scaled_value(ds.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable"), "1", desired, false)
                    .max(1);
            // Old pods that are not available anyway go first, and don't count against the budget.
            old_pods.sort_by_key(|p| availability(p, min_ready, now).is_ok());
            let mut budget = max_unavailable - unavailable_nodes;
            for p in old_pods {
                if availability(p, min_ready, now).is_err() {
                    delete(p, ds, &mut plan);
                } else if budget > 0 {
                    delete(p, ds, &mut plan);
                    budget -= 1;
                }
            }
        }
        let mut status = json!({
            "currentNumberScheduled": current,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
        });
        for (field, n) in [
            ("updatedNumberScheduled", updated),
            ("numberAvailable", available),
            ("numberUnavailable", desired - available),
        ] {
            if n > 0 {
                status[field] = json!(n);
            }
        }
        if let Some(g) = ds.pointer("/metadata/generation") {
            status["observedGeneration"] = g.clone();
        }
        plan.update_status(daemon_sets(), ds, status);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ds(extra_spec: Value) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}}}});
        for (k, v) in extra_spec.as_object().unwrap() {
            d["spec"]["template"]["spec"][k] = v.clone();
        }
        d
    }

    fn node(name: &str, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    }

    fn run(ds: &Value, nodes: &[Value], pods: &[Value]) -> Plan {
        let mut cache = Cache::default();
        cache.apply("/apps/daemonsets/default/agent", Some(Arc::new(ds.clone())));
        for n in nodes {
            cache.apply(&format!("/nodes/{}", n["metadata"]["name"].as_str().unwrap()), Some(Arc::new(n.clone())));
        }
        for p in pods {
            cache.apply(
                &format!("/pods/default/{}", p["metadata"]["name"].as_str().unwrap()),
                Some(Arc::new(p.clone())),
            );
        }
        DaemonSetController.reconcile("/apps/daemonsets/default/agent", &cache, OffsetDateTime::now_utc())
    }

    fn created_for(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::Create { object, .. } => target_node(object).map(String::from),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_pod_per_eligible_node() {
        let master_taint = json!([{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]);
        let nodes = [
            node("master", json!({"disk": "ssd"}), master_taint),
            node("w1", json!({"disk": "ssd"}), json!([])),
            node("w2", json!({"disk": "hdd"}), json!([])),
        ];
        assert_eq!(created_for(&run(&ds(json!({})), &nodes, &[])), ["w1", "w2"], "the master's taint is not tolerated");
        let on_ssd = ds(json!({"nodeSelector": {"disk": "ssd"}}));
        assert_eq!(created_for(&run(&on_ssd, &nodes, &[])), ["w1"]);
        let everywhere = ds(json!({"tolerations": [{"operator": "Exists"}]}));
        assert_eq!(created_for(&run(&everywhere, &nodes, &[])), ["master", "w1", "w2"]);
    }

    #[test]
    fn rolling_update_replaces_one_old_pod_at_a_time() {
        let nodes = [node("w1", json!({}), json!([])), node("w2", json!({}), json!([]))];
        let old = ds(json!({}));
        let old_hash = template_hash(&old["spec"]["template"]);
        let pod_on = |n: &str| {
            let mut p = daemon_pod(&old, n, &old_hash);
            p["metadata"]["name"] = json!(format!("agent-{n}"));
            p["metadata"]["uid"] = json!(format!("{n}-uid"));
            p["metadata"]["ownerReferences"][0]["uid"] = json!("ds-uid");
            p["spec"]["nodeName"] = json!(n);
            p["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
            p
        };
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("v2");
        let plan = run(&new, &nodes, &[pod_on("w1"), pod_on("w2")]);
        let deleted: Vec<&Action> = plan.actions.iter().filter(|a| matches!(a, Action::Delete { .. })).collect();
        assert_eq!(deleted.len(), 1, "maxUnavailable 1: {plan:?}");
        assert!(created_for(&plan).is_empty());
    }
}
