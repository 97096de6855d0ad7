//! `kubeboot init` on the first master.

use crate::bootstrap::ttl::parse_ttl;
use crate::cli::InitArgs;
use crate::host::layout::{EtcdSettings, Layout, ServerSettings};
use crate::systemd_units::{AGENT_UNIT, SERVER_UNIT};
use crate::{UsageError, EXIT_OK};

pub fn run(args: InitArgs) -> anyhow::Result<u8> {
    let ttl = parse_ttl(&args.token_ttl).map_err(|e| UsageError(format!("--token-ttl: {e}")))?;
    let eviction = crate::inventory::spec::parse_eviction_timeout(&args.pod_eviction_timeout)
        .map_err(|e| UsageError(format!("--pod-eviction-timeout: {e}")))?;
    let layout = Layout::new(&args.dirs.config_dir, &args.dirs.data_dir);
    let settings = ServerSettings {
        cluster_name: args.cluster_name,
        advertise_address: args.advertise_address.to_string(),
        port: args.port,
        pod_network_cidr: args.pod_network_cidr.to_string(),
        pod_eviction_timeout_seconds: eviction,
        service_cidr: args.service_cidr.to_string(),
        etcd: etcd_settings(&args.etcd_endpoints)?,
    };
    let node_name = args.node_name.unwrap_or_else(super::hostname);
    let outcome = crate::control_plane::init::initialize(&layout, &settings, &node_name, &[], ttl)?;
    let unit_vars = serde_json::json!({
        "config_dir": layout.config_dir,
        "data_dir": layout.data_dir,
        "node_name": node_name,
        "address": settings.advertise_address,
        "master": true,
    });
    let units_changed = super::units::start(&args.services, &[SERVER_UNIT, AGENT_UNIT], &unit_vars)?;
    let endpoint = outcome.server_url.trim_start_matches("https://").to_string();
    match outcome.token {
        Some(token) => {
            println!("Your kubeboot control plane has initialized successfully!\n");
            println!("To use the cluster as a regular user:\n");
            println!("  mkdir -p $HOME/.kube");
            println!("  sudo cp -i {} $HOME/.kube/config", layout.admin_conf().display());
            println!("  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n");
            println!("Then join any number of nodes by running on each, as root:\n");
            println!(
                "kubeboot join {endpoint} --token {} --discovery-token-ca-cert-hash {}",
                token.expose(),
                outcome.pin
            );
        }
        None => {
            let what = if units_changed { "started its services" } else { "nothing changed" };
            println!("This master is already initialised ({}): {what}.", layout.settings().display());
            println!("To join a node: kubeboot token create --print-join-command");
        }
    }
    Ok(EXIT_OK)
}

/// `--etcd-endpoints`: the URLs of an etcd cluster to keep the objects in (none: this master's own store).
fn etcd_settings(endpoints: &[String]) -> Result<Option<EtcdSettings>, UsageError> {
    if endpoints.is_empty() {
        return Ok(None);
    }
    for endpoint in endpoints {
        let valid = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
        if valid.is_none_or(str::is_empty) {
            return Err(UsageError(format!(
                "--etcd-endpoints: {endpoint:?} is not an etcd client URL (https://ADDRESS:2379)"
            )));
        }
    }
    Ok(Some(EtcdSettings { endpoints: endpoints.to_vec() }))
}
