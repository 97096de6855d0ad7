//! POST pods/NAME/binding: what a scheduler (ours, or anyone's) uses to place a pod — admins only, as
//! kube-scheduler's own role is not a node's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::identity::Identity;
use super::object_path::ObjectPath;
use super::state::ApiState;
use super::status::status;

pub fn create(state: &ApiState, identity: &Identity, path: &ObjectPath, body: &[u8]) -> Response {
    if let Some(denied) = super::authz::authorize(
        identity,
        "create",
        path.kind,
        path.namespace.as_deref(),
        path.name.as_deref(),
        Some("binding"),
    ) {
        return denied;
    }
    if !matches!(identity, Identity::Admin { .. }) {
        return status(StatusCode::FORBIDDEN, "Forbidden", "pods/binding is forbidden: only admins bind pods");
    }
    let (namespace, name) = (path.namespace.as_deref().unwrap_or("default"), path.name.as_deref().unwrap_or(""));
    let binding: Value = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", format!("the body is not valid JSON: {e}")),
    };
    let Some(node) = binding.pointer("/target/name").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
        return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "Binding is invalid: target.name: Required value");
    };
    if binding.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| n != name) {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "the name of the binding does not match the pod");
    }
    match state.registry.bind(namespace, name, node) {
        Ok(_) => (
            StatusCode::CREATED,
            Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})),
        )
            .into_response(),
        Err(e) => super::error_status::error_status(&e),
    }
}
