//! What the admin commands ask the API server (`token`, `get nodes`, `reset`), with the admin kubeconfig.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{ApiClient, ClientError, Reply};
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::token::BootstrapToken;

const TOKENS: &str = "/kubeboot/v1/bootstrap-tokens";

/// Which kubeconfig an admin command uses: the flag, else $KUBECONFIG, else the master's
/// /etc/kubeboot/admin.conf when readable, else ~/.kube/config (kubectl's default).
fn kubeconfig_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let master = Path::new(crate::host::layout::DEFAULT_CONFIG_DIR).join("admin.conf");
    if std::fs::File::open(&master).is_ok() {
        return master;
    }
    crate::inventory::home_dir().join(".kube/config")
}

/// The admin kubeconfig the flag, $KUBECONFIG or the defaults point at (see `kubeconfig_path`), read and parsed.
pub fn load(explicit: Option<&Path>) -> Result<Kubeconfig, ClientError> {
    let path = kubeconfig_path(explicit);
    let bad = |message: String| ClientError::Kubeconfig { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("{e} (pass --kubeconfig)")))?;
    Kubeconfig::parse(&text).map_err(|e| bad(e.to_string()))
}

/// A client with the admin kubeconfig (`load`).
pub fn client(explicit: Option<&Path>) -> Result<ApiClient, ClientError> {
    ApiClient::from_kubeconfig(&load(explicit)?)
}

fn expect(client: &ApiClient, reply: Reply, ok: u16) -> Result<Value, ClientError> {
    if reply.status != ok {
        return Err(ClientError::Status { server: client.server(), status: reply.status, message: reply.message() });
    }
    Ok(reply.json())
}

/// A new bootstrap token; `ttl_secs` None never expires.
pub async fn create_token(client: &ApiClient, ttl_secs: Option<u64>) -> Result<BootstrapToken, ClientError> {
    let body = json!({ "ttlSeconds": ttl_secs }).to_string().into_bytes();
    let reply = client.request("POST", TOKENS, Some(body), None).await?;
    let answer = expect(client, reply, 201)?;
    let text = answer.get("token").and_then(Value::as_str).unwrap_or_default();
    BootstrapToken::parse(text).map_err(|e| ClientError::Http { server: client.server(), message: e.to_string() })
}

/// Live tokens: (id, expiry in Unix seconds or None).
pub async fn list_tokens(client: &ApiClient) -> Result<Vec<(String, Option<u64>)>, ClientError> {
    let reply = client.request("GET", TOKENS, None, None).await?;
    let answer = expect(client, reply, 200)?;
    Ok(answer["items"]
        .as_array()
        .map(|items| {
            items.iter().map(|t| (t["id"].as_str().unwrap_or_default().to_string(), t["expires"].as_u64())).collect()
        })
        .unwrap_or_default())
}

pub async fn delete_token(client: &ApiClient, id: &str) -> Result<(), ClientError> {
    let reply = client.request("DELETE", &format!("{TOKENS}/{id}"), None, None).await?;
    expect(client, reply, 200).map(|_| ())
}

pub async fn list_nodes(client: &ApiClient) -> Result<Vec<Value>, ClientError> {
    let reply = client.request("GET", "/api/v1/nodes", None, None).await?;
    let answer = expect(client, reply, 200)?;
    Ok(answer["items"].as_array().cloned().unwrap_or_default())
}

/// Refuse the node's client certificates until it joins again.
pub async fn revoke_node_credentials(client: &ApiClient, name: &str) -> Result<(), ClientError> {
    let reply = client.request("DELETE", &format!("/kubeboot/v1/node-credentials/{name}"), None, None).await?;
    expect(client, reply, 200).map(|_| ())
}

/// Delete a Node object; false when there was none.
pub async fn delete_node(client: &ApiClient, name: &str) -> Result<bool, ClientError> {
    let reply = client.request("DELETE", &format!("/api/v1/nodes/{name}"), None, None).await?;
    if reply.status == 404 {
        return Ok(false);
    }
    expect(client, reply, 200).map(|_| true)
}

/// Have the server take a snapshot into its snapshot folder; where and how big (backup::Saved's JSON).
pub async fn save_snapshot(client: &ApiClient) -> Result<Value, ClientError> {
    let reply = client.request("POST", "/kubeboot/v1/snapshots", Some(b"{}".to_vec()), None).await?;
    expect(client, reply, 201)
}

/// Leave the sealed control-plane certificates in the cluster (kubeboot upload-certs); their expiry (Unix s).
pub async fn upload_certificates(client: &ApiClient, sealed: &str) -> Result<u64, ClientError> {
    let body = json!({ "sealed": sealed }).to_string().into_bytes();
    let reply = client.request("POST", "/kubeboot/v1/control-plane-certificates", Some(body), None).await?;
    Ok(expect(client, reply, 201)?["expires"].as_u64().unwrap_or_default())
}
