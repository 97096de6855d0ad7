//! kube-scheduler inside `kubeboot server`, as one more reconciler of the controller runtime: it reads the
//! informer's cache (never the store), runs only while the controller manager's Lease is held, and has one
//! worker, so each binding is in the cache before the next pod is placed (kube-scheduler's one scheduling
//! cycle at a time). A pending pod (no spec.nodeName, schedulerName default-scheduler) is filtered against
//! every node (filters.rs), the feasible nodes scored (score.rs) and the pod bound to the best through the
//! `pods/binding` subresource. A pod that fits nowhere gets PodScheduled=False/Unschedulable and a
//! FailedScheduling event, and is tried again when a node, a volume or a claim changes, when a bound pod
//! frees its node, and every few seconds.

pub mod facts;
pub mod filters;
pub mod score;
pub mod volume_binding;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::runtime::{Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta::{self, rfc3339};
use crate::resources::pod::{is_deleting, is_terminal, node_name, set_condition};

/// The component its events name, as kube-scheduler's.
pub const COMPONENT: &str = "default-scheduler";

/// How often an unschedulable pod is tried again although nothing it waits for was seen to change.
const RETRY: Duration = Duration::from_secs(5);

/// The store prefixes whose changes can make a pending pod schedulable (besides pods leaving a node).
const SCHEDULING_INPUTS: [&str; 4] =
    ["/nodes/", "/persistentvolumeclaims/", "/persistentvolumes/", "/storage.k8s.io/storageclasses/"];

fn pods() -> &'static ResourceKind {
    kinds::served("", "pods")
}

fn is_ours(pod: &Value) -> bool {
    pod.pointer("/spec/schedulerName").and_then(Value::as_str).is_none_or(|s| s == "default-scheduler")
}

/// Waiting for this scheduler: unbound, alive, ours.
fn is_pending(pod: &Value) -> bool {
    node_name(pod).is_none() && !is_deleting(pod) && !is_terminal(pod) && is_ours(pod)
}

/// Holds a node's resources: bound and not finished.
fn holds_node(pod: &Value) -> bool {
    node_name(pod).is_some() && !is_terminal(pod)
}

fn pending_keys(cache: &Cache) -> Vec<String> {
    cache
        .list(pods(), None)
        .filter(|p| is_pending(p))
        .map(|p| pods().key(p.pointer("/metadata/namespace").and_then(Value::as_str), meta::name(p).unwrap_or("")))
        .collect()
}

#[derive(Default)]
pub struct Scheduler {
    /// Nodes' and bound pods' parsed facts, kept across placements while they are unchanged.
    facts: facts::Facts,
}

impl Reconciler for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn component(&self) -> &'static str {
        COMPONENT
    }

    /// One at a time: a placement must see the one before it.
    fn workers(&self) -> usize {
        1
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&pods().prefix(None)) {
            if change.new.as_deref().is_some_and(is_pending) {
                return vec![change.key.clone()];
            }
            let freed = change.old.as_deref().is_some_and(holds_node) && !change.new.as_deref().is_some_and(holds_node);
            return if freed { pending_keys(cache) } else { Vec::new() };
        }
        if !SCHEDULING_INPUTS.iter().any(|p| change.key.starts_with(p)) {
            return Vec::new();
        }
        if change.key.starts_with("/nodes/") {
            if let (Some(old), Some(new)) = (&change.old, &change.new) {
                if crate::resources::node::placement_view(old) == crate::resources::node::placement_view(new) {
                    return Vec::new();
                }
            }
        }
        pending_keys(cache)
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(pod) = cache.get(key).filter(|p| is_pending(p)) else { return plan };
        match place(pod, cache, &self.facts) {
            Placement::Bind(node) => {
                let (namespace, name) = namespaced_name(pod);
                let message = format!("Successfully assigned {namespace}/{name} to {node}");
                plan.push(Action::Bind {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    node,
                    event: Some(note(pod, false, "Scheduled", message)),
                });
            }
            Placement::WaitForVolumes { claims, .. } => {
                // The binder and provisioner act on the annotation; the claims' changes bring the pod back.
                for (namespace, claim, node) in claims {
                    plan.push(Action::MergePatch {
                        kind: kinds::served("", "persistentvolumeclaims"),
                        namespace: Some(namespace),
                        name: claim,
                        patch: json!({"metadata": {"annotations": {crate::resources::storage::SELECTED_NODE: node}}}),
                    });
                }
                plan.requeue(RETRY);
            }
            Placement::Unschedulable(message) => {
                // Written only when the message changed, so a waiting pod does not rewrite itself on every retry.
                let mut updated = (**pod).clone();
                if set_condition(
                    &mut updated,
                    "PodScheduled",
                    "False",
                    Some("Unschedulable"),
                    Some(&message),
                    &rfc3339(now),
                ) {
                    plan.push(Action::UpdateStatus { kind: pods(), object: updated });
                    plan.push(Action::Event(note(pod, true, "FailedScheduling", message)));
                }
                plan.requeue(RETRY);
            }
        }
        plan
    }
}

fn namespaced_name(pod: &Value) -> (&str, &str) {
    (pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default"), meta::name(pod).unwrap_or(""))
}

fn note(pod: &Value, warning: bool, reason: &str, message: String) -> EventNote {
    EventNote { about: pod.clone(), kind: "Pod", warning, reason: reason.into(), message }
}

/// Where a pending pod goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    Bind(String),
    /// A node is chosen; these claims (namespace, name, node) get it as their selected node first.
    WaitForVolumes {
        node: String,
        claims: Vec<(String, String, String)>,
    },
    Unschedulable(String),
}

/// Filter and score every node for `pod`, as of the cache.
pub fn place(pod: &Value, cache: &Cache, facts: &facts::Facts) -> Placement {
    let node_kind = kinds::served("", "nodes");
    let nodes: Vec<&Arc<Value>> = cache.list(node_kind, None).collect();
    let volumes = if crate::resources::storage::pod_claims(pod).is_empty() {
        volume_binding::Volumes::default()
    } else {
        volume_binding::Volumes::from_cache(cache)
    };
    let claims = match volumes.claims_of(pod) {
        Ok(claims) => claims,
        Err(reason) => return Placement::Unschedulable(format!("0/{} nodes are available: {reason}.", nodes.len())),
    };
    let mut on_node: HashMap<&str, Vec<Arc<facts::PodLoad>>> = HashMap::new();
    let mut bound_pods = 0;
    for bound in cache.list(pods(), None).filter(|p| holds_node(p)) {
        let (namespace, name) = namespaced_name(bound);
        let load = facts.pods.get(&pods().key(Some(namespace), name), bound);
        on_node.entry(node_name(bound).unwrap_or_default()).or_default().push(load);
        bound_pods += 1;
    }
    facts.nodes.prune(nodes.len(), |name| cache.get(&node_kind.key(None, name)).is_some());
    facts.pods.prune(bound_pods, |key| cache.get(key).is_some());
    let needs = filters::PodNeeds::of(pod);
    let load = facts::PodLoad::of(pod);
    let mut best: Option<((i64, i64), &str)> = None;
    let mut misfits = Vec::new();
    for node in &nodes {
        let name = meta::name(node).unwrap_or("");
        let bound = on_node.get(name).map(Vec::as_slice).unwrap_or_default();
        let node_facts = facts.nodes.get(name, node);
        match filters::misfit_for(&needs, node, &node_facts, bound).or_else(|| volumes.misfit(&claims, node)) {
            Some(m) => misfits.push(m),
            None => {
                let s = score::score_for(&load, &node_facts, bound);
                // Ties go to the first node by name, so a placement is deterministic.
                if best.is_none_or(|(b, n)| s > b || (s == b && name < n)) {
                    best = Some((s, name));
                }
            }
        }
    }
    match best {
        // Claims that wait for their first consumer are given the node; the pod is bound once every claim
        // is Bound.
        Some((_, node)) if claims.iter().any(|c| !matches!(c, volume_binding::Claim::Bound(_))) => {
            let claims = volume_binding::unplaced(&claims)
                .into_iter()
                .map(|(namespace, claim)| (namespace, claim, node.to_string()))
                .collect();
            Placement::WaitForVolumes { node: node.to_string(), claims }
        }
        Some((_, node)) => Placement::Bind(node.to_string()),
        None => Placement::Unschedulable(filters::unschedulable_message(nodes.len(), &misfits)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(cache: &mut Cache, key: &str, value: Value) {
        cache.apply(key, Some(Arc::new(value)));
    }

    fn ready_node(name: &str, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
               "status": {"allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
                          "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "t0"}]}})
    }

    fn pod(name: &str, created: &str, spec: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                            "creationTimestamp": created}, "spec": spec})
    }

    /// Run the scheduler's worker by hand: reconcile each key in turn, apply each binding to the cache as
    /// the informer would, until nothing is pending that can be placed. Returns the plans' actions.
    fn schedule_all(cache: &mut Cache) -> Vec<Action> {
        let mut actions = Vec::new();
        for key in pending_keys(cache) {
            let plan = Scheduler::default().reconcile(&key, cache, OffsetDateTime::now_utc());
            for action in plan.actions {
                if let Action::Bind { node, .. } = &action {
                    let mut bound = (**cache.get(&key).unwrap()).clone();
                    bound["spec"]["nodeName"] = json!(node);
                    cache.apply(&key, Some(Arc::new(bound)));
                }
                actions.push(action);
            }
        }
        actions
    }

    fn bindings(actions: &[Action]) -> Vec<(String, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Bind { name, node, .. } => Some((name.clone(), node.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn binds_spreads_and_reports_what_does_not_fit() {
        let mut cache = Cache::default();
        let master_taint = json!([{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]);
        put(&mut cache, "/nodes/m", ready_node("m", json!({}), master_taint));
        put(&mut cache, "/nodes/w1", ready_node("w1", json!({"zone": "a"}), json!([])));
        put(&mut cache, "/nodes/w2", ready_node("w2", json!({"zone": "b"}), json!([])));
        for i in 0..4 {
            let spec = json!({"containers": [{"name": "c"}]});
            put(
                &mut cache,
                &format!("/pods/default/p{i}"),
                pod(&format!("p{i}"), &format!("2026-01-01T00:00:0{i}Z"), spec),
            );
        }
        let picky =
            pod("picky", "2026-01-01T00:00:09Z", json!({"nodeSelector": {"zone": "c"}, "containers": [{"name": "c"}]}));
        put(&mut cache, "/pods/default/picky", picky);
        let actions = schedule_all(&mut cache);
        let mut per_node: HashMap<String, usize> = HashMap::new();
        for (_, node) in bindings(&actions) {
            *per_node.entry(node).or_default() += 1;
        }
        assert_eq!(per_node.get("w1"), Some(&2), "{actions:?}");
        assert_eq!(per_node.get("w2"), Some(&2));
        assert_eq!(per_node.get("m"), None, "the master's taint keeps pods off");
        let scheduled = actions.iter().find_map(|a| match a {
            Action::Bind { event: Some(e), .. } => Some(e),
            _ => None,
        });
        assert_eq!(scheduled.unwrap().reason, "Scheduled");
        let Some(Action::UpdateStatus { object, .. }) = actions
            .iter()
            .find(|a| matches!(a, Action::UpdateStatus { object, .. } if meta::name(object) == Some("picky")))
        else {
            panic!("picky is marked unschedulable: {actions:?}")
        };
        let condition = crate::resources::pod::condition(object, "PodScheduled").unwrap();
        assert_eq!(condition["reason"], "Unschedulable");
        assert_eq!(
            condition["message"],
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't match Pod's node affinity/selector."
        );
        assert!(actions.iter().any(|a| matches!(a, Action::Event(e) if e.reason == "FailedScheduling" && e.warning)));
        // As the status write comes back through the informer: an unchanged message writes nothing.
        put(&mut cache, "/pods/default/picky", object.clone());
        let again = Scheduler::default().reconcile("/pods/default/picky", &cache, OffsetDateTime::now_utc());
        assert!(again.actions.is_empty(), "{again:?}");
        assert_eq!(again.requeue_after, Some(RETRY));
    }

    #[test]
    fn retries_when_what_a_pod_waits_for_changes_not_on_heartbeats() {
        let mut cache = Cache::default();
        put(&mut cache, "/nodes/w1", ready_node("w1", json!({}), json!([])));
        put(&mut cache, "/pods/default/waiting", pod("waiting", "t", json!({"nodeSelector": {"zone": "a"}})));
        let bound = pod("bound", "t", json!({"nodeName": "w1"}));
        put(&mut cache, "/pods/default/bound", bound.clone());
        let change = |key: &str, old: Option<Value>, new: Option<Value>| Change {
            key: key.into(),
            old: old.map(Arc::new),
            new: new.map(Arc::new),
        };
        let node = ready_node("w1", json!({}), json!([]));
        let mut heartbeat = node.clone();
        heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = json!("t1");
        assert!(Scheduler::default()
            .keys_for(&change("/nodes/w1", Some(node.clone()), Some(heartbeat)), &cache)
            .is_empty());
        let mut labelled = node.clone();
        labelled["metadata"]["labels"] = json!({"zone": "a"});
        let waiting = vec!["/pods/default/waiting".to_string()];
        assert_eq!(Scheduler::default().keys_for(&change("/nodes/w1", Some(node), Some(labelled)), &cache), waiting);
        // A bound pod that finishes frees its node; one that is only updated does not.
        let mut done = bound.clone();
        done["status"] = json!({"phase": "Succeeded"});
        assert_eq!(
            Scheduler::default().keys_for(&change("/pods/default/bound", Some(bound.clone()), Some(done)), &cache),
            waiting
        );
        assert!(Scheduler::default()
            .keys_for(&change("/pods/default/bound", Some(bound.clone()), Some(bound)), &cache)
            .is_empty());
        let other = pod("other", "t", json!({"schedulerName": "someone-else"}));
        assert!(Scheduler::default().keys_for(&change("/pods/default/other", None, Some(other)), &cache).is_empty());
    }

    #[test]
    fn volumes_pin_pods_and_delayed_claims_get_a_node() {
        let mut cache = Cache::default();
        for name in ["w1", "w2"] {
            put(
                &mut cache,
                &format!("/nodes/{name}"),
                ready_node(name, json!({"kubernetes.io/hostname": name}), json!([])),
            );
        }
        let claim = |name: &str, class: &str, volume: &str| {
            json!({"metadata": {"name": name, "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                            "storageClassName": class, "volumeName": volume},
                   "status": {"phase": if volume.is_empty() { "Pending" } else { "Bound" }}})
        };
        put(&mut cache, "/persistentvolumeclaims/default/pinned", claim("pinned", "", "local-w2"));
        put(&mut cache, "/persistentvolumeclaims/default/later", claim("later", "local-path", ""));
        put(&mut cache, "/persistentvolumeclaims/default/now", claim("now", "", ""));
        put(
            &mut cache,
            "/persistentvolumes/local-w2",
            json!({"metadata": {"name": "local-w2"}, "spec": {"local": {"path": "/srv"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["w2"]}]}]}}}}),
        );
        put(
            &mut cache,
            "/storage.k8s.io/storageclasses/local-path",
            json!({"metadata": {"name": "local-path"}, "provisioner": "kubeboot.io/local-path",
                   "volumeBindingMode": "WaitForFirstConsumer"}),
        );
        let with_claim = |name: &str, claim: &str| {
            pod(
                name,
                "t",
                json!({"containers": [{"name": "c"}],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}),
            )
        };
        for (name, claim) in [("a", "pinned"), ("b", "later"), ("c", "now"), ("d", "missing")] {
            put(&mut cache, &format!("/pods/default/{name}"), with_claim(name, claim));
        }
        let placement =
            |name: &str| place(cache.get(&format!("/pods/default/{name}")).unwrap(), &cache, &Default::default());
        assert_eq!(placement("a"), Placement::Bind("w2".into()), "the local volume pins pod a to w2");
        let Placement::WaitForVolumes { node, claims } = placement("b") else { panic!("b waits for its volume") };
        assert_eq!(claims, [("default".to_string(), "later".to_string(), node.clone())]);
        let plan = Scheduler::default().reconcile("/pods/default/b", &cache, OffsetDateTime::now_utc());
        assert!(
            matches!(&plan.actions[..], [Action::MergePatch { name, patch, .. }]
                if name == "later" && patch["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == json!(node)),
            "{plan:?}"
        );
        assert_eq!(
            placement("c"),
            Placement::Unschedulable(
                "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.".into()
            )
        );
        assert_eq!(
            placement("d"),
            Placement::Unschedulable("0/2 nodes are available: persistentvolumeclaim \"missing\" not found.".into())
        );
    }
}
