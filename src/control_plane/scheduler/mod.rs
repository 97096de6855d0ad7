//! The scheduler inside `kubeboot server`: every pending pod (no spec.nodeName, schedulerName
//! default-scheduler) is filtered against every node (filters.rs), the feasible nodes scored (score.rs)
//! and the pod bound to the best through pod_binding — the same write the `pods/binding` subresource
//! makes. A pod that fits nowhere gets PodScheduled=False/Unschedulable and a FailedScheduling event, and
//! is tried again whenever a pod or node changes (and every few seconds).

pub mod filters;
pub mod score;
pub mod volume_binding;

use std::collections::HashMap;

use serde_json::Value;

use super::events::EventSource;
use super::pod_binding::{bind, BindError};
use super::store::{Store, StoreError};
use crate::resources::meta::{self, now_rfc3339};
use crate::resources::pod::{is_deleting, is_terminal, node_name, set_condition};

const SOURCE: EventSource = EventSource { component: "default-scheduler" };

/// What one pass did, for the server's log and for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub bound: Vec<(String, String)>,
    pub unschedulable: Vec<String>,
    /// Pods whose node is chosen and whose claims wait for their volumes to be bound there.
    pub waiting_for_volumes: Vec<(String, String)>,
}

fn parse(value: &[u8]) -> Option<Value> {
    serde_json::from_slice(value).ok()
}

fn pod_id(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(""),
        meta::name(pod).unwrap_or("")
    )
}

fn is_ours(pod: &Value) -> bool {
    pod.pointer("/spec/schedulerName").and_then(Value::as_str).is_none_or(|s| s == "default-scheduler")
}

/// Schedule every pending pod once.
pub fn schedule_pending(store: &dyn Store) -> Result<Pass, StoreError> {
    let (stored_nodes, _) = store.list("/nodes/")?;
    let nodes: Vec<Value> = stored_nodes.iter().filter_map(|s| parse(&s.value)).collect();
    let (stored_pods, _) = store.list("/pods/")?;
    let mut pods: Vec<Value> = stored_pods.iter().filter_map(|s| parse(&s.value)).collect();
    // Oldest first, as kube-scheduler's queue does for pods of equal priority.
    pods.sort_by(|a, b| {
        let t = |p: &Value| p.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string();
        t(a).cmp(&t(b)).then_with(|| pod_id(a).cmp(&pod_id(b)))
    });
    let mut on_node: HashMap<String, Vec<Value>> = HashMap::new();
    for pod in pods.iter().filter(|p| !is_terminal(p)) {
        if let Some(node) = node_name(pod) {
            on_node.entry(node.to_string()).or_default().push(pod.clone());
        }
    }
    let pending: Vec<&Value> =
        pods.iter().filter(|p| node_name(p).is_none() && !is_deleting(p) && !is_terminal(p) && is_ours(p)).collect();
    // Claims, volumes and classes are read only when a pending pod uses a claim (most passes have none).
    let volumes = if pending.iter().any(|p| !crate::resources::storage::pod_claims(p).is_empty()) {
        volume_binding::Volumes::load(store)?
    } else {
        volume_binding::Volumes::default()
    };
    let mut pass = Pass::default();
    for pod in pending {
        let (namespace, name) = (
            pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default"),
            meta::name(pod).unwrap_or(""),
        );
        let claims = match volumes.claims_of(pod) {
            Ok(claims) => claims,
            Err(reason) => {
                let message = format!("0/{} nodes are available: {reason}.", nodes.len());
                mark_unschedulable(store, namespace, name, &message)?;
                pass.unschedulable.push(pod_id(pod));
                continue;
            }
        };
        let mut best: Option<((i64, i64), &str)> = None;
        let mut misfits = Vec::new();
        for node in &nodes {
            let name = meta::name(node).unwrap_or("");
            let bound: Vec<&Value> = on_node.get(name).map(|v| v.iter().collect()).unwrap_or_default();
            match filters::misfit(pod, node, &bound).or_else(|| volumes.misfit(&claims, node)) {
                Some(m) => misfits.push(m),
                None => {
                    let s = score::score(pod, node, &bound);
                    // Ties go to the first node by name, so a pass is deterministic.
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
                for (claim_namespace, claim) in volume_binding::unplaced(&claims) {
                    volume_binding::select_node(store, &claim_namespace, &claim, node)?;
                }
                pass.waiting_for_volumes.push((pod_id(pod), node.to_string()));
            }
            Some((_, node)) => match bind(store, namespace, name, node) {
                Ok(bound_pod) => {
                    let message = format!("Successfully assigned {namespace}/{name} to {node}");
                    SOURCE.record(store, &bound_pod, "Pod", false, "Scheduled", &message)?;
                    on_node.entry(node.to_string()).or_default().push(bound_pod);
                    pass.bound.push((pod_id(pod), node.to_string()));
                }
                // Someone else bound, changed or deleted it meanwhile: the next pass sees the new state.
                Err(BindError::AlreadyBound { .. } | BindError::NotFound(_) | BindError::Deleting(_)) => {}
                Err(BindError::Store(StoreError::Conflict { .. })) => {}
                Err(BindError::Store(e)) => return Err(e),
            },
            None => {
                let message = filters::unschedulable_message(nodes.len(), &misfits);
                mark_unschedulable(store, namespace, name, &message)?;
                pass.unschedulable.push(pod_id(pod));
            }
        }
    }
    Ok(pass)
}

/// PodScheduled=False with kube-scheduler's reason and message, and a FailedScheduling event — both only
/// when the message changed, so a pod waiting for a node does not rewrite itself on every pass.
fn mark_unschedulable(store: &dyn Store, namespace: &str, name: &str, message: &str) -> Result<(), StoreError> {
    let key = format!("/pods/{namespace}/{name}");
    let Some(stored) = store.get(&key)? else { return Ok(()) };
    let Some(mut pod) = parse(&stored.value) else { return Ok(()) };
    if !set_condition(&mut pod, "PodScheduled", "False", Some("Unschedulable"), Some(message), &now_rfc3339()) {
        return Ok(());
    }
    match store.update(&key, &serde_json::to_vec(&pod).expect("json"), Some(stored.revision)) {
        Ok(_) => SOURCE.record(store, &pod, "Pod", true, "FailedScheduling", message),
        Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;
    use serde_json::json;

    fn put(store: &dyn Store, key: &str, value: Value) {
        store.create(key, &serde_json::to_vec(&value).unwrap()).unwrap();
    }

    fn ready_node(name: &str, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
               "status": {"allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
                          "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    #[test]
    fn binds_spreads_and_reports_what_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        put(
            &store,
            "/nodes/m",
            ready_node("m", json!({}), json!([{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}])),
        );
        put(&store, "/nodes/w1", ready_node("w1", json!({"zone": "a"}), json!([])));
        put(&store, "/nodes/w2", ready_node("w2", json!({"zone": "b"}), json!([])));
        for i in 0..4 {
            let pod = json!({"metadata": {"name": format!("p{i}"), "namespace": "default", "creationTimestamp": format!("2026-01-01T00:00:0{i}Z")},
                             "spec": {"containers": [{"name": "c"}]}});
            put(&store, &format!("/pods/default/p{i}"), pod);
        }
        put(
            &store,
            "/pods/default/picky",
            json!({"metadata": {"name": "picky", "namespace": "default", "uid": "u1"},
            "spec": {"nodeSelector": {"zone": "c"}, "containers": [{"name": "c"}]}}),
        );
        let pass = schedule_pending(&store).unwrap();
        let mut per_node: HashMap<String, usize> = HashMap::new();
        for (_, node) in &pass.bound {
            *per_node.entry(node.clone()).or_default() += 1;
        }
        assert_eq!(per_node.get("w1"), Some(&2));
        assert_eq!(per_node.get("w2"), Some(&2));
        assert_eq!(per_node.get("m"), None, "the master's taint keeps pods off");
        assert_eq!(pass.unschedulable, ["default/picky"]);
        let picky: Value = serde_json::from_slice(&store.get("/pods/default/picky").unwrap().unwrap().value).unwrap();
        let condition = crate::resources::pod::condition(&picky, "PodScheduled").unwrap();
        assert_eq!(condition["reason"], "Unschedulable");
        assert_eq!(
            condition["message"],
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't match Pod's node affinity/selector."
        );
        let (events, _) = store.list("/events/default/").unwrap();
        assert!(events.iter().any(|e| String::from_utf8_lossy(&e.value).contains("FailedScheduling")));
        let again = schedule_pending(&store).unwrap();
        assert!(again.bound.is_empty());
        let (events_after, _) = store.list("/events/default/").unwrap();
        assert_eq!(events.len(), events_after.len(), "an unchanged message writes nothing");
    }

    #[test]
    fn volumes_pin_pods_and_delayed_claims_get_a_node() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        for name in ["w1", "w2"] {
            put(
                &store,
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
        put(&store, "/persistentvolumeclaims/default/pinned", claim("pinned", "", "local-w2"));
        put(&store, "/persistentvolumeclaims/default/later", claim("later", "local-path", ""));
        put(&store, "/persistentvolumeclaims/default/now", claim("now", "", ""));
        put(
            &store,
            "/persistentvolumes/local-w2",
            json!({"metadata": {"name": "local-w2"}, "spec": {"local": {"path": "/srv"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["w2"]}]}]}}}}),
        );
        put(
            &store,
            "/storage.k8s.io/storageclasses/local-path",
            json!({"metadata": {"name": "local-path"}, "provisioner": "kubeboot.io/local-path",
                   "volumeBindingMode": "WaitForFirstConsumer"}),
        );
        let pod = |name: &str, claim: &str| {
            json!({"metadata": {"name": name, "namespace": "default"},
                   "spec": {"containers": [{"name": "c"}],
                            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}})
        };
        for (name, claim) in [("a", "pinned"), ("b", "later"), ("c", "now"), ("d", "missing")] {
            put(&store, &format!("/pods/default/{name}"), pod(name, claim));
        }
        let pass = schedule_pending(&store).unwrap();
        assert_eq!(pass.bound, [("default/a".to_string(), "w2".to_string())], "the local volume pins pod a to w2");
        assert_eq!(pass.waiting_for_volumes.len(), 1);
        let later: Value =
            serde_json::from_slice(&store.get("/persistentvolumeclaims/default/later").unwrap().unwrap().value)
                .unwrap();
        assert_eq!(
            later["metadata"]["annotations"]["volume.kubernetes.io/selected-node"],
            pass.waiting_for_volumes[0].1
        );
        let message = |name: &str| {
            let pod: Value =
                serde_json::from_slice(&store.get(&format!("/pods/default/{name}")).unwrap().unwrap().value).unwrap();
            crate::resources::pod::condition(&pod, "PodScheduled").unwrap()["message"].clone()
        };
        assert_eq!(message("c"), "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.");
        assert_eq!(message("d"), "0/2 nodes are available: persistentvolumeclaim \"missing\" not found.");
        assert!(schedule_pending(&store).unwrap().bound.is_empty(), "b waits for its volume");
    }
}
