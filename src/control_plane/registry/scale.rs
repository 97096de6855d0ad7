//! The `scale` subresource of Deployments, ReplicaSets, StatefulSets and ReplicationControllers
//! (autoscaling/v1 Scale): read `spec.replicas` and the label selector, write `spec.replicas` only — what
//! `kubectl scale` does.

use serde_json::{json, Value};

use super::guaranteed::guaranteed;
use super::{Registry, RegistryError};
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

pub fn serves(kind: &str) -> bool {
    matches!(kind, "Deployment" | "ReplicaSet" | "StatefulSet" | "ReplicationController")
}

/// The Scale of `object` at `revision`.
fn scale_of(kind: &str, object: &Value, revision: u64) -> Value {
    let selector = crate::resources::label_selector::of_workload(kind, object);
    let selector = selector.as_deref().and_then(|s| s.get("matchLabels")).and_then(Value::as_object).map(|labels| {
        labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
    });
    let mut metadata = json!({
        "name": meta::text(object, "/metadata/name"),
        "namespace": meta::text(object, "/metadata/namespace"),
        "uid": meta::text(object, "/metadata/uid"),
        "resourceVersion": revision.to_string(),
        "creationTimestamp": meta::text(object, "/metadata/creationTimestamp"),
    });
    if object.pointer("/metadata/namespace").is_none() {
        metadata.as_object_mut().expect("object").remove("namespace");
    }
    let mut status = json!({"replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0)});
    if let Some(selector) = selector {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": status,
    })
}

impl Registry {
    /// The object's Scale.
    pub fn scale(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, RegistryError> {
        let stored = self.existing(kind, namespace, name)?;
        let object: Value = serde_json::from_slice(&stored.value).unwrap_or_default();
        Ok(scale_of(kind.kind, &object, stored.revision))
    }

    /// Write the Scale `change` makes of the current one (a PUT's body, a patch applied): only
    /// spec.replicas is taken; its resourceVersion, when set, must be the object's. Without a
    /// `precondition` (the request named no resourceVersion), a write that another came between is made
    /// again on the object as it is then.
    pub fn update_scale(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        precondition: bool,
        change: impl Fn(&Value) -> Result<Value, RegistryError>,
    ) -> Result<Value, RegistryError> {
        guaranteed(precondition, || self.update_scale_once(kind, namespace, name, &change))
    }

    fn update_scale_once(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        change: &impl Fn(&Value) -> Result<Value, RegistryError>,
    ) -> Result<Value, RegistryError> {
        let stored = self.existing(kind, namespace, name)?;
        let mut object: Value = serde_json::from_slice(&stored.value).unwrap_or_default();
        let wanted = change(&scale_of(kind.kind, &object, stored.revision))?;
        if !wanted.is_object() {
            return Err(RegistryError::BadRequest("the body is not a Scale object".into()));
        }
        if meta::resource_version(&wanted).is_some_and(|given| given != stored.revision) {
            return Err(RegistryError::Conflict { kind, name: name.into() });
        }
        let replicas = wanted.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
        let Some(count) = replicas.as_i64().filter(|n| *n >= 0 && *n <= i32::MAX as i64) else {
            return Err(RegistryError::PatchInvalid(format!(
                "Scale.autoscaling {name:?} is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            )));
        };
        if object.pointer("/spec/replicas").and_then(Value::as_i64) != Some(count) {
            object["spec"]["replicas"] = json!(count);
            // A spec change: the generation the controllers report back grows, as on any spec write.
            let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        let written = self
            .store()
            .update(&stored.key, &serde_json::to_vec(&object).expect("json"), Some(stored.revision))
            .map_err(|e| RegistryError::from_store(kind, name, e))?;
        Ok(scale_of(kind.kind, &object, written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_reads_as_autoscaling_v1() {
        let deployment = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "creationTimestamp": "2026-12-03T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "front"}}},
            "status": {"replicas": 2},
        });
        let scale = scale_of("Deployment", &deployment, 42);
        assert_eq!(scale["apiVersion"], "autoscaling/v1");
        assert_eq!(scale["metadata"]["resourceVersion"], "42");
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"], json!({"replicas": 2, "selector": "app=web,tier=front"}));
        let rc = json!({"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"app": "legacy"}}});
        assert_eq!(scale_of("ReplicationController", &rc, 7)["status"]["selector"], "app=legacy");
    }
}
