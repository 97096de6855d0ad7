//! `kubeboot certs check-expiration|renew` on a master (kubeadm's `certs`).

use crate::cli::{CertsCommand, OutputFormat};
use crate::control_plane::certificates::{self, expiration, renew};
use crate::host::layout::{Layout, ServerSettings, DEFAULT_CERTIFICATE_VALIDITY_SECONDS};
use crate::{UsageError, EXIT_OK};

/// The data folder is not read by `certs`: only the configuration folder's pki/ and kubeconfigs.
fn layout(config_dir: &std::path::Path) -> Layout {
    Layout::new(config_dir, std::path::Path::new(crate::host::layout::DEFAULT_DATA_DIR))
}

pub fn run(command: CertsCommand) -> anyhow::Result<u8> {
    match command {
        CertsCommand::CheckExpiration { config_dir, output } => {
            let layout = layout(&config_dir);
            let listed = certificates::of(&layout);
            if listed.is_empty() {
                return Err(UsageError(format!(
                    "no certificates in {}: not a master's configuration folder (--config-dir)",
                    config_dir.display()
                ))
                .into());
            }
            let (rows, authorities) = expiration::read(&layout, &listed)?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            match output {
                OutputFormat::Text => print!("{}", expiration::table(&rows, &authorities, now)),
                OutputFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&expiration::json(&rows, &authorities, now))?)
                }
            }
        }
        CertsCommand::Renew { names, config_dir } => {
            let layout = layout(&config_dir);
            let listed = certificates::of(&layout);
            let known = listed.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
            let chosen: Vec<_> = if names.iter().any(|n| n == "all") {
                listed.clone()
            } else {
                let mut chosen = Vec::new();
                for name in &names {
                    match listed.iter().find(|c| c.name == name) {
                        Some(c) => chosen.push(c.clone()),
                        None => {
                            return Err(
                                UsageError(format!("no certificate named {name:?} here (known: {known})")).into()
                            )
                        }
                    }
                }
                chosen
            };
            // The lifetime the cluster was made with (server.yaml; a master that has none: a year).
            let validity = std::fs::read_to_string(layout.settings())
                .ok()
                .and_then(|t| crate::yaml::from_str::<ServerSettings>(&t).ok())
                .map_or(DEFAULT_CERTIFICATE_VALIDITY_SECONDS, |s| s.certificate_validity_seconds);
            for certificate in &chosen {
                renew::renew(&layout, certificate, validity)?;
                println!("{} renewed", renew::purpose(certificate.name));
            }
            let restart: Vec<&str> = chosen
                .iter()
                .map(|c| c.name)
                .filter(|n| matches!(*n, "etcd-peer" | "etcd-server" | "apiserver-etcd-client"))
                .collect();
            println!("\nDone renewing certificates. kubeboot-server picks up its serving certificate and admin.conf is read per command.");
            if !restart.is_empty() {
                println!("Restart this master's etcd member and kubeboot-server for {}: systemctl restart kubeboot-etcd kubeboot-server", restart.join(", "));
            }
            if chosen.iter().any(|c| c.name == "agent.conf") {
                println!("Restart this master's agent for agent.conf: systemctl restart kubeboot-agent");
            }
        }
    }
    Ok(EXIT_OK)
}
