//! `kubeboot server`: loads the PKI and settings `init` wrote, opens the store, runs the controller manager
//! (node lifecycle, node IPAM, workload controllers, garbage collection) and the scheduler, and serves the API until SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use super::api::{router, serve, server_config, ApiState, ClientCertificates};
use super::layout::{Layout, ServerSettings};
use super::scheduler;
use super::store::{RedbStore, Store, WatchHub};
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pki::ClusterCa;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{path}: {message} (run `kubeboot init` first)")]
    Config { path: String, message: String },
    #[error("cannot listen on {address}: {message}")]
    Listen { address: String, message: String },
    #[error("{0}")]
    Other(String),
}

fn read(path: &std::path::Path) -> Result<String, ServerError> {
    std::fs::read_to_string(path)
        .map_err(|e| ServerError::Config { path: path.display().to_string(), message: e.to_string() })
}

pub async fn run(layout: &Layout, listen: Option<&str>) -> Result<(), ServerError> {
    let settings: ServerSettings = crate::yaml::from_str(&read(&layout.settings())?)
        .map_err(|e| ServerError::Config { path: layout.settings().display().to_string(), message: e.to_string() })?;
    let ca_pem = read(&layout.pki("ca.crt"))?;
    let ca = ClusterCa::load(&ca_pem, &read(&layout.pki("ca.key"))?).map_err(|e| ServerError::Other(e.to_string()))?;
    let tls = server_config(
        &ca_pem,
        &read(&layout.pki("apiserver.crt"))?,
        &read(&layout.pki("apiserver.key"))?,
        ClientCertificates::Optional,
    )
    .map_err(|e| ServerError::Other(e.to_string()))?;
    let secure = |e: std::io::Error| ServerError::Other(format!("{}: {e}", layout.data_dir.display()));
    super::layout::secure_data_dir(&layout.data_dir, None).map_err(secure)?;
    let store: Arc<dyn Store> =
        Arc::new(RedbStore::open(&layout.store()).map_err(|e| ServerError::Other(e.to_string()))?);
    super::layout::secure_data_dir(&layout.data_dir, Some(&layout.store())).map_err(secure)?;
    let kubeconfig = Kubeconfig::cluster_only(&settings.cluster_name, &settings.server_url(), &ca_pem).to_yaml();
    let state = Arc::new(ApiState::new(store, ca, kubeconfig).map_err(|e| ServerError::Other(e.to_string()))?);
    state
        .pod_eviction_timeout_seconds
        .store(settings.pod_eviction_timeout_seconds, std::sync::atomic::Ordering::Relaxed);
    // The controller writes through the API's store so its changes reach watches too.
    let store = state.store.clone();

    let address = listen.map(String::from).unwrap_or_else(|| format!("0.0.0.0:{}", settings.port));
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| ServerError::Listen { address: address.clone(), message: e.to_string() })?;
    eprintln!("kubeboot server: serving {} on {address}", settings.server_url());

    let cluster_cidr: ipnet::IpNet = settings.pod_network_cidr.parse().map_err(|e| ServerError::Config {
        path: layout.settings().display().to_string(),
        message: format!("pod_network_cidr: {e}"),
    })?;
    let service_network = crate::inventory::spec::parse_service_cidr(&settings.service_cidr).map_err(|e| {
        ServerError::Config { path: layout.settings().display().to_string(), message: format!("service_cidr: {e}") }
    })?;
    state.set_service_network(service_network);
    super::master_service::ensure_kubernetes_service(
        store.as_ref(),
        service_network,
        &settings.advertise_address,
        settings.port,
    )
    .map_err(|e| ServerError::Other(format!("the kubernetes Service: {e}")))?;
    super::master_service::ensure_dns_service(store.as_ref(), service_network)
        .map_err(|e| ServerError::Other(format!("the kube-dns Service: {e}")))?;
    super::default_storage_class::ensure(store.as_ref())
        .map_err(|e| ServerError::Other(format!("the default StorageClass: {e}")))?;
    tokio::spawn(allocation_repair_loop(store.clone()));
    tokio::spawn(scheduler_loop(store.clone(), state.watch.clone()));
    tokio::spawn(super::runtime::run(state.clone(), super::controllers::all(cluster_cidr)));

    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    serve(listener, tls, router(state), shutdown).await;
    Ok(())
}

/// Free ClusterIPs and NodePorts no Service holds (left by a crash mid-create, or a namespace deleted
/// wholesale): at start and every 3 minutes, as kube-apiserver's repair loops.
async fn allocation_repair_loop(store: Arc<dyn Store>) {
    loop {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || super::api::service_allocation::repair(s.as_ref())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => eprintln!("kubeboot server: freed {n} service allocations no Service holds"),
            Ok(Err(e)) => eprintln!("kubeboot server: service allocation repair: {e}"),
            Err(e) => eprintln!("kubeboot server: service allocation repair: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(180)).await;
    }
}

/// The store prefixes whose writes can make a pending pod schedulable.
const SCHEDULING_INPUTS: [&str; 4] = ["/pods/", "/nodes/", "/persistentvolumeclaims/", "/persistentvolumes/"];

/// The scheduler: a pass whenever a pod, node, claim or volume is written (a burst of writes makes one pass) and at least
/// every 5 s (retries). Store work runs off the async workers.
async fn scheduler_loop(store: Arc<dyn Store>, hub: Arc<WatchHub>) {
    let mut live = hub.subscribe_live();
    loop {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || scheduler::schedule_pending(s.as_ref())).await {
            Ok(Ok(pass)) => {
                for (pod, node) in pass.bound {
                    eprintln!("kubeboot server: scheduled {pod} on {node}");
                }
            }
            Ok(Err(e)) => eprintln!("kubeboot server: scheduler: {e}"),
            Err(e) => eprintln!("kubeboot server: scheduler: {e}"),
        }
        // Wait for a pod or node write (or the tick), then drain what else arrived meanwhile.
        let deadline = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                event = live.recv() => match event {
                    Ok(e) if SCHEDULING_INPUTS.iter().any(|p| e.key.starts_with(p)) => break,
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
        while live.try_recv().is_ok() {}
    }
}
