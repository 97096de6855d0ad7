//! `up`'s cluster phases, after host preparation, kubeadm's steps in order: install the binary where its
//! checksum differs, init the first master, give masters' SSH users ~/.kube/config, make a short-lived
//! token, join every host not yet joined, delete the token, wait until every node is Ready.
//!
//! Every API call goes through `kubeboot` on the first master over SSH, so `up` works wherever SSH does
//! (bastions included) without reaching port 6443 from this machine. Each phase first checks the probe
//! and does nothing where the host is already right: a rerun on a built cluster only connects and probes.

use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde_json::Value;

use super::binary::LocalBinary;
use super::members::{self, failure, record, Member, StepFailure};
use super::probe::{HostState, ADMIN_CONF, CONFIG_DIR, REMOTE_BINARY};
use super::restore::Restore;
use super::{remote, wait_ready};
use crate::bootstrap::pin::sha256_hex;
use crate::host::layout::SHARED_BY_MASTERS;
use crate::inventory::{Host, Inventory, Role};
use crate::playbook::Recap;
use crate::transport::{shell_quote, Transport};

#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    pub check: bool,
    pub forks: usize,
    pub wait_timeout: Duration,
    /// The inventory has `airgap:`: masters run kubeboot-registry once the binary is there.
    pub airgapped: bool,
}

/// The join material of this run: where, the token (secret), the CA pin.
struct JoinMaterial {
    endpoint: String,
    token: String,
    pin: String,
}

impl JoinMaterial {
    fn from_output(text: &str) -> Option<Self> {
        let (endpoint, token, pin) = remote::parse_join_line(text)?;
        Some(JoinMaterial { endpoint, token, pin })
    }
    fn token_id(&self) -> &str {
        self.token.split('.').next().unwrap_or_default()
    }
}

/// Run the phases on `hosts` (those that prepared cleanly). The first master always takes part, for the
/// API; outside `--limit` it is only read from, never changed. Returns the Node objects for the final
/// table, or None when the phases could not finish (the recap says why).
///
/// With `restore`, the cluster is brought back from a backup: the snapshot is restored onto the master
/// holding the cluster before its init (restore.rs), and everything else goes as on any run.
pub async fn up(
    inventory: &Inventory,
    hosts: &[&Host],
    recap: &mut Recap,
    opts: ClusterOptions,
    restore: Option<&Restore>,
) -> Option<Vec<Value>> {
    let started = Instant::now();
    let in_limit: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    // The masters take part outside --limit too (only read from there): the first of them that holds the
    // cluster is the one every API call goes through.
    let several_masters = inventory.masters().count() > 1;
    let outside: Vec<&Host> = inventory
        .masters()
        .enumerate()
        .filter(|(i, m)| (several_masters || *i == 0) && !in_limit.contains(&m.name.as_str()))
        .map(|(_, m)| m)
        .collect();
    let bar = ProgressBar::new_spinner().with_prefix("cluster");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message("connecting");
    // Reading and hashing this binary (tens of MB) overlaps the connections.
    let binary = tokio::task::spawn_blocking(LocalBinary::current);
    let mut members = members::connect(hosts, opts.forks, recap).await;
    // A master outside --limit that cannot be reached matters only when no master can be.
    let mut outside_recap = Recap::default();
    members.extend(members::connect(&outside, opts.forks, &mut outside_recap).await);
    if !members.iter().any(|m| m.host.role == Role::Master) {
        recap.hosts.extend(outside_recap.hosts);
    }
    let binary = binary.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
    let result = phases(inventory, &in_limit, &members, binary, recap, opts, restore, &bar).await;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_millis() as u64;
    for m in &members {
        // A master outside --limit has an entry only if something failed there.
        if let Some(entry) = recap.hosts.get_mut(m.name()) {
            entry.elapsed_ms += elapsed;
        }
    }
    for m in members {
        m.session.close().await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn phases(
    inventory: &Inventory,
    in_limit: &[&str],
    members: &[Member<'_>],
    binary: std::io::Result<LocalBinary>,
    recap: &mut Recap,
    opts: ClusterOptions,
    restore: Option<&Restore>,
    bar: &ProgressBar,
) -> Option<Vec<Value>> {
    // The master that holds the cluster: the first initialised one in the inventory's order (the first
    // listed may have been reset, and then joins the others as any further master), else the first.
    let listed: Vec<&Member> =
        inventory.masters().filter_map(|h| members.iter().find(|m| m.name() == h.name)).collect();
    let first = inventory.masters().next().expect("validated: an inventory has a master");
    let Some(master) = listed.iter().find(|m| m.state.initialised).or(listed.first()).copied() else {
        eprintln!("kubeboot up: no master is reachable ({} first): cluster phases skipped", first.name);
        return None;
    };
    if master.name() != first.name && !listed.iter().any(|m| m.name() == first.name) {
        eprintln!("kubeboot up: the first master {} is not reachable: going on through {}", first.name, master.name());
    }

    bar.set_message("installing kubeboot");
    let binary = match binary {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kubeboot up: cannot read this kubeboot binary: {e}");
            return None;
        }
    };
    let changeable = |m: &Member| in_limit.contains(&m.name());
    let (binary, changeable) = (&binary, &changeable);
    let installs = crate::fanout::for_each_host(members, opts.forks, |m| async move {
        if !changeable(m) {
            return Ok(None);
        }
        install_binary(m, binary, opts).await
    })
    .await;
    let mut healthy: Vec<&Member> = Vec::new();
    let mut server_restarted = false;
    for (m, outcome) in members.iter().zip(installs) {
        let ok = outcome.is_ok();
        if !changeable(m) {
            healthy.push(m);
            continue;
        }
        server_restarted |= m.name() == master.name() && m.state.server_active && matches!(outcome, Ok(Some(_)));
        record(recap, m.name(), "install kubeboot", outcome);
        if ok {
            healthy.push(m);
        }
    }
    if !healthy.iter().any(|m| m.name() == master.name()) {
        return None;
    }
    if let Some(restore) = restore.filter(|_| !opts.check) {
        bar.set_message(format!("restoring the snapshot onto {}", master.name()));
        let outcome = super::restore::onto_master(&listed, master, restore).await;
        let failed = outcome.is_err();
        record(recap, master.name(), "restore the snapshot", outcome);
        if failed {
            return None;
        }
        // An initialised master's server was restarted on the restored store; a wiped one's init follows.
        server_restarted |= master.state.initialised;
    }

    bar.set_message(format!("init {}", master.name()));
    let port = inventory.cluster.control_plane_endpoint.as_ref().map(|e| e.port).unwrap_or(6443);
    let several_masters = inventory.masters().count() > 1;
    let (init_outcome, mut material) =
        if several_masters && master.state.initialised && !master.state.stacked_etcd && !changeable(master) {
            let message = format!("{} keeps the objects in its own store and is not in --limit: add it", master.name());
            (Err(failure(&message)), None)
        } else if changeable(master) {
            init_master(inventory, master, port, several_masters, opts.check).await
        } else if master.state.initialised && master.state.server_active {
            (Ok(None), None)
        } else {
            let message = format!("{} is not initialised and running, and not in --limit: add it", master.name());
            (Err(failure(&message)), None)
        };
    let init_failed = init_outcome.is_err();
    let init_ran = matches!(init_outcome, Ok(Some(_)));
    if changeable(master) || init_failed {
        record(recap, master.name(), "kubeboot init", init_outcome);
    }
    if init_failed || opts.check && !(master.state.initialised && master.state.server_active) {
        // Nothing to read from a master that is not there yet (check mode) or failed.
        return report_check(members, master, several_masters, recap, opts);
    }
    if (init_ran || server_restarted) && !opts.check {
        if let Err(f) = wait_for_server(master).await {
            record(recap, master.name(), "wait for the API server", Err(f));
            return None;
        }
    }

    bar.set_message("admin kubeconfig");
    let admin_conf = match master.session.read(ADMIN_CONF).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            record(recap, master.name(), "read admin.conf", Err(failure(format!("{ADMIN_CONF} is missing"))));
            return None;
        }
        Err(e) => {
            record(recap, master.name(), "read admin.conf", Err(StepFailure::from(e)));
            return None;
        }
    };
    // Each master's ~/.kube/config is its own admin.conf (naming that master, or the endpoint); further
    // masters not joined yet get theirs once they have joined.
    for m in healthy.iter().filter(|m| m.host.role == Role::Master && changeable(m)) {
        if m.name() == master.name() {
            let outcome = copy_kube_config(m, &admin_conf, opts.check).await;
            record(recap, m.name(), "admin.conf to ~/.kube/config", outcome);
        } else if m.state.initialised || opts.check {
            let outcome = own_kube_config(m, opts.check).await;
            record(recap, m.name(), "admin.conf to ~/.kube/config", outcome);
        }
    }

    let mut not_joined: Vec<String> = Vec::new();
    // With several masters each further one joins the control plane (its etcd member), one at a time.
    let further_master = |m: &Member| several_masters && m.host.role == Role::Master && m.name() != master.name();
    let masters_joining: Vec<&Member> =
        healthy.iter().copied().filter(|m| further_master(m) && changeable(m) && !master_complete(&m.state)).collect();
    let joining: Vec<&Member> = healthy
        .iter()
        .copied()
        .filter(|m| m.name() != master.name() && !further_master(m) && !(m.state.joined && m.state.agent_active))
        .collect();
    if opts.check {
        for m in &masters_joining {
            let summary = format!("join the control plane (etcd member {} added)", peer_url_of(m));
            record(recap, m.name(), "kubeboot join --control-plane", Ok(Some(summary)));
        }
    }
    if !joining.is_empty() || !masters_joining.is_empty() {
        if opts.check {
            for m in &joining {
                record(recap, m.name(), "kubeboot join", Ok(Some("join the cluster".into())));
            }
        } else {
            bar.set_message(format!("joining {} host(s)", joining.len() + masters_joining.len()));
            if restore.is_some() {
                // A restored store holds the Node objects these hosts had before they were wiped, Ready as
                // they were then: a join under that name would be refused as a duplicate of a live node.
                let rebuilt: Vec<String> = masters_joining
                    .iter()
                    .chain(&joining)
                    .filter(|m| !m.state.joined)
                    .map(|m| shell_quote(m.name()))
                    .collect();
                if !rebuilt.is_empty() {
                    let command = format!("{REMOTE_BINARY} delete nodes --ignore-not-found {}", rebuilt.join(" "));
                    if let Err(f) = master.run(&command, b"").await {
                        record(recap, master.name(), "delete the restored Nodes of rebuilt hosts", Err(f));
                        return None;
                    }
                }
            }
            if material.is_none() {
                match master.run(&remote::token_create(), b"").await {
                    Ok(out) => material = JoinMaterial::from_output(&out.stdout_text()),
                    Err(f) => {
                        record(recap, master.name(), "create a join token", Err(f));
                        return None;
                    }
                }
            }
            let Some(join) = material.as_ref() else {
                record(recap, master.name(), "create a join token", Err(failure("no join command in the output")));
                return None;
            };
            let mut failed_master: Option<&str> = None;
            for m in &masters_joining {
                let outcome = match failed_master {
                    // The next member waits for the one before to be healthy: never two joining at once.
                    Some(before) => Err(failure(format!("not joined: {before} failed to join before it"))),
                    None => {
                        bar.set_message(format!("{} joins the control plane", m.name()));
                        join_master(master, m, join).await
                    }
                };
                let joined = outcome.is_ok();
                if !joined {
                    failed_master = failed_master.or(Some(m.name()));
                    not_joined.push(m.name().to_string());
                }
                record(recap, m.name(), "kubeboot join --control-plane", outcome);
                if joined && !m.state.initialised {
                    record(recap, m.name(), "admin.conf to ~/.kube/config", own_kube_config(m, false).await);
                }
            }
            let outcomes = crate::fanout::for_each_host(&joining, opts.forks, |m| join_host(m, join)).await;
            for (m, outcome) in joining.iter().zip(outcomes) {
                if outcome.is_err() {
                    not_joined.push(m.name().to_string());
                }
                record(recap, m.name(), "kubeboot join", outcome);
            }
        }
    }
    // The run's token has done its work: leave none behind (the cluster's own tokens are the operator's).
    if let Some(join) = &material {
        if let Err(f) = master.run(&remote::token_delete(join.token_id()), b"").await {
            eprintln!("kubeboot up: could not delete this run's join token {}: {}", join.token_id(), f.message);
        }
    }
    if opts.check {
        return None;
    }

    // A host whose join failed has its failure in the recap already; waiting for it would only add a timeout.
    let expected: Vec<String> =
        healthy.iter().map(|m| m.name().to_string()).filter(|n| !not_joined.contains(n)).collect();
    let nodes = wait_until_ready(master, &expected, recap, opts.wait_timeout, bar).await;
    for m in listed.iter().filter(|m| healthy.iter().any(|h| h.name() == m.name())) {
        report_expiring_certificates(m).await;
    }
    nodes
}

/// Warn about a master's certificates that expire within 30 days (kubeadm's check-expiration, read on
/// the master). The API server's, admin.conf's and the agents' renew themselves at two thirds of their
/// lifetime; the rest (the authorities, etcd's) need `kubeboot certs renew` or a new CA.
async fn report_expiring_certificates(m: &Member<'_>) {
    let Ok(out) = m.run(&remote::certificate_expiration_json(), b"").await else { return };
    let Ok(info) = serde_json::from_str::<Value>(&out.stdout_text()) else { return };
    for warning in crate::control_plane::certificates::expiration::expiring_soon(&info) {
        eprintln!("kubeboot up: {}: {warning}", m.name());
    }
}

/// In check mode with no master yet, every other host would join (further masters: their etcd members).
fn report_check(
    members: &[Member<'_>],
    master: &Member<'_>,
    several_masters: bool,
    recap: &mut Recap,
    opts: ClusterOptions,
) -> Option<Vec<Value>> {
    if opts.check {
        for m in members.iter().filter(|m| m.host.role == Role::Master && m.state.kube_config_sha256.is_none()) {
            let summary = format!("{}/.kube/config for {}", m.state.home, m.host.ssh.user);
            record(recap, m.name(), "admin.conf to ~/.kube/config", Ok(Some(summary)));
        }
        for m in members.iter().filter(|m| m.name() != master.name() && !m.state.joined) {
            if several_masters && m.host.role == Role::Master {
                let summary = format!("join the control plane (etcd member {} added)", peer_url_of(m));
                record(recap, m.name(), "kubeboot join --control-plane", Ok(Some(summary)));
            } else {
                record(recap, m.name(), "kubeboot join", Ok(Some("join the cluster".into())));
            }
        }
    }
    None
}

/// The binary where its checksum differs (the units restarted onto it), and air-gapped, a master's
/// kubeboot-registry running on it.
pub(super) async fn install_binary(
    m: &Member<'_>,
    binary: &LocalBinary,
    opts: ClusterOptions,
) -> Result<Option<String>, StepFailure> {
    let installed = install_binary_only(m, binary, opts.check).await?;
    if !opts.airgapped || m.host.role != Role::Master {
        return Ok(installed);
    }
    let started = start_registry(m, installed.is_some(), opts.check).await?;
    Ok(match (installed, started) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    })
}

/// kubeboot-registry (enabled by the preparation) running, restarted onto a binary just replaced.
async fn start_registry(m: &Member<'_>, replaced: bool, check: bool) -> Result<Option<String>, StepFailure> {
    const UNIT: &str = "kubeboot-registry";
    if check {
        let out = m.run(&format!("systemctl is-active -q {UNIT} || echo stopped"), b"").await?;
        return Ok((out.stdout_text().trim() == "stopped").then(|| format!("start {UNIT}")));
    }
    let restart = if replaced { format!("systemctl restart {UNIT} && echo restarted") } else { "true".into() };
    let out = m
        .run(
            &format!(
                "if systemctl is-active -q {UNIT}; then {restart}; else systemctl start {UNIT} && echo started; fi"
            ),
            b"",
        )
        .await?;
    Ok(match out.stdout_text().trim() {
        "started" => Some(format!("start {UNIT}")),
        "restarted" => Some(format!("restart {UNIT}")),
        _ => None,
    })
}

async fn install_binary_only(m: &Member<'_>, binary: &LocalBinary, check: bool) -> Result<Option<String>, StepFailure> {
    if m.state.binary_sha256.as_deref() == Some(binary.sha256.as_str()) {
        // A run killed between the install and the restart left the units on the binary it replaced.
        let Some(restart) = remote::restart_units(m.state.server_stale, m.state.agent_stale) else {
            return Ok(None);
        };
        if !check {
            m.run(&restart, b"").await?;
        }
        return Ok(Some("restart the kubeboot units still running the binary this one replaced".into()));
    }
    let summary = format!("install {REMOTE_BINARY} (sha256 {})", &binary.sha256[..12]);
    if check {
        return Ok(Some(summary));
    }
    m.session.upload(&binary.bytes, REMOTE_BINARY, 0o755).await.map_err(StepFailure::from)?;
    let mut after = super::probe::remember_binary_sum(&binary.sha256);
    if let Some(restart) = remote::restart_units(m.state.server_active, m.state.agent_active) {
        after = format!("{after} && {restart}");
    }
    m.run(&after, b"").await?;
    Ok(Some(summary))
}

/// A master whose init or control-plane join finished and whose units run.
fn master_complete(state: &HostState) -> bool {
    state.initialised && state.server_active && state.agent_active && (!state.stacked_etcd || state.etcd_active)
}

fn peer_url_of(m: &Member<'_>) -> String {
    m.host.address.parse().map(crate::control_plane::etcd_member::peer_url).unwrap_or_else(|_| m.host.address.clone())
}

async fn init_master(
    inventory: &Inventory,
    master: &Member<'_>,
    port: u16,
    stacked_etcd: bool,
    check: bool,
) -> (Result<Option<String>, StepFailure>, Option<JoinMaterial>) {
    let state = &master.state;
    let grows = stacked_etcd && state.initialised && !state.stacked_etcd;
    if master_complete(state) && !grows {
        return (Ok(None), None);
    }
    let summary = match (grows, state.initialised) {
        // k3s's conversion: the API server restarts on etcd; agents and pods run on.
        (true, _) => "move the cluster's objects from this master's own store into a new etcd member",
        (false, true) => "start the kubeboot services",
        (false, false) => "initialise the control plane",
    };
    if check {
        return (Ok(Some(summary.into())), None);
    }
    let command = remote::init(inventory, master.name(), &master.host.address, port, stacked_etcd);
    match master.run(&command, b"").await {
        Ok(out) => (Ok(Some(summary.into())), JoinMaterial::from_output(&out.stdout_text())),
        Err(f) => (Err(f), None),
    }
}

/// The API server answers within a minute of its unit starting, or something is wrong.
async fn wait_for_server(master: &Member<'_>) -> Result<(), StepFailure> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match master.run(&remote::get_nodes_json(), b"").await {
            Ok(_) => return Ok(()),
            Err(f) if f.lost || Instant::now() > deadline => return Err(f),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// The master's own admin.conf to its SSH user's ~/.kube/config (in check mode, one not made yet would be).
async fn own_kube_config(m: &Member<'_>, check: bool) -> Result<Option<String>, StepFailure> {
    match m.session.read(ADMIN_CONF).await.map_err(StepFailure::from)? {
        Some(conf) => copy_kube_config(m, &conf, check).await,
        None if check => Ok(Some(format!("{}/.kube/config for {}", m.state.home, m.host.ssh.user))),
        None => Err(failure(format!("{ADMIN_CONF} is missing after its join"))),
    }
}

async fn copy_kube_config(m: &Member<'_>, admin_conf: &[u8], check: bool) -> Result<Option<String>, StepFailure> {
    if m.state.kube_config_sha256.as_deref() == Some(sha256_hex(admin_conf).as_str()) {
        return Ok(None);
    }
    let summary = format!("{}/.kube/config for {}", m.state.home, m.host.ssh.user);
    if check {
        return Ok(Some(summary));
    }
    if m.state.home.is_empty() {
        return Err(failure(format!("user {} has no home folder", m.host.ssh.user)));
    }
    let dir = format!("{}/.kube", m.state.home);
    m.run(&format!("mkdir -p -m 0700 {}", shell_quote(&dir)), b"").await?;
    let path = format!("{dir}/config");
    m.session.upload(admin_conf, &path, 0o600).await.map_err(StepFailure::from)?;
    let user = shell_quote(&m.host.ssh.user);
    m.run(&format!("chown {user}: {} {}", shell_quote(&dir), shell_quote(&path)), b"").await?;
    Ok(Some(summary))
}

async fn join_host(m: &Member<'_>, join: &JoinMaterial) -> Result<Option<String>, StepFailure> {
    let command = remote::join(&join.endpoint, &join.pin, m.name(), m.host.role == Role::Master);
    m.run(&command, format!("{}\n", join.token).as_bytes()).await?;
    let summary = if m.state.joined { "start the kubeboot agent" } else { "join the cluster" };
    Ok(Some(summary.into()))
}

/// A further master: the cluster's CA, etcd CA and settings copied from the first master (over this
/// machine's two SSH sessions: the keys never touch a disk here), then its control-plane join, which
/// returns once its etcd member is healthy.
async fn join_master(first: &Member<'_>, m: &Member<'_>, join: &JoinMaterial) -> Result<Option<String>, StepFailure> {
    if !m.state.initialised {
        m.run(&format!("mkdir -p -m 0700 {dir}/pki/etcd", dir = shell_quote(CONFIG_DIR)), b"").await?;
        for (from, to, mode) in SHARED_BY_MASTERS {
            let source = format!("{CONFIG_DIR}/{from}");
            let bytes = first
                .session
                .read(&source)
                .await
                .map_err(StepFailure::from)?
                .ok_or_else(|| failure(format!("{source} is missing on {}", first.name())))?;
            m.session.upload(&bytes, &format!("{CONFIG_DIR}/{to}"), *mode).await.map_err(StepFailure::from)?;
        }
    }
    let command = remote::join_control_plane(&join.endpoint, &join.pin, m.name(), &m.host.address);
    m.run(&command, format!("{}\n", join.token).as_bytes()).await?;
    let summary = if m.state.initialised { "start the control plane's services" } else { "join the control plane" };
    Ok(Some(summary.into()))
}

async fn wait_until_ready(
    master: &Member<'_>,
    expected: &[String],
    recap: &mut Recap,
    timeout: Duration,
    bar: &ProgressBar,
) -> Option<Vec<Value>> {
    let deadline = Instant::now() + timeout;
    loop {
        let nodes = match master.run(&remote::get_nodes_json(), b"").await {
            Ok(out) => {
                serde_json::from_slice::<Value>(&out.stdout).ok()?["items"].as_array().cloned().unwrap_or_default()
            }
            // The server may be restarting (a new binary): only a lost connection or the deadline ends the wait.
            Err(f) if f.lost || Instant::now() > deadline => {
                record(recap, master.name(), "wait for nodes Ready", Err(f));
                return None;
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let stuck = wait_ready::not_ready(&nodes, expected);
        if stuck.is_empty() {
            return Some(nodes);
        }
        if Instant::now() > deadline {
            let names: Vec<String> = stuck.iter().map(|(n, why)| format!("{n} ({why})")).collect();
            eprintln!("kubeboot up: not Ready after {} s: {}", timeout.as_secs(), names.join(", "));
            for (name, why) in stuck {
                let message =
                    format!("not Ready after {} s: {why}; see `journalctl -u kubeboot-agent` there", timeout.as_secs());
                record(recap, &name, "wait for nodes Ready", Err(failure(&message)));
            }
            return Some(nodes);
        }
        bar.set_message(format!("waiting for nodes Ready ({}/{})", expected.len() - stuck.len(), expected.len()));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
