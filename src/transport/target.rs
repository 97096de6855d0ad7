use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What to do with a host key: OpenSSH's StrictHostKeyChecking, with the same names as k0sctl.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Record the key of a host seen for the first time; refuse a changed one.
    #[default]
    AcceptNew,
    /// Only hosts already in the known_hosts file.
    Strict,
    /// No check at all (throwaway hosts only). A changed key is still refused when one is recorded.
    Off,
}

/// Everything needed to reach one host. Holds the *names* of environment variables for secrets, never the
/// secrets themselves, so a target can be logged or printed safely.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The inventory name, for messages.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub private_key: Option<PathBuf>,
    /// A missing default key (~/.ssh/id_ed25519) is skipped quietly; a missing explicit one is an error.
    pub private_key_explicit: bool,
    pub passphrase_env: String,
    pub password_env: String,
    pub host_key_policy: HostKeyPolicy,
    pub known_hosts_file: PathBuf,
    pub become_root: bool,
    pub become_password_env: String,
    pub connect_timeout: Duration,
    pub bastion: Option<Box<SshTarget>>,
}

impl SshTarget {
    /// A target with the defaults the inventory would give: root, port 22, accept-new.
    pub fn new(name: &str, address: &str, port: u16) -> Self {
        SshTarget {
            name: name.to_string(),
            address: address.to_string(),
            port,
            user: "root".into(),
            private_key: None,
            private_key_explicit: false,
            passphrase_env: "KUBEBOOT_KEY_PASSPHRASE".into(),
            password_env: "KUBEBOOT_SSH_PASSWORD".into(),
            host_key_policy: HostKeyPolicy::AcceptNew,
            known_hosts_file: crate::host::home_dir().join(".ssh/known_hosts"),
            become_root: false,
            become_password_env: "KUBEBOOT_BECOME_PASSWORD".into(),
            connect_timeout: Duration::from_secs(10),
            bastion: None,
        }
    }

    /// `user@address:port`, for messages.
    pub fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.address, self.port)
    }
}
