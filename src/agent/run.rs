//! `kubeboot agent`: register the Node, then heartbeat every 10 s for ever. Errors (the server restarting,
//! the network) are reported and retried at the next tick, so the agent reconnects by itself.

use std::path::Path;
use std::time::Duration;

use super::node_info::node_object;
use super::registration::{heartbeat, register, HEARTBEAT_SECS};
use crate::apiclient::ApiClient;
use crate::bootstrap::kubeconfig::Kubeconfig;

#[derive(Debug, thiserror::Error)]
pub enum AgentRunError {
    #[error("{path}: {message}")]
    Config { path: String, message: String },
}

pub async fn run(
    kubeconfig: &Path,
    node_name: &str,
    address: Option<std::net::IpAddr>,
    master: bool,
) -> Result<(), AgentRunError> {
    let err = |message: String| AgentRunError::Config { path: kubeconfig.display().to_string(), message };
    let text = std::fs::read_to_string(kubeconfig).map_err(|e| err(e.to_string()))?;
    let config = Kubeconfig::parse(&text).map_err(|e| err(e.to_string()))?;
    let client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let address = address
        .or_else(|| super::local_address::address_towards(client.server()))
        .ok_or_else(|| err(format!("no route to {}: pass --address", client.server())))?;
    let node = node_object(node_name, &address.to_string(), master);
    let mut registered = false;
    loop {
        let result = async {
            if !registered {
                register(&client, &node).await?;
            }
            heartbeat(&client, node_name).await
        }
        .await;
        match result {
            Ok(()) => registered = true,
            Err(e) => eprintln!("kubeboot agent: {e}; retrying"),
        }
        // A failed first registration is retried sooner than a heartbeat.
        let wait = if registered { HEARTBEAT_SECS } else { 2 };
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}
