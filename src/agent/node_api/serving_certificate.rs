//! The node API's serving certificate: a fresh key at every agent start, its CSR signed by the cluster CA
//! through the API server (asked with the node's own certificate; the address in it is the one the server
//! sees, so it follows the node's address), held in memory only — nothing on disk to protect or rotate.

use std::sync::Arc;

use crate::apiclient::ApiClient;
use crate::bootstrap::pki::{node_csr, PkiError};
use crate::https::{server_config, ClientCertificates};

const SERVING_CERTIFICATES: &str = "/kubeboot/v1/node-serving-certificates";

#[derive(Debug, thiserror::Error)]
pub enum ServingCertificateError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Client(#[from] crate::apiclient::ClientError),
    #[error("the server refused the node serving certificate ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error(transparent)]
    Tls(#[from] crate::https::TlsError),
}

/// TLS for the node API: our new serving certificate; clients must show a certificate of `ca_pem`.
pub async fn node_api_tls(
    client: &ApiClient,
    ca_pem: &str,
    node_name: &str,
) -> Result<Arc<rustls::ServerConfig>, ServingCertificateError> {
    let (csr, key_pem) = node_csr(node_name)?;
    let body = serde_json::json!({ "csr": csr }).to_string().into_bytes();
    let reply = client.request("POST", SERVING_CERTIFICATES, Some(body), None).await?;
    if reply.status != 201 {
        return Err(ServingCertificateError::Refused { status: reply.status, message: reply.message() });
    }
    let cert_pem = reply.json().get("certificate").and_then(|c| c.as_str()).unwrap_or_default().to_string();
    Ok(server_config(ca_pem, &cert_pem, &key_pem, ClientCertificates::Required)?)
}
