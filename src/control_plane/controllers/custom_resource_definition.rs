//! kube-apiextensions-server's controllers for CustomResourceDefinitions, in one reconciler:
//! - naming and establishing: a definition whose plural and kind no other definition of its group has
//!   accepted gets them as acceptedNames, NamesAccepted and Established (every API server then serves it:
//!   control_plane/api_extensions.rs); a clash leaves NamesAccepted False and nothing served;
//! - the stored versions: status.storedVersions gains each storage version the definition has had;
//! - cleanup: a definition being deleted is marked Terminating, its objects are deleted (each as a delete
//!   by name would, finalizers respected), and once none is left its cleanup finalizer is taken away.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::control_plane::runtime::{Action, Cache, Change, Plan, Reconciler};
use crate::resources::custom_resource_definition::{accepted_name, group, storage_version, CLEANUP_FINALIZER};
use crate::resources::kinds::{self, ResourceKind, CUSTOM_ROOT};
use crate::resources::meta::{self, is_deleting};

pub struct DefinitionController;

fn definitions() -> &'static ResourceKind {
    kinds::served("apiextensions.k8s.io", "customresourcedefinitions")
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// `/custom/GROUP/PLURAL/…` -> the key of the definition PLURAL.GROUP.
fn definition_of(key: &str) -> Option<String> {
    let mut parts = key.strip_prefix(CUSTOM_ROOT)?.split('/');
    let (group, plural) = (parts.next()?, parts.next()?);
    Some(definitions().key(None, &format!("{plural}.{group}")))
}

/// The served kind whose store prefix holds the definition's objects, when any version is served.
fn stored_kind(crd: &Value) -> Option<&'static ResourceKind> {
    let plural = accepted_name(crd, "plural");
    kinds::all().into_iter().find(|k| k.custom && k.group == group(crd) && k.plural == plural)
}

/// A condition as kube-apiserver writes it, keeping its transition time while its status stays.
fn condition(crd: &Value, type_: &str, status: &str, reason: &str, message: &str) -> Value {
    crate::resources::condition::condition(crd, type_, status, reason, message, &meta::now_rfc3339())
}

/// Why another definition of the group keeps this one's names, if one does.
fn name_clash(cache: &Cache, crd: &Value) -> Option<(&'static str, String)> {
    let (name, plural, kind) =
        (text(crd, "/metadata/name"), text(crd, "/spec/names/plural"), text(crd, "/spec/names/kind"));
    for other in cache.list(definitions(), None) {
        if text(other, "/metadata/name") == name || group(other) != group(crd) {
            continue;
        }
        if text(other, "/status/acceptedNames/plural") == plural {
            return Some(("PluralConflict", format!("{plural:?} is already in use")));
        }
        if text(other, "/status/acceptedNames/kind") == kind {
            return Some(("KindConflict", format!("{kind:?} is already in use")));
        }
    }
    None
}

/// The names a definition is served under: its spec's, with kube-apiserver's defaults.
fn accepted_names(crd: &Value) -> Value {
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let kind = text(crd, "/spec/names/kind").to_string();
    if text(&names, "/singular").is_empty() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if text(&names, "/listKind").is_empty() {
        names["listKind"] = json!(format!("{kind}List"));
    }
    names
}

fn status(cache: &Cache, crd: &Value) -> Value {
    let mut status = crd.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    let mut stored: Vec<Value> = status.get("storedVersions").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(version) = storage_version(crd) {
        if !stored.contains(&json!(version)) {
            stored.push(json!(version));
        }
    }
    status["storedVersions"] = json!(stored);
    let established =
        condition(crd, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted");
    let conditions = match name_clash(cache, crd) {
        Some((reason, message)) => {
            let kept_established = crate::resources::custom_resource_definition::condition(crd, "Established");
            let mut c = vec![condition(crd, "NamesAccepted", "False", reason, &message)];
            // Names once accepted stay served; a definition never established is not.
            if kept_established == Some("True") {
                c.push(established);
            } else {
                c.push(condition(crd, "Established", "False", "NotAccepted", "not all names are accepted"));
            }
            c
        }
        None => {
            status["acceptedNames"] = accepted_names(crd);
            vec![condition(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found"), established]
        }
    };
    status["conditions"] = json!(conditions);
    status
}

impl Reconciler for DefinitionController {
    fn name(&self) -> &'static str {
        "customresourcedefinition"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&definitions().prefix(None)) {
            // A definition's names may free or take another's: all of them look again.
            return cache
                .list(definitions(), None)
                .filter_map(|d| meta::name(d).map(|n| definitions().key(None, n)))
                .collect();
        }
        // An object of a definition being deleted went or changed: the cleanup looks again.
        match definition_of(&change.key) {
            Some(key) if cache.get(&key).is_some_and(|d| is_deleting(d)) => vec![key],
            _ => Vec::new(),
        }
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(crd) = cache.get(key) else { return plan };
        if !is_deleting(crd) {
            plan.update_status(definitions(), crd, status(cache, crd));
            return plan;
        }
        if !meta::has_finalizer(crd, CLEANUP_FINALIZER) {
            return plan;
        }
        let objects: Vec<(&'static ResourceKind, &Value)> = match stored_kind(crd) {
            Some(kind) => cache.list(kind, None).map(|o| (kind, o.as_ref())).collect(),
            None => Vec::new(),
        };
        if objects.is_empty() {
            plan.push(Action::Update { kind: definitions(), object: meta::without_finalizer(crd, CLEANUP_FINALIZER) });
            return plan;
        }
        let mut terminating = crd.get("status").cloned().unwrap_or_else(|| json!({}));
        let mut conditions: Vec<Value> = terminating
            .get("conditions")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter(|c| c["type"] != "Terminating").cloned().collect())
            .unwrap_or_default();
        let deleting = "CustomResource deletion is in progress";
        conditions.push(condition(crd, "Terminating", "True", "InstanceDeletionInProgress", deleting));
        terminating["conditions"] = json!(conditions);
        plan.update_status(definitions(), crd, terminating);
        for (kind, object) in objects {
            if !is_deleting(object) {
                plan.push(Action::delete(kind, object, Some("Background"), None));
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn crd(name: &str, plural: &str, kind: &str) -> Value {
        let group = name.split_once('.').map(|(_, g)| g).unwrap_or_default();
        json!({"metadata": {"name": name, "uid": name, "finalizers": [CLEANUP_FINALIZER]},
            "spec": {"group": group, "scope": "Namespaced", "names": {"plural": plural, "kind": kind},
                     "versions": [{"name": "v1", "served": true, "storage": true}]},
            "status": {"storedVersions": ["v1"], "conditions": [], "acceptedNames": {"plural": "", "kind": ""}}})
    }

    #[test]
    fn a_definition_is_established_unless_its_names_are_taken() {
        let mut cache = Cache::default();
        let first = crd("gizmos.ctl-test.example.com", "gizmos", "Gizmo");
        let first_key = definitions().key(None, "gizmos.ctl-test.example.com");
        cache.apply(&first_key, Some(Arc::new(first)));
        let plan = DefinitionController.reconcile(&first_key, &cache, OffsetDateTime::now_utc());
        let Action::UpdateStatus { object, .. } = &plan.actions[0] else { panic!("{:?}", plan.actions) };
        assert_eq!(object["status"]["acceptedNames"]["singular"], "gizmo");
        assert_eq!(object["status"]["acceptedNames"]["listKind"], "GizmoList");
        assert_eq!(object["status"]["conditions"][1]["type"], "Established");
        assert_eq!(object["status"]["conditions"][1]["status"], "True");
        cache.apply(&first_key, Some(Arc::new(object.clone())));
        assert!(DefinitionController.reconcile(&first_key, &cache, OffsetDateTime::now_utc()).actions.is_empty());

        // Another definition of the group with the same kind under another plural.
        let second_key = definitions().key(None, "gadgets.ctl-test.example.com");
        cache.apply(&second_key, Some(Arc::new(crd("gadgets.ctl-test.example.com", "gadgets", "Gizmo"))));
        let plan = DefinitionController.reconcile(&second_key, &cache, OffsetDateTime::now_utc());
        let Action::UpdateStatus { object, .. } = &plan.actions[0] else { panic!("{:?}", plan.actions) };
        assert_eq!(object["status"]["conditions"][0]["reason"], "KindConflict");
        assert_eq!(object["status"]["conditions"][1]["status"], "False");
    }

    #[test]
    fn a_deleted_definition_without_objects_loses_its_finalizer() {
        let mut cache = Cache::default();
        let mut gone = crd("doodads.ctl-test.example.com", "doodads", "Doodad");
        gone["metadata"]["deletionTimestamp"] = json!("2026-12-06T00:00:00Z");
        let key = definitions().key(None, "doodads.ctl-test.example.com");
        cache.apply(&key, Some(Arc::new(gone)));
        let plan = DefinitionController.reconcile(&key, &cache, OffsetDateTime::now_utc());
        let Action::Update { object, .. } = &plan.actions[0] else { panic!("{:?}", plan.actions) };
        assert_eq!(object["metadata"]["finalizers"], json!([]));
        assert_eq!(definition_of("/custom/ctl-test.example.com/doodads/ns/x").as_deref(), Some(key.as_str()));
    }
}
