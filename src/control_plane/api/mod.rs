//! The API server: HTTPS (rustls) with optional client certificates, axum routes, Kubernetes-style Status
//! errors. Anonymous clients reach /healthz, /readyz and cluster-info only; a bootstrap token buys a node
//! certificate; everything else (discovery, /version and OpenAPI included) needs a client certificate.

mod access_reviews;
mod authz;
mod binding;
mod bootstrap_tokens;
mod discovery;
mod error_status;
mod eviction;
mod list_pages;
mod list_query;
mod metrics_api;
mod node_certificates;
pub(crate) mod node_proxy;
pub(crate) mod object_path;
mod object_query;
pub(crate) mod objects;
mod off_workers;
mod openapi;
mod protobuf;
pub mod request_metrics;
mod routes;
mod snapshots;
mod state;
mod uploaded_certificates;
pub mod watch_quota;
mod watch_stream;

#[cfg(test)]
mod admission_fuzz;

// The serving pieces live below the API server and the agent (src/https); the API's files name them here.
pub use crate::control_plane::registry::DEFAULT_SERVICE_NETWORK;
pub(crate) use crate::https::{identity, status};
pub use crate::https::{serve, server_config, ClientCertificates, Identity, PeerAddress, TlsError};
pub use crate::https::{HANDSHAKE_TIMEOUT, MAX_HANDSHAKES_PER_SOURCE};
pub use routes::router;
pub use state::ApiState;
