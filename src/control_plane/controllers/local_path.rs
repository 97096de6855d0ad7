//! The local-path provisioner's control-plane half (k3s' local-path-provisioner, as users of k3s know it):
//! a claim the binder annotated for `kubeboot.io/local-path`, once the scheduler has chosen its node, gets a
//! hostPath volume in a folder of that node, pinned there by node affinity and made for that claim alone
//! (claimRef with its uid, so the binder binds exactly it). A volume it made that is Released with the
//! Delete policy is deleted; its `kubeboot.io/local-path-data` finalizer keeps the object until that
//! node's agent has removed the folder (agent/local_path.rs). The node half makes the folder on first use.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::volume_binder::{claims, classes, volumes};
use crate::control_plane::runtime::{Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::meta::is_deleting;
use crate::resources::storage::{
    annotation, claim_class, is_local_path, local_path_folder, LOCAL_PATH_FINALIZER, LOCAL_PATH_PROVISIONER,
    PROVISIONED_BY, PV_PROTECTION, SELECTED_NODE, STORAGE_PROVISIONER,
};

fn text<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The name of the volume made for a claim (Kubernetes' provisioners' convention).
pub fn volume_name(pvc: &Value) -> String {
    format!("pvc-{}", text(pvc, "/metadata/uid"))
}

pub struct LocalPathProvisioner;

impl LocalPathProvisioner {
    fn provision(&self, pvc: &Value, cache: &Cache) -> Plan {
        let mut plan = Plan::default();
        let ours = annotation(pvc, STORAGE_PROVISIONER) == Some(LOCAL_PATH_PROVISIONER);
        if !ours || is_deleting(pvc) || !text(pvc, "/spec/volumeName").is_empty() {
            return plan;
        }
        let name = volume_name(pvc);
        if cache.get(&volumes().key(None, &name)).is_some() {
            return plan;
        }
        let note = |warning: bool, reason: &str, message: String| EventNote {
            about: pvc.clone(),
            kind: "PersistentVolumeClaim",
            warning,
            reason: reason.into(),
            message,
        };
        let Some(node) = annotation(pvc, SELECTED_NODE) else {
            // Nothing says where the folder should be: the class must delay binding to the first pod.
            plan.push(Action::Event(note(
                true,
                "ProvisioningFailed",
                "configuration error, no node was specified: the local-path class needs volumeBindingMode WaitForFirstConsumer".into(),
            )));
            return plan;
        };
        let class_name = claim_class(pvc);
        let policy = cache
            .get(&classes().key(None, class_name))
            .and_then(|c| c.get("reclaimPolicy").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| "Delete".into());
        let (namespace, claim) = (text(pvc, "/metadata/namespace"), text(pvc, "/metadata/name"));
        let volume = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: LOCAL_PATH_PROVISIONER},
                         "finalizers": [PV_PROTECTION, LOCAL_PATH_FINALIZER]},
            "spec": {
                "capacity": {"storage": text(pvc, "/spec/resources/requests/storage")},
                "accessModes": pvc.pointer("/spec/accessModes"),
                "persistentVolumeReclaimPolicy": policy,
                "storageClassName": class_name,
                "volumeMode": "Filesystem",
                "hostPath": {"path": local_path_folder(&name, namespace, claim), "type": "DirectoryOrCreate"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": namespace,
                             "name": claim, "uid": text(pvc, "/metadata/uid")},
            },
        });
        let message = format!("Successfully provisioned volume {name}");
        plan.push(Action::Create {
            kind: volumes(),
            object: volume,
            event: Some(note(false, "ProvisioningSucceeded", message)),
        });
        plan
    }

    fn reclaim(&self, pv: &Value) -> Plan {
        let mut plan = Plan::default();
        let released = text(pv, "/status/phase") == "Released";
        if is_local_path(pv)
            && released
            && !is_deleting(pv)
            && text(pv, "/spec/persistentVolumeReclaimPolicy") == "Delete"
        {
            plan.push(Action::delete(volumes(), pv, None, None));
        }
        plan
    }
}

impl Reconciler for LocalPathProvisioner {
    fn name(&self) -> &'static str {
        "local-path-provisioner"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        let claim = change.key.starts_with(&claims().prefix(None));
        let volume = change.key.starts_with(&volumes().prefix(None));
        if claim || volume {
            vec![change.key.clone()]
        } else {
            Vec::new()
        }
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let Some(object) = cache.get(key) else { return Plan::default() };
        if key.starts_with(&claims().prefix(None)) {
            self.provision(object, cache)
        } else {
            self.reclaim(object)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_volume_on_the_selected_node_then_deleted_when_released() {
        let mut cache = Cache::default();
        cache.apply(
            &classes().key(None, "local-path"),
            Some(Arc::new(json!({"metadata": {"name": "local-path"}, "provisioner": LOCAL_PATH_PROVISIONER,
                "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}))),
        );
        let claim = json!({"metadata": {"name": "data", "namespace": "web", "uid": "1234",
                "annotations": {STORAGE_PROVISIONER: LOCAL_PATH_PROVISIONER, SELECTED_NODE: "lab-node2"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "local-path"}});
        let key = claims().key(Some("web"), "data");
        cache.apply(&key, Some(Arc::new(claim.clone())));
        let plan = LocalPathProvisioner.reconcile(&key, &cache, OffsetDateTime::now_utc());
        let Some(Action::Create { object, event, .. }) = plan.actions.first() else { panic!("{plan:?}") };
        assert_eq!(object["metadata"]["name"], "pvc-1234");
        assert_eq!(object["spec"]["hostPath"]["path"], "/var/lib/kubeboot/storage/pvc-1234_web_data");
        assert_eq!(crate::resources::storage::pinned_node(object), Some("lab-node2"));
        assert_eq!(object["spec"]["claimRef"]["uid"], "1234");
        assert_eq!(object["spec"]["persistentVolumeReclaimPolicy"], "Delete");
        assert_eq!(event.as_ref().unwrap().reason, "ProvisioningSucceeded");

        let mut made = object.clone();
        cache.apply(&volumes().key(None, "pvc-1234"), Some(Arc::new(made.clone())));
        assert!(
            LocalPathProvisioner.reconcile(&key, &cache, OffsetDateTime::now_utc()).actions.is_empty(),
            "made once"
        );

        made["status"] = json!({"phase": "Released"});
        let volume_key = volumes().key(None, "pvc-1234");
        cache.apply(&volume_key, Some(Arc::new(made)));
        let plan = LocalPathProvisioner.reconcile(&volume_key, &cache, OffsetDateTime::now_utc());
        assert!(matches!(plan.actions.as_slice(), [Action::Delete { name, .. }] if name == "pvc-1234"));

        let mut unplaced = claim;
        unplaced["metadata"]["annotations"] = json!({STORAGE_PROVISIONER: LOCAL_PATH_PROVISIONER});
        cache.apply(&key, Some(Arc::new(unplaced)));
        cache.apply(&volume_key, None);
        let plan = LocalPathProvisioner.reconcile(&key, &cache, OffsetDateTime::now_utc());
        assert!(matches!(plan.actions.as_slice(), [Action::Event(n)] if n.reason == "ProvisioningFailed"));
    }
}
