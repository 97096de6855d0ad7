//! TLS for the API server and the agents' node API (rustls, ring): the serving certificate, and client
//! certificates verified against the cluster CA — optional for the API server (unauthenticated clients may
//! reach /healthz, /readyz and cluster-info only), required by the node API.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
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
    let (certs, key) = certificate_and_key(cert_pem, key_pem)?;
    Ok(Arc::new(builder(ca_pem, clients)?.with_single_cert(certs, key).map_err(err)?))
}

/// `server_config` whose serving certificate `resolver` gives for each handshake (one that is renewed
/// while the server runs).
pub fn server_config_with(
    ca_pem: &str,
    resolver: Arc<dyn ResolvesServerCert>,
    clients: ClientCertificates,
) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(Arc::new(builder(ca_pem, clients)?.with_cert_resolver(resolver)))
}

fn builder(
    ca_pem: &str,
    clients: ClientCertificates,
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsError> {
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
    Ok(ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_client_cert_verifier(verifier))
}

/// A PEM certificate chain and its PEM key.
pub fn certificate_and_key(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(err)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(err)?;
    Ok((certs, key))
}

/// A PEM certificate chain and key as rustls presents them (a server's, or a client's).
pub fn certified_key(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
    let (certs, key) = certificate_and_key(cert_pem, key_pem)?;
    let provider = rustls::crypto::ring::default_provider();
    Ok(Arc::new(rustls::sign::CertifiedKey::from_der(certs, key, &provider).map_err(err)?))
}
