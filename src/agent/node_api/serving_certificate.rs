//! The node API's serving certificate: a fresh key at every agent start, its CSR signed by the cluster CA
//! through the API server (asked with the node's own certificate; the address in it is the one the server
//! sees, so it follows the node's address), held in memory only — nothing on disk to protect. Asked for
//! again, with a new key, once two thirds of its lifetime have passed (kubelet's serving rotation).

use std::sync::Arc;

use crate::apiclient::ApiClient;
use crate::bootstrap::certificate_lifetime::{check_every, describe, due};
use crate::bootstrap::pki::{node_csr, PkiError};
use crate::https::reloading_certificate::ReloadingCertificate;
use crate::https::{server_config_with, ClientCertificates};

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

/// A new serving certificate and its key (PEM), signed through the API server.
async fn fetch(client: &ApiClient, node_name: &str) -> Result<(String, String), ServingCertificateError> {
    let (csr, key_pem) = node_csr(node_name)?;
    let body = serde_json::json!({ "csr": csr }).to_string().into_bytes();
    let reply = client.request("POST", SERVING_CERTIFICATES, Some(body), None).await?;
    if reply.status != 201 {
        return Err(ServingCertificateError::Refused { status: reply.status, message: reply.message() });
    }
    let cert_pem = reply.json().get("certificate").and_then(|c| c.as_str()).unwrap_or_default().to_string();
    Ok((cert_pem, key_pem))
}

/// TLS for the node API: our new serving certificate (renewed while serving by `keep_current`); clients
/// must show a certificate of `ca_pem`.
pub async fn node_api_tls(
    client: &ApiClient,
    ca_pem: &str,
    node_name: &str,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCertificate>, String), ServingCertificateError> {
    let (cert_pem, key_pem) = fetch(client, node_name).await?;
    let serving = Arc::new(ReloadingCertificate::in_memory(&cert_pem, &key_pem)?);
    let config = server_config_with(ca_pem, serving.clone(), ClientCertificates::Required)?;
    Ok((config, serving, cert_pem))
}

/// Renew the node API's certificate at two thirds of its lifetime, for as long as the agent runs.
pub async fn keep_current(client: ApiClient, node_name: String, serving: Arc<ReloadingCertificate>, first: String) {
    let mut current = first;
    loop {
        let Ok(d) = describe(&current) else { return };
        let lifetime = (d.not_after - d.not_before).max(0) as u64;
        tokio::time::sleep(check_every(lifetime)).await;
        if !due(d.not_before, d.not_after, time::OffsetDateTime::now_utc().unix_timestamp()) {
            continue;
        }
        match fetch(&client, &node_name).await {
            Ok((cert_pem, key_pem)) => match serving.replace(&cert_pem, &key_pem) {
                Ok(()) => {
                    eprintln!("kubeboot agent: node API serving certificate renewed");
                    current = cert_pem;
                }
                Err(e) => eprintln!("kubeboot agent: renewing the node API serving certificate: {e}"),
            },
            // Tried again at the next look.
            Err(e) => eprintln!("kubeboot agent: renewing the node API serving certificate: {e}"),
        }
    }
}
