//! The Deployment controller: one ReplicaSet per pod template (named `<deployment>-<pod-template-hash>`, the
//! hash in its selector and labels), revision annotations (a template seen before gets the next revision
//! back: `kubectl rollout undo`), RollingUpdate within maxSurge/maxUnavailable, Recreate (old pods all gone
//! before the new ReplicaSet grows), paused deployments only scale, old ReplicaSets beyond
//! revisionHistoryLimit are deleted, and the status carries the counts and the Available/Progressing
//! conditions (with progressDeadlineSeconds) that `kubectl rollout status` reads.

use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::garbage_collector::controller_reference;
use super::replica_set::{deleting, replica_sets, replicas};
use super::rollout::{fenceposts, new_rs_replicas, old_scale_down, template_hash};
use crate::control_plane::runtime::{cache, Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::label_selector::{labels, matches};
use crate::resources::meta::{self, parse_rfc3339, rfc3339};
use crate::resources::pod;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";
/// Deployment annotations that are not copied to its ReplicaSets.
const NOT_COPIED: [&str; 5] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deployment.kubernetes.io/revision-history",
];

pub struct DeploymentController;

pub fn deployments() -> &'static ResourceKind {
    kinds::served("apps", "deployments")
}

fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

fn revision(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn status_count(object: &Value, field: &str) -> i64 {
    object.pointer(&format!("/status/{field}")).and_then(Value::as_i64).unwrap_or(0)
}

/// A template as Go would compare it after decoding: null fields, empty objects and empty lists are the
/// same as absent ones (kubectl's `rollout undo` sends `creationTimestamp: null`, `resources: {}`).
fn semantic(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> =
                map.iter().filter_map(|(k, v)| semantic(v).map(|v| (k.clone(), v))).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().map(|v| semantic(v).unwrap_or(json!({}))).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

/// The deployment's template, normalized, as its ReplicaSet's is compared and hashed.
fn template_of(d: &Value) -> Value {
    semantic(&d["spec"]["template"]).unwrap_or(json!({}))
}

fn without_hash(template: &Value) -> Value {
    let mut t = semantic(template).unwrap_or(json!({}));
    if let Some(l) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        l.remove(HASH_LABEL);
        if l.is_empty() {
            if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
            }
        }
    }
    t
}

/// Templates equal but for the hash label (and empty label maps).
fn same_template(rs: &Value, deployment: &Value) -> bool {
    without_hash(&rs["spec"]["template"]) == without_hash(&deployment["spec"]["template"])
}

fn is_recreate(d: &Value) -> bool {
    d.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate")
}

/// (maxSurge, maxUnavailable); Recreate has neither.
fn strategy_bounds(d: &Value) -> (i64, i64) {
    if is_recreate(d) || replicas(d) == 0 {
        return (0, 0);
    }
    fenceposts(d.pointer("/spec/strategy").unwrap_or(&Value::Null), replicas(d))
}

fn event(d: &Value, reason: &str, message: String) -> Action {
    Action::Event(EventNote { about: d.clone(), kind: "Deployment", warning: false, reason: reason.into(), message })
}

/// Scale `rs` to `to` (with the deployment's annotations kept current) and say so.
fn scale(d: &Value, rs: &Value, to: i64, plan: &mut Plan) {
    let from = replicas(rs);
    let (surge, _) = strategy_bounds(d);
    let mut scaled = rs.clone();
    scaled["spec"]["replicas"] = json!(to);
    scaled["metadata"]["annotations"][DESIRED_REPLICAS] = json!(replicas(d).to_string());
    scaled["metadata"]["annotations"][MAX_REPLICAS] = json!((replicas(d) + surge).to_string());
    if scaled == *rs {
        return;
    }
    plan.push(Action::Update { kind: replica_sets(), object: scaled });
    if from != to {
        let name = meta::name(rs).unwrap_or_default();
        let direction = if to > from { "up" } else { "down" };
        plan.push(event(d, "ScalingReplicaSet", format!("Scaled {direction} replica set {name} to {to} from {from}")));
    }
}

/// The ReplicaSet for the deployment's current template, `count` replicas, at `revision`.
/// The name of the ReplicaSet of the Deployment's current template: `<deployment>-<pod-template-hash>`.
fn new_replica_set_name(d: &Value) -> String {
    format!("{}-{}", meta::name(d).unwrap_or_default(), template_hash(&template_of(d)))
}

fn new_replica_set(d: &Value, count: i64, revision: i64) -> Value {
    let hash = template_hash(&template_of(d));
    let name = new_replica_set_name(d);
    let mut template = d["spec"]["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = d["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut annotations = serde_json::Map::new();
    for (k, v) in d.pointer("/metadata/annotations").and_then(Value::as_object).into_iter().flatten() {
        if !NOT_COPIED.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    let (surge, _) = strategy_bounds(d);
    annotations.insert(REVISION.into(), json!(revision.to_string()));
    annotations.insert(DESIRED_REPLICAS.into(), json!(replicas(d).to_string()));
    annotations.insert(MAX_REPLICAS.into(), json!((replicas(d) + surge).to_string()));
    let mut spec = json!({"replicas": count, "selector": selector, "template": template});
    if let Some(min_ready) = d.pointer("/spec/minReadySeconds") {
        spec["minReadySeconds"] = min_ready.clone();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": namespace(d).unwrap_or("default"),
            "labels": template["metadata"]["labels"].clone(),
            "annotations": annotations,
            "ownerReferences": [controller_reference(d, deployments())],
        },
        "spec": spec,
    })
}

fn set_condition(
    conditions: &mut Vec<Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    progress: bool,
) {
    let existing = conditions.iter().position(|c| c["type"] == kind);
    let mut condition = json!({"type": kind, "status": status, "reason": reason, "message": message,
        "lastUpdateTime": now, "lastTransitionTime": now});
    if let Some(i) = existing {
        let old = &conditions[i];
        if old["status"] == status {
            condition["lastTransitionTime"] = old["lastTransitionTime"].clone();
            // Nothing moved: the update time stays (it is what the progress deadline counts from).
            if !progress && old["reason"] == reason {
                condition["lastUpdateTime"] = old["lastUpdateTime"].clone();
            }
        }
        conditions[i] = condition;
    } else {
        conditions.push(condition);
    }
}

/// The status of `d` from its ReplicaSets; `progress`: this pass changed something.
fn deployment_status(
    d: &Value,
    new_rs: Option<&Value>,
    all: &[&Value],
    progress: bool,
    now: OffsetDateTime,
    plan: &mut Plan,
) -> Value {
    let want = replicas(d);
    let (_, max_unavailable) = strategy_bounds(d);
    let sum = |field: &str| all.iter().map(|rs| status_count(rs, field)).sum::<i64>();
    let total_spec: i64 = all.iter().map(|rs| replicas(rs)).sum();
    let available = sum("availableReplicas");
    let updated = new_rs.map_or(0, |rs| status_count(rs, "replicas"));
    let mut status = json!({"replicas": sum("replicas")});
    for (field, n) in [
        ("updatedReplicas", updated),
        ("readyReplicas", sum("readyReplicas")),
        ("availableReplicas", available),
        ("unavailableReplicas", (total_spec - available).max(0)),
    ] {
        if n > 0 {
            status[field] = json!(n);
        }
    }
    if let Some(g) = d.pointer("/metadata/generation") {
        status["observedGeneration"] = g.clone();
    }
    let now_text = rfc3339(now);
    let mut conditions: Vec<Value> =
        d.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    if available >= want - max_unavailable {
        set_condition(
            &mut conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &now_text,
            false,
        );
    } else {
        set_condition(
            &mut conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &now_text,
            false,
        );
    }
    // Before the new ReplicaSet is in the cache, the one this pass creates.
    let rs_name = new_rs.and_then(|rs| meta::name(rs)).map(String::from).unwrap_or_else(|| new_replica_set_name(d));
    let complete = new_rs.is_some() && updated == want && available >= want && sum("replicas") == want;
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let deadline = d.pointer("/spec/progressDeadlineSeconds").and_then(Value::as_i64).unwrap_or(600);
    if paused {
        set_condition(
            &mut conditions,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            &now_text,
            false,
        );
    } else if complete {
        let message = format!("ReplicaSet {rs_name:?} has successfully progressed.");
        set_condition(&mut conditions, "Progressing", "True", "NewReplicaSetAvailable", &message, &now_text, false);
    } else if progress || !conditions.iter().any(|c| c["type"] == "Progressing") {
        let message = format!("ReplicaSet {rs_name:?} is progressing.");
        set_condition(&mut conditions, "Progressing", "True", "ReplicaSetUpdated", &message, &now_text, true);
        plan.requeue(Duration::from_secs(deadline.max(0) as u64 + 1));
    } else if let Some(current) = conditions.iter().find(|c| c["type"] == "Progressing").cloned() {
        // Still rolling, nothing moved: past the deadline it has failed to progress.
        let since = current["lastUpdateTime"].as_str().and_then(parse_rfc3339).unwrap_or(now);
        let overdue = crate::resources::meta::plus_seconds(since, deadline);
        if current["reason"] != "ProgressDeadlineExceeded" && current["reason"] != "NewReplicaSetAvailable" {
            if overdue <= now {
                let message = format!("ReplicaSet {rs_name:?} has timed out progressing.");
                set_condition(
                    &mut conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &message,
                    &now_text,
                    true,
                );
            } else {
                plan.requeue(Duration::from_secs_f64((overdue - now).as_seconds_f64()) + Duration::from_secs(1));
            }
        }
    }
    status["conditions"] = json!(conditions);
    if let Some(c) = d.pointer("/status/collisionCount") {
        status["collisionCount"] = c.clone();
    }
    status
}

/// Pods of the old ReplicaSets that have not finished (deleting ones included: they may still run).
fn old_pods_running(old: &[&Value], cache: &Cache) -> bool {
    old.iter().any(|rs| {
        let uid = cache::uid(rs).unwrap_or_default();
        cache
            .dependents(uid)
            .iter()
            .any(|(key, p)| key.starts_with("/pods/") && pod::controller_uid(p) == Some(uid) && !pod::is_terminal(p))
    })
}

/// The writes of one pass of the rollout: Ok(true) if anything changed.
fn roll(d: &Value, new_rs: Option<&Value>, old: &[&Value], max_revision: i64, cache: &Cache, plan: &mut Plan) -> bool {
    let want = replicas(d);
    let before = plan.actions.len();
    let create = |count: i64, plan: &mut Plan| {
        let rs = new_replica_set(d, count, max_revision + 1);
        let name = meta::name(&rs).unwrap_or_default().to_string();
        plan.push(Action::Create { kind: replica_sets(), object: rs, event: None });
        plan.push(event(d, "ScalingReplicaSet", format!("Scaled up replica set {name} to {count} from 0")));
    };
    if is_recreate(d) {
        let active_old: Vec<&&Value> = old.iter().filter(|rs| replicas(rs) > 0).collect();
        if !active_old.is_empty() {
            for rs in active_old {
                scale(d, rs, 0, plan);
            }
        } else if old_pods_running(old, cache) {
            // The gap Recreate promises: nothing new until every old pod is gone.
        } else {
            match new_rs {
                None => create(want, plan),
                Some(rs) => scale(d, rs, want, plan),
            }
        }
        return plan.actions.len() > before;
    }
    let (surge, max_unavailable) = strategy_bounds(d);
    let all_current: i64 = old.iter().map(|rs| replicas(rs)).sum::<i64>() + new_rs.map_or(0, replicas);
    let Some(new_rs) = new_rs else {
        create(new_rs_replicas(want, surge, 0, all_current), plan);
        return true;
    };
    let target = new_rs_replicas(want, surge, replicas(new_rs), all_current);
    if target != replicas(new_rs) {
        scale(d, new_rs, target, plan);
        return true;
    }
    let old_total: i64 = old.iter().map(|rs| replicas(rs)).sum();
    if old_total == 0 {
        return plan.actions.len() > before;
    }
    let old_available: i64 = old.iter().map(|rs| status_count(rs, "availableReplicas")).sum();
    let (unhealthy_budget, mut available_budget) = old_scale_down(
        want,
        max_unavailable,
        all_current,
        replicas(new_rs),
        status_count(new_rs, "availableReplicas"),
        old_available,
    );
    if unhealthy_budget == 0 {
        return false;
    }
    let mut oldest_first: Vec<&Value> = old.to_vec();
    oldest_first.sort_by_key(|rs| {
        (rs.pointer("/metadata/creationTimestamp").and_then(Value::as_str).map(String::from), revision(rs))
    });
    let mut cleanup = unhealthy_budget;
    for rs in oldest_first {
        let current = replicas(rs);
        let unhealthy = (current - status_count(rs, "availableReplicas")).max(0).min(cleanup);
        cleanup -= unhealthy;
        let healthy = (current - unhealthy).min(available_budget);
        available_budget -= healthy;
        let to = current - unhealthy - healthy;
        if to != current {
            scale(d, rs, to, plan);
        }
    }
    plan.actions.len() > before
}

/// Old ReplicaSets past revisionHistoryLimit with nothing left in them go, oldest revision first.
fn clean_up_history(d: &Value, old: &[&Value], plan: &mut Plan) {
    let limit = d.pointer("/spec/revisionHistoryLimit").and_then(Value::as_i64).unwrap_or(10).max(0) as usize;
    let mut empty: Vec<&&Value> =
        old.iter().filter(|rs| replicas(rs) == 0 && status_count(rs, "replicas") == 0 && !deleting(rs)).collect();
    if empty.len() <= limit {
        return;
    }
    empty.sort_by_key(|rs| revision(rs));
    for rs in &empty[..empty.len() - limit] {
        plan.push(Action::delete(replica_sets(), rs, Some("Background"), None));
    }
}

impl Reconciler for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        let prefix = deployments().prefix(None);
        if change.key.starts_with(&prefix) {
            return vec![change.key.clone()];
        }
        let is_rs = change.key.starts_with(&replica_sets().prefix(None));
        let is_pod = change.key.starts_with("/pods/");
        if !is_rs && !is_pod {
            return Vec::new();
        }
        let mut keys = Vec::new();
        for object in [&change.old, &change.new].into_iter().flatten() {
            let Some(mut owner) = pod::controller_uid(object).and_then(|u| cache.key_of_uid(u)) else { continue };
            if is_pod {
                // A pod counts only for Recreate's wait: its ReplicaSet's owner looks again.
                let Some(rs) = cache.get(owner) else { continue };
                let Some(d) = pod::controller_uid(rs).and_then(|u| cache.key_of_uid(u)) else { continue };
                owner = d;
            }
            if owner.starts_with(&prefix) {
                keys.push(owner.to_string());
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(d) = cache.get(key) else { return plan };
        let d = d.as_ref();
        if deleting(d) {
            return plan;
        }
        let uid = cache::uid(d).unwrap_or_default();
        let selector = d.pointer("/spec/selector");
        // Only ReplicaSets it controls: a Deployment does not adopt orphans.
        let own_prefix = replica_sets().prefix(namespace(d));
        let owned: Vec<&Value> = cache
            .dependents(uid)
            .into_iter()
            .filter(|(key, _)| key.starts_with(&own_prefix))
            .map(|(_, rs)| rs.as_ref())
            .filter(|rs| pod::controller_uid(rs) == Some(uid) && matches(selector, labels(rs)))
            .collect();
        let new_rs = owned.iter().copied().find(|rs| same_template(rs, d));
        let old: Vec<&Value> = owned.iter().copied().filter(|rs| Some(*rs) != new_rs).collect();
        let max_old_revision = old.iter().map(|rs| revision(rs)).max().unwrap_or(0);
        let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
        let mut progress = false;
        if let Some(rs) = new_rs.filter(|rs| revision(rs) <= max_old_revision && !paused) {
            // An earlier template came back (rollout undo): it becomes the newest revision.
            let mut bumped = rs.clone();
            bumped["metadata"]["annotations"][REVISION] = json!((max_old_revision + 1).to_string());
            plan.push(Action::Update { kind: replica_sets(), object: bumped });
            progress = true;
        } else if paused {
            // Paused: no rollout, only scaling of the one active ReplicaSet.
            let active: Vec<&Value> = owned.iter().copied().filter(|rs| replicas(rs) > 0).collect();
            if let [only] = active.as_slice() {
                scale(d, only, replicas(d), &mut plan);
            }
        } else {
            let max_revision = owned.iter().map(|rs| revision(rs)).max().unwrap_or(0);
            progress = roll(d, new_rs, &old, max_revision, cache, &mut plan);
            if !progress {
                clean_up_history(d, &old, &mut plan);
            }
        }
        let status = deployment_status(d, new_rs, &owned, progress, now, &mut plan);
        plan.update_status(deployments(), d, status);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const NOW: &str = "2026-12-03T10:00:00Z";

    fn deployment(image: &str, replicas: i64, strategy: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1,
                "annotations": {"kubernetes.io/change-cause": "v", "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"replicas": replicas, "strategy": strategy, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    /// A ReplicaSet of `d` with `spec` replicas, `available` of them available, at `revision`.
    fn rs_of(d: &Value, spec: i64, available: i64, revision: i64) -> Value {
        let mut rs = new_replica_set(d, spec, revision);
        let name = rs["metadata"]["name"].as_str().unwrap().to_string();
        rs["metadata"]["uid"] = json!(format!("{name}-uid"));
        rs["metadata"]["creationTimestamp"] = json!(format!("2026-12-03T0{revision}:00:00Z"));
        rs["status"] = json!({"replicas": spec, "availableReplicas": available, "readyReplicas": available});
        rs
    }

    fn run(d: &Value, rss: &[Value]) -> Plan {
        let mut cache = Cache::default();
        cache.apply("/apps/deployments/default/web", Some(Arc::new(d.clone())));
        for rs in rss {
            cache.apply(
                &format!("/apps/replicasets/default/{}", rs["metadata"]["name"].as_str().unwrap()),
                Some(Arc::new(rs.clone())),
            );
        }
        DeploymentController.reconcile("/apps/deployments/default/web", &cache, parse_rfc3339(NOW).unwrap())
    }

    /// The ReplicaSet writes of a plan: (name, replicas) for scales, "+name=n" for creates.
    fn writes(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::Create { object, .. } => {
                    Some(format!("+{}={}", object["metadata"]["name"].as_str().unwrap(), object["spec"]["replicas"]))
                }
                Action::Update { object, .. } => {
                    Some(format!("{}={}", object["metadata"]["name"].as_str().unwrap(), object["spec"]["replicas"]))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_first_replica_set_carries_hash_revision_and_annotations() {
        let d = deployment("v1", 3, json!({"type": "RollingUpdate"}));
        let plan = run(&d, &[]);
        let Action::Create { object, .. } = &plan.actions[0] else { panic!("{plan:?}") };
        let hash = template_hash(&template_of(&d));
        assert_eq!(object["metadata"]["name"], format!("web-{hash}"));
        assert_eq!(object["spec"]["selector"]["matchLabels"][HASH_LABEL], hash);
        assert_eq!(object["spec"]["template"]["metadata"]["labels"][HASH_LABEL], hash);
        assert_eq!(object["metadata"]["annotations"][REVISION], "1");
        assert_eq!(object["metadata"]["annotations"]["kubernetes.io/change-cause"], "v");
        assert!(object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_null());
        assert_eq!(object["spec"]["replicas"], 3, "nothing old: straight to replicas (surge 1 of 3 rounds up)");
    }

    #[test]
    fn a_rolling_update_step_by_step() {
        // replicas 4, maxSurge 1, maxUnavailable 1 (25% of 4).
        let v1 = deployment("v1", 4, json!({"type": "RollingUpdate"}));
        let v2 = deployment("v2", 4, json!({"type": "RollingUpdate"}));
        let old = rs_of(&v1, 4, 4, 1);
        let (o, n) = (
            old["metadata"]["name"].as_str().unwrap().to_string(),
            format!("web-{}", template_hash(&template_of(&v2))),
        );
        // 1: the new ReplicaSet appears with the surge.
        assert_eq!(writes(&run(&v2, std::slice::from_ref(&old))), [format!("+{n}=1")]);
        // 2: the new pod is not available yet: one old pod may go (4 + 1 - 3 - 1).
        let new = rs_of(&v2, 1, 0, 2);
        assert_eq!(writes(&run(&v2, &[old.clone(), new])), [format!("{o}=3")]);
        // 3: 3 old + 1 new: the new one grows by the surge room.
        let (old3, new1) = (rs_of(&v1, 3, 3, 1), rs_of(&v2, 1, 1, 2));
        assert_eq!(writes(&run(&v2, &[old3, new1])), [format!("{n}=2")]);
        // 4: 3 old available + 2 new available: two old may go (5 - 3).
        let (old3, new2) = (rs_of(&v1, 3, 3, 1), rs_of(&v2, 2, 2, 2));
        assert_eq!(writes(&run(&v2, &[old3, new2])), [format!("{o}=1")]);
        // Done: the old ReplicaSet at 0 is kept as history.
        let (old0, new4) = (rs_of(&v1, 0, 0, 1), rs_of(&v2, 4, 4, 2));
        let plan = run(&v2, &[old0, new4]);
        assert_eq!(writes(&plan), Vec::<String>::new());
        let Some(Action::UpdateStatus { object, .. }) = plan.actions.last() else { panic!("{plan:?}") };
        let progressing =
            object["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Progressing").unwrap();
        assert_eq!(progressing["reason"], "NewReplicaSetAvailable", "{}", object["status"]);
    }

    #[test]
    fn recreate_empties_the_old_before_the_new_grows() {
        let v1 = deployment("v1", 2, json!({"type": "Recreate"}));
        let v2 = deployment("v2", 2, json!({"type": "Recreate"}));
        let old = rs_of(&v1, 2, 2, 1);
        let o = old["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(writes(&run(&v2, &[old])), [format!("{o}=0")]);
        let n = format!("web-{}", template_hash(&template_of(&v2)));
        assert_eq!(writes(&run(&v2, &[rs_of(&v1, 0, 0, 1)])), [format!("+{n}=2")], "no old pods left");
    }

    #[test]
    fn undo_brings_the_old_template_back_as_the_newest_revision() {
        let v1 = deployment("v1", 2, json!({"type": "RollingUpdate"}));
        let v2 = deployment("v2", 2, json!({"type": "RollingUpdate"}));
        let plan = run(&v1, &[rs_of(&v1, 0, 0, 1), rs_of(&v2, 2, 2, 2)]);
        let Action::Update { object, .. } = &plan.actions[0] else { panic!("{plan:?}") };
        assert_eq!(
            (
                object["spec"]["template"]["spec"]["containers"][0]["image"].as_str(),
                object["metadata"]["annotations"][REVISION].as_str()
            ),
            (Some("v1"), Some("3"))
        );
    }

    #[test]
    fn history_beyond_the_limit_is_deleted_oldest_first() {
        let mut d = deployment("v9", 1, json!({"type": "RollingUpdate"}));
        d["spec"]["revisionHistoryLimit"] = json!(2);
        let mut rss: Vec<Value> =
            (1..=4).map(|i| rs_of(&deployment(&format!("v{i}"), 1, json!({})), 0, 0, i)).collect();
        rss.push(rs_of(&d, 1, 1, 5));
        let deleted: Vec<String> = run(&d, &rss)
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Delete { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        let expected: Vec<String> =
            rss[..2].iter().map(|rs| rs["metadata"]["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(deleted, expected);
    }

    #[test]
    fn a_paused_deployment_only_scales() {
        let mut v2 = deployment("v2", 5, json!({"type": "RollingUpdate"}));
        v2["spec"]["paused"] = json!(true);
        let old = rs_of(&deployment("v1", 5, json!({"type": "RollingUpdate"})), 3, 3, 1);
        let o = old["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(writes(&run(&v2, &[old])), [format!("{o}=5")]);
    }
}
