//! The routes: health, cluster-info (anonymous, signed per token), the node-certificate exchange (bootstrap
//! token), bootstrap-token management (admins), discovery, and every resource under /api and /apis.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::bootstrap_tokens;
use super::discovery;
use super::identity::Identity;
use super::object_path::{self, ApiPath};
use super::objects::{self, ObjectQuery};
use super::openapi;

use super::status::{not_found, status, unauthorized};
use crate::bootstrap::jws::sign_detached;
use crate::bootstrap::pki::ClusterCa;
use crate::bootstrap::token::BootstrapToken;
use crate::control_plane::store::{Store, StoreError, WatchHub, WatchedStore};
use crate::control_plane::tokens;

pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub ca: ClusterCa,
    /// The cluster-only kubeconfig cluster-info publishes (exact bytes, as signed).
    pub cluster_kubeconfig: String,
    /// How many node-certificate requests arrived (a metric; tests use it to prove none was sent).
    pub node_certificate_requests: std::sync::atomic::AtomicU64,
    /// The watch feed of every write through `store`.
    pub watch: Arc<WatchHub>,
}

/// Events a watch can resume from without relisting.
const WATCH_HISTORY: usize = 10_000;

impl ApiState {
    /// The state over `store` (wrapped so every write feeds watches), with the standard namespaces made.
    pub fn new(store: Arc<dyn Store>, ca: ClusterCa, cluster_kubeconfig: String) -> Result<Self, StoreError> {
        let watched = WatchedStore::new(store, WATCH_HISTORY)?;
        let watch = watched.hub();
        let store: Arc<dyn Store> = Arc::new(watched);
        objects::ensure_namespaces(store.as_ref())?;
        Ok(ApiState { store, ca, cluster_kubeconfig, node_certificate_requests: Default::default(), watch })
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    // Everything here needs a client certificate; the routes after the merge are the only anonymous ones.
    let authenticated = Router::new()
        .route("/kubeboot/v1/bootstrap-tokens", get(bootstrap_tokens::list).post(bootstrap_tokens::create))
        .route("/kubeboot/v1/bootstrap-tokens/{id}", axum::routing::delete(bootstrap_tokens::delete))
        .route("/version", get(discovery::version))
        .route("/api", get(discovery::api_versions))
        .route("/apis", get(discovery::groups))
        .route("/openapi/v2", get(openapi_v2))
        .route("/openapi/v3", get(openapi_v3_index))
        .route("/openapi/v3/{*gv}", get(openapi_v3))
        .route("/api/{*rest}", axum::routing::any(resources))
        .route("/apis/{*rest}", axum::routing::any(resources))
        .route_layer(axum::middleware::from_fn(require_certificate));
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(health))
        .route("/api/v1/namespaces/kube-public/configmaps/cluster-info", get(cluster_info))
        .route("/kubeboot/v1/node-certificates", post(node_certificate))
        .merge(authenticated)
        .fallback(fallback)
        .with_state(state)
}

/// 401 for a client without a (verified) certificate, before any handler runs.
async fn require_certificate(
    Extension(identity): Extension<Identity>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeCertificateRequest {
    node_name: String,
    csr: String,
}

fn bearer(headers: &HeaderMap) -> Option<BootstrapToken> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    BootstrapToken::parse(value.strip_prefix("Bearer ")?).ok()
}

/// TLS bootstrap: a valid bootstrap token buys exactly one thing, a client certificate for
/// system:node:<name> signed from the node's own CSR.
async fn node_certificate(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    state.node_certificate_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(token) = bearer(&headers) else { return unauthorized() };
    match tokens::authenticate(state.store.as_ref(), &token) {
        Ok(true) => {}
        Ok(false) => return unauthorized(),
        Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    }
    let request: NodeCertificateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
    };
    // kubeadm refuses to join a name that is a Ready node: a second host would take over its identity.
    match state.store.get(&format!("/nodes/{}", request.node_name)) {
        Ok(Some(stored)) => {
            let node: serde_json::Value = serde_json::from_slice(&stored.value).unwrap_or_default();
            if crate::resources::node::ready_status(&node) == Some("True") {
                return status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    format!(
                        "a Ready node named {:?} is already in the cluster: join under another --node-name, or \
                         reset that node and delete its Node first",
                        request.node_name
                    ),
                );
            }
        }
        Ok(None) => {}
        Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    }
    match state.ca.sign_node_csr(&request.csr, &request.node_name) {
        Ok(cert) => {
            (StatusCode::CREATED, Json(json!({"certificate": cert, "ca": state.ca.cert_pem()}))).into_response()
        }
        Err(e) => status(StatusCode::FORBIDDEN, "Forbidden", e.to_string()),
    }
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

/// Everything under /api/v1 and /apis/{group}/{version}: discovery documents and objects.
async fn resources(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    query: axum::extract::Query<ObjectQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match object_path::parse(uri.path()) {
        ApiPath::GroupVersion { group, version } => discovery::resources(&group, &version),
        ApiPath::Group(group) => discovery::group(&group),
        ApiPath::Object(path) => objects::handle(state, identity, method, path, query.0, headers, body).await,
        ApiPath::Unknown => not_found(),
    }
}

/// Paths nobody serves: 401 to anonymous clients (they learn nothing), 404 to the others.
async fn fallback(Extension(identity): Extension<Identity>) -> Response {
    if !identity.is_authenticated() {
        return unauthorized();
    }
    not_found()
}
