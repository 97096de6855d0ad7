//! What every API handler shares: the (watched) store, the CA, the signed cluster-info kubeconfig, the
//! watch feed and quota, and the registry every write goes through (it holds the service range and the
//! eviction timeout the server was started with).

use std::sync::Arc;

use crate::bootstrap::pki::ClusterCa;
use crate::control_plane::registry::{Registry, RegistryError};
use crate::control_plane::store::{HistoryCapacity, Store, WatchHub};

pub struct ApiState {
    pub store: Arc<dyn Store>,
    /// The one write path to API objects (admission, defaults, validation, allocation, deletion).
    pub registry: Arc<Registry>,
    pub ca: ClusterCa,
    /// The cluster-only kubeconfig cluster-info publishes (exact bytes, as signed).
    pub cluster_kubeconfig: String,
    /// How many node-certificate requests arrived (a metric; tests use it to prove none was sent).
    pub node_certificate_requests: std::sync::atomic::AtomicU64,
    /// The watch cache: the store's changes, whoever made them.
    pub watch: Arc<WatchHub>,
    /// Our client certificate towards the agents' node APIs, issued by the CA at first use (memory only).
    /// The certificate shown to node APIs, issued again when two thirds of its lifetime have passed.
    node_api_client: std::sync::Mutex<Option<crate::bootstrap::pki::Issued>>,
    /// Concurrent watches per identity.
    pub watch_quota: Arc<super::watch_quota::WatchQuota>,
    /// The lists whose later pages clients may still ask for.
    pub pages: super::list_pages::ListPages,
    /// Where on-demand snapshots go (set by the server; unset: none are taken here).
    pub snapshots: std::sync::OnceLock<crate::control_plane::backup::SnapshotPlace>,
    /// The agents' resource usage, read for metrics.k8s.io and the HPA controller.
    pub resource_metrics: Arc<crate::control_plane::resource_metrics::ResourceMetrics>,
}

/// Events a watch can resume from without relisting.
/// (1000 heartbeating nodes write ~100 events a second: 16 MiB of them is about half a minute; a small
/// cluster's hours.)
const WATCH_HISTORY: HistoryCapacity = HistoryCapacity { events: 10_000, bytes: 16 * 1024 * 1024 };

impl ApiState {
    /// The state over `store` (its watch followed by the hub), with the standard namespaces made.
    pub fn new(store: Arc<dyn Store>, ca: ClusterCa, cluster_kubeconfig: String) -> Result<Self, RegistryError> {
        let watch = WatchHub::follow(store.clone(), WATCH_HISTORY)?;
        let registry = Arc::new(Registry::new(store.clone()));
        registry.ensure_namespaces()?;
        // The custom kinds served from the first request on (api_extensions::follow keeps them current).
        crate::control_plane::api_extensions::load(store.as_ref())?;
        Ok(ApiState {
            store,
            registry,
            ca,
            cluster_kubeconfig,
            node_certificate_requests: Default::default(),
            watch,
            node_api_client: Default::default(),
            watch_quota: Default::default(),
            pages: Default::default(),
            snapshots: Default::default(),
            resource_metrics: Default::default(),
        })
    }

    /// The certificate the API server shows to node APIs (CN=kube-apiserver-kubelet-client, O=system:masters).
    pub fn node_api_client(&self) -> Result<crate::bootstrap::pki::Issued, String> {
        use crate::bootstrap::certificate_lifetime::{describe, due};
        let mut held = self.node_api_client.lock().expect("node API client lock");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let current =
            held.as_ref().filter(|i| describe(&i.cert_pem).is_ok_and(|d| !due(d.not_before, d.not_after, now)));
        if let Some(issued) = current {
            return Ok(issued.clone());
        }
        let issued = self
            .ca
            .issue_client(crate::bootstrap::pki::API_SERVER_NODE_CLIENT, &["system:masters"])
            .map_err(|e| e.to_string())?;
        *held = Some(issued.clone());
        Ok(issued)
    }
}
