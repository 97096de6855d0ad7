//! `kubeboot upgrade -i`: the cluster moved onto this binary host by host, as kubeadm's upgrade with
//! kubectl drain does it. Before any host is changed: every host reached, its installed and previous
//! binaries' versions read, the skew checked (no downgrade, one minor version at a time, agents never newer
//! than the API servers). Then a snapshot, the masters one at a time (with several, etcd keeps its quorum:
//! one API server is down at a time), then each node: cordoned and drained through evictions, the binary
//! swapped (the one it replaces kept as kubeboot.previous), the services restarted, the Node Ready on the
//! new version with a heartbeat after the restart, uncordoned. The first host that fails stops it; a rerun
//! continues, finishing a host a killed run left halfway (swapped but not restarted, or cordoned).
//! `--rollback` swaps every host's previous binary back, nodes first.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::binary::LocalBinary;
use super::members::{self, failure, Member, StepFailure};
use super::probe::REMOTE_BINARY;
use super::remote;
use crate::inventory::{Host, Inventory, Role};
use crate::playbook::Recap;
use crate::transport::{shell_quote, Transport};
use crate::version::Version;

/// The binary an upgrade replaced, kept for `--rollback`.
pub const PREVIOUS_BINARY: &str = "/usr/local/bin/kubeboot.previous";

#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    /// The hosts to move (`--limit`); None: all. The others count in the skew checks as they are.
    pub only: Option<Vec<String>>,
    pub check: bool,
    pub rollback: bool,
    pub drain_timeout: Duration,
    pub wait_timeout: Duration,
    pub forks: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// Found before any host was changed.
    #[error("{0}; nothing was changed")]
    Refused(String),
    #[error("cannot read this kubeboot binary: {0}")]
    Binary(std::io::Error),
    #[error("the upgrade stopped at {host}: {step}: {message}\n{done}Rerun the same command to continue from {host}.")]
    Stopped { host: String, step: String, message: String, done: String },
}

/// What a host has and is to get.
struct HostPlan<'a> {
    member: &'a Member<'a>,
    from: Version,
    to: Version,
    to_sha256: String,
    /// Outside --limit: left as it is.
    kept: bool,
}

/// Versions read from a host: its installed binary's, and the previous one's with its checksum.
#[derive(Default)]
struct Installed {
    current: Option<Version>,
    previous: Option<Version>,
    previous_sha256: Option<String>,
}

fn versions_script() -> String {
    let (b, p) = (REMOTE_BINARY, PREVIOUS_BINARY);
    format!(
        "echo \"current=$({b} --version 2>/dev/null | cut -d' ' -f2)\"; \
         echo \"previous=$({p} --version 2>/dev/null | cut -d' ' -f2)\"; \
         echo \"previous_sha=$(sha256sum {p} 2>/dev/null | cut -d' ' -f1)\""
    )
}

fn parse_installed(text: &str) -> Installed {
    let mut installed = Installed::default();
    for (key, value) in text.lines().filter_map(|l| l.split_once('=')) {
        match key {
            "current" => installed.current = Version::parse(value),
            "previous" => installed.previous = Version::parse(value),
            "previous_sha" if !value.trim().is_empty() => installed.previous_sha256 = Some(value.trim().into()),
            _ => {}
        }
    }
    installed
}

/// Upgrade (or roll back) every host of the inventory. Returns what was done, one line per host.
pub async fn upgrade(inventory: &Inventory, opts: UpgradeOptions) -> Result<Vec<String>, UpgradeError> {
    let binary = if opts.rollback { None } else { Some(LocalBinary::current().map_err(UpgradeError::Binary)?) };
    let hosts: Vec<&Host> = inventory.hosts.iter().collect();
    let mut recap = Recap::default();
    let members = members::connect(&hosts, opts.forks, &mut recap).await;
    let result = async {
        if let Some((name, host)) = recap.hosts.iter().next() {
            let why = host.failures.first().map(|f| f.message.clone()).unwrap_or_default();
            return Err(UpgradeError::Refused(format!("{name} cannot be reached ({why})")));
        }
        let mut installed = Vec::new();
        for m in &members {
            let out = m.run(&versions_script(), b"").await;
            installed.push(out.map(|o| parse_installed(&o.stdout_text())).unwrap_or_default());
        }
        let plans = plan(&members, &installed, binary.as_ref(), &opts)?;
        if opts.check {
            return Ok(plans.iter().map(describe).collect());
        }
        apply(&members, &plans, binary.as_ref(), &opts).await
    }
    .await;
    for m in members {
        m.session.close().await;
    }
    result
}

fn describe(plan: &HostPlan) -> String {
    let name = plan.member.name();
    if plan.kept {
        format!("{name}: at {}, not in --limit", plan.from)
    } else if plan.member.state.binary_sha256.as_deref() == Some(plan.to_sha256.as_str()) {
        format!("{name}: at {} already", plan.to)
    } else {
        format!("{name}: {} -> {}", plan.from, plan.to)
    }
}

/// Each host's move, in the order it is made, or why none is made.
fn plan<'a>(
    members: &'a [Member<'a>],
    installed: &[Installed],
    binary: Option<&LocalBinary>,
    opts: &UpgradeOptions,
) -> Result<Vec<HostPlan<'a>>, UpgradeError> {
    let rollback = opts.rollback;
    let refuse = |m: String| Err(UpgradeError::Refused(m));
    let mut plans = Vec::new();
    for (m, found) in members.iter().zip(installed) {
        let name = m.name();
        let (Some(from), true) = (found.current, m.state.joined || m.state.initialised) else {
            return refuse(format!("{name} is not part of a kubeboot cluster: `kubeboot up` builds it first"));
        };
        if opts.only.as_ref().is_some_and(|only| !only.iter().any(|o| o == name)) {
            let sha = m.state.binary_sha256.clone().unwrap_or_default();
            plans.push(HostPlan { member: m, from, to: from, to_sha256: sha, kept: true });
            continue;
        }
        let (to, to_sha256) = match binary {
            Some(binary) => {
                (Version::parse(crate::version::current()).expect("our own version"), binary.sha256.clone())
            }
            None => match (found.previous, &found.previous_sha256) {
                (Some(previous), Some(sha)) => (previous, sha.clone()),
                _ => {
                    return refuse(format!(
                        "{name} keeps no previous binary ({PREVIOUS_BINARY}): nothing to roll back to"
                    ))
                }
            },
        };
        if !rollback && to < from {
            return refuse(format!(
                "{name} runs kubeboot {from}, newer than this binary's {to}: an upgrade never downgrades \
                 (`kubeboot upgrade --rollback` puts the previous binary back)"
            ));
        }
        if !rollback && (to.major != from.major || to.minor > from.minor + 1) {
            return refuse(format!(
                "{name} runs kubeboot {from}: {to} skips a minor version; upgrade one minor version at a time, \
                 as kubeadm does"
            ));
        }
        plans.push(HostPlan { member: m, from, to, to_sha256, kept: false });
    }
    // Agents never newer than the API servers, now and after this run.
    let masters = || plans.iter().filter(|p| p.member.host.role == Role::Master);
    let nodes = || plans.iter().filter(|p| p.member.host.role != Role::Master);
    let skew = |pick: fn(&HostPlan) -> Version| match (nodes().map(pick).max(), masters().map(pick).min()) {
        (Some(node), Some(master)) if node > master => Some((node, master)),
        _ => None,
    };
    for (when, pick) in [("now", (|p: &HostPlan| p.from) as fn(&HostPlan) -> Version), ("after it", |p| p.to)] {
        if let Some((node, master)) = skew(pick).filter(|_| when == "after it" || !rollback) {
            return refuse(format!(
                "an agent would run kubeboot {node} against API servers at {master} {when}: agents are never newer \
                 than the API servers"
            ));
        }
    }
    // Masters first on the way up, nodes first on the way back.
    plans.sort_by_key(|p| (p.member.host.role == Role::Master) == rollback);
    Ok(plans)
}

async fn apply(
    members: &[Member<'_>],
    plans: &[HostPlan<'_>],
    binary: Option<&LocalBinary>,
    opts: &UpgradeOptions,
) -> Result<Vec<String>, UpgradeError> {
    let api = members.iter().find(|m| m.host.role == Role::Master).expect("validated: an inventory has a master");
    let mut done: Vec<String> = Vec::new();
    let stopped = |host: &str, step: &str, f: StepFailure, done: &[String]| UpgradeError::Stopped {
        host: host.into(),
        step: step.into(),
        message: f.message,
        done: done.iter().map(|d| format!("  {d}\n")).collect(),
    };
    if plans.iter().any(|p| !p.kept && p.member.state.binary_sha256.as_deref() != Some(p.to_sha256.as_str())) {
        let saved =
            api.run(&remote::snapshot_save(), b"").await.map_err(|f| stopped(api.name(), "snapshot", f, &done))?;
        let saved: Value = serde_json::from_slice(&saved.stdout).unwrap_or_default();
        done.push(format!("snapshot before the upgrade: {}:{}", api.name(), saved["path"].as_str().unwrap_or("?")));
    }
    for plan in plans.iter().filter(|p| !p.kept) {
        let name = plan.member.name();
        eprintln!("kubeboot upgrade: {}", describe(plan));
        let started = Instant::now();
        match one_host(api, plan, binary, opts).await {
            Ok(what) => done.push(format!("{name}: {what} ({:.1} s)", started.elapsed().as_secs_f64())),
            Err((step, f)) => return Err(stopped(name, step, f, &done)),
        }
    }
    Ok(done)
}

/// One host: drain, swap, restart, Ready on the new version, uncordon. A host whose binary is the target
/// already and whose Node reports it is only uncordoned (if kubeboot cordoned it).
async fn one_host(
    api: &Member<'_>,
    plan: &HostPlan<'_>,
    binary: Option<&LocalBinary>,
    opts: &UpgradeOptions,
) -> Result<String, (&'static str, StepFailure)> {
    let (m, name) = (plan.member, plan.member.name());
    let swapped = m.state.binary_sha256.as_deref() == Some(plan.to_sha256.as_str());
    let uncordon = format!("{REMOTE_BINARY} uncordon {} --if-drained-by-kubeboot", shell_quote(name));
    if swapped && node_reports(api, name, plan.to, "").await {
        api.run(&uncordon, b"").await.map_err(|f| ("uncordon", f))?;
        return Ok(format!("at {} already", plan.to));
    }
    if !swapped {
        let drain = format!("{REMOTE_BINARY} drain {} --timeout {}s", shell_quote(name), opts.drain_timeout.as_secs());
        api.run(&drain, b"").await.map_err(|f| ("drain", f))?;
        swap_binary(m, binary).await.map_err(|f| ("swap the binary", f))?;
    }
    let restart = remote::restart_units(m.state.server_active, m.state.agent_active).unwrap_or_else(|| "true".into());
    // The swapped binary's checksum for `up`'s probe, which would otherwise hash the new file once.
    let remember = super::probe::remember_binary_sum(&plan.to_sha256);
    let out =
        m.run(&format!("date -u +%Y-%m-%dT%H:%M:%SZ; {remember}; {restart}"), b"").await.map_err(|f| ("restart", f))?;
    let since = out.stdout_text().lines().next().unwrap_or_default().trim().to_string();
    let deadline = Instant::now() + opts.wait_timeout;
    while !node_reports(api, name, plan.to, &since).await {
        if Instant::now() > deadline {
            let message = format!(
                "not Ready on kubeboot {} within {} s of its restart (see `journalctl -u kubeboot-agent` there)",
                plan.to,
                opts.wait_timeout.as_secs()
            );
            return Err(("wait for Ready", failure(message)));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    api.run(&uncordon, b"").await.map_err(|f| ("uncordon", f))?;
    Ok(format!("{} -> {}", plan.from, plan.to))
}

/// Upgrade: the installed binary kept as the previous one, then this binary installed (atomically).
/// Rollback: the previous binary installed, the one it replaces kept as the previous.
async fn swap_binary(m: &Member<'_>, binary: Option<&LocalBinary>) -> Result<(), StepFailure> {
    let (b, p) = (REMOTE_BINARY, PREVIOUS_BINARY);
    match binary {
        Some(binary) => {
            m.run(&format!("cp -p {b} {p}.tmp && mv -f {p}.tmp {p}"), b"").await?;
            m.session.upload(&binary.bytes, b, 0o755).await.map_err(StepFailure::from)
        }
        None => m
            .run(
                &format!("cp -p {b} {b}.next.tmp && cp -p {p} {b}.tmp && mv -f {b}.tmp {b} && mv -f {b}.next.tmp {p}"),
                b"",
            )
            .await
            .map(|_| ()),
    }
}

/// The Node `name` is Ready, its agent reports kubeboot `version`, with a heartbeat at or after `since`
/// (RFC 3339; "" for any). Read through `api`; a server that does not answer (restarting) is a no.
async fn node_reports(api: &Member<'_>, name: &str, version: Version, since: &str) -> bool {
    let Ok(out) = api.run(&remote::get_nodes_json(), b"").await else { return false };
    let nodes: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let Some(node) = nodes["items"].as_array().into_iter().flatten().find(|n| n["metadata"]["name"] == name) else {
        return false;
    };
    let reported = node["status"]["nodeInfo"]["kubeletVersion"].as_str().unwrap_or_default();
    let on_version = reported.rsplit_once("kubeboot.").and_then(|(_, v)| Version::parse(v)) == Some(version);
    let ready = node["status"]["conditions"].as_array().into_iter().flatten().any(|c| {
        c["type"] == "Ready" && c["status"] == "True" && c["lastHeartbeatTime"].as_str().is_some_and(|t| t >= since)
    });
    on_version && ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_versions_are_read_from_the_script_output() {
        let found = parse_installed("current=0.1.0\nprevious=0.0.9\nprevious_sha=ab12\n");
        assert_eq!(found.current, Version::parse("0.1.0"));
        assert_eq!(found.previous, Version::parse("0.0.9"));
        assert_eq!(found.previous_sha256.as_deref(), Some("ab12"));
        let fresh = parse_installed("current=0.1.0\nprevious=\nprevious_sha=\n");
        assert!(fresh.previous.is_none() && fresh.previous_sha256.is_none());
    }
}
