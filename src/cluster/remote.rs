//! The kubeboot command lines `up` runs on hosts, in one place. Secrets never go on a command line: the
//! join token travels on the command's standard input (`--token -`).

use super::probe::REMOTE_BINARY;
use crate::inventory::Inventory;
use crate::transport::shell_quote;

/// `stacked_etcd`: the first of several masters, with its etcd member.
pub fn init(inventory: &Inventory, node_name: &str, advertise_address: &str, port: u16, stacked_etcd: bool) -> String {
    format!(
        "{REMOTE_BINARY} init --advertise-address {} --port {port} --pod-network-cidr {} --cluster-name {} \
         --node-name {} --token-ttl 15m --pod-eviction-timeout {}s --service-cidr {} --certificate-validity {}s --snapshot-interval {}s --snapshot-retention {}{}",
        shell_quote(advertise_address),
        inventory.cluster.pod_network_cidr,
        shell_quote(&inventory.cluster.name),
        shell_quote(node_name),
        inventory.cluster.pod_eviction_timeout_seconds,
        inventory.cluster.service_cidr,
        inventory.cluster.certificate_validity_seconds,
        inventory.cluster.snapshot_interval_seconds,
        inventory.cluster.snapshot_retention,
        if stacked_etcd { " --stacked-etcd" } else { "" },
    ) + &inventory
        .cluster
        .control_plane_endpoint
        .as_ref()
        .map(|e| format!(" --control-plane-endpoint {}", shell_quote(&e.to_string())))
        .unwrap_or_default()
}

/// A further master joins the control plane (the cluster's CA and settings delivered before).
pub fn join_control_plane(endpoint: &str, pin: &str, node_name: &str, advertise_address: &str) -> String {
    format!(
        "{REMOTE_BINARY} join {} --token - --discovery-token-ca-cert-hash {} --node-name {} --control-plane \
         --advertise-address {}",
        shell_quote(endpoint),
        shell_quote(pin),
        shell_quote(node_name),
        shell_quote(advertise_address)
    )
}

pub fn join(endpoint: &str, pin: &str, node_name: &str, master: bool) -> String {
    format!(
        "{REMOTE_BINARY} join {} --token - --discovery-token-ca-cert-hash {} --node-name {}{}",
        shell_quote(endpoint),
        shell_quote(pin),
        shell_quote(node_name),
        if master { " --master" } else { "" }
    )
}

/// A token that lives just long enough for this run's joins (deleted at the end of the run anyway).
pub fn token_create() -> String {
    format!("{REMOTE_BINARY} token create --ttl 15m --print-join-command")
}

pub fn token_delete(id: &str) -> String {
    format!("{REMOTE_BINARY} token delete {}", shell_quote(id))
}

/// A master's certificates and when they expire (kubeadm's CertificateExpirationInfo).
pub fn certificate_expiration_json() -> String {
    format!("{REMOTE_BINARY} certs check-expiration -o json")
}

/// A snapshot taken now by the master's API server; its path and figures as JSON.
pub fn snapshot_save() -> String {
    format!("{REMOTE_BINARY} snapshot save -o json")
}

/// `force`: the master's running API server is stopped first (and started again after).
pub fn snapshot_restore(path: &str, force: bool) -> String {
    format!("{REMOTE_BINARY} snapshot restore {}{}", shell_quote(path), if force { " --force" } else { "" })
}

pub fn get_nodes_json() -> String {
    format!("{REMOTE_BINARY} get nodes -o json")
}

/// Whether the API server of the master behind `session` answers (a list of the nodes through it).
pub async fn api_answers(session: &impl crate::transport::Transport) -> bool {
    let quiet = format!("{} >/dev/null 2>&1", get_nodes_json());
    session.exec(&quiet).await.is_ok_and(|out| out.exit_status == 0)
}

/// After a new binary: restart the kubeboot units that run, so they run it. (A unit that is not installed
/// makes try-restart fail, so only the running ones are named.)
pub fn restart_units(server: bool, agent: bool) -> Option<String> {
    let units: Vec<&str> = [(server, "kubeboot-server.service"), (agent, "kubeboot-agent.service")]
        .iter()
        .filter(|u| u.0)
        .map(|u| u.1)
        .collect();
    (!units.is_empty()).then(|| format!("systemctl try-restart {}", units.join(" ")))
}

/// The parts of a `kubeboot join …` line printed by init or `token create --print-join-command`:
/// (endpoint, token, pin).
pub fn parse_join_line(output: &str) -> Option<(String, String, String)> {
    let line = output.lines().find(|l| l.trim_start().starts_with("kubeboot join "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let after =
        |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).map(|s| s.to_string());
    Some((words.get(2)?.to_string(), after("--token")?, after("--discovery-token-ca-cert-hash")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_line_round_trip() {
        let out = "Your kubeboot control plane has initialized successfully!\n\nkubeboot join 10.88.0.10:6443 \
                   --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00ff\n";
        assert_eq!(
            parse_join_line(out),
            Some(("10.88.0.10:6443".into(), "abcdef.0123456789abcdef".into(), "sha256:00ff".into()))
        );
        assert_eq!(parse_join_line("nothing"), None);
        assert!(!join("10.0.0.1:6443", "sha256:00", "n1", false).contains("abcdef"));
        assert!(join("10.0.0.1:6443", "sha256:00", "n1", true).ends_with("--node-name n1 --master"));
    }
}
