//! What kubectl reads before anything else: /version, and the legacy discovery documents (/api, /api/v1,
//! /apis). kubectl 1.27+ first asks for aggregated discovery; a plain APIResourceList answer makes it fall
//! back to these, which every kubectl since 1.20 reads.

use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::identity::Identity;
use super::status::unauthorized;

/// The Kubernetes version the API speaks (its shape), and ours.
pub const KUBERNETES_MINOR: &str = "30";

pub async fn version() -> Response {
    Json(json!({
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v1.{KUBERNETES_MINOR}.0-kubeboot.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": "linux/amd64",
    }))
    .into_response()
}

pub async fn api_versions(Extension(identity): Extension<Identity>) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
    }
    Json(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": ""}
    ]}))
    .into_response()
}

pub async fn core_v1(Extension(identity): Extension<Identity>) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
    }
    let verbs = ["create", "delete", "get", "list", "update"];
    Json(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "v1",
        "resources": [
            {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node", "verbs": verbs,
             "shortNames": ["no"]},
            {"name": "nodes/status", "singularName": "", "namespaced": false, "kind": "Node",
             "verbs": ["get", "update"]},
        ],
    }))
    .into_response()
}

pub async fn groups(Extension(identity): Extension<Identity>) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
    }
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})).into_response()
}
