//! `up --prepare-only`'s last step: this binary onto every prepared host (the walkthrough's preparation
//! installs kubeadm), so that `kubeboot init` and the `kubeboot join` it prints can be run there by hand.
//! The connections, the probe and the local binary's hash are made while the preparation runs, so a rerun
//! with nothing to do costs no more than the preparation's own.

use super::binary::LocalBinary;
use super::members::{self, record, Member};
use super::up::{install_binary, ClusterOptions};
use crate::inventory::Host;
use crate::playbook::Recap;

/// Every host connected and probed, and this binary read and hashed.
pub struct Connected<'a> {
    members: Vec<Member<'a>>,
    /// Hosts that could not be reached for the install (the preparation says so too, mostly).
    unreached: Recap,
    binary: std::io::Result<LocalBinary>,
}

pub async fn connect<'a>(hosts: &[&'a Host], forks: usize) -> Connected<'a> {
    let binary = tokio::task::spawn_blocking(LocalBinary::current);
    let mut unreached = Recap::default();
    let members = members::connect(hosts, forks, &mut unreached).await;
    let binary = binary.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
    Connected { members, unreached, binary }
}

impl Connected<'_> {
    /// The binary where its checksum differs, on the hosts whose preparation went through (`prepared`).
    pub async fn install(self, prepared: &[&Host], recap: &mut Recap, opts: ClusterOptions) {
        let is_prepared = |name: &str| prepared.iter().any(|h| h.name == name);
        match &self.binary {
            Ok(binary) => {
                let targets: Vec<&Member> = self.members.iter().filter(|m| is_prepared(m.name())).collect();
                let installs =
                    crate::fanout::for_each_host(&targets, opts.forks, |m| install_binary(m, binary, opts)).await;
                for (m, outcome) in targets.iter().zip(installs) {
                    record(recap, m.name(), "install kubeboot", outcome);
                }
            }
            Err(e) => eprintln!("kubeboot up: cannot read this kubeboot binary: {e}"),
        }
        for (name, lost) in self.unreached.hosts.into_iter().filter(|(name, _)| is_prepared(name)) {
            let entry = recap.hosts.entry(name).or_default();
            entry.failed += lost.failed;
            entry.unreachable |= lost.unreachable;
            entry.failures.extend(lost.failures);
        }
        for m in self.members {
            m.session.close().await;
        }
    }
}
