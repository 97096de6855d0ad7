//! `kubeboot init` (on the first master), `kubeboot server`, `kubeboot agent`.

use std::path::Path;

use crate::cli::{DirArgs, InitArgs};
use crate::control_plane::layout::{Layout, ServerSettings};
use crate::EXIT_OK;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

pub fn init(args: InitArgs) -> anyhow::Result<u8> {
    let layout = Layout::new(&args.dirs.config_dir, &args.dirs.data_dir);
    let settings = ServerSettings {
        cluster_name: args.cluster_name,
        advertise_address: args.advertise_address.to_string(),
        port: args.port,
        pod_network_cidr: args.pod_network_cidr.to_string(),
    };
    let node_name = args.node_name.unwrap_or_else(hostname);
    let ttl = (args.token_ttl > 0).then_some(args.token_ttl);
    let outcome = crate::control_plane::init::initialize(&layout, &settings, &node_name, &[], ttl)?;
    if !outcome.created {
        eprintln!("kubeboot init: this master is already initialised; created a new token only");
    }
    let endpoint = outcome.server_url.trim_start_matches("https://").to_string();
    println!(
        "kubeboot join {endpoint} --token {} --discovery-token-ca-cert-hash {}",
        outcome.token.expose(),
        outcome.pin
    );
    Ok(EXIT_OK)
}

pub async fn server(dirs: DirArgs, listen: Option<String>) -> anyhow::Result<u8> {
    let layout = Layout::new(&dirs.config_dir, &dirs.data_dir);
    crate::control_plane::server::run(&layout, listen.as_deref()).await?;
    Ok(EXIT_OK)
}

pub async fn agent(kubeconfig: &Path, node_name: Option<String>, address: &str, master: bool) -> anyhow::Result<u8> {
    let name = node_name.unwrap_or_else(hostname);
    crate::agent::run::run(kubeconfig, &name, address, master).await?;
    Ok(EXIT_OK)
}
