//! What the API server fills in on storage objects: a volume's reclaim policy and mode, a claim's mode,
//! a class's reclaim policy and binding mode, the phase a new volume or claim starts in, the in-use
//! protection finalizers (StorageObjectInUseProtection), and a claim's class when it names none
//! (DefaultStorageClass).

use serde_json::{json, Value};

use super::meta::add_finalizer;
use super::storage::{is_default_class, PVC_PROTECTION, PV_PROTECTION};

pub fn apply(kind: &str, object: &mut Value) {
    match kind {
        "PersistentVolume" => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("persistentVolumeReclaimPolicy").or_insert(json!("Retain"));
                spec.entry("volumeMode").or_insert(json!("Filesystem"));
            }
            if object.pointer("/status/phase").is_none() {
                object["status"] = json!({"phase": "Pending"});
            }
            add_finalizer(object, PV_PROTECTION);
        }
        "PersistentVolumeClaim" => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("volumeMode").or_insert(json!("Filesystem"));
            }
            if object.pointer("/status/phase").is_none() {
                object["status"] = json!({"phase": "Pending"});
            }
            add_finalizer(object, PVC_PROTECTION);
        }
        "StorageClass" => {
            if let Some(class) = object.as_object_mut() {
                class.entry("reclaimPolicy").or_insert(json!("Delete"));
                class.entry("volumeBindingMode").or_insert(json!("Immediate"));
            }
        }
        _ => {}
    }
}

/// A claim without `storageClassName` gets the default class (the newest, when several are marked, as
/// Kubernetes 1.26+ picks); `""` stays: it asks for a volume without a class.
pub fn default_class(pvc: &mut Value, classes: &[Value]) {
    if pvc.pointer("/spec/storageClassName").is_some_and(|c| !c.is_null())
        || pvc.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class").is_some()
    {
        return;
    }
    let newest = classes
        .iter()
        .filter(|c| is_default_class(c))
        .max_by_key(|c| c.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string());
    if let (Some(class), Some(spec)) = (newest, pvc.get_mut("spec").and_then(Value::as_object_mut)) {
        spec.insert("storageClassName".into(), class["metadata"]["name"].clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_default_class() {
        let mut pv = json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "1Gi"}}});
        apply("PersistentVolume", &mut pv);
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["status"]["phase"], "Pending");
        assert_eq!(pv["metadata"]["finalizers"], json!([PV_PROTECTION]));
        apply("PersistentVolume", &mut pv);
        assert_eq!(pv["metadata"]["finalizers"].as_array().unwrap().len(), 1, "added once");

        let classes = [
            json!({"metadata": {"name": "slow"}}),
            json!({"metadata": {"name": "local-path", "creationTimestamp": "2026-01-01T00:00:00Z",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}),
        ];
        let mut unset = json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
        default_class(&mut unset, &classes);
        assert_eq!(unset["spec"]["storageClassName"], "local-path");
        let mut none = json!({"metadata": {"name": "c"}, "spec": {"storageClassName": ""}});
        default_class(&mut none, &classes);
        assert_eq!(none["spec"]["storageClassName"], "", "an explicit empty class stays");
        let mut unset = json!({"metadata": {"name": "c"}, "spec": {}});
        default_class(&mut unset, &classes[..1]);
        assert!(unset["spec"].get("storageClassName").is_none(), "no default class, nothing set");
    }
}
