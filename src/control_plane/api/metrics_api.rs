//! metrics.k8s.io/v1beta1, as metrics-server serves it: NodeMetrics (`nodes`) and PodMetrics (`pods`),
//! get and list, with label and field selectors, from the agents' usage the API server reads
//! (control_plane/resource_metrics.rs). What `kubectl top nodes` and `kubectl top pods [--containers]`
//! read. Only nodes and pods with a CPU rate are listed (a container's first rate comes one sampling
//! interval after it started), as metrics-server lists them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use super::authz::authorize;
use super::identity::Identity;
use super::list_query::{bad_selector, ListQuery};
use super::state::ApiState;
use super::status::status;
use crate::agent::node_api::stats::{ContainerStats, PodStats};
use crate::control_plane::resource_metrics::UsageSample;
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";

/// The two resources, for discovery and authorization: read only, never stored.
pub const METRICS_RESOURCES: [ResourceKind; 2] =
    [metrics_kind("nodes", "NodeMetrics", false), metrics_kind("pods", "PodMetrics", true)];

const fn metrics_kind(plural: &'static str, kind: &'static str, namespaced: bool) -> ResourceKind {
    ResourceKind {
        group: GROUP,
        version: VERSION,
        plural,
        singular: "",
        kind,
        namespaced,
        short_names: &[],
        categories: &[],
        status: false,
        custom: false,
    }
}

/// CPU as metrics-server writes it: nanocores.
fn cpu(nanocores: u64) -> String {
    format!("{nanocores}n")
}

/// Memory as metrics-server writes it: KiB.
fn memory(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

fn not_found(kind: &ResourceKind, name: &str) -> Response {
    status(
        axum::http::StatusCode::NOT_FOUND,
        "NotFound",
        format!("{}.{GROUP} \"{name}\" not found", kind.kind.to_lowercase()),
    )
}

fn list(kind: &ResourceKind, items: Vec<Value>) -> Response {
    Json(json!({
        "kind": format!("{}List", kind.kind), "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {}, "items": items,
    }))
    .into_response()
}

/// The stored objects under `prefix` (Nodes or Pods), parsed.
fn stored(state: &ApiState, prefix: &str) -> Result<Vec<Value>, crate::control_plane::store::StoreError> {
    let (items, _) = state.store.list(prefix)?;
    Ok(items.iter().filter_map(|s| serde_json::from_slice(&s.value).ok()).collect())
}

fn metadata(object: &Value) -> Value {
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(meta::name(object)));
    if let Some(namespace) = object.pointer("/metadata/namespace") {
        metadata.insert("namespace".into(), namespace.clone());
    }
    metadata.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
    if let Some(labels) = object.pointer("/metadata/labels") {
        metadata.insert("labels".into(), labels.clone());
    }
    Value::Object(metadata)
}

/// A Node's NodeMetrics, when its agent has reported a rate.
fn node_metrics(node: &Value, sample: &UsageSample) -> Option<Value> {
    let stats = sample.nodes.get(meta::name(node)?)?;
    let (cpu_stats, memory_stats) = (stats.cpu.as_ref()?, stats.memory.as_ref()?);
    Some(json!({
        "kind": "NodeMetrics", "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": metadata(node),
        "timestamp": cpu_stats.time, "window": UsageSample::window(),
        "usage": {"cpu": cpu(cpu_stats.usage_nano_cores?), "memory": memory(memory_stats.working_set_bytes)},
    }))
}

fn container_usage(container: &ContainerStats) -> Option<Value> {
    let rate = container.cpu.as_ref()?.usage_nano_cores?;
    let working_set = container.memory.as_ref()?.working_set_bytes;
    Some(json!({"name": container.name, "usage": {"cpu": cpu(rate), "memory": memory(working_set)}}))
}

/// A Pod's PodMetrics, when every one of its running containers has a rate.
fn pod_metrics(pod: &Value, sample: &UsageSample) -> Option<Value> {
    let stats: &PodStats = sample.pods.get(meta::text(pod, "/metadata/uid").as_str())?;
    let containers: Vec<Value> = stats.containers.iter().map(container_usage).collect::<Option<_>>()?;
    let timestamp = stats.containers.first()?.cpu.as_ref()?.time.clone();
    Some(json!({
        "kind": "PodMetrics", "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": metadata(pod),
        "timestamp": timestamp, "window": UsageSample::window(), "containers": containers,
    }))
}

/// The stored kind a metrics resource measures: Pods for PodMetrics, Nodes for NodeMetrics.
fn measured_kind(kind: &ResourceKind) -> &'static ResourceKind {
    if kind.namespaced {
        kinds::served("", "pods")
    } else {
        kinds::served("", "nodes")
    }
}

/// The metrics of one measured object, of `kind`'s resource.
fn measure(kind: &ResourceKind, object: &Value, sample: &UsageSample) -> Option<Value> {
    if kind.namespaced {
        pod_metrics(object, sample)
    } else {
        node_metrics(object, sample)
    }
}

async fn listed(
    state: Arc<ApiState>,
    identity: Identity,
    kind: &'static ResourceKind,
    namespace: Option<String>,
    query: ListQuery,
) -> Response {
    // Whoever may read the resource may read its metrics (admins).
    if let Some(answer) = authorize(&identity, "list", kind, namespace.as_deref(), None, None) {
        return answer;
    }
    let filter = match query.filter() {
        Ok(f) => f,
        Err(e) => return bad_selector(e),
    };
    let objects = match stored(&state, &measured_kind(kind).prefix(namespace.as_deref())) {
        Ok(o) => o,
        Err(e) => return status(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    };
    let sample = state.resource_metrics.current(&state).await;
    let items = objects.iter().filter_map(|o| measure(kind, o, &sample)).filter(|m| filter.keeps(m)).collect();
    list(kind, items)
}

async fn one(
    state: Arc<ApiState>,
    identity: Identity,
    kind: &'static ResourceKind,
    namespace: Option<String>,
    name: String,
) -> Response {
    if let Some(answer) = authorize(&identity, "get", kind, namespace.as_deref(), Some(&name), None) {
        return answer;
    }
    let object: Option<Value> = match state.store.get(&measured_kind(kind).key(namespace.as_deref(), &name)) {
        Ok(found) => found.and_then(|s| serde_json::from_slice(&s.value).ok()),
        Err(e) => return status(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    };
    let Some(object) = object else { return not_found(kind, &name) };
    let sample = state.resource_metrics.current(&state).await;
    match measure(kind, &object, &sample) {
        Some(m) => Json(m).into_response(),
        None => not_found(kind, &name),
    }
}

pub async fn nodes(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Query(query): Query<ListQuery>,
) -> Response {
    listed(state, identity, &METRICS_RESOURCES[0], None, query).await
}

pub async fn node(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path(name): Path<String>,
) -> Response {
    one(state, identity, &METRICS_RESOURCES[0], None, name).await
}

pub async fn all_pods(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Query(query): Query<ListQuery>,
) -> Response {
    listed(state, identity, &METRICS_RESOURCES[1], None, query).await
}

pub async fn pods(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path(namespace): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    listed(state, identity, &METRICS_RESOURCES[1], Some(namespace), query).await
}

pub async fn pod(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    one(state, identity, &METRICS_RESOURCES[1], Some(namespace), name).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::node_api::stats::{CpuStats, MemoryStats, NodeStats, PodReference};

    fn rate(n: Option<u64>) -> Option<CpuStats> {
        Some(CpuStats { time: "2026-12-06T21:00:00Z".into(), usage_nano_cores: n, usage_core_nano_seconds: 1 })
    }

    fn working_set(bytes: u64) -> Option<MemoryStats> {
        Some(MemoryStats { time: "2026-12-06T21:00:00Z".into(), working_set_bytes: bytes })
    }

    #[test]
    fn usage_is_written_as_metrics_server_writes_it() {
        let mut sample = UsageSample::default();
        sample.nodes.insert(
            "n1".into(),
            NodeStats { node_name: "n1".into(), cpu: rate(Some(250_000_000)), memory: working_set(4096 * 1024) },
        );
        let node = json!({"metadata": {"name": "n1", "labels": {"a": "b"}}});
        let metrics = node_metrics(&node, &sample).unwrap();
        assert_eq!(metrics["usage"], json!({"cpu": "250000000n", "memory": "4096Ki"}));
        assert_eq!((metrics["window"].as_str(), metrics["metadata"]["labels"]["a"].as_str()), (Some("15s"), Some("b")));
        assert!(node_metrics(&json!({"metadata": {"name": "n2"}}), &sample).is_none());

        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}});
        let container = |name: &str, n| ContainerStats { name: name.into(), cpu: rate(n), memory: working_set(2048) };
        let stats = |containers| PodStats {
            pod_ref: PodReference { name: "p".into(), namespace: "ns".into(), uid: "u1".into() },
            containers,
        };
        sample.pods.insert("u1".into(), stats(vec![container("a", Some(5)), container("b", Some(7))]));
        let metrics = pod_metrics(&pod, &sample).unwrap();
        assert_eq!(metrics["containers"][1], json!({"name": "b", "usage": {"cpu": "7n", "memory": "2Ki"}}));
        assert_eq!(metrics["metadata"]["namespace"], "ns");
        // A container without its first rate yet: the pod is not listed.
        sample.pods.insert("u1".into(), stats(vec![container("a", Some(5)), container("b", None)]));
        assert!(pod_metrics(&pod, &sample).is_none());
    }
}
