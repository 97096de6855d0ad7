//! What `kubeboot reset` removes of the agent's work on a node, as kubeadm reset removes kubelet's
//! containers: every pod container (by kubelet's pod label), emptyDir tmpfs mounts, the pod bridge, our
//! routes and iptables chains. Best effort: a host without Docker or with nothing left reports nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use super::network::BRIDGE;
use super::runtime::LABEL_POD_UID;

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Remove pods and the pod network from this node; one line per thing removed.
pub fn remove_pods_and_network(data_dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let ids = run("docker", &["ps", "-aq", "--filter", &format!("label={LABEL_POD_UID}")]).unwrap_or_default();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(&ids);
        if run("docker", &args).is_some() {
            removed.push(format!("{} pod containers", ids.len()));
        }
    }
    // tmpfs emptyDirs first: the data folder cannot go while they are mounted.
    let pods = data_dir.join("pods");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for mount_point in mounts.lines().filter_map(|l| l.split_whitespace().nth(1)) {
        if Path::new(mount_point).starts_with(&pods) && run("umount", &[mount_point]).is_some() {
            removed.push(format!("mount {mount_point}"));
        }
    }
    if run("ip", &["link", "show", BRIDGE]).is_some() && run("ip", &["link", "del", BRIDGE]).is_some() {
        removed.push(format!("bridge {BRIDGE}"));
    }
    let _ = run("ip", &["route", "flush", "proto", "77"]);
    let jumps = super::network::rules_jumps().into_iter().chain(super::proxy::rules::JUMPS);
    for (table, chain, ours) in jumps {
        while run("iptables", &["-t", table, "-D", chain, "-j", ours]).is_some() {}
    }
    // Every chain of ours, the per-Service ones included: all flushed first (they jump to each other),
    // then deleted.
    for table in ["filter", "nat"] {
        let saved = run("iptables-save", &["-t", table]).unwrap_or_default();
        let chains: Vec<&str> = saved
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| c.starts_with("KUBEBOOT-"))
            .collect();
        for c in &chains {
            let _ = run("iptables", &["-t", table, "-F", c]);
        }
        let mut deleted = 0;
        for c in &chains {
            if run("iptables", &["-t", table, "-X", c]).is_some() {
                deleted += 1;
            }
        }
        if deleted > 0 {
            removed.push(format!("{deleted} iptables chains in {table}"));
        }
    }
    removed
}
