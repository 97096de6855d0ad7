//! What `kubeboot join` does on the wire, kubeadm's way: fetch cluster-info without trusting TLS, check its
//! JWS with our token and its CA against the pin, fetch it again over TLS verified by that CA and require the
//! same bytes — and only then send the token, with a CSR for system:node:<name>, to get a node certificate.

use super::discovery::{require_same, verify_cluster_info, DiscoveryError, TrustedCluster};
use super::pki::{node_csr, PkiError};
use super::token::BootstrapToken;
use crate::apiclient::{ApiClient, ClientError, Trust};

const CLUSTER_INFO: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
const NODE_CERTIFICATES: &str = "/kubeboot/v1/node-certificates";
const CONTROL_PLANE_CERTIFICATES: &str = "/kubeboot/v1/control-plane-certificates/download";

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("cluster-info from {server}: {message}")]
    ClusterInfo { server: String, message: String },
    #[error("the server refused the node certificate request ({status}): {message}")]
    Refused { status: u16, message: String },
}

/// The node's credentials after a successful join.
pub struct NodeCredentials {
    pub server: String,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for NodeCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeCredentials {{ server: {}, key: <redacted> }}", self.server)
    }
}

/// cluster-info as served: the kubeconfig's exact bytes and the signatures (token id, detached JWS).
struct ClusterInfo {
    payload: Vec<u8>,
    signatures: Vec<(String, String)>,
}

fn parse_cluster_info(server: &str, body: &[u8]) -> Result<ClusterInfo, JoinError> {
    let err = |message: &str| JoinError::ClusterInfo { server: server.into(), message: message.into() };
    let cm: serde_json::Value = serde_json::from_slice(body).map_err(|_| err("not JSON"))?;
    let data = cm.get("data").and_then(|d| d.as_object()).ok_or_else(|| err("no data"))?;
    let payload = data.get("kubeconfig").and_then(|k| k.as_str()).ok_or_else(|| err("no kubeconfig"))?;
    let sigs = data
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("jws-kubeconfig-")?.to_string(), v.as_str()?.to_string())))
        .collect();
    Ok(ClusterInfo { payload: payload.as_bytes().to_vec(), signatures: sigs })
}

async fn fetch(client: &ApiClient) -> Result<ClusterInfo, JoinError> {
    let reply = client.request("GET", CLUSTER_INFO, None, None).await?;
    if reply.status != 200 {
        return Err(JoinError::ClusterInfo { server: client.server(), message: format!("HTTP {}", reply.status) });
    }
    parse_cluster_info(&client.server(), &reply.body)
}

/// Discovery: cluster-info fetched unverified, checked with the token's JWS and the CA pin, fetched again
/// over TLS verified by that CA. A client to `server` that trusts exactly the cluster's CA, and the CA.
pub async fn discover(server: &str, token: &BootstrapToken, pin: &str) -> Result<(ApiClient, String), JoinError> {
    let unverified = ApiClient::new(server, Trust::UnverifiedForDiscovery, None)?;
    let first = fetch(&unverified).await?;
    let TrustedCluster { ca_pem, .. } = verify_cluster_info(&first.payload, &first.signatures, token, pin)?;

    let verified = ApiClient::new(server, Trust::Ca(ca_pem.clone()), None)?;
    let again = fetch(&verified).await?;
    require_same(&first.payload, &again.payload)?;
    Ok((verified, ca_pem))
}

/// The sealed control-plane certificates an admin uploaded, fetched with the token over the verified client.
pub async fn download_certificates(verified: &ApiClient, token: &BootstrapToken) -> Result<String, JoinError> {
    let reply = verified.request("GET", CONTROL_PLANE_CERTIFICATES, None, Some(&token.expose())).await?;
    if reply.status != 200 {
        return Err(JoinError::Refused { status: reply.status, message: reply.message() });
    }
    Ok(reply.json().get("sealed").and_then(|s| s.as_str()).unwrap_or_default().to_string())
}

/// Discovery, then the certificate exchange. `server` is `https://HOST:PORT`.
pub async fn join(
    server: &str,
    token: &BootstrapToken,
    pin: &str,
    node_name: &str,
) -> Result<NodeCredentials, JoinError> {
    let (verified, ca_pem) = discover(server, token, pin).await?;

    let (csr, key_pem) = node_csr(node_name)?;
    let body = serde_json::json!({"nodeName": node_name, "csr": csr}).to_string().into_bytes();
    let reply = verified.request("POST", NODE_CERTIFICATES, Some(body), Some(&token.expose())).await?;
    if reply.status != 201 {
        return Err(JoinError::Refused { status: reply.status, message: reply.message() });
    }
    let cert_pem = reply.json().get("certificate").and_then(|c| c.as_str()).unwrap_or_default().to_string();
    Ok(NodeCredentials { server: server.into(), ca_pem, cert_pem, key_pem })
}
