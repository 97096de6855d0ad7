//! `kubeboot reset -i INV`: the Node objects of the hosts go first, their client certificates revoked
//! (through the first master, while it still serves), then each host runs `kubeboot reset` — nodes in parallel, the first master last, since
//! its server is what the others' Node deletions needed. Docker and the kubeboot binary stay.

use super::members::{self, record, Member, StepFailure};
use super::probe::{ADMIN_CONF, REMOTE_BINARY};
use crate::inventory::{Host, Inventory, Role};
use crate::playbook::Recap;
use crate::transport::shell_quote;

pub async fn reset(inventory: &Inventory, hosts: &[&Host], forks: usize) -> Recap {
    let started = std::time::Instant::now();
    let mut recap = Recap::default();
    let first = inventory.masters().next().expect("validated: an inventory has a master");
    let mut targets: Vec<&Host> = hosts.to_vec();
    let master_selected = targets.iter().any(|h| h.name == first.name);
    if !master_selected {
        targets.insert(0, first);
    }
    let members = members::connect(&targets, forks, &mut recap).await;
    let master = members.iter().find(|m| m.name() == first.name);

    let resetting: Vec<&Member> = members.iter().filter(|m| master_selected || m.name() != first.name).collect();
    if let Some(master) = master.filter(|m| m.state.server_active) {
        let names: Vec<String> = resetting.iter().map(|m| shell_quote(m.name())).collect();
        let command =
            format!("{REMOTE_BINARY} delete nodes --ignore-not-found --revoke-credentials {}", names.join(" "));
        if let Err(f) = master.run(&command, b"").await {
            record(&mut recap, master.name(), "delete Node objects", Err(f));
        }
    }
    let (last, others): (Vec<&Member>, Vec<&Member>) = resetting.into_iter().partition(|m| m.name() == first.name);
    // Further masters one at a time: each takes its etcd member out, and the cluster must keep a quorum
    // for the next change.
    let (masters, nodes): (Vec<&Member>, Vec<&Member>) = others.into_iter().partition(|m| m.host.role == Role::Master);
    let outcomes = crate::fanout::for_each_host(&nodes, forks, |m| reset_member(m)).await;
    for (m, outcome) in nodes.iter().zip(outcomes) {
        record(&mut recap, m.name(), "kubeboot reset", outcome);
    }
    for m in masters.into_iter().chain(last) {
        let outcome = reset_member(m).await;
        record(&mut recap, m.name(), "kubeboot reset", outcome);
    }
    for m in members {
        recap.hosts.entry(m.name().to_string()).or_default().elapsed_ms = started.elapsed().as_millis() as u64;
        m.session.close().await;
    }
    recap
}

async fn reset_member(m: &Member<'_>) -> Result<Option<String>, StepFailure> {
    let state = &m.state;
    if state.binary_sha256.is_none() {
        return Ok(None);
    }
    let mut removed = Vec::new();
    // A ~/.kube/config that `up` wrote points at a cluster that is going: removed if still up's copy.
    if state.kube_config_sha256.is_some() {
        let config = shell_quote(&format!("{}/.kube/config", state.home));
        let out =
            m.run(&format!("cmp -s {ADMIN_CONF} {config} && rm -f {config} && echo removed || true"), b"").await?;
        if out.stdout_text().contains("removed") {
            removed.push("~/.kube/config".to_string());
        }
    }
    let out = m.run(&format!("{REMOTE_BINARY} reset"), b"").await?;
    removed.extend(out.stdout_text().lines().filter_map(|l| l.strip_prefix("removed ")).map(String::from));
    Ok((!removed.is_empty()).then(|| format!("removed {}", removed.join(", "))))
}
