//! The API server: HTTPS (rustls) with optional client certificates, axum routes, Kubernetes-style Status
//! errors. Anonymous clients reach /healthz, /readyz and cluster-info only; a bootstrap token buys a node
//! certificate; everything else (discovery, /version and OpenAPI included) needs a client certificate.

mod access_reviews;
mod authz;
mod binding;
mod bootstrap_tokens;
mod discovery;
pub(crate) mod identity;
mod list_query;
mod node_certificates;
mod node_proxy;
pub(crate) mod object_path;
pub(crate) mod objects;
mod off_workers;
mod openapi;
mod protobuf;
pub mod request_metrics;
mod routes;
mod scale;
mod serve;
pub mod service_allocation;
pub mod status;
mod tls;
pub mod watch_quota;
mod watch_stream;

#[cfg(test)]
mod admission_fuzz;

pub use identity::Identity;
pub use routes::{router, ApiState, DEFAULT_SERVICE_NETWORK};
pub use serve::{serve, PeerAddress, HANDSHAKE_TIMEOUT, MAX_HANDSHAKES_PER_SOURCE};
pub use tls::{server_config, ClientCertificates, TlsError};
