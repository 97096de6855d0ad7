//! `kubeboot agent`: register the Node, heartbeat every 10 s, and run this node's pods: once Docker
//! answers and the server has given the Node a podCIDR, the pod network is set up and the pod sync runs
//! on every change to this node's pods (a watch) and every 2 s. Errors (the server restarting, Docker
//! restarting, the network) are reported and retried, so the agent recovers by itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use super::network::PodNetwork;
use super::node_info::{node_object, observed_status};
use super::pod_sync::{NodeContext, PodSync};
use super::registration::{heartbeat, register, AgentError, HEARTBEAT_SECS};
use super::runtime::docker::DockerRuntime;
use super::runtime::ContainerRuntime;
use crate::apiclient::ApiClient;
use crate::bootstrap::kubeconfig::Kubeconfig;

const SYNC_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AgentRunError {
    #[error("{path}: {message}")]
    Config { path: String, message: String },
}

/// What the heartbeat reports about Docker, filled in by the pod side once Docker answers.
#[derive(Default)]
struct RuntimeFacts {
    version: Option<String>,
    images: Option<Vec<Value>>,
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
    let pods_client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let events_client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let node_api_client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let proxy_client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let proxy_watch_client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let local_path_client = ApiClient::from_kubeconfig(&config).map_err(|e| err(e.to_string()))?;
    let (_, ca_pem) = config.first_cluster().map_err(|e| err(e.to_string()))?;
    tokio::spawn(super::node_api::run(node_api_client, ca_pem, node_name.to_string()));
    tokio::spawn(super::local_path::run(local_path_client, node_name.to_string()));
    let endpoint_gate = super::proxy::gate::EndpointGate::default();
    let (zone, zone_updates) = tokio::sync::watch::channel(Arc::new(super::dns::zone::Zone::default()));
    tokio::spawn(super::proxy::run_proxy(proxy_client, proxy_watch_client, endpoint_gate.clone(), zone));
    let address = address
        .or_else(|| super::local_address::address_towards(client.server()))
        .ok_or_else(|| err(format!("no route to {}: pass --address", client.server())))?;
    // Cluster DNS on the node's address (the kube-dns Service's endpoints are the nodes).
    let dns_address = std::net::SocketAddr::new(address, 53);
    let dns_zone = zone_updates.clone();
    tokio::spawn(async move {
        if let Err(e) = super::dns::server::serve(dns_address, dns_zone, super::dns::server::node_resolvers()).await {
            eprintln!("kubeboot agent: cluster DNS on {dns_address}: {e}");
        }
    });
    let node = node_object(node_name, &address.to_string(), master);
    let facts = Arc::new(Mutex::new(RuntimeFacts::default()));
    let (events, mut pending_events) = tokio::sync::mpsc::unbounded_channel::<super::pod_sync::PodEvent>();
    let events_node = node_name.to_string();
    tokio::spawn(async move {
        while let Some((pod, warning, reason, message)) = pending_events.recv().await {
            super::events::record(&events_client, &events_node, &pod, warning, reason, &message).await;
        }
    });
    let pod_node = NodeContext {
        node_name: node_name.to_string(),
        host_ip: address.to_string(),
        data_dir: PathBuf::from(crate::control_plane::layout::DEFAULT_DATA_DIR),
        pause_image: String::new(),
        endpoint_gate,
        dns_zone: zone_updates.clone(),
    };
    tokio::spawn(run_pods(pods_client, pod_node, facts.clone(), events));
    let mut registered = false;
    loop {
        let observed = {
            let f = facts.lock().await;
            observed_status(&node, f.version.as_deref(), f.images.clone())
        };
        let result = async {
            if !registered {
                register(&client, &node).await?;
            }
            heartbeat(&client, node_name, &observed).await
        }
        .await;
        match result {
            Ok(()) => registered = true,
            // The Node was deleted (`kubectl delete node`): register it again, as kubelet does.
            Err(AgentError::Api { status: 404, .. }) => {
                eprintln!("kubeboot agent: Node {node_name} is gone; registering it again");
                registered = false;
            }
            Err(e) => eprintln!("kubeboot agent: {e}; retrying"),
        }
        // A failed first registration is retried sooner than a heartbeat.
        let wait = if registered { HEARTBEAT_SECS } else { 2 };
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

pub(super) async fn retry<T, E: std::fmt::Display, F: std::future::Future<Output = Result<T, E>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let mut reported = false;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                if !reported {
                    eprintln!("kubeboot agent: {what}: {e}; retrying");
                    reported = true;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The node's podCIDR, once the server's node IPAM has assigned it.
async fn pod_cidr(client: &ApiClient, node_name: &str) -> Result<ipnet::Ipv4Net, String> {
    let reply =
        client.request("GET", &format!("/api/v1/nodes/{node_name}"), None, None).await.map_err(|e| e.to_string())?;
    reply
        .json()
        .pointer("/spec/podCIDR")
        .and_then(Value::as_str)
        .ok_or_else(|| "the Node has no podCIDR yet".to_string())?
        .parse()
        .map_err(|e| format!("podCIDR: {e}"))
}

async fn run_pods(
    client: ApiClient,
    mut node: NodeContext,
    facts: Arc<Mutex<RuntimeFacts>>,
    events: tokio::sync::mpsc::UnboundedSender<super::pod_sync::PodEvent>,
) {
    let runtime = retry("connecting to Docker", DockerRuntime::connect).await;
    facts.lock().await.version = runtime.version().await.ok();
    let pause_image = retry("loading the pause image", || super::runtime::pause_image::ensure(&runtime)).await;
    node.pause_image = pause_image;
    let node_name = node.node_name.clone();
    let cidr = retry("waiting for the node's podCIDR", || pod_cidr(&client, &node_name)).await;
    // Secret volumes live under it.
    retry("securing the state folder", || async {
        crate::control_plane::layout::secure_data_dir(&node.data_dir, None)
    })
    .await;
    let network = PodNetwork::new(cidr, node.data_dir.join("network/ips"));
    retry("setting up the pod bridge", || network.ensure_bridge()).await;
    eprintln!(
        "kubeboot agent: pods on Docker {}, network {cidr} on {}",
        facts.lock().await.version.clone().unwrap_or_default(),
        super::network::BRIDGE
    );
    let sync = Arc::new(PodSync::new(client, runtime, network, node, events));
    let (changed, mut changes) = tokio::sync::mpsc::channel::<String>(256);
    let watcher = sync.clone();
    let watch_path = format!("/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3D{node_name}");
    tokio::spawn(async move {
        loop {
            if let Err(e) = watcher.client.watch_lines(&watch_path, changed.clone()).await {
                eprintln!("kubeboot agent: watching pods: {e}; retrying");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut last_images = std::time::Instant::now() - Duration::from_secs(60);
    loop {
        let pass = std::time::Instant::now();
        if let Err(e) = sync.sync().await {
            eprintln!("kubeboot agent: pod sync: {e}");
        }
        if pass.elapsed() > Duration::from_secs(3) {
            eprintln!("kubeboot agent: a pod sync pass took {:?} (the next pod changes waited for it)", pass.elapsed());
        }
        if last_images.elapsed() > Duration::from_secs(30) {
            last_images = std::time::Instant::now();
            facts.lock().await.images = sync.runtime.images().await.ok();
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep(SYNC_EVERY) => {}
        }
        while changes.try_recv().is_ok() {}
    }
}
