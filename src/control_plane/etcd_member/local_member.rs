//! This master's member as a systemd unit (kubeboot-etcd): its data under the data folder
//! (/var/lib/kubeboot/etcd, 0700), its certificates from pki/etcd, and its first start's membership in an
//! environment file written only while there is no data yet (etcd reads it only then). The unit's own text
//! never changes after that, so a rerun restarts nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use etcd_client::Client;

use super::membership::Membership;
use super::{peer_url, EtcdMemberError, LOCAL_ENDPOINT};
use crate::control_plane::store::EtcdTls;
use crate::control_plane::store_backend::client_tls;
use crate::host::layout::{write_file, Layout};
use crate::systemd_units::{self, ETCD_UNIT};

/// Where the distributions install etcd (Debian's etcd-server, EL's etcd), then a hand-installed one.
const PROGRAMS: [&str; 2] = ["/usr/bin/etcd", "/usr/local/bin/etcd"];

/// The membership a member starts into the first time.
#[derive(Debug, Clone)]
pub enum InitialCluster {
    /// The first master: a cluster of this member alone.
    New,
    /// A further master, added to the cluster already: etcd's --initial-cluster for it.
    Existing(String),
    /// A member that has its data here: it starts with what it has.
    Rejoin,
}

fn data_dir(layout: &Layout) -> PathBuf {
    layout.data_dir.join("etcd")
}

fn initial_env(layout: &Layout) -> PathBuf {
    layout.config_dir.join("etcd-initial.env")
}

/// The member has data here (it started at least once): it rejoins with what it has.
pub fn has_data(layout: &Layout) -> bool {
    data_dir(layout).join("member").is_dir()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EtcdMemberError + '_ {
    move |source| EtcdMemberError::Io { path: path.display().to_string(), source }
}

/// Write the unit (and, before the first start, its membership) and make it run. Returns whether anything
/// changed. With Type=notify, this returns once etcd serves, or fails after the unit's start timeout.
pub fn start(
    layout: &Layout,
    cluster_name: &str,
    name: &str,
    address: std::net::IpAddr,
    initial: InitialCluster,
) -> Result<bool, EtcdMemberError> {
    let program = PROGRAMS
        .iter()
        .find(|p| Path::new(p).is_file())
        .ok_or_else(|| EtcdMemberError::NoProgram(PROGRAMS.join(", ")))?;
    let data = data_dir(layout);
    crate::host::layout::secure_data_dir(&layout.data_dir, None).map_err(io(&layout.data_dir))?;
    crate::host::layout::secure_data_dir(&data, None).map_err(io(&data))?;
    let peer = peer_url(address);
    let first_start = match initial {
        _ if has_data(layout) => None,
        InitialCluster::New => Some((format!("{name}={peer}"), "new")),
        InitialCluster::Existing(cluster) => Some((cluster, "existing")),
        InitialCluster::Rejoin => None,
    };
    if let Some((cluster, state)) = first_start {
        let text = format!(
            "# Written by kubeboot: this member's first start (etcd reads these only while its data folder is empty).\n\
             ETCD_INITIAL_CLUSTER={cluster}\nETCD_INITIAL_CLUSTER_STATE={state}\n\
             ETCD_INITIAL_CLUSTER_TOKEN=kubeboot-{cluster_name}\n"
        );
        let env = initial_env(layout);
        write_file(&env, text.as_bytes(), 0o644).map_err(io(&env))?;
    }
    let vars = serde_json::json!({
        "etcd": program,
        "name": name,
        "data_dir": data,
        "client_url": super::client_url(address),
        "peer_url": peer,
        "pki": layout.pki(""),
        "initial_env": initial_env(layout),
    });
    let text = systemd_units::render(ETCD_UNIT, &vars)?;
    Ok(systemd_units::ensure_running(ETCD_UNIT, &text)?)
}

/// Wait until the member on this host serves: it knows a leader and answers a linearizable read (which
/// needs the quorum).
pub async fn wait_healthy(tls: &EtcdTls, timeout: Duration) -> Result<(), EtcdMemberError> {
    let deadline = Instant::now() + timeout;
    let options = crate::control_plane::store::etcd_connect_options(Some(tls));
    let mut last = String::from("not answering");
    while Instant::now() < deadline {
        match Client::connect([LOCAL_ENDPOINT], Some(options.clone())).await {
            Ok(mut client) => match client.status().await {
                Ok(status) if status.leader() == 0 => last = "no leader elected".into(),
                Ok(status) if !status.errors().is_empty() => last = status.errors().join("; "),
                Ok(_) => match client.get("/kubeboot-health", None).await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(EtcdMemberError::NotHealthy { seconds: timeout.as_secs(), last })
}

/// What leaving the etcd cluster did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// The member was removed from the cluster.
    Removed,
    /// It was the last member: there is no cluster left to remove it from.
    Last,
    /// No member runs here.
    NotAMember,
}

/// Take this master's member out of the cluster (before its unit and data go): the others then count
/// their quorum without it. Fails, changing nothing, when the cluster cannot make the change (no quorum).
pub async fn leave(layout: &Layout) -> Result<Left, EtcdMemberError> {
    if !has_data(layout) {
        return Ok(Left::NotAMember);
    }
    let tls = client_tls(layout)?;
    let mut membership = Membership::connect(&[LOCAL_ENDPOINT.to_string()], &tls).await?;
    let own = membership.own_id().await?;
    let members = membership.list().await?;
    if members.len() <= 1 {
        return Ok(Left::Last);
    }
    membership.remove(own).await?;
    Ok(Left::Removed)
}

/// Stop this host's member and remove its data and first-start membership: what a failed join leaves, or
/// data of a member the cluster does not have.
pub fn discard(layout: &Layout) -> Result<(), EtcdMemberError> {
    systemd_units::stop(ETCD_UNIT)?;
    let data = data_dir(layout);
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(io(&data))?;
    }
    let _ = std::fs::remove_file(initial_env(layout));
    Ok(())
}
