//! /api/v1/nodes: list, get, create, update (whole or /status), delete — with Kubernetes' node
//! authorization: admins do anything; a node reads nodes and writes only its own Node; others get 403.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::identity::Identity;
use super::list_query::{bad_selector, ListQuery};
use super::routes::ApiState;
use super::status::{status, unauthorized};
use crate::control_plane::store::StoreError;
use crate::resources::meta;
use crate::resources::node_table;
use crate::resources::table::wants_table;

fn key(name: &str) -> String {
    format!("/nodes/{name}")
}

fn forbidden(identity: &Identity, verb: &str, name: &str) -> Response {
    status(StatusCode::FORBIDDEN, "Forbidden", format!("{identity:?} cannot {verb} node {name:?}"))
}

/// The refusal, if any: reads need any identity with a role; writes need admin or the node itself.
fn deny(identity: &Identity, verb: &str, name: &str) -> Option<Response> {
    match identity {
        Identity::Anonymous => Some(unauthorized()),
        Identity::Admin { .. } => None,
        Identity::Node { name: own } if verb == "get" || verb == "list" || own == name => None,
        other => Some(forbidden(other, verb, name)),
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(k) => status(StatusCode::NOT_FOUND, "NotFound", format!("nodes {:?} not found", k.trim_start_matches("/nodes/"))),
        StoreError::AlreadyExists(k) => {
            status(StatusCode::CONFLICT, "AlreadyExists", format!("nodes {:?} already exists", k.trim_start_matches("/nodes/")))
        }
        StoreError::Conflict { key, .. } => status(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on nodes {:?}: the object has been modified; please apply your changes to the latest version and try again",
                key.trim_start_matches("/nodes/")
            ),
        ),
        StoreError::Backend(m) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", m),
    }
}

fn served(value: &[u8], revision: u64) -> Value {
    let mut object: Value = serde_json::from_slice(value).unwrap_or(Value::Null);
    meta::set_resource_version(&mut object, revision);
    object
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok())
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Some(r) = deny(&identity, "list", "") {
        return r;
    }
    let filter = match query.filter() {
        Ok(f) => f,
        Err(e) => return bad_selector(e),
    };
    match state.store.list("/nodes/") {
        Ok((items, revision)) => {
            let nodes: Vec<Value> =
                items.iter().map(|s| served(&s.value, s.revision)).filter(|n| filter.keeps(n)).collect();
            if wants_table(accept(&headers)) {
                return Json(node_table::table(&nodes, revision, query.include_object.as_deref())).into_response();
            }
            Json(json!({
                "apiVersion": "v1",
                "kind": "NodeList",
                "metadata": {"resourceVersion": revision.to_string()},
                "items": nodes,
            }))
            .into_response()
        }
        Err(e) => store_error(e),
    }
}

pub async fn get(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Some(r) = deny(&identity, "get", &name) {
        return r;
    }
    match state.store.get(&key(&name)) {
        Ok(Some(s)) if wants_table(accept(&headers)) => {
            let node = served(&s.value, s.revision);
            Json(node_table::table(&[node], s.revision, query.include_object.as_deref())).into_response()
        }
        Ok(Some(s)) => Json(served(&s.value, s.revision)).into_response(),
        Ok(None) => store_error(StoreError::NotFound(key(&name))),
        Err(e) => store_error(e),
    }
}

pub async fn create(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Json(mut node): Json<Value>,
) -> Response {
    let Some(name) = meta::name(&node).map(String::from) else {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "Node \"\" is invalid: metadata.name: Required value",
        );
    };
    if let Some(r) = deny(&identity, "create", &name) {
        return r;
    }
    node["apiVersion"] = json!("v1");
    node["kind"] = json!("Node");
    meta::strip_resource_version(&mut node);
    meta::stamp_new(&mut node);
    match state.store.create(&key(&name), &serde_json::to_vec(&node).expect("json")) {
        Ok(revision) => {
            meta::set_resource_version(&mut node, revision);
            (StatusCode::CREATED, Json(node)).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// PUT of the whole object or of /status: replaces it, conditionally on metadata.resourceVersion when given.
pub async fn update(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path(name): Path<String>,
    Json(mut node): Json<Value>,
) -> Response {
    if let Some(r) = deny(&identity, "update", &name) {
        return r;
    }
    if meta::name(&node) != Some(name.as_str()) {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "the name in the body does not match the URL");
    }
    let expected = meta::resource_version(&node);
    let existing = match state.store.get(&key(&name)) {
        Ok(Some(s)) => s,
        Ok(None) => return store_error(StoreError::NotFound(key(&name))),
        Err(e) => return store_error(e),
    };
    // uid and creationTimestamp belong to the server.
    let old: Value = serde_json::from_slice(&existing.value).unwrap_or(Value::Null);
    for field in ["uid", "creationTimestamp"] {
        if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
            node["metadata"][field] = v.clone();
        }
    }
    node["apiVersion"] = json!("v1");
    node["kind"] = json!("Node");
    meta::strip_resource_version(&mut node);
    match state.store.update(
        &key(&name),
        &serde_json::to_vec(&node).expect("json"),
        expected.or(Some(existing.revision)),
    ) {
        Ok(revision) => {
            meta::set_resource_version(&mut node, revision);
            Json(node).into_response()
        }
        Err(e) => store_error(e),
    }
}

pub async fn delete(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path(name): Path<String>,
) -> Response {
    if !matches!(identity, Identity::Admin { .. }) {
        return deny(&identity, "delete", "-").unwrap_or_else(|| forbidden(&identity, "delete", &name));
    }
    match state.store.delete(&key(&name), None) {
        Ok(old) => Json(served(&old.value, old.revision)).into_response(),
        Err(e) => store_error(e),
    }
}
