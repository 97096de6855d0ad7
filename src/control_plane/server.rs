//! `kubeboot server`: loads the PKI and settings `init` wrote, opens the store, runs the controller manager
//! (node lifecycle, node IPAM, workload controllers, garbage collection, the scheduler: all while it holds
//! the Lease) and serves the API until SIGTERM or SIGINT.

use std::sync::Arc;

use super::api::{router, serve, ApiState, ClientCertificates};
use super::scheduler;
use super::store::Store;
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pki::ClusterCa;
use crate::host::layout::{Layout, ServerSettings};
use crate::https::reloading_certificate::ReloadingCertificate;

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
    let ca = ClusterCa::load(&ca_pem, &read(&layout.pki("ca.key"))?)
        .map_err(|e| ServerError::Other(e.to_string()))?
        .with_leaf_validity(settings.certificate_validity_seconds);
    let serving = Arc::new(
        ReloadingCertificate::load(&layout.pki("apiserver.crt"), &layout.pki("apiserver.key"))
            .map_err(|e| ServerError::Other(e.to_string()))?,
    );
    let tls = crate::https::server_config_with(&ca_pem, serving.clone(), ClientCertificates::Optional)
        .map_err(|e| ServerError::Other(e.to_string()))?;
    let secure = |e: std::io::Error| ServerError::Other(format!("{}: {e}", layout.data_dir.display()));
    crate::host::layout::secure_data_dir(&layout.data_dir, None).map_err(secure)?;
    let store: Arc<dyn Store> = super::store_backend::open(layout, settings.etcd.as_ref())
        .map_err(|e| ServerError::Other(format!("opening the store: {e}")))?;
    crate::host::layout::secure_data_dir(&layout.data_dir, Some(&layout.store())).map_err(secure)?;
    let kubeconfig = Kubeconfig::cluster_only(&settings.cluster_name, &settings.server_url(), &ca_pem).to_yaml();
    let state = Arc::new(ApiState::new(store, ca, kubeconfig).map_err(|e| ServerError::Other(e.to_string()))?);
    let registry = state.registry.clone();
    tokio::spawn(super::api_extensions::follow(state.store.clone(), state.watch.clone()));
    registry.set_toleration_seconds(settings.pod_eviction_timeout_seconds);

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
    registry.set_service_network(service_network);
    // Addresses an older kubeboot left claimed without their Service would refuse these their own.
    if let Err(e) = super::registry::service_allocation::repair(registry.store()) {
        eprintln!("kubeboot server: service allocation repair: {e}");
    }
    let masters = super::master_leases::renew(&registry, &settings.advertise_address, unix_now())
        .map_err(|e| ServerError::Other(format!("this master's lease: {e}")))?;
    super::master_service::ensure_kubernetes_service(&registry, &masters, settings.port)
        .map_err(|e| ServerError::Other(format!("the kubernetes Service: {e}")))?;
    tokio::spawn(keep_master_lease(registry.clone(), settings.advertise_address.clone(), settings.port));
    super::master_service::ensure_dns_service(&registry)
        .map_err(|e| ServerError::Other(format!("the kube-dns Service: {e}")))?;
    super::default_storage_class::ensure(&registry)
        .map_err(|e| ServerError::Other(format!("the default StorageClass: {e}")))?;
    let mut reconcilers = super::controllers::all(cluster_cidr);
    reconcilers.push(Arc::new(scheduler::Scheduler::default()));
    reconcilers.push(Arc::new(super::controllers::horizontal_pod_autoscaler::HorizontalPodAutoscalerController::new(
        state.resource_metrics.clone(),
    )));
    tokio::spawn(super::runtime::run(state.clone(), reconcilers));
    let place = super::backup::SnapshotPlace {
        layout: layout.clone(),
        node_name: crate::host::hostname(),
        retention: settings.snapshot_retention as usize,
    };
    if settings.snapshot_interval_seconds > 0 {
        let every = std::time::Duration::from_secs(settings.snapshot_interval_seconds);
        tokio::spawn(super::backup::schedule::keep_taking(state.store.clone(), place.clone(), every));
    }
    let _ = state.snapshots.set(place);
    let validity = settings.certificate_validity_seconds;
    tokio::spawn(super::own_certificates::keep_current(layout.clone(), validity, serving));

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

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Renew this master's lease and keep the `kubernetes` endpoints naming the live masters.
async fn keep_master_lease(registry: Arc<super::registry::Registry>, address: String, port: u16) {
    let mut tick = tokio::time::interval(super::master_leases::RENEW_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let (registry, address) = (registry.clone(), address.clone());
        let renewed = tokio::task::spawn_blocking(move || {
            let masters = super::master_leases::renew(&registry, &address, unix_now()).map_err(|e| e.to_string())?;
            super::master_service::ensure_kubernetes_endpoints(&registry, &masters, port).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(e) = renewed {
            eprintln!("kubeboot server: renewing this master's lease: {e}");
        }
    }
}
