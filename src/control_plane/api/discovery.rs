//! What kubectl reads before anything else: /version, and the legacy discovery documents (/api, /api/v1,
//! /apis, /apis/{group}, /apis/{group}/{version}) built from the kinds we serve. kubectl 1.27+ first asks for
//! aggregated discovery; a plain answer makes it fall back to these, which every kubectl since 1.20 reads.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::access_reviews::REVIEW_RESOURCES;
use super::status::not_found;
use crate::resources::kinds::{self, KINDS};

/// The Kubernetes version the API speaks (its shape), and ours.
pub const KUBERNETES_MINOR: &str = "30";

/// Served to authenticated clients only (Kubernetes lets anyone read it; here only /healthz, /readyz and
/// cluster-info are open without a certificate: see routes.rs).
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

pub async fn api_versions() -> Response {
    Json(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": ""}
    ]}))
    .into_response()
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
}

/// The groups of the stored kinds, then those of the review resources (access_reviews.rs).
fn all_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups = kinds::groups();
    for (group, version, _, _) in REVIEW_RESOURCES {
        if !groups.iter().any(|(g, _)| *g == group) {
            groups.push((group, vec![version]));
        }
    }
    groups
}

pub async fn groups() -> Response {
    let groups: Vec<Value> = all_groups().iter().map(|(g, vs)| group_json(g, vs)).collect();
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})).into_response()
}

pub fn group(name: &str) -> Response {
    match all_groups().into_iter().find(|(g, _)| *g == name) {
        Some((g, vs)) => {
            let mut body = group_json(g, &vs);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            Json(body).into_response()
        }
        None => not_found(),
    }
}

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// /api/v1 or /apis/{group}/{version}: the APIResourceList kubectl maps kinds and short names with.
pub fn resources(group: &str, version: &str) -> Response {
    let served: Vec<_> = KINDS.iter().filter(|k| k.group == group && k.version == version).collect();
    let reviews: Vec<_> = REVIEW_RESOURCES.iter().filter(|(g, v, _, _)| *g == group && *v == version).collect();
    if served.is_empty() && reviews.is_empty() {
        return not_found();
    }
    let mut resources = Vec::new();
    for (_, _, plural, kind) in reviews {
        resources
            .push(json!({"name": plural, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]}));
    }
    for k in served {
        resources.push(json!({
            "name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
            "verbs": VERBS.iter().filter(|v| **v != "deletecollection").collect::<Vec<_>>(),
            "shortNames": k.short_names, "categories": k.categories,
        }));
        if k.status {
            resources.push(json!({
                "name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced,
                "kind": k.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Json(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
        .into_response()
}
