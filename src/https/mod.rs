//! The HTTPS serving pieces the API server and the node agent's API share, below both: rustls server
//! configuration with optional client certificates (tls.rs), the accept loop with its handshake, header and
//! connection limits (serve.rs), who a client certificate says the caller is (identity.rs), and
//! Kubernetes' Status error answers (status.rs).

pub mod identity;
pub mod reloading_certificate;
pub mod serve;
pub mod status;
pub mod tls;

pub use identity::Identity;
pub use serve::{serve, PeerAddress, HANDSHAKE_TIMEOUT, MAX_HANDSHAKES_PER_SOURCE};
pub use tls::{server_config, server_config_with, ClientCertificates, TlsError};
