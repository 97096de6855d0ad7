//! A master's own etcd member, kubeadm's stacked topology: every master runs one member of the cluster's
//! etcd (the kubeboot-etcd unit) and its API server talks to that member only, on 127.0.0.1. A master cut
//! off from the others then has a member without a quorum, and its API server refuses writes: no split
//! brain. Members are added one at a time, each started and healthy before the next (etcd's strict
//! reconfiguration check refuses an add that would lose the quorum), and a master that leaves removes its
//! member first.

mod local_member;
mod membership;

use std::net::IpAddr;

pub use local_member::{discard, has_data, leave, start, wait_healthy, InitialCluster, Left};
pub use membership::{decide, initial_cluster, Decision, MemberInfo, Membership};

use super::store::StoreError;
use crate::bootstrap::etcd_pki::{self, EtcdPkiError};
use crate::host::layout::Layout;
use crate::systemd_units::UnitError;

/// How long a member may take to serve after its unit started (a joining one copies the data first).
pub const HEALTHY_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);

/// The member's client URL on the master itself, the only one its API server uses.
pub const LOCAL_ENDPOINT: &str = "https://127.0.0.1:2379";

/// A member's client URL at `address` (what other masters reach it at).
pub fn client_url(address: IpAddr) -> String {
    url(address, 2379)
}

/// A member's peer URL at `address` (raft traffic between members).
pub fn peer_url(address: IpAddr) -> String {
    url(address, 2380)
}

fn url(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(a) => format!("https://{a}:{port}"),
        IpAddr::V6(a) => format!("https://[{a}]:{port}"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EtcdMemberError {
    #[error("cannot reach etcd at {endpoints}: {message}")]
    Unreachable { endpoints: String, message: String },
    #[error("etcd membership: {what}: {message}")]
    Membership { what: String, message: String },
    #[error(
        "this master's etcd member is not healthy after {seconds} s: {last} (see `journalctl -u kubeboot-etcd`; \
         a member needs a majority of the members running to serve)"
    )]
    NotHealthy { seconds: u64, last: String },
    #[error("no etcd program on this host (looked for {0}): install Debian's etcd-server package or EL's etcd")]
    NoProgram(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error(transparent)]
    Credentials(#[from] StoreError),
    #[error(transparent)]
    Pki(#[from] EtcdPkiError),
}

/// This master's member certificates (from the etcd CA, made here on the first master, delivered to the
/// others) and its unit, started. Blocking (systemctl); returns whether anything changed. Then
/// `wait_healthy`.
pub fn prepare_and_start(
    layout: &Layout,
    cluster_name: &str,
    name: &str,
    address: IpAddr,
    initial: InitialCluster,
) -> Result<bool, EtcdMemberError> {
    let ca = etcd_pki::ensure_ca(layout)?;
    etcd_pki::ensure_master_certificates(layout, &ca, name, address)?;
    start(layout, cluster_name, name, address, initial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_bracket_v6() {
        assert_eq!(client_url("10.88.0.10".parse().unwrap()), "https://10.88.0.10:2379");
        assert_eq!(peer_url("fd00::1".parse().unwrap()), "https://[fd00::1]:2380");
    }
}
