//! TLS for the API server and the agents' node API (rustls, ring): the serving certificate, and client
//! certificates verified against the cluster CA — optional for the API server (unauthenticated clients may
//! reach /healthz, /readyz and cluster-info only), required by the node API.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: {0}")]
    Config(String),
}

fn err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertificates {
    Optional,
    Required,
}

pub fn server_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
    clients: ClientCertificates,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(err)?).map_err(err)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let verifier = match clients {
        ClientCertificates::Optional => verifier.allow_unauthenticated(),
        ClientCertificates::Required => verifier,
    }
    .build()
    .map_err(err)?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(err)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(err)?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(err)?;
    Ok(Arc::new(config))
}
