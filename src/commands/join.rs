//! `kubeboot join` on a node: kubeadm's discovery and TLS bootstrap, then the agent's unit.

use std::io::Read;
use std::path::Path;

use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pin::parse_pin;
use crate::bootstrap::tls_bootstrap::NodeCredentials;
use crate::bootstrap::token::BootstrapToken;
use crate::cli::JoinArgs;
use crate::host::layout::write_file;
use crate::systemd_units::AGENT_UNIT;
use crate::{UsageError, EXIT_OK};

/// `--token -` reads the token from standard input (one line), so it never shows in a process list.
pub(super) fn read_token(arg: &str) -> Result<BootstrapToken, UsageError> {
    let text = if arg == "-" {
        let mut line = String::new();
        std::io::stdin().read_to_string(&mut line).map_err(|e| UsageError(format!("--token -: {e}")))?;
        line.trim().to_string()
    } else {
        arg.to_string()
    };
    BootstrapToken::parse(&text).map_err(|e| UsageError(format!("--token: {e}")))
}

pub async fn run(args: JoinArgs) -> anyhow::Result<u8> {
    // Bad input is refused before anything is contacted; the token's secret never appears in a message.
    let token = read_token(&args.token)?;
    let pin = parse_pin(&args.discovery_token_ca_cert_hash)
        .map_err(|e| UsageError(format!("--discovery-token-ca-cert-hash: {e}")))?;
    if let Some(key) = &args.certificate_key {
        crate::bootstrap::certificate_bundle::check_key(key)
            .map_err(|e| UsageError(format!("--certificate-key: {e}")))?;
    }
    if args.endpoint.contains("://") || !args.endpoint.contains(':') {
        return Err(UsageError(format!("{:?} is not HOST:PORT (e.g. 192.168.0.30:6443)", args.endpoint)).into());
    }
    let name = args.node_name.clone().unwrap_or_else(super::hostname);
    if args.control_plane {
        return super::join_control_plane::run(&args, &token, &pin, &name).await;
    }
    let server = format!("https://{}", args.endpoint);
    let agent_conf = args.config_dir.join("agent.conf");
    let joined = agent_conf.exists();
    if !joined {
        let creds = crate::bootstrap::tls_bootstrap::join(&server, &token, &pin, &name).await?;
        write_agent_conf(&args.config_dir, &name, &creds)?;
    }
    let address = crate::agent::local_address::address_towards(&server)
        .ok_or_else(|| anyhow::anyhow!("no route from this host to {server}"))?;
    let vars = serde_json::json!({
        "config_dir": args.config_dir,
        "node_name": name,
        "address": address.to_string(),
        "master": args.master,
    });
    let units_changed = super::units::start(&args.services, &[AGENT_UNIT], &vars)?;
    if joined {
        let what = if units_changed { "started its agent" } else { "nothing changed" };
        println!("This node has joined already ({} exists): {what}.", agent_conf.display());
    } else {
        println!("This node has joined the cluster as {name}: its credentials are in {}", agent_conf.display());
    }
    Ok(EXIT_OK)
}

/// The node's credentials from the TLS bootstrap: the CA and agent.conf (0600).
pub fn write_agent_conf(config_dir: &Path, name: &str, creds: &NodeCredentials) -> anyhow::Result<()> {
    let conf = Kubeconfig::with_user(
        "kubeboot",
        &creds.server,
        &creds.ca_pem,
        &format!("system:node:{name}"),
        &creds.cert_pem,
        &creds.key_pem,
    );
    write_file(&config_dir.join("pki/ca.crt"), creds.ca_pem.as_bytes(), 0o644)?;
    write_file(&config_dir.join("agent.conf"), conf.to_yaml().as_bytes(), 0o600)?;
    Ok(())
}
