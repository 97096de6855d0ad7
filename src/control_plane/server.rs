//! `kubeboot server`: loads the PKI and settings `init` wrote, opens the store, runs the node lifecycle
//! controller every 5 s and serves the API until SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use super::api::{router, serve, server_config, ApiState};
use super::controllers::node_lifecycle;
use super::layout::{Layout, ServerSettings};
use super::store::{RedbStore, Store};
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
    let tls = server_config(&ca_pem, &read(&layout.pki("apiserver.crt"))?, &read(&layout.pki("apiserver.key"))?)
        .map_err(|e| ServerError::Other(e.to_string()))?;
    let store: Arc<dyn Store> =
        Arc::new(RedbStore::open(&layout.store()).map_err(|e| ServerError::Other(e.to_string()))?);
    let kubeconfig = Kubeconfig::cluster_only(&settings.cluster_name, &settings.server_url(), &ca_pem).to_yaml();
    let state = Arc::new(ApiState::new(store, ca, kubeconfig).map_err(|e| ServerError::Other(e.to_string()))?);
    // The controller writes through the API's store so its changes reach watches too.
    let store = state.store.clone();

    let address = listen.map(String::from).unwrap_or_else(|| format!("0.0.0.0:{}", settings.port));
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| ServerError::Listen { address: address.clone(), message: e.to_string() })?;
    eprintln!("kubeboot server: serving {} on {address}", settings.server_url());

    let controller_store = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let s = controller_store.clone();
            match tokio::task::spawn_blocking(move || {
                node_lifecycle::reconcile(s.as_ref(), time::OffsetDateTime::now_utc())
            })
            .await
            {
                Ok(Ok(marked)) if !marked.is_empty() => {
                    eprintln!("kubeboot server: nodes not heard from in 40 s: {}", marked.join(", "))
                }
                Ok(Err(e)) => eprintln!("kubeboot server: node lifecycle: {e}"),
                _ => {}
            }
        }
    });

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
