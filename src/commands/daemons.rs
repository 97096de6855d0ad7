//! `kubeboot init` (on the first master), `kubeboot server`, `kubeboot agent`.

use std::path::Path;

use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pin::parse_pin;
use crate::bootstrap::token::BootstrapToken;
use crate::cli::{DirArgs, InitArgs, JoinArgs};
use crate::control_plane::layout::write_file;
use crate::control_plane::layout::{Layout, ServerSettings};
use crate::UsageError;
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

pub async fn join(args: JoinArgs) -> anyhow::Result<u8> {
    // Bad input is refused before anything is contacted; the token's secret never appears in a message.
    let token = BootstrapToken::parse(&args.token).map_err(|e| UsageError(format!("--token: {e}")))?;
    let pin = parse_pin(&args.discovery_token_ca_cert_hash)
        .map_err(|e| UsageError(format!("--discovery-token-ca-cert-hash: {e}")))?;
    if args.endpoint.contains("://") || !args.endpoint.contains(':') {
        return Err(UsageError(format!("{:?} is not HOST:PORT (e.g. 192.168.0.30:6443)", args.endpoint)).into());
    }
    let agent_conf = args.config_dir.join("agent.conf");
    if agent_conf.exists() {
        eprintln!("kubeboot join: {} exists: this node has joined already; nothing to do", agent_conf.display());
        return Ok(EXIT_OK);
    }
    let name = args.node_name.unwrap_or_else(hostname);
    let server = format!("https://{}", args.endpoint);
    let creds = crate::bootstrap::tls_bootstrap::join(&server, &token, &pin, &name).await?;
    let conf = Kubeconfig::with_user(
        "kubeboot",
        &creds.server,
        &creds.ca_pem,
        &format!("system:node:{name}"),
        &creds.cert_pem,
        &creds.key_pem,
    );
    write_file(&args.config_dir.join("pki/ca.crt"), creds.ca_pem.as_bytes(), 0o644)?;
    write_file(&agent_conf, conf.to_yaml().as_bytes(), 0o600)?;
    println!("This node has joined the cluster as {name}: its credentials are in {}", agent_conf.display());
    Ok(EXIT_OK)
}
