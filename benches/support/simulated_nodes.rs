//! Simulated nodes for the control-plane benchmarks: each with its own node certificate (signed by the
//! cluster CA, as join would get it) and a client, registered through the agent's own code, heartbeating
//! through the agent's own code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeboot::agent::node_info::node_object;
use kubeboot::agent::registration::{heartbeat, register};
use kubeboot::apiclient::{ApiClient, Trust};
use kubeboot::bootstrap::pki::{node_csr, ClusterCa};

pub type Nodes = Arc<Vec<(String, ApiClient)>>;

/// `count` nodes named node-0000 …, each with a client holding its own certificate.
pub fn clients(cfg: &std::path::Path, url: &str, count: usize) -> Nodes {
    let ca_pem = std::fs::read_to_string(cfg.join("pki/ca.crt")).unwrap();
    let ca = ClusterCa::load(&ca_pem, &std::fs::read_to_string(cfg.join("pki/ca.key")).unwrap()).unwrap();
    Arc::new(
        (0..count)
            .map(|i| {
                let name = format!("node-{i:04}");
                let (csr, key) = node_csr(&name).unwrap();
                let cert = ca.sign_node_csr(&csr, &name).unwrap();
                (name, ApiClient::new(url, Trust::Ca(ca_pem.clone()), Some((&cert, &key))).unwrap())
            })
            .collect(),
    )
}

/// Register every node (as agents do at start).
pub async fn register_all(nodes: &Nodes) {
    for (i, (name, client)) in nodes.iter().enumerate() {
        let address = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
        register(client, &node_object(name, &address, false)).await.unwrap();
    }
}

/// Node `i` heartbeats every 10 s from `started + offset` until `end`; each result goes to `report`.
pub async fn heartbeat_until(
    nodes: Nodes,
    i: usize,
    started: Instant,
    end: Instant,
    report: impl Fn(Result<Duration, ()>),
) {
    let offset = Duration::from_millis((i as u64 * 10_000) / nodes.len() as u64);
    let (name, client) = &nodes[i];
    let mut next = tokio::time::Instant::from_std(started + offset);
    loop {
        tokio::time::sleep_until(next).await;
        if Instant::now() >= end {
            return;
        }
        let t = Instant::now();
        report(heartbeat(client, name, &serde_json::json!({})).await.map(|_| t.elapsed()).map_err(|_| ()));
        next += Duration::from_secs(10);
    }
}
