//! The agent renews its node client certificate itself, as kubelet's certificate rotation does: once two
//! thirds of its lifetime have passed, a new key and CSR go to the API server with the current
//! certificate, and the new certificate is written to agent.conf and presented on every new connection
//! (connections made before keep the old one, which the server accepts until it expires). Nothing
//! restarts and no pod is touched. A certificate that expired while the node was away cannot renew
//! itself: that is said plainly, once a minute, with what to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::apiclient::{ApiClient, ClientIdentity};
use crate::bootstrap::certificate_lifetime::{check_every, describe, due};
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pki::node_csr;
use crate::resources::meta::rfc3339_unix;

const RENEW_PATH: &str = "/kubeboot/v1/node-client-certificates";

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    Certificate(String),
    #[error("the node certificate expired at {0}: it cannot renew itself. Join this node again: `kubeboot reset`, then the `kubeboot join …` a new token prints (`kubeboot token create --print-join-command` on a master)")]
    Expired(String),
    #[error("the API server refused the renewal ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error(transparent)]
    Client(#[from] crate::apiclient::ClientError),
    #[error("{path}: {message}")]
    Write { path: String, message: String },
}

/// Renew when due; what was done (None: not due yet).
async fn renew_if_due(
    client: &ApiClient,
    identity: &ClientIdentity,
    kubeconfig: &Path,
    node_name: &str,
) -> Result<Option<String>, RotationError> {
    let current = describe(&identity.certificate()).map_err(RotationError::Certificate)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if now >= current.not_after {
        return Err(RotationError::Expired(rfc3339_unix(current.not_after)));
    }
    if !due(current.not_before, current.not_after, now) {
        return Ok(None);
    }
    let (csr, key_pem) = node_csr(node_name).map_err(|e| RotationError::Certificate(e.to_string()))?;
    let body = serde_json::json!({ "csr": csr }).to_string().into_bytes();
    let reply = client.request("POST", RENEW_PATH, Some(body), None).await?;
    if reply.status != 201 {
        return Err(RotationError::Refused { status: reply.status, message: reply.message() });
    }
    let cert_pem = reply.json()["certificate"].as_str().unwrap_or_default().to_string();
    // The file first: a restart from here on reads the new certificate.
    let write = |message: String| RotationError::Write { path: kubeconfig.display().to_string(), message };
    let text = std::fs::read_to_string(kubeconfig).map_err(|e| write(e.to_string()))?;
    let mut config = Kubeconfig::parse(&text).map_err(|e| write(e.to_string()))?;
    config.set_first_user_credentials(&cert_pem, &key_pem).map_err(|e| write(e.to_string()))?;
    crate::host::layout::write_file(kubeconfig, config.to_yaml().as_bytes(), 0o600)
        .map_err(|e| write(e.to_string()))?;
    identity.replace(&cert_pem, &key_pem)?;
    let renewed = describe(&cert_pem).map_err(RotationError::Certificate)?;
    Ok(Some(format!("node client certificate renewed (valid until {})", rfc3339_unix(renewed.not_after))))
}

/// Keep the node's client certificate current for as long as the agent runs.
pub async fn keep_current(client: ApiClient, identity: Arc<ClientIdentity>, kubeconfig: PathBuf, node_name: String) {
    let lifetime =
        describe(&identity.certificate()).map(|d| (d.not_after - d.not_before).max(0) as u64).unwrap_or(3600);
    let mut tick = tokio::time::interval(check_every(lifetime));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_expired_report: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        match renew_if_due(&client, &identity, &kubeconfig, &node_name).await {
            Ok(Some(done)) => eprintln!("kubeboot agent: {done}"),
            Ok(None) => {}
            Err(e @ RotationError::Expired(_)) => {
                if last_expired_report.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    eprintln!("kubeboot agent: {e}");
                    last_expired_report = Some(tokio::time::Instant::now());
                }
            }
            // Tried again at the next look, well before the certificate expires.
            Err(e) => eprintln!("kubeboot agent: renewing the node client certificate: {e}"),
        }
    }
}
