//! Kubernetes' garbage collector over ownerReferences. Keys are store keys of any cached object.
//! - A dependent whose owners are all gone (no object with the referenced uid) is deleted (Background);
//!   one that still has a live owner loses only the references to the gone ones.
//! - An owner deleted with propagationPolicy Foreground carries the `foregroundDeletion` finalizer: its
//!   dependents are deleted (Foreground in turn), and once none that blocks owner deletion is left the
//!   finalizer is removed and the deletion completes.
//! - An owner deleted with Orphan carries `orphan`: its dependents lose their reference to it, then the
//!   finalizer is removed.
//!
//! References to kinds this server does not serve are never judged gone.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::control_plane::registry::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use crate::control_plane::runtime::{cache, Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds;
use crate::resources::meta::{has_finalizer, without_finalizer};

pub struct GarbageCollector;

fn references(object: &Value) -> Vec<&Value> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default()
}

fn deleting(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
}

fn without_references(object: &Value, gone: &[&str]) -> Value {
    let mut out = object.clone();
    if let Some(list) = out.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
        list.retain(|r| !gone.contains(&r["uid"].as_str().unwrap_or("")));
    }
    out
}

/// Whether the owner a reference names is gone, as far as the cache can tell.
fn owner_gone(reference: &Value, cache: &Cache) -> bool {
    let (Some(api_version), Some(kind), Some(uid)) =
        (reference["apiVersion"].as_str(), reference["kind"].as_str(), reference["uid"].as_str())
    else {
        return false;
    };
    kinds::of_reference(api_version, kind).is_some_and(|k| k.kind != "Event") && cache.by_uid(uid).is_none()
}

fn update(key: &str, object: Value) -> Option<Action> {
    kinds::of_key(key).map(|kind| Action::Update { kind, object })
}

/// Delete this incarnation (uid) of the object at `key`.
fn delete(key: &str, object: &Value, propagation: &'static str) -> Option<Action> {
    kinds::of_key(key).map(|kind| Action::delete(kind, object, Some(propagation), None))
}

/// The plan for `key` as an owner being deleted (Foreground or Orphan).
fn as_owner(key: &str, owner: &Value, cache: &Cache, plan: &mut Plan) {
    let Some(uid) = cache::uid(owner) else { return };
    let dependents = cache.dependents(uid);
    if has_finalizer(owner, ORPHAN_FINALIZER) {
        for (dep_key, dependent) in &dependents {
            plan.actions.extend(update(dep_key, without_references(dependent, &[uid])));
        }
        if dependents.is_empty() {
            plan.actions.extend(update(key, without_finalizer(owner, ORPHAN_FINALIZER)));
        }
        return;
    }
    if has_finalizer(owner, FOREGROUND_FINALIZER) {
        let mut blocking = 0;
        for (dep_key, dependent) in &dependents {
            let blocks = references(dependent)
                .iter()
                .any(|r| r["uid"] == uid && r["blockOwnerDeletion"].as_bool() == Some(true));
            if blocks {
                blocking += 1;
            }
            if !deleting(dependent) {
                plan.actions.extend(delete(dep_key, dependent, "Foreground"));
            }
        }
        if blocking == 0 {
            plan.actions.extend(update(key, without_finalizer(owner, FOREGROUND_FINALIZER)));
        }
    }
}

/// The plan for `key` as a dependent: deleted when every owner is gone, dangling references dropped.
fn as_dependent(key: &str, dependent: &Value, cache: &Cache, plan: &mut Plan) {
    let references = references(dependent);
    if references.is_empty() || deleting(dependent) {
        return;
    }
    let gone: Vec<&str> =
        references.iter().filter(|r| owner_gone(r, cache)).filter_map(|r| r["uid"].as_str()).collect();
    if gone.is_empty() {
        return;
    }
    if gone.len() == references.len() {
        plan.actions.extend(delete(key, dependent, "Background"));
    } else {
        plan.actions.extend(update(key, without_references(dependent, &gone)));
    }
}

impl Reconciler for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbage-collector"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        let mut keys = Vec::new();
        let object = change.new.as_ref().or(change.old.as_ref());
        let Some(object) = object else { return keys };
        match &change.new {
            Some(new) => {
                if !references(new).is_empty() {
                    keys.push(change.key.clone());
                }
                if deleting(new) && (has_finalizer(new, FOREGROUND_FINALIZER) || has_finalizer(new, ORPHAN_FINALIZER)) {
                    keys.push(change.key.clone());
                }
            }
            // Gone: its dependents may be orphans now.
            None => {
                if let Some(uid) = cache::uid(object) {
                    keys.extend(cache.dependents(uid).into_iter().map(|(k, _)| k.to_string()));
                }
            }
        }
        // A dependent changed or went: an owner waiting for its dependents looks again — the owners it
        // had before the change too (an orphaned dependent no longer names the owner it was released
        // from, which waits for exactly that).
        let owners = [change.old.as_deref(), change.new.as_deref()].into_iter().flatten().flat_map(cache::owner_uids);
        for owner in owners {
            if let Some(owner_key) = cache.key_of_uid(owner) {
                if cache.get(owner_key).is_some_and(|o| deleting(o)) {
                    keys.push(owner_key.to_string());
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(object) = cache.get(key) else { return plan };
        if deleting(object) {
            as_owner(key, object, cache, &mut plan);
        }
        as_dependent(key, object, cache, &mut plan);
        plan
    }
}

/// An ownerReference to `owner` (of kind `kind`) as a controller sets it on what it creates.
pub fn controller_reference(owner: &Value, kind: &kinds::ResourceKind) -> Value {
    json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "name": crate::resources::meta::name(owner).unwrap_or_default(),
        "uid": cache::uid(owner).unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn obj(uid: &str, owners: &[(&str, &str, bool)], extra: Value) -> Value {
        let refs: Vec<Value> = owners
            .iter()
            .map(|(kind, uid, block)| {
                let api_version = if *kind == "ReplicaSet" || *kind == "Deployment" { "apps/v1" } else { "v1" };
                json!({"apiVersion": api_version, "kind": kind, "name": "x", "uid": uid, "blockOwnerDeletion": block})
            })
            .collect();
        let mut o = json!({"metadata": {"name": uid, "namespace": "default", "uid": uid, "ownerReferences": refs}});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                o["metadata"][k] = v;
            }
        }
        o
    }

    fn cache_of(objects: &[(&str, Value)]) -> Cache {
        let mut cache = Cache::default();
        for (key, o) in objects {
            cache.apply(key, Some(Arc::new(o.clone())));
        }
        cache
    }

    /// (what is in the cache, the key reconciled) -> the plan's actions, summarized.
    fn summary(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .map(|a| match a {
                Action::Delete { name, propagation, .. } => format!("delete {name} {}", propagation.unwrap_or("")),
                Action::Update { object, .. } => format!(
                    "update {} refs={} finalizers={}",
                    object["metadata"]["name"].as_str().unwrap(),
                    object["metadata"]["ownerReferences"].as_array().map_or(0, Vec::len),
                    object["metadata"]["finalizers"]
                ),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_graph_as_a_table() {
        let deleting = |f: &str| json!({"deletionTimestamp": "2026-12-03T00:00:00Z", "finalizers": [f]});
        let rs = ("/apps/replicasets/default/rs", obj("rs", &[], json!({})));
        let pod = ("/pods/default/pod", obj("pod", &[("ReplicaSet", "rs", true)], json!({})));
        let orphan_pod = ("/pods/default/pod", obj("pod", &[("ReplicaSet", "gone", true)], json!({})));
        let two_owners =
            ("/pods/default/pod", obj("pod", &[("ReplicaSet", "gone", true), ("ReplicaSet", "rs", true)], json!({})));
        let unknown_owner = ("/pods/default/pod", obj("pod", &[("Widget", "w", true)], json!({})));
        let fg_rs = ("/apps/replicasets/default/rs", obj("rs", &[], deleting("foregroundDeletion")));
        let orphan_rs = ("/apps/replicasets/default/rs", obj("rs", &[], deleting("orphan")));
        let loose_pod = ("/pods/default/pod", obj("pod", &[("ReplicaSet", "rs", false)], json!({})));
        type Row<'a> = (Vec<(&'a str, Value)>, &'a str, Vec<&'a str>);
        let table: Vec<Row> = vec![
            (vec![rs.clone(), pod.clone()], "/pods/default/pod", vec![]),
            (vec![orphan_pod], "/pods/default/pod", vec!["delete pod Background"]),
            (vec![rs.clone(), two_owners], "/pods/default/pod", vec!["update pod refs=1 finalizers=null"]),
            (vec![unknown_owner], "/pods/default/pod", vec![]),
            (vec![fg_rs.clone(), pod.clone()], "/apps/replicasets/default/rs", vec!["delete pod Foreground"]),
            (
                vec![fg_rs.clone(), loose_pod],
                "/apps/replicasets/default/rs",
                vec!["delete pod Foreground", "update rs refs=0 finalizers=[]"],
            ),
            (vec![fg_rs], "/apps/replicasets/default/rs", vec!["update rs refs=0 finalizers=[]"]),
            (vec![orphan_rs.clone(), pod], "/apps/replicasets/default/rs", vec!["update pod refs=0 finalizers=null"]),
            (vec![orphan_rs], "/apps/replicasets/default/rs", vec!["update rs refs=0 finalizers=[]"]),
        ];
        for (i, (objects, key, expected)) in table.into_iter().enumerate() {
            let cache = cache_of(&objects);
            let plan = GarbageCollector.reconcile(key, &cache, OffsetDateTime::now_utc());
            assert_eq!(summary(&plan), expected, "row {i}");
        }
    }
}
