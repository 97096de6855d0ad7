//! `kubeboot restore -i`: the checks made before any host is touched (every master reachable, none of
//! another cluster, none whose API server answers unless forced), and the restore step `up`'s phases run
//! in place of a fresh init: the snapshot restored onto the master that holds the cluster.

use super::members::{Member, StepFailure};
use super::probe::CONFIG_DIR;
use super::remote;
use crate::inventory::Inventory;
use crate::transport::{shell_quote, SshSession, Transport};

/// Where the snapshot is uploaded on the master.
const UPLOADED: &str = "/var/lib/kubeboot/snapshots/restoring";

/// A checked backup to restore.
pub struct Restore {
    pub bytes: Vec<u8>,
    /// The pin of the cluster CA it carries.
    pub pin: String,
    pub keys: usize,
    pub revision: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreRefused {
    #[error("{host} cannot be reached ({message}): a restore needs every master")]
    Unreachable { host: String, message: String },
    #[error(
        "{host}: its cluster CA is {ours}, the snapshot's {theirs}: the snapshot is from another cluster. Restore \
         it onto that cluster's masters, or `kubeboot reset -i` these hosts first"
    )]
    OtherCluster { host: String, ours: String, theirs: String },
    #[error(
        "the API server on {hosts} answers: a restore replaces every object of the running cluster with the \
         snapshot's. Pass --force to restore anyway (the API servers are stopped first and started after)"
    )]
    Running { hosts: String },
}

/// Every master reachable, none holding another CA, none serving (unless `force`).
pub async fn preflight(inventory: &Inventory, restore: &Restore, force: bool) -> Result<(), RestoreRefused> {
    let masters: Vec<_> = inventory.masters().collect();
    let checks = futures::future::join_all(masters.iter().map(|m| probe_master(m))).await;
    let mut running = Vec::new();
    for (master, check) in masters.iter().zip(checks) {
        let (pin, serving) =
            check.map_err(|message| RestoreRefused::Unreachable { host: master.name.clone(), message })?;
        if let Some(ours) = pin.filter(|p| !crate::bootstrap::pin::pins_match(p, &restore.pin)) {
            return Err(RestoreRefused::OtherCluster { host: master.name.clone(), ours, theirs: restore.pin.clone() });
        }
        if serving {
            running.push(master.name.clone());
        }
    }
    if !running.is_empty() && !force {
        return Err(RestoreRefused::Running { hosts: running.join(", ") });
    }
    Ok(())
}

/// A master's CA pin (None: it has no CA) and whether its API server answers.
async fn probe_master(master: &crate::inventory::Host) -> Result<(Option<String>, bool), String> {
    let session = SshSession::connect(&master.ssh).await.map_err(|e| e.to_string())?;
    let probed = async {
        let pem = session.read(&format!("{CONFIG_DIR}/pki/ca.crt")).await.map_err(|e| e.to_string())?;
        let pin = pem.map(|pem| {
            crate::bootstrap::pki::ca_pin_of_pem(&String::from_utf8_lossy(&pem))
                .unwrap_or_else(|e| format!("unreadable ({e})"))
        });
        Ok((pin, remote::api_answers(&session).await))
    }
    .await;
    session.close().await;
    probed
}

/// Restore onto `master`, the one holding the cluster. An initialised one has its API server stopped and
/// its store replaced (with several masters on etcd, every other master's server is stopped first and
/// started after: they share the store); on a wiped one the CA and store are laid down for `init`.
pub async fn onto_master(
    masters: &[&Member<'_>],
    master: &Member<'_>,
    restore: &Restore,
) -> Result<Option<String>, StepFailure> {
    let initialised = master.state.initialised;
    let others: Vec<&&Member> =
        masters.iter().filter(|m| m.name() != master.name() && m.state.server_active && initialised).collect();
    for other in &others {
        other.run("systemctl stop kubeboot-server", b"").await?;
    }
    master.run(&format!("mkdir -p -m 0700 {}", shell_quote(parent(UPLOADED))), b"").await?;
    master.session.upload(&restore.bytes, UPLOADED, 0o600).await.map_err(StepFailure::from)?;
    let restored = master.run(&remote::snapshot_restore(UPLOADED, initialised), b"").await;
    for other in &others {
        other.run("systemctl start kubeboot-server", b"").await?;
    }
    restored?;
    master.run(&format!("rm -f {}", shell_quote(UPLOADED)), b"").await?;
    let onto = if initialised { "replacing the store" } else { "onto a master not initialised" };
    Ok(Some(format!("{} objects at revision {} restored {onto}", restore.keys, restore.revision)))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(dir, _)| dir)
}
