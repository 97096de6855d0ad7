//! POST pods/NAME/eviction: a policy/v1 (or v1beta1) Eviction, which `kubectl drain` sends; the
//! registry deletes the pod when its PodDisruptionBudget allows it (registry/evict.rs).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error_status::error_status;
use super::identity::Identity;
use super::object_path::ObjectPath;
use super::object_query::ObjectQuery;
use super::state::ApiState;
use super::status::status;
use crate::control_plane::registry::DeleteOptions;

pub fn create(
    state: &ApiState,
    identity: &Identity,
    path: &ObjectPath,
    query: &ObjectQuery,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let (namespace, name) = (path.namespace.as_deref().unwrap_or("default"), path.name.as_deref().unwrap_or(""));
    if let Some(denied) =
        super::authz::authorize(identity, "create", path.kind, Some(namespace), Some(name), Some("eviction"))
    {
        return denied;
    }
    let eviction: Value = match serde_json::from_slice(body) {
        Ok(e @ Value::Object(_)) => e,
        Ok(_) => return status(StatusCode::BAD_REQUEST, "BadRequest", "the body is not an Eviction object"),
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", format!("the body is not valid JSON: {e}")),
    };
    if eviction.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| n != name) {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "name in URL does not match name in Eviction object");
    }
    let options: DeleteOptions = match eviction.get("deleteOptions").filter(|o| !o.is_null()) {
        None => DeleteOptions::default(),
        Some(given) => match serde_json::from_value(given.clone()) {
            Ok(options) => options,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", format!("deleteOptions: {e}")),
        },
    };
    let user_agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let writer = match super::objects::write_options("create", query, "", user_agent) {
        Ok(writer) => writer,
        Err(e) => return error_status(&e),
    };
    match state.registry.evict(namespace, name, options, &writer) {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})),
        )
            .into_response(),
        Err(e) => error_status(&e),
    }
}
