//! The ReplicaSet controller, which also runs ReplicationControllers (the same job; their selector is a
//! label map): keeps `spec.replicas` active pods matching the selector. Pods are made from
//! the template (generateName `<rs>-`, a controller ownerReference), orphans whose labels match are
//! adopted and owned pods whose labels no longer match are released, surplus pods go in Kubernetes' order
//! (unscheduled, pending, not ready, ready for less time, more restarts, newer first), and the status
//! counts replicas, fullyLabeled, ready and available (ready for minReadySeconds) at the observed generation.

use std::cmp::Reverse;
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::garbage_collector::controller_reference;
use crate::control_plane::runtime::{cache, Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::label_selector::{labels, matches, of_workload};
use crate::resources::meta::{self, parse_rfc3339};
use crate::resources::pod;

/// At most this many pods are created or deleted in one pass (kube-controller-manager's burstReplicas).
pub const BURST: usize = 500;

pub struct ReplicaSetController {
    kind: &'static ResourceKind,
}

impl ReplicaSetController {
    pub fn for_replica_sets() -> Self {
        Self { kind: replica_sets() }
    }

    pub fn for_replication_controllers() -> Self {
        Self { kind: kinds::served("", "replicationcontrollers") }
    }
}

pub fn replica_sets() -> &'static ResourceKind {
    kinds::served("apps", "replicasets")
}

fn pods() -> &'static ResourceKind {
    kinds::served("", "pods")
}

fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

pub fn deleting(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
}

/// A pod that counts toward replicas: not finished, not being deleted.
pub fn is_active(pod: &Value) -> bool {
    !pod::is_terminal(pod) && !deleting(pod)
}

/// Since when the pod has been Ready (None: not ready).
pub fn ready_since(pod: &Value) -> Option<OffsetDateTime> {
    let ready = pod::condition(pod, "Ready").filter(|c| c["status"] == "True")?;
    Some(ready["lastTransitionTime"].as_str().and_then(parse_rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

/// Ready for at least `min_ready` at `now`; otherwise how long until it will be (None: not ready at all).
pub fn availability(pod: &Value, min_ready: i64, now: OffsetDateTime) -> Result<(), Option<Duration>> {
    let since = ready_since(pod).ok_or(None)?;
    let available_at = crate::resources::meta::plus_seconds(since, min_ready);
    if min_ready <= 0 || available_at <= now {
        return Ok(());
    }
    Err(Some(Duration::from_secs_f64((available_at - now).as_seconds_f64().max(0.0))))
}

fn restarts(pod: &Value) -> i64 {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|s| s.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Deletion order: the first pods of the returned order go first.
pub fn deletion_order(mut candidates: Vec<&Value>) -> Vec<&Value> {
    let phase_rank = |p: &Value| match pod::phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    candidates.sort_by_key(|p| {
        (
            pod::node_name(p).is_some(),
            phase_rank(p),
            ready_since(p).is_some(),
            Reverse(ready_since(p)),
            Reverse(restarts(p)),
            Reverse(p.pointer("/metadata/creationTimestamp").and_then(Value::as_str).map(String::from)),
        )
    });
    candidates
}

/// A new pod from `owner`'s template, owned by it.
pub fn pod_from_template(owner: &Value, owner_kind: &ResourceKind) -> Value {
    let template = &owner["spec"]["template"];
    let name = meta::name(owner).unwrap_or_default();
    let mut metadata = json!({
        "generateName": format!("{name}-"),
        "namespace": namespace(owner).unwrap_or("default"),
        "ownerReferences": [controller_reference(owner, owner_kind)],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template.pointer(&format!("/metadata/{field}")).filter(|v| v.is_object()) {
            metadata[field] = v.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"].clone()})
}

fn event(about: &Value, kind: &'static str, warning: bool, reason: &str, message: String) -> EventNote {
    EventNote { about: about.clone(), kind, warning, reason: reason.into(), message }
}

/// The pods `owner` controls and the adoptions/releases to make, given the namespace's pods.
pub fn claim<'a>(
    owner: &Value,
    owner_kind: &'static ResourceKind,
    cache: &'a Cache,
    plan: &mut Plan,
) -> Vec<&'a Value> {
    let uid = cache::uid(owner).unwrap_or_default();
    let selector = of_workload(owner_kind.kind, owner);
    let mut owned = Vec::new();
    for p in cache.claimable(pods(), namespace(owner), uid) {
        let p = p.as_ref();
        let selected = matches(selector.as_deref(), labels(p));
        match pod::controller_uid(p) {
            Some(controller) if controller == uid => {
                if selected {
                    owned.push(p);
                } else if !deleting(owner) {
                    // Released: the labels changed, the pod is no longer ours.
                    let mut released = p.clone();
                    if let Some(refs) = released.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut)
                    {
                        refs.retain(|r| r["uid"] != uid);
                    }
                    plan.push(Action::Update { kind: pods(), object: released });
                }
            }
            None if selected && !deleting(owner) && is_active(p) => {
                let mut adopted = p.clone();
                let mut refs =
                    adopted.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
                refs.push(controller_reference(owner, owner_kind));
                adopted["metadata"]["ownerReferences"] = json!(refs);
                plan.push(Action::Update { kind: pods(), object: adopted.clone() });
                owned.push(p);
            }
            _ => {}
        }
    }
    owned
}

/// The status a ReplicaSet reports for its owned pods (zero counts left out, as Kubernetes' omitempty).
pub fn status(rs: &Value, owned: &[&Value], now: OffsetDateTime, plan: &mut Plan) -> Value {
    let min_ready = rs.pointer("/spec/minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
    let template_labels = rs.pointer("/spec/template/metadata/labels").and_then(Value::as_object);
    let active: Vec<&&Value> = owned.iter().filter(|p| is_active(p)).collect();
    let fully_labeled = active
        .iter()
        .filter(|p| template_labels.into_iter().flatten().all(|(k, v)| labels(p).and_then(|l| l.get(k)) == Some(v)))
        .count();
    let ready = active.iter().filter(|p| ready_since(p).is_some()).count();
    let mut available = 0;
    for p in &active {
        match availability(p, min_ready, now) {
            Ok(()) => available += 1,
            Err(Some(wait)) => plan.requeue(wait + Duration::from_millis(100)),
            Err(None) => {}
        }
    }
    let mut status = json!({"replicas": active.len()});
    for (field, n) in
        [("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready), ("availableReplicas", available)]
    {
        if n > 0 {
            status[field] = json!(n);
        }
    }
    if let Some(generation) = rs.pointer("/metadata/generation") {
        status["observedGeneration"] = generation.clone();
    }
    if let Some(conditions) = rs.pointer("/status/conditions") {
        status["conditions"] = conditions.clone();
    }
    status
}

pub fn replicas(object: &Value) -> i64 {
    object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

impl Reconciler for ReplicaSetController {
    fn name(&self) -> &'static str {
        if self.kind.kind == "ReplicationController" {
            "replicationcontroller"
        } else {
            "replicaset"
        }
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&self.kind.prefix(None)) {
            return vec![change.key.clone()];
        }
        if !change.key.starts_with(&pods().prefix(None)) {
            return Vec::new();
        }
        let mut keys = Vec::new();
        for p in [&change.old, &change.new].into_iter().flatten() {
            match pod::controller_uid(p) {
                Some(owner) => {
                    if let Some(key) = cache.key_of_uid(owner).filter(|k| k.starts_with(&self.kind.prefix(None))) {
                        keys.push(key.to_string());
                    }
                }
                // An orphan: every ReplicaSet of its namespace whose selector takes it may adopt it.
                None => {
                    for rs in cache.list(self.kind, namespace(p)) {
                        if matches(of_workload(self.kind.kind, rs).as_deref(), labels(p)) {
                            keys.push(format!(
                                "{}{}",
                                self.kind.prefix(namespace(p)),
                                meta::name(rs).unwrap_or_default()
                            ));
                        }
                    }
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(rs) = cache.get(key) else { return plan };
        let rs = rs.as_ref();
        let owned = claim(rs, self.kind, cache, &mut plan);
        if !deleting(rs) {
            let active: Vec<&Value> = owned.iter().copied().filter(|p| is_active(p)).collect();
            let diff = replicas(rs) - active.len() as i64;
            if diff > 0 {
                for _ in 0..(diff as usize).min(BURST) {
                    let note = event(rs, self.kind.kind, false, "SuccessfulCreate", "Created pod: {name}".into());
                    plan.push(Action::Create {
                        kind: pods(),
                        object: pod_from_template(rs, self.kind),
                        event: Some(note),
                    });
                }
            } else if diff < 0 {
                for p in deletion_order(active).into_iter().take((-diff as usize).min(BURST)) {
                    let name = meta::name(p).unwrap_or_default();
                    let note = event(rs, self.kind.kind, false, "SuccessfulDelete", format!("Deleted pod: {name}"));
                    plan.push(Action::delete(pods(), p, None, Some(note)));
                }
            }
        }
        let status = status(rs, &owned, now, &mut plan);
        plan.update_status(self.kind, rs, status);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const T0: &str = "2026-12-03T10:00:00Z";

    fn rs(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default", "uid": "rs-uid", "generation": 2},
            "spec": {"replicas": replicas, "minReadySeconds": 10, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    }

    fn pod(name: &str, owner: Option<&str>, ready_at: Option<&str>, node: Option<&str>) -> Value {
        let mut p = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"),
            "labels": {"app": "web"}, "creationTimestamp": T0}, "spec": {}, "status": {"phase": "Running"}});
        if let Some(owner) = owner {
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": owner, "controller": true}]);
        }
        if let Some(at) = ready_at {
            p["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": at}]);
        }
        if let Some(node) = node {
            p["spec"]["nodeName"] = json!(node);
        }
        p
    }

    fn run(rs: Value, pods: Vec<Value>, now: &str) -> Plan {
        let mut cache = Cache::default();
        cache.apply("/apps/replicasets/default/web", Some(Arc::new(rs)));
        for p in pods {
            let key = format!("/pods/default/{}", p["metadata"]["name"].as_str().unwrap());
            cache.apply(&key, Some(Arc::new(p)));
        }
        ReplicaSetController::for_replica_sets().reconcile(
            "/apps/replicasets/default/web",
            &cache,
            parse_rfc3339(now).unwrap(),
        )
    }

    fn counts(plan: &Plan) -> (usize, Vec<String>, usize) {
        let creates = plan.actions.iter().filter(|a| matches!(a, Action::Create { .. })).count();
        let deletes = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Delete { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        let updates = plan.actions.iter().filter(|a| matches!(a, Action::Update { .. })).count();
        (creates, deletes, updates)
    }

    #[test]
    fn replication_controllers_select_by_their_label_map() {
        let mut rc = rs(2);
        rc["apiVersion"] = json!("v1");
        rc["kind"] = json!("ReplicationController");
        rc["spec"]["selector"] = json!({"app": "web"});
        let mut cache = Cache::default();
        cache.apply("/replicationcontrollers/default/web", Some(Arc::new(rc)));
        cache.apply("/pods/default/orphan", Some(Arc::new(pod("orphan", None, None, Some("n1")))));
        let controller = ReplicaSetController::for_replication_controllers();
        let plan = controller.reconcile("/replicationcontrollers/default/web", &cache, parse_rfc3339(T0).unwrap());
        assert_eq!(counts(&plan), (1, vec![], 1), "the orphan adopted, one pod made");
        let Action::Create { object, event, .. } = &plan.actions[1] else { panic!("{:?}", plan.actions) };
        let owner = &object["metadata"]["ownerReferences"][0];
        assert_eq!((owner["kind"].as_str(), owner["apiVersion"].as_str()), (Some("ReplicationController"), Some("v1")));
        assert_eq!(event.as_ref().unwrap().kind, "ReplicationController");
        assert_eq!(controller.name(), "replicationcontroller");
    }

    #[test]
    fn creates_the_missing_pods_owned_and_labelled() {
        let plan = run(rs(3), vec![pod("a", Some("rs-uid"), None, Some("n1"))], T0);
        assert_eq!(counts(&plan), (2, vec![], 0));
        let Action::Create { object, event, .. } = &plan.actions[0] else { panic!() };
        assert_eq!(object["metadata"]["generateName"], "web-");
        assert_eq!(object["metadata"]["ownerReferences"][0]["uid"], "rs-uid");
        assert_eq!(object["metadata"]["labels"]["app"], "web");
        assert_eq!(event.as_ref().unwrap().reason, "SuccessfulCreate");
    }

    #[test]
    fn deletes_the_surplus_in_kubernetes_order() {
        let pods = vec![
            pod("ready-long", Some("rs-uid"), Some("2026-12-03T09:00:00Z"), Some("n1")),
            pod("ready-new", Some("rs-uid"), Some("2026-12-03T09:59:00Z"), Some("n1")),
            pod("not-ready", Some("rs-uid"), None, Some("n1")),
            pod("unscheduled", Some("rs-uid"), None, None),
        ];
        let plan = run(rs(1), pods, T0);
        assert_eq!(counts(&plan).1, ["unscheduled", "not-ready", "ready-new"]);
    }

    #[test]
    fn adopts_orphans_and_releases_relabelled_pods() {
        let mut relabelled = pod("b", Some("rs-uid"), None, Some("n1"));
        relabelled["metadata"]["labels"]["app"] = json!("debug");
        let plan = run(rs(2), vec![pod("orphan", None, None, Some("n1")), relabelled], T0);
        // The orphan is adopted (one update), b released (one update), one pod made for b's place.
        assert_eq!(counts(&plan), (1, vec![], 2));
    }

    #[test]
    fn status_counts_ready_and_available_after_min_ready_seconds() {
        let pods = vec![
            pod("a", Some("rs-uid"), Some("2026-12-03T09:59:00Z"), Some("n1")),
            pod("b", Some("rs-uid"), Some("2026-12-03T09:59:55Z"), Some("n1")),
            pod("c", Some("rs-uid"), None, Some("n1")),
        ];
        let plan = run(rs(3), pods, T0);
        let Some(Action::UpdateStatus { object, .. }) = plan.actions.last() else { panic!("{plan:?}") };
        assert_eq!(
            object["status"],
            json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1, "observedGeneration": 2})
        );
        assert_eq!(plan.requeue_after, Some(Duration::from_millis(5100)), "b becomes available in 5 s");
    }

    #[test]
    fn a_replica_set_being_deleted_makes_no_pods() {
        let mut deleting = rs(3);
        deleting["metadata"]["deletionTimestamp"] = json!(T0);
        assert_eq!(counts(&run(deleting, vec![], T0)), (0, vec![], 0));
    }
}
