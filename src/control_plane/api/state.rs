//! What every API handler shares: the (watched) store, the CA, the signed cluster-info kubeconfig, the
//! watch feed and quota, the service range and the eviction timeout the server was started with.

use std::sync::Arc;

use serde_json::json;

use crate::bootstrap::pki::ClusterCa;
use crate::control_plane::store::{HistoryCapacity, Store, StoreError, WatchHub, WatchedStore};
use crate::resources::meta;

pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub ca: ClusterCa,
    /// The cluster-only kubeconfig cluster-info publishes (exact bytes, as signed).
    pub cluster_kubeconfig: String,
    /// How many node-certificate requests arrived (a metric; tests use it to prove none was sent).
    pub node_certificate_requests: std::sync::atomic::AtomicU64,
    /// The watch feed of every write through `store`.
    pub watch: Arc<WatchHub>,
    /// Pods tolerate a not-ready or unreachable node this long before they are evicted (server.yaml).
    pub pod_eviction_timeout_seconds: std::sync::atomic::AtomicU64,
    /// The Services' ClusterIP range (server.yaml; kubeadm's 10.96.0.0/12 until set).
    service_network: std::sync::RwLock<ipnet::Ipv4Net>,
    /// Our client certificate towards the agents' node APIs, issued by the CA at first use (memory only).
    node_api_client: std::sync::OnceLock<Result<crate::bootstrap::pki::Issued, String>>,
    /// Concurrent watches per identity.
    pub watch_quota: Arc<super::watch_quota::WatchQuota>,
}

/// kubeadm's service-cidr default.
pub const DEFAULT_SERVICE_NETWORK: &str = "10.96.0.0/12";

/// Events a watch can resume from without relisting.
/// (1000 heartbeating nodes write ~100 events a second: 16 MiB of them is about half a minute; a small
/// cluster's hours.)
const WATCH_HISTORY: HistoryCapacity = HistoryCapacity { events: 10_000, bytes: 16 * 1024 * 1024 };

impl ApiState {
    /// The state over `store` (wrapped so every write feeds watches), with the standard namespaces made.
    pub fn new(store: Arc<dyn Store>, ca: ClusterCa, cluster_kubeconfig: String) -> Result<Self, StoreError> {
        let watched = WatchedStore::new(store, WATCH_HISTORY)?;
        let watch = watched.hub();
        let store: Arc<dyn Store> = Arc::new(watched);
        ensure_namespaces(store.as_ref())?;
        Ok(ApiState {
            store,
            ca,
            cluster_kubeconfig,
            node_certificate_requests: Default::default(),
            watch,
            node_api_client: Default::default(),
            watch_quota: Default::default(),
            pod_eviction_timeout_seconds: std::sync::atomic::AtomicU64::new(300),
            service_network: std::sync::RwLock::new(DEFAULT_SERVICE_NETWORK.parse().expect("a network")),
        })
    }

    pub fn service_network(&self) -> ipnet::Ipv4Net {
        *self.service_network.read().expect("service network")
    }

    pub fn set_service_network(&self, network: ipnet::Ipv4Net) {
        *self.service_network.write().expect("service network") = network;
    }

    /// The certificate the API server shows to node APIs (CN=kube-apiserver-kubelet-client, O=system:masters).
    pub fn node_api_client(&self) -> Result<&crate::bootstrap::pki::Issued, String> {
        self.node_api_client
            .get_or_init(|| {
                self.ca
                    .issue_client(crate::bootstrap::pki::API_SERVER_NODE_CLIENT, &["system:masters"])
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The namespaces every cluster has, made when missing.
pub fn ensure_namespaces(store: &dyn Store) -> Result<(), StoreError> {
    let namespaces = crate::resources::kinds::find("", "v1", "namespaces").expect("namespaces are served");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if store.get(&namespaces.key(None, name))?.is_none() {
            let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}});
            meta::stamp_new(&mut ns);
            match store.create(&namespaces.key(None, name), &serde_json::to_vec(&ns).expect("json")) {
                Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
