//! Register the Node once, then heartbeat: read the current object, set Ready=True with a fresh
//! lastHeartbeatTime, write it back conditionally (a conflict just means someone else wrote: read again).

use serde_json::Value;
use time::OffsetDateTime;

use crate::apiclient::{ApiClient, ClientError};
use crate::resources::node::set_ready;

pub const HEARTBEAT_SECS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the API server answered {status}: {message}")]
    Api { status: u16, message: String },
}

fn api_error(reply: &crate::apiclient::Reply) -> AgentError {
    AgentError::Api { status: reply.status, message: reply.message() }
}

/// Create the Node if it does not exist (an existing one is kept: its uid and history stay).
pub async fn register(client: &ApiClient, node: &Value) -> Result<(), AgentError> {
    let name = crate::resources::meta::name(node).unwrap_or_default().to_string();
    let existing = client.request("GET", &format!("/api/v1/nodes/{name}"), None, None).await?;
    if existing.status == 200 {
        return Ok(());
    }
    let reply = client.request("POST", "/api/v1/nodes", Some(serde_json::to_vec(node).expect("json")), None).await?;
    match reply.status {
        201 | 409 => Ok(()),
        _ => Err(api_error(&reply)),
    }
}

/// One heartbeat; retried once on a conflict. `observed` (nodeInfo, capacity, images, …) is merged into the
/// status, so what the Node says about the host stays true.
pub async fn heartbeat(client: &ApiClient, name: &str, observed: &Value) -> Result<(), AgentError> {
    for _ in 0..2 {
        let current = client.request("GET", &format!("/api/v1/nodes/{name}"), None, None).await?;
        if current.status != 200 {
            return Err(api_error(&current));
        }
        let mut node = current.json();
        let now = OffsetDateTime::now_utc();
        if let (Some(status), Some(fields)) =
            (node.get_mut("status").and_then(Value::as_object_mut), observed.as_object())
        {
            for (key, value) in fields {
                status.insert(key.clone(), value.clone());
            }
        }
        set_ready(&mut node, "True", "KubeletReady", "kubeboot agent is posting ready status", Some(now), now);
        let reply = client
            .request(
                "PUT",
                &format!("/api/v1/nodes/{name}/status"),
                Some(serde_json::to_vec(&node).expect("json")),
                None,
            )
            .await?;
        match reply.status {
            200 => return Ok(()),
            409 => continue,
            _ => return Err(api_error(&reply)),
        }
    }
    // Lost to two concurrent writers: not written, and said so (the next tick tries again).
    Err(AgentError::Api { status: 409, message: format!("node {name} kept changing; heartbeat not written") })
}
