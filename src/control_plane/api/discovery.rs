//! What kubectl reads before anything else: /version, and discovery built from the kinds we serve. kubectl
//! 1.26+ ask /api and /apis for aggregated discovery (apidiscovery.k8s.io v2, or v2beta1) and get every
//! group-version's resources in those two answers; other clients get the classic documents (/api, /api/v1,
//! /apis, /apis/{group}, /apis/{group}/{version}), which every kubectl since 1.20 reads.

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::access_reviews::REVIEW_RESOURCES;
use super::metrics_api::METRICS_RESOURCES;
use super::status::not_found;
use crate::resources::kinds::{self, ResourceKind};

/// The Kubernetes version the API speaks (its shape), and ours.
pub const KUBERNETES_MINOR: &str = "30";

/// Served to authenticated clients only (Kubernetes lets anyone read it; here only /healthz, /readyz and
/// cluster-info are open without a certificate: see routes.rs).
pub async fn version() -> Response {
    Json(json!({
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v1.{KUBERNETES_MINOR}.0-kubeboot.{}", crate::version::current()),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": "linux/amd64",
    }))
    .into_response()
}

pub async fn api_versions(headers: HeaderMap) -> Response {
    if let Some(version) = aggregated_version(&headers) {
        return aggregated(version, vec![("", vec!["v1"])]);
    }
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

/// The groups of the stored kinds, then those of the review resources (access_reviews.rs) and of the
/// resource metrics (metrics_api.rs).
fn all_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups = kinds::groups();
    for other in REVIEW_RESOURCES.iter().chain(METRICS_RESOURCES.iter()) {
        if !groups.iter().any(|(g, _)| *g == other.group) {
            groups.push((other.group, vec![other.version]));
        }
    }
    groups
}

pub async fn groups(headers: HeaderMap) -> Response {
    if let Some(version) = aggregated_version(&headers) {
        return aggregated(version, all_groups());
    }
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

const VERBS: [&str; 7] = ["create", "delete", "get", "list", "patch", "update", "watch"];

/// How a resource is served: stored (every verb), a review (only created), or resource metrics (only read).
#[derive(Clone, Copy, PartialEq)]
enum Serving {
    Stored,
    Review,
    Metrics,
}

/// The resources of `group`/`version`: its stored kinds, then its review and metrics resources.
fn served(group: &str, version: &str) -> Vec<(&'static ResourceKind, Serving)> {
    let at = |k: &&ResourceKind| k.group == group && k.version == version;
    let kinds = kinds::all().into_iter().filter(at).map(|k| (k, Serving::Stored));
    kinds
        .chain(REVIEW_RESOURCES.iter().filter(at).map(|k| (k, Serving::Review)))
        .chain(METRICS_RESOURCES.iter().filter(at).map(|k| (k, Serving::Metrics)))
        .collect()
}

fn verbs(kind: &ResourceKind, serving: Serving) -> Vec<&'static str> {
    match serving {
        Serving::Review => return vec!["create"],
        Serving::Metrics => return vec!["get", "list"],
        Serving::Stored => {}
    }
    let mut verbs = VERBS.to_vec();
    if super::objects::serves_delete_collection(kind) {
        verbs.insert(2, "deletecollection");
    }
    verbs
}

/// (group, version, kind).
type GroupVersionKind = (&'static str, &'static str, &'static str);

/// What a status or scale subresource takes.
const READ_WRITE: &[&str] = &["get", "patch", "update"];

/// A listed subresource: its name, the (group, version, kind) it answers with when that is not the
/// resource's own, and its verbs.
type Subresource = (&'static str, Option<GroupVersionKind>, &'static [&'static str]);

/// The subresources discovery lists for a resource, as kube-apiserver lists them: `status`, `scale`
/// (autoscaling/v1 Scale) for the kinds scale.rs serves (kubectl autoscale looks for it), and a pod's
/// binding, eviction (policy/v1 Eviction: `kubectl drain` evicts only when it finds it), log, exec, attach
/// and portforward.
fn subresources(r: &ResourceKind) -> Vec<Subresource> {
    let mut out = Vec::new();
    if r.kind == "Pod" && r.group.is_empty() {
        out.push(("attach", Some(("", "v1", "PodAttachOptions")), &["create", "get"][..]));
        out.push(("binding", Some(("", "v1", "Binding")), &["create"][..]));
        out.push(("eviction", Some(("policy", "v1", "Eviction")), &["create"][..]));
        out.push(("exec", Some(("", "v1", "PodExecOptions")), &["create", "get"][..]));
        out.push(("log", None, &["get"][..]));
        out.push(("portforward", Some(("", "v1", "PodPortForwardOptions")), &["create", "get"][..]));
    }
    if crate::control_plane::registry::serves_scale(r) {
        out.push(("scale", Some(("autoscaling", "v1", "Scale")), READ_WRITE));
    }
    if r.status {
        out.push(("status", None, READ_WRITE));
    }
    out
}

/// /api/v1 or /apis/{group}/{version}: the APIResourceList kubectl maps kinds and short names with.
pub fn resources(group: &str, version: &str) -> Response {
    let served = served(group, version);
    if served.is_empty() {
        return not_found();
    }
    let mut resources = Vec::new();
    for (r, serving) in served {
        let mut resource = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": verbs(r, serving),
        });
        if serving == Serving::Stored {
            resource["shortNames"] = json!(r.short_names);
            resource["categories"] = json!(r.categories);
        }
        resources.push(resource);
        for (subresource, answers_with, verbs) in subresources(r) {
            let mut entry = json!({
                "name": format!("{}/{subresource}", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": verbs,
            });
            if let Some((group, version, kind)) = answers_with {
                entry["group"] = json!(group);
                entry["version"] = json!(version);
                entry["kind"] = json!(kind);
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Json(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
        .into_response()
}

/// Which aggregated discovery version the client's Accept asks for (kubectl 1.26+ ask for it first, v2
/// before v2beta1; older clients and plain `application/json` get the classic documents).
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok())?;
    accept
        .split(',')
        .filter(|media| media.contains("g=apidiscovery.k8s.io") && media.contains("as=APIGroupDiscoveryList"))
        .find_map(|media| {
            let params: Vec<&str> = media.split(';').map(str::trim).collect();
            ["v2", "v2beta1"].into_iter().find(|v| params.contains(&format!("v={v}").as_str()))
        })
}

/// One APIGroupDiscovery: the group's versions (preferred first), each with all of its resources.
fn group_discovery(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = served(group, version)
                .into_iter()
                .map(|(r, serving)| {
                    let response_kind = json!({"group": group, "version": version, "kind": r.kind});
                    let subresources: Vec<Value> = subresources(r)
                        .into_iter()
                        .map(|(subresource, answers_with, verbs)| {
                            let kind = answers_with.map_or(
                                response_kind.clone(),
                                |(group, version, kind)| json!({"group": group, "version": version, "kind": kind}),
                            );
                            json!({"subresource": subresource, "responseKind": kind, "verbs": verbs})
                        })
                        .collect();
                    json!({
                        "resource": r.plural, "responseKind": response_kind, "singularResource": r.singular,
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" }, "verbs": verbs(r, serving),
                        "shortNames": r.short_names, "categories": r.categories, "subresources": subresources,
                    })
                })
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

/// /api or /apis as one APIGroupDiscoveryList: every resource of every version in a single answer.
fn aggregated(version: &str, groups: Vec<(&'static str, Vec<&'static str>)>) -> Response {
    let items: Vec<Value> = groups.iter().map(|(g, vs)| group_discovery(g, vs)).collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {}, "items": items,
    });
    let media = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    ([(CONTENT_TYPE, media)], Json(body)).into_response()
}
