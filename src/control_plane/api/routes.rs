//! The routes: health, cluster-info (anonymous, signed per token), the node-certificate exchange (bootstrap
//! token), bootstrap-token management (admins), discovery, and every resource under /api and /apis.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::access_reviews;
use super::bootstrap_tokens;
use super::discovery;
use super::identity::Identity;
use super::metrics_api;
use super::node_certificates;
use super::node_proxy;
use super::object_path::{self, ApiPath};
use super::objects::{self, ObjectQuery};
use super::openapi;
use super::protobuf;
use super::snapshots;
use super::state::ApiState;
use super::uploaded_certificates;

use super::status::{not_found, status, unauthorized};
use crate::bootstrap::jws::sign_detached;
use crate::control_plane::tokens;

pub fn router(state: Arc<ApiState>) -> Router {
    // Everything here needs a client certificate; the routes after the merge are the only anonymous ones.
    let authenticated = Router::new()
        .route("/kubeboot/v1/bootstrap-tokens", get(bootstrap_tokens::list).post(bootstrap_tokens::create))
        .route("/kubeboot/v1/bootstrap-tokens/{id}", axum::routing::delete(bootstrap_tokens::delete))
        .route("/kubeboot/v1/node-serving-certificates", post(node_certificates::serving))
        .route("/kubeboot/v1/node-client-certificates", post(node_certificates::renew_client))
        .route("/kubeboot/v1/node-credentials/{name}", axum::routing::delete(node_certificates::revoke))
        .route("/kubeboot/v1/control-plane-certificates", post(uploaded_certificates::upload))
        .route("/kubeboot/v1/snapshots", post(snapshots::save))
        .route("/version", get(discovery::version))
        .route("/version/", get(discovery::version))
        .route("/metrics", get(metrics))
        .route("/api", get(discovery::api_versions))
        .route("/apis", get(discovery::groups))
        // With a trailing slash too, as kube-apiserver answers them.
        .route("/api/", get(discovery::api_versions))
        .route("/apis/", get(discovery::groups))
        .route("/openapi/v2", get(openapi_v2))
        .route("/openapi/v3", get(openapi_v3_index))
        .route("/openapi/v3/{*gv}", get(openapi_v3))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access_reviews::access).layer(from_fn(protobuf::as_asked)),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            post(access_reviews::rules).layer(from_fn(protobuf::as_asked)),
        )
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            post(access_reviews::whoami).layer(from_fn(protobuf::as_asked)),
        )
        .route("/apis/metrics.k8s.io/v1beta1/nodes", get(metrics_api::nodes))
        .route("/apis/metrics.k8s.io/v1beta1/nodes/{name}", get(metrics_api::node))
        .route("/apis/metrics.k8s.io/v1beta1/pods", get(metrics_api::all_pods))
        .route("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", get(metrics_api::pods))
        .route("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}", get(metrics_api::pod))
        .route("/api/{*rest}", axum::routing::any(resources))
        .route("/apis/{*rest}", axum::routing::any(resources))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_certificate));
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(health))
        .route("/api/v1/namespaces/kube-public/configmaps/cluster-info", get(cluster_info))
        .route("/kubeboot/v1/node-certificates", post(node_certificates::client))
        .route("/kubeboot/v1/control-plane-certificates/download", get(uploaded_certificates::download))
        .merge(authenticated)
        .fallback(fallback)
        .layer(from_fn(super::request_metrics::observe))
        .with_state(state)
}

/// The API server's request metrics and the controller manager's counters (Prometheus text), for admins.
async fn metrics(Extension(identity): Extension<Identity>) -> Response {
    if !matches!(identity, Identity::Admin { .. }) {
        return status(axum::http::StatusCode::FORBIDDEN, "Forbidden", "metrics are for admins");
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], super::request_metrics::render())
        .into_response()
}

/// 401 for a client without a (verified) certificate, or with a node certificate that is no longer its
/// node's current one (node_credentials), before any handler runs.
async fn require_certificate(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Extension(fingerprint): Extension<super::identity::CertificateFingerprint>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
    }
    if let Identity::Node { name } = &identity {
        match crate::control_plane::node_credentials::is_current(state.store.as_ref(), name, &fingerprint.0) {
            Ok(true) => {}
            Ok(false) => return unauthorized(),
            Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
        }
    }
    next.run(request).await
}

async fn health() -> &'static str {
    "ok"
}

/// kubeadm's cluster-info ConfigMap: the CA-only kubeconfig and a detached JWS per valid token
/// (`jws-kubeconfig-<id>`). Readable without credentials: it is what a node trusts only after checks.
async fn cluster_info(State(state): State<Arc<ApiState>>) -> Response {
    let tokens = match tokens::valid(state.store.as_ref()) {
        Ok(t) => t,
        Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    };
    let mut data = serde_json::Map::new();
    data.insert("kubeconfig".into(), state.cluster_kubeconfig.clone().into());
    for token in &tokens {
        data.insert(
            format!("jws-kubeconfig-{}", token.id()),
            sign_detached(state.cluster_kubeconfig.as_bytes(), token).into(),
        );
    }
    Json(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": data,
    }))
    .into_response()
}

async fn openapi_v2(headers: HeaderMap) -> Response {
    openapi::v2(headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()))
}

async fn openapi_v3_index() -> Response {
    openapi::v3_index()
}

async fn openapi_v3(axum::extract::Path(gv): axum::extract::Path<String>) -> Response {
    openapi::v3_group_version(&gv).unwrap_or_else(not_found)
}

/// The largest request body read (axum's default limit, kept).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// Everything under /api/v1 and /apis/{group}/{version}: discovery documents and objects. A pod's log,
/// exec, attach and portforward go to its node before the body is read (their connection may be upgraded).
async fn resources(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    request: axum::extract::Request,
) -> Response {
    let path = match object_path::parse(request.uri().path()) {
        ApiPath::GroupVersion { group, version } => return discovery::resources(&group, &version),
        ApiPath::Group(group) => return discovery::group(&group),
        ApiPath::Unknown => return not_found(),
        ApiPath::Object(path) => path,
    };
    let to_node = path.kind.kind == "Pod"
        && path.name.is_some()
        && path.subresource.as_deref().is_some_and(|s| node_proxy::NODE_SUBRESOURCES.contains(&s));
    if to_node {
        return node_proxy::handle(state, identity, path, request).await;
    }
    let query = match axum::extract::Query::<ObjectQuery>::try_from_uri(request.uri()) {
        Ok(q) => q.0,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.body_text()),
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("the request body is larger than {MAX_BODY} bytes"),
            )
        }
    };
    objects::handle(state, identity, parts.method, path, query, parts.headers, body).await
}

/// Paths nobody serves: 401 to anonymous clients (they learn nothing), 404 to the others.
async fn fallback(Extension(identity): Extension<Identity>) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
    }
    not_found()
}
