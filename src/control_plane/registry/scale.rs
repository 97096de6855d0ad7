//! The `scale` subresource of Deployments, ReplicaSets, StatefulSets and ReplicationControllers, and of
//! custom kinds whose definition declares one (at the paths it names) — autoscaling/v1 Scale: read the
//! replicas and the label selector, write the desired replicas only, what `kubectl scale` does.

use serde_json::{json, Value};

use super::guaranteed::guaranteed;
use super::{Registry, RegistryError};
use crate::resources::custom_kinds;
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

pub fn serves(kind: &ResourceKind) -> bool {
    if kind.custom {
        return custom_kinds::version_of(kind).is_some_and(|v| v.scale.is_some());
    }
    matches!(kind.kind, "Deployment" | "ReplicaSet" | "StatefulSet" | "ReplicationController")
}

/// Where a kind keeps its desired and current replicas and its selector (JSON pointers).
struct ScalePointers {
    spec: String,
    status: String,
    /// A custom kind's selector, kept as a string.
    selector: Option<String>,
}

fn pointer_of(json_path: &str) -> String {
    json_path.replace('.', "/")
}

fn pointers(kind: &ResourceKind) -> ScalePointers {
    match custom_kinds::version_of(kind).and_then(|v| v.scale.clone()) {
        Some(paths) => ScalePointers {
            spec: pointer_of(&paths.spec_replicas),
            status: pointer_of(&paths.status_replicas),
            selector: paths.label_selector.as_deref().map(pointer_of),
        },
        None => ScalePointers { spec: "/spec/replicas".into(), status: "/status/replicas".into(), selector: None },
    }
}

/// The Scale of `object` at `revision`.
fn scale_of(kind: &ResourceKind, object: &Value, revision: u64) -> Value {
    let at = pointers(kind);
    let selector = if kind.custom {
        at.selector.as_deref().and_then(|p| object.pointer(p)).and_then(Value::as_str).map(String::from)
    } else {
        let selector = crate::resources::label_selector::of_workload(kind.kind, object);
        selector.as_deref().and_then(|s| s.get("matchLabels")).and_then(Value::as_object).map(|labels| {
            labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
        })
    };
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
    let mut status = json!({"replicas": object.pointer(&at.status).and_then(Value::as_i64).unwrap_or(0)});
    if let Some(selector) = selector {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": object.pointer(&at.spec).and_then(Value::as_i64).unwrap_or(if kind.custom { 0 } else { 1 })},
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
        Ok(scale_of(kind, &object, stored.revision))
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
        let wanted = change(&scale_of(kind, &object, stored.revision))?;
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
        let spec = pointers(kind).spec;
        if object.pointer(&spec).and_then(Value::as_i64) != Some(count) {
            set_at(&mut object, &spec, json!(count));
            if kind.custom {
                // The schema's bounds hold for replicas written through the scale too.
                let causes = super::kinds::custom::conform(kind, &mut object, false)?;
                if !causes.is_empty() {
                    return Err(RegistryError::Invalid { kind, name: name.into(), causes });
                }
            }
            // A spec change: the generation the controllers report back grows, as on any spec write.
            let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        let written = self
            .store()
            .update(&stored.key, &serde_json::to_vec(&object).expect("json"), Some(stored.revision))
            .map_err(|e| RegistryError::from_store(kind, name, e))?;
        Ok(scale_of(kind, &object, written))
    }
}

/// Set the value at `pointer`, making the objects on the way.
fn set_at(object: &mut Value, pointer: &str, value: Value) {
    let mut at = object;
    for part in pointer.trim_start_matches('/').split('/') {
        if !at.is_object() {
            *at = json!({});
        }
        at = at.as_object_mut().expect("an object").entry(part.to_string()).or_insert(Value::Null);
    }
    *at = value;
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
        let scale = scale_of(crate::resources::kinds::served("apps", "deployments"), &deployment, 42);
        assert_eq!(scale["apiVersion"], "autoscaling/v1");
        assert_eq!(scale["metadata"]["resourceVersion"], "42");
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"], json!({"replicas": 2, "selector": "app=web,tier=front"}));
        let rc = json!({"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"app": "legacy"}}});
        let controllers = crate::resources::kinds::served("", "replicationcontrollers");
        assert_eq!(scale_of(controllers, &rc, 7)["status"]["selector"], "app=legacy");
    }
}
