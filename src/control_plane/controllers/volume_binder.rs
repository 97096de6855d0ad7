//! Kubernetes' persistent volume controller (the binder): claims are bound to volumes and volumes follow
//! their claims. Each pass makes the next single write, as kube-controller-manager's syncClaim/syncVolume
//! do, and the write's own watch event brings the next pass:
//! 1. a free volume that satisfies the claim gets the claim in its claimRef (the volume's resourceVersion
//!    is the precondition, so two claims never take one volume);
//! 2. the claim gets `spec.volumeName` and the bind annotations; 3. both get phase Bound.
//!
//! A claim of a WaitForFirstConsumer class waits for the scheduler's selected-node annotation and then
//! takes only a volume that may be used on that node; with no volume to take, a class with a provisioner
//! has the claim annotated for it. A volume whose claim is gone is Released, then kept (Retain) or left to
//! its provisioner to delete (Delete).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::control_plane::runtime::{Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta::is_deleting;
use crate::resources::storage::{
    annotation, best_match, claim_class, claim_ref, is_local_path, reserved_for, satisfies, waits_for_consumer,
    BETA_STORAGE_PROVISIONER, BIND_COMPLETED, BOUND_BY_CONTROLLER, SELECTED_NODE, STORAGE_PROVISIONER,
};

pub(super) fn volumes() -> &'static ResourceKind {
    kinds::served("", "persistentvolumes")
}

pub(super) fn claims() -> &'static ResourceKind {
    kinds::served("", "persistentvolumeclaims")
}

pub(super) fn classes() -> &'static ResourceKind {
    kinds::served("storage.k8s.io", "storageclasses")
}

fn text<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The binder. It remembers the last reason it reported per claim, so a claim that keeps waiting gets one
/// event, not one per pass.
#[derive(Default)]
pub struct VolumeBinder {
    reported: Mutex<HashMap<String, String>>,
}

impl VolumeBinder {
    fn report(&self, plan: &mut Plan, key: &str, pvc: &Value, warning: bool, reason: &str, message: String) {
        let mut reported = self.reported.lock().expect("not poisoned");
        let said = format!("{reason}: {message}");
        if reported.get(key) == Some(&said) {
            return;
        }
        reported.insert(key.to_string(), said);
        plan.push(Action::Event(EventNote {
            about: pvc.clone(),
            kind: "PersistentVolumeClaim",
            warning,
            reason: reason.into(),
            message,
        }));
    }

    /// The claim's volume is gone or held by another claim: phase Lost and a warning.
    fn lose(&self, plan: &mut Plan, key: &str, pvc: &Value, reason: &str, message: &str) {
        plan.update_status(claims(), pvc, claim_status("Lost", None));
        self.report(plan, key, pvc, true, reason, message.into());
    }

    fn sync_claim(&self, key: &str, pvc: &Value, cache: &Cache) -> Plan {
        let mut plan = Plan::default();
        let volume_name = text(pvc, "/spec/volumeName");
        if volume_name.is_empty() {
            self.bind_unbound(&mut plan, key, pvc, cache);
            return plan;
        }
        let Some(pv) = cache.get(&volumes().key(None, volume_name)) else {
            // Bound once and the volume is gone: Lost, as Kubernetes says; never bound: still waiting for it.
            if text(pvc, "/status/phase") == "Bound" {
                let message = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!";
                self.lose(&mut plan, key, pvc, "ClaimLost", message);
            }
            return plan;
        };
        match claim_ref(pv) {
            // The claim names a volume no claim holds yet (set by its author): reserve it if it fits.
            None if satisfies(pv, pvc) => plan.push(take_volume(pv, pvc)),
            None => self.report(
                &mut plan,
                key,
                pvc,
                true,
                "VolumeMismatch",
                format!("Cannot bind to requested volume {volume_name:?}: it does not satisfy the claim"),
            ),
            Some(_) if reserved_for(pv, pvc) => {
                if claim_ref(pv).is_some_and(|(_, _, uid)| uid.is_empty()) {
                    plan.push(take_volume(pv, pvc));
                } else if annotation(pvc, BIND_COMPLETED).is_none() {
                    plan.push(Action::Update { kind: claims(), object: bound_claim(pvc, volume_name) });
                } else {
                    plan.update_status(claims(), pvc, claim_status("Bound", Some(pv)));
                }
            }
            Some(_) => {
                let message = "Two claims are bound to the same volume, this one is bound incorrectly";
                self.lose(&mut plan, key, pvc, "ClaimMisbound", message);
            }
        }
        plan
    }

    fn bind_unbound(&self, plan: &mut Plan, key: &str, pvc: &Value, cache: &Cache) {
        let class_name = claim_class(pvc);
        let class = (!class_name.is_empty()).then(|| cache.get(&classes().key(None, class_name))).flatten();
        let delayed = class.is_some_and(|c| waits_for_consumer(c));
        let selected = annotation(pvc, SELECTED_NODE);
        if delayed && selected.is_none() {
            self.report(
                plan,
                key,
                pvc,
                false,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".into(),
            );
            return;
        }
        let node = selected.and_then(|n| cache.get(&kinds::served("", "nodes").key(None, n))).map(|n| n.as_ref());
        let candidates = cache.list(volumes(), None).map(|v| v.as_ref());
        if let Some(pv) = best_match(pvc, candidates, if delayed { node } else { None }) {
            if reserved_for(pv, pvc) && !claim_ref(pv).is_some_and(|(_, _, uid)| uid.is_empty()) {
                // The volume holds this claim already (a provisioned one is made that way): name it.
                plan.push(Action::Update { kind: claims(), object: bound_claim(pvc, text(pv, "/metadata/name")) });
            } else {
                plan.push(take_volume(pv, pvc));
            }
            return;
        }
        match class {
            Some(class) if !text(class, "/provisioner").is_empty() => {
                let provisioner = text(class, "/provisioner");
                if annotation(pvc, STORAGE_PROVISIONER) != Some(provisioner) {
                    let annotations = json!({STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner});
                    plan.push(Action::MergePatch {
                        kind: claims(),
                        namespace: pvc.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from),
                        name: text(pvc, "/metadata/name").to_string(),
                        patch: json!({"metadata": {"annotations": annotations}}),
                    });
                }
                self.report(plan, key, pvc, false, "ExternalProvisioning", format!(
                    "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
                ));
            }
            _ if !class_name.is_empty() && class.is_none() => {
                self.report(
                    plan,
                    key,
                    pvc,
                    true,
                    "ProvisioningFailed",
                    format!("storageclass.storage.k8s.io {class_name:?} not found"),
                );
            }
            _ => self.report(
                plan,
                key,
                pvc,
                false,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set".into(),
            ),
        }
    }

    fn sync_volume(&self, pv: &Value, cache: &Cache) -> Plan {
        let mut plan = Plan::default();
        let phase = text(pv, "/status/phase");
        let Some((namespace, name, uid)) = claim_ref(pv) else {
            plan.update_status(volumes(), pv, volume_status(pv, "Available", None));
            return plan;
        };
        if uid.is_empty() {
            // Reserved by name for a claim that has not taken it yet.
            plan.update_status(volumes(), pv, volume_status(pv, "Available", None));
            return plan;
        }
        let claim = cache.get(&claims().key(Some(namespace), name));
        if claim.is_some_and(|c| text(c, "/metadata/uid") == uid) {
            plan.update_status(volumes(), pv, volume_status(pv, "Bound", None));
            return plan;
        }
        // The claim is gone: the volume is released, then reclaimed by its policy.
        if phase != "Released" && phase != "Failed" {
            plan.update_status(volumes(), pv, volume_status(pv, "Released", None));
            return plan;
        }
        let policy = text(pv, "/spec/persistentVolumeReclaimPolicy");
        let failed = match policy {
            "Delete" if is_local_path(pv) => None,
            "Delete" => Some(format!(
                "error getting deleter volume plugin for volume {:?}: no deletable volume plugin matched",
                text(pv, "/metadata/name")
            )),
            "Recycle" => Some("recycling is not supported by kubeboot".into()),
            _ => None,
        };
        if let Some(message) = failed {
            plan.update_status(volumes(), pv, volume_status(pv, "Failed", Some(&message)));
        }
        plan
    }
}

/// The volume with the claim in its claimRef (an Update: the volume's resourceVersion guards the take).
fn take_volume(pv: &Value, pvc: &Value) -> Action {
    let mut taken = pv.clone();
    taken["spec"]["claimRef"] = json!({
        "kind": "PersistentVolumeClaim", "apiVersion": "v1",
        "namespace": text(pvc, "/metadata/namespace"), "name": text(pvc, "/metadata/name"),
        "uid": text(pvc, "/metadata/uid"), "resourceVersion": text(pvc, "/metadata/resourceVersion"),
    });
    if !taken.pointer("/metadata/annotations").is_some_and(Value::is_object) {
        taken["metadata"]["annotations"] = json!({});
    }
    taken["metadata"]["annotations"][BOUND_BY_CONTROLLER] = json!("yes");
    Action::Update { kind: volumes(), object: taken }
}

fn bound_claim(pvc: &Value, volume: &str) -> Value {
    let mut bound = pvc.clone();
    bound["spec"]["volumeName"] = json!(volume);
    if !bound.pointer("/metadata/annotations").is_some_and(Value::is_object) {
        bound["metadata"]["annotations"] = json!({});
    }
    bound["metadata"]["annotations"][BIND_COMPLETED] = json!("yes");
    bound["metadata"]["annotations"][BOUND_BY_CONTROLLER] = json!("yes");
    bound
}

fn claim_status(phase: &str, pv: Option<&Value>) -> Value {
    match pv {
        Some(pv) => json!({"phase": phase, "accessModes": pv.pointer("/spec/accessModes"),
                           "capacity": pv.pointer("/spec/capacity")}),
        None => json!({"phase": phase}),
    }
}

fn volume_status(pv: &Value, phase: &str, message: Option<&str>) -> Value {
    let mut status = json!({"phase": phase});
    if let Some(m) = message {
        status["message"] = json!(m);
    }
    // The time of the last phase change, as Kubernetes 1.29+ records it.
    if text(pv, "/status/phase") == phase {
        if let Some(t) = pv.pointer("/status/lastPhaseTransitionTime") {
            status["lastPhaseTransitionTime"] = t.clone();
        }
    } else {
        status["lastPhaseTransitionTime"] = json!(crate::resources::meta::now_rfc3339());
    }
    status
}

impl Reconciler for VolumeBinder {
    fn name(&self) -> &'static str {
        "persistentvolume-binder"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        let mut keys = Vec::new();
        if change.key.starts_with(&claims().prefix(None)) {
            keys.push(change.key.clone());
            // A claim that goes away releases its volume.
            if let Some(volume) = change.old.as_ref().map(|o| text(o, "/spec/volumeName")).filter(|v| !v.is_empty()) {
                keys.push(volumes().key(None, volume));
            }
        } else if change.key.starts_with(&volumes().prefix(None)) {
            keys.push(change.key.clone());
            for object in [&change.old, &change.new].into_iter().flatten() {
                if let Some((namespace, name, _)) = claim_ref(object) {
                    keys.push(claims().key(Some(namespace), name));
                }
            }
            // A new or freed volume may be what a waiting claim needs.
            if change.new.as_ref().is_some_and(|v| claim_ref(v).is_none()) {
                keys.extend(waiting_claims(cache));
            }
        } else if change.key.starts_with(&classes().prefix(None)) {
            keys.extend(waiting_claims(cache));
        }
        keys.dedup();
        keys
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let Some(object) = cache.get(key) else {
            self.reported.lock().expect("not poisoned").remove(key);
            return Plan::default();
        };
        if key.starts_with(&claims().prefix(None)) {
            // A claim on its way out binds nothing new; its volume is released once it is gone.
            if is_deleting(object) {
                return Plan::default();
            }
            self.sync_claim(key, object, cache)
        } else {
            // A volume being deleted is still followed: pv-protection waits for it to leave Bound.
            self.sync_volume(object, cache)
        }
    }
}

/// Keys of the claims not bound to a volume yet.
fn waiting_claims(cache: &Cache) -> Vec<String> {
    cache
        .list(claims(), None)
        .filter(|c| text(c, "/spec/volumeName").is_empty() && !is_deleting(c))
        .map(|c| claims().key(c.pointer("/metadata/namespace").and_then(Value::as_str), text(c, "/metadata/name")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn cache_of(objects: &[(String, Value)]) -> Cache {
        let mut cache = Cache::default();
        for (k, v) in objects {
            cache.apply(k, Some(Arc::new(v.clone())));
        }
        cache
    }

    fn pvc(name: &str, class: &str, annotations: Value) -> (String, Value) {
        (
            claims().key(Some("default"), name),
            json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "resourceVersion": "7", "annotations": annotations},
              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                       "storageClassName": class},
              "status": {"phase": "Pending"}}),
        )
    }

    fn pv(name: &str, size: &str, claim: Option<Value>, phase: &str, policy: &str) -> (String, Value) {
        let mut o = json!({"metadata": {"name": name, "resourceVersion": "3"},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": "/srv"}},
            "status": {"phase": phase}});
        if let Some(c) = claim {
            o["spec"]["claimRef"] = c;
        }
        (volumes().key(None, name), o)
    }

    fn only(plan: &Plan) -> &Action {
        assert_eq!(plan.actions.len(), 1, "{:#?}", plan.actions);
        &plan.actions[0]
    }

    #[test]
    fn a_claim_is_bound_step_by_step() {
        let binder = VolumeBinder::default();
        let (claim_key, claim) = pvc("data", "", json!({}));
        let (volume_key, volume) = pv("pv-1", "2Gi", None, "Available", "Retain");
        let mut objects = vec![
            (claim_key.clone(), claim.clone()),
            (volume_key.clone(), volume),
            pv("pv-tiny", "100Mi", None, "Available", "Retain"),
        ];

        // 1. The volume takes the claim.
        let plan = binder.reconcile(&claim_key, &cache_of(&objects), OffsetDateTime::now_utc());
        let Action::Update { object: taken, .. } = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(taken["metadata"]["name"], "pv-1", "the tiny one does not fit");
        assert_eq!(taken["spec"]["claimRef"]["uid"], "uid-data");
        objects[1].1 = taken.clone();

        // The volume is Bound as soon as its claim exists.
        let plan = binder.reconcile(&volume_key, &cache_of(&objects), OffsetDateTime::now_utc());
        let Action::UpdateStatus { object, .. } = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(object["status"]["phase"], "Bound");

        // 2. The claim names the volume; 3. its status says Bound with the volume's size and modes.
        let plan = binder.reconcile(&claim_key, &cache_of(&objects), OffsetDateTime::now_utc());
        let Action::Update { object: named, .. } = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(named["spec"]["volumeName"], "pv-1");
        assert_eq!(named["metadata"]["annotations"][BIND_COMPLETED], "yes");
        objects[0].1 = named.clone();
        let plan = binder.reconcile(&claim_key, &cache_of(&objects), OffsetDateTime::now_utc());
        let Action::UpdateStatus { object, .. } = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(
            object["status"],
            json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}})
        );

        // The claim deleted: the volume is Released and, with Retain, stays.
        objects.remove(0);
        let plan = binder.reconcile(&volume_key, &cache_of(&objects), OffsetDateTime::now_utc());
        let Action::UpdateStatus { object, .. } = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(object["status"]["phase"], "Released");
        objects[0].1 = object.clone();
        assert!(binder.reconcile(&volume_key, &cache_of(&objects), OffsetDateTime::now_utc()).actions.is_empty());
    }

    #[test]
    fn delayed_binding_and_provisioning() {
        let binder = VolumeBinder::default();
        let class = (
            classes().key(None, "local-path"),
            json!({"metadata": {"name": "local-path"}, "provisioner": "kubeboot.io/local-path",
                   "volumeBindingMode": "WaitForFirstConsumer"}),
        );
        let (key, claim) = pvc("data", "local-path", json!({}));
        let cache = cache_of(&[class.clone(), (key.clone(), claim)]);
        let plan = binder.reconcile(&key, &cache, OffsetDateTime::now_utc());
        let Action::Event(note) = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(note.reason, "WaitForFirstConsumer");
        assert!(binder.reconcile(&key, &cache, OffsetDateTime::now_utc()).actions.is_empty(), "reported once");

        let (key, claim) = pvc("data", "local-path", json!({SELECTED_NODE: "node1"}));
        let plan = binder.reconcile(&key, &cache_of(&[class, (key.clone(), claim)]), OffsetDateTime::now_utc());
        let Action::MergePatch { patch, .. } = &plan.actions[0] else { panic!("{plan:?}") };
        assert_eq!(patch["metadata"]["annotations"][STORAGE_PROVISIONER], "kubeboot.io/local-path");
        assert!(matches!(&plan.actions[1], Action::Event(n) if n.reason == "ExternalProvisioning"));
    }

    #[test]
    fn no_volume_no_class_and_misbound_claims() {
        let binder = VolumeBinder::default();
        let (key, claim) = pvc("data", "", json!({}));
        let plan = binder.reconcile(&key, &cache_of(&[(key.clone(), claim.clone())]), OffsetDateTime::now_utc());
        assert!(matches!(only(&plan), Action::Event(n) if n.reason == "FailedBinding"));

        let other = json!({"namespace": "default", "name": "other", "uid": "uid-other"});
        let mut named = claim;
        named["spec"]["volumeName"] = json!("pv-1");
        let objects = [(key.clone(), named), pv("pv-1", "1Gi", Some(other), "Bound", "Retain")];
        let plan = binder.reconcile(&key, &cache_of(&objects), OffsetDateTime::now_utc());
        assert!(matches!(&plan.actions[0], Action::UpdateStatus { object, .. } if object["status"]["phase"] == "Lost"));

        // Released with Delete and no provisioner to delete it: Failed, with Kubernetes' message.
        let gone = json!({"namespace": "default", "name": "gone", "uid": "uid-gone"});
        let (volume_key, volume) = pv("pv-2", "1Gi", Some(gone), "Released", "Delete");
        let plan = binder.reconcile(&volume_key, &cache_of(&[(volume_key.clone(), volume)]), OffsetDateTime::now_utc());
        let Action::UpdateStatus { object, .. } = only(&plan) else { panic!("{plan:?}") };
        assert_eq!(object["status"]["phase"], "Failed");
        assert!(object["status"]["message"].as_str().unwrap().contains("no deletable volume plugin matched"));
    }
}
