//! The `scale` subresource of Deployments, ReplicaSets, StatefulSets and ReplicationControllers (autoscaling/v1 Scale): read
//! `spec.replicas` and the label selector, write `spec.replicas` only — what `kubectl scale` does.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::object_path::ObjectPath;
use super::status::status;
use super::store_errors::store_error;
use crate::control_plane::store::{Store, StoreError};
use crate::resources::{meta, patch};

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

fn invalid(name: &str, value: &Value) -> Response {
    status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        format!("Scale.autoscaling {name:?} is invalid: spec.replicas: Invalid value: {value}: must be greater than or equal to 0"),
    )
}

/// GET, PUT or PATCH of `path` (whose subresource is `scale`).
pub fn handle(store: &dyn Store, path: &ObjectPath, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    let key = kind.key(path.namespace.as_deref(), name);
    let (mut object, revision) = match store.get(&key) {
        Ok(Some(stored)) => (serde_json::from_slice::<Value>(&stored.value).unwrap_or_default(), stored.revision),
        Ok(None) => return store_error(kind, name, StoreError::NotFound(String::new())),
        Err(e) => return store_error(kind, name, e),
    };
    let current = scale_of(kind.kind, &object, revision);
    let wanted = match *method {
        Method::GET => return Json(current).into_response(),
        Method::PUT => serde_json::from_slice::<Value>(body).ok(),
        Method::PATCH => {
            let content_type =
                headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            match patch::apply(&current, body, content_type) {
                Ok(p) => Some(p),
                Err(e) => return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e.to_string()),
            }
        }
        _ => {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            )
        }
    };
    let Some(wanted) = wanted.filter(Value::is_object) else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "the body is not a Scale object");
    };
    if let Some(given) = meta::resource_version(&wanted) {
        if given != revision {
            return store_error(kind, name, StoreError::Conflict { key, expected: given, actual: revision });
        }
    }
    let replicas = wanted.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
    let Some(count) = replicas.as_i64().filter(|n| *n >= 0 && *n <= i32::MAX as i64) else {
        return invalid(name, &replicas);
    };
    if object.pointer("/spec/replicas").and_then(Value::as_i64) != Some(count) {
        object["spec"]["replicas"] = json!(count);
        // A spec change: the generation the controllers report back grows, as on any spec write.
        let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        object["metadata"]["generation"] = json!(generation + 1);
    }
    match store.update(&key, &serde_json::to_vec(&object).expect("json"), Some(revision)) {
        Ok(written) => Json(scale_of(kind.kind, &object, written)).into_response(),
        Err(e) => store_error(kind, name, e),
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
