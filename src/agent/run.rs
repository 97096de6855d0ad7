//! `kubeboot agent`: register the Node, heartbeat every 10 s, and run this node's pods: once Docker
//! answers and the server has given the Node a podCIDR, the pod network is set up, a watch follows this
//! node's pods and hands each change to that pod's worker (pod_workers.rs), a watch of the Nodes keeps
//! the routes to other nodes' pods, and housekeeping removes what pods that are gone left behind. Errors
//! (the server restarting, Docker restarting, the network) are reported and retried, so the agent
//! recovers by itself; nothing is re-listed on a timer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use super::network::PodNetwork;
use super::node_info::{node_object, observed_status};
use super::pod_sync::{NodeContext, PodSync};
use super::pod_workers::PodWorkers;
use super::registration::{heartbeat, register, AgentError, HEARTBEAT_SECS};
use super::runtime::docker::DockerRuntime;
use super::runtime::ContainerRuntime;
use super::watch_cache::WatchCache;
use crate::apiclient::{ApiClient, ClientIdentity, Trust};
use crate::bootstrap::kubeconfig::Kubeconfig;

/// kubelet's housekeeping period: leftovers of pods that are gone are looked for this often.
const HOUSEKEEPING: Duration = Duration::from_secs(2);
/// Routes and pod network rules are rewritten at least this often (and whenever a Node changes).
const NETWORK_RESYNC: Duration = Duration::from_secs(30);

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
    let (server, ca) = config.first_cluster().map_err(|e| err(e.to_string()))?;
    let (cert, key) = config.first_user_credentials().map_err(|e| err(e.to_string()))?;
    // One node certificate for every client, renewed in place (certificate_rotation).
    let identity = ClientIdentity::new(&cert, &key).map_err(|e| err(e.to_string()))?;
    let make = || {
        ApiClient::presenting(&server, Trust::Ca(ca.clone()), Some(identity.clone())).map_err(|e| err(e.to_string()))
    };
    let client = make()?;
    // Each client its own connection pool; all of them one list of masters to fail over between.
    let another = || make().map(|c| c.sharing(client.servers()));
    let (pods_client, events_client, node_api_client) = (another()?, another()?, another()?);
    let (proxy_client, local_path_client, rotation_client) = (another()?, another()?, another()?);
    tokio::spawn(super::certificate_rotation::keep_current(
        rotation_client,
        identity.clone(),
        kubeconfig.to_path_buf(),
        node_name.to_string(),
    ));
    tokio::spawn(super::node_api::run(node_api_client, ca.clone(), node_name.to_string()));
    tokio::spawn(super::local_path::run(local_path_client, node_name.to_string()));
    let endpoint_gate = super::proxy::gate::EndpointGate::default();
    let (zone, zone_updates) = tokio::sync::watch::channel(Arc::new(super::dns::zone::Zone::default()));
    tokio::spawn(super::proxy::run_proxy(proxy_client, endpoint_gate.clone(), zone));
    let address = address
        .or_else(|| super::local_address::address_towards(&client.server()))
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
        data_dir: PathBuf::from(crate::host::layout::DEFAULT_DATA_DIR),
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
    retry("securing the state folder", || async { crate::host::layout::secure_data_dir(&node.data_dir, None) }).await;
    let network = PodNetwork::new(cidr, node.data_dir.join("network/ips"));
    retry("setting up the pod bridge", || network.ensure_bridge()).await;
    eprintln!(
        "kubeboot agent: pods on Docker {}, network {cidr} on {}",
        facts.lock().await.version.clone().unwrap_or_default(),
        super::network::BRIDGE
    );
    let client = Arc::new(client);
    let sync = Arc::new(PodSync::new((*client).clone(), runtime, network, node, events));
    // This node's pods: each change goes to its pod's worker.
    let (changes_tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let selector: String = form_urlencoded::byte_serialize(format!("spec.nodeName={node_name}").as_bytes()).collect();
    let (pods, _) =
        WatchCache::start(client.clone(), format!("/api/v1/pods?fieldSelector={selector}"), Some(changes_tx));
    let workers = Arc::new(PodWorkers::new(sync.clone()));
    let dispatch = workers.clone();
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            dispatch.update(&change);
        }
    });
    // Every node's podCIDR and address: routes to their pods, rules for the whole pod network.
    let (nodes, _) = WatchCache::start(client.clone(), "/api/v1/nodes".into(), None);
    let network = sync.clone();
    let node_cache = nodes.clone();
    tokio::spawn(async move {
        let mut changed = node_cache.subscribe();
        // Not before the first list: an empty one would delete the routes to every other node's pods
        // (after an agent restart, a Service's requests to them were lost until the list came).
        while !node_cache.wait_synced(NETWORK_RESYNC).await {}
        loop {
            network.sync_network(&node_cache.list()).await;
            // A Docker or firewall restart may drop rules: they are put back at least every NETWORK_RESYNC.
            let _ = tokio::time::timeout(NETWORK_RESYNC, changed.changed()).await;
        }
    });
    let mut last_images = std::time::Instant::now() - Duration::from_secs(60);
    loop {
        if pods.synced() {
            if let Err(e) = sync.housekeeping(&pods).await {
                eprintln!("kubeboot agent: housekeeping: {e}");
            }
        }
        if last_images.elapsed() > Duration::from_secs(30) {
            last_images = std::time::Instant::now();
            facts.lock().await.images = sync.runtime.images().await.ok();
        }
        tokio::time::sleep(HOUSEKEEPING).await;
    }
}
