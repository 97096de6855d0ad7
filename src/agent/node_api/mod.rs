//! The agent's node API (kubelet's port 10250): HTTPS with a serving certificate the cluster CA issued for
//! this node's address, answering only the API server's client certificate. The API server proxies
//! `kubectl logs`, `exec`, `attach` and `port-forward` here; the agent serves them from Docker and, for
//! port-forward, from inside the pod's network namespace. It reads `/stats/summary` (resource usage) here
//! for metrics.k8s.io.

mod containers;
mod exec;
mod logs;
mod port_forward;
pub mod serving_certificate;
pub mod stats;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::runtime::docker::DockerRuntime;
use crate::bootstrap::pki::API_SERVER_NODE_CLIENT;
use crate::https::status::status;
use crate::https::Identity;

pub const NODE_API_PORT: u16 = 10250;

pub struct NodeApiState {
    pub runtime: DockerRuntime,
    /// The last resource usage sample (agent/usage_sampler.rs).
    pub summary: std::sync::Mutex<stats::Summary>,
}

pub fn router(state: Arc<NodeApiState>) -> Router {
    Router::new()
        .route("/containerLogs/{namespace}/{pod}/{container}", get(logs::container_logs))
        .route("/exec/{namespace}/{pod}/{uid}/{container}", get(exec::exec).post(exec::exec))
        .route("/attach/{namespace}/{pod}/{uid}/{container}", get(exec::attach).post(exec::attach))
        .route("/portForward/{namespace}/{pod}/{uid}", get(port_forward::port_forward).post(port_forward::port_forward))
        .route("/stats/summary", get(stats::summary))
        .route("/healthz", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn(only_the_api_server))
        .with_state(state)
}

/// TLS already required a certificate of the cluster CA; of those, only the API server's may use this API.
async fn only_the_api_server(Extension(identity): Extension<Identity>, request: Request, next: Next) -> Response {
    match &identity {
        Identity::Admin { user } if user == API_SERVER_NODE_CLIENT => next.run(request).await,
        other => {
            let user = match other {
                Identity::Node { name } => format!("system:node:{name}"),
                Identity::Admin { user } | Identity::User { user } => user.clone(),
                Identity::Anonymous => "system:anonymous".into(),
            };
            status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("Forbidden (user={user}, verb={}, resource=nodes, subresource=proxy)", request.method()),
            )
        }
    }
}

/// The query's pairs in order, repeated keys kept (exec's `command`).
fn query_pairs(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect()
}

/// Serve the node API for as long as the agent runs: a serving certificate, Docker, the port — each retried
/// until it works (the server or Docker may be restarting), reported once.
pub async fn run(client: crate::apiclient::ApiClient, ca_pem: String, node_name: String) {
    let (tls, serving, first) = super::run::retry("node API serving certificate", || {
        serving_certificate::node_api_tls(&client, &ca_pem, &node_name)
    })
    .await;
    tokio::spawn(serving_certificate::keep_current(client, node_name.clone(), serving, first));
    let runtime = super::run::retry("node API: docker", DockerRuntime::connect).await;
    let address = std::net::SocketAddr::from(([0, 0, 0, 0], NODE_API_PORT));
    let listener = super::run::retry("node API: listen on :10250", || tokio::net::TcpListener::bind(address)).await;
    eprintln!("kubeboot agent: node API on {address}");
    let state = Arc::new(NodeApiState { runtime, summary: Default::default() });
    tokio::spawn(super::usage_sampler::keep_sampling(state.clone(), node_name.clone()));
    let app = router(state);
    crate::https::serve(listener, tls, app, std::future::pending()).await;
}
