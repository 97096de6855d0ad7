//! Turns the file's layered settings (top-level `ssh:`, a host's `ssh:`, built-in defaults) into one
//! connection target per host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::spec::{BastionSpec, HostSpec, InventoryFile, SshSpec};
use crate::transport::{HostKeyPolicy, SshTarget};

pub const DEFAULT_PASSPHRASE_ENV: &str = "KUBEBOOT_KEY_PASSPHRASE";
pub const DEFAULT_PASSWORD_ENV: &str = "KUBEBOOT_SSH_PASSWORD";
pub const DEFAULT_BECOME_PASSWORD_ENV: &str = "KUBEBOOT_BECOME_PASSWORD";
const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;

/// `~/x` and paths relative to the inventory's folder, as users expect from Ansible.
pub fn expand_path(raw: &str, base_dir: &Path) -> PathBuf {
    if let Some(rest) = raw.strip_prefix("~/") {
        return home_dir().join(rest);
    }
    let p = Path::new(raw);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

pub use crate::host::home_dir;

pub fn ssh_target(file: &InventoryFile, host: &HostSpec, base_dir: &Path) -> SshTarget {
    let (global, own) = (&file.ssh, &host.ssh);
    let pick = |f: fn(&SshSpec) -> Option<String>| f(own).or_else(|| f(global));
    let explicit_key = pick(|s| s.private_key.clone());
    let private_key = match &explicit_key {
        Some(k) => Some(expand_path(k, base_dir)),
        None => Some(home_dir().join(".ssh/id_ed25519")),
    };
    let bastion = own.bastion.as_ref().or(global.bastion.as_ref()).map(|b| {
        Box::new(bastion_target(b, &pick(|s| s.user.clone()).unwrap_or_else(|| "root".into()), base_dir, global))
    });
    SshTarget {
        name: host.name.clone(),
        address: host.address.clone(),
        port: own.port.or(global.port).unwrap_or(22),
        user: pick(|s| s.user.clone()).unwrap_or_else(|| "root".into()),
        private_key,
        private_key_explicit: explicit_key.is_some(),
        passphrase_env: pick(|s| s.passphrase_env.clone()).unwrap_or_else(|| DEFAULT_PASSPHRASE_ENV.into()),
        password_env: pick(|s| s.password_env.clone()).unwrap_or_else(|| DEFAULT_PASSWORD_ENV.into()),
        host_key_policy: own.known_hosts.or(global.known_hosts).unwrap_or_default(),
        known_hosts_file: pick(|s| s.known_hosts_file.clone())
            .map(|f| expand_path(&f, base_dir))
            .unwrap_or_else(|| home_dir().join(".ssh/known_hosts")),
        become_root: own.become_root.or(global.become_root).unwrap_or(false),
        become_password_env: pick(|s| s.become_password_env.clone())
            .unwrap_or_else(|| DEFAULT_BECOME_PASSWORD_ENV.into()),
        connect_timeout: Duration::from_secs(
            own.connect_timeout.or(global.connect_timeout).unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
        ),
        bastion,
    }
}

fn bastion_target(b: &BastionSpec, default_user: &str, base_dir: &Path, global: &SshSpec) -> SshTarget {
    let explicit_key = b.private_key.clone().or_else(|| global.private_key.clone());
    SshTarget {
        name: format!("bastion {}", b.address),
        address: b.address.clone(),
        port: b.port.unwrap_or(22),
        user: b.user.clone().unwrap_or_else(|| default_user.to_string()),
        private_key: Some(
            explicit_key
                .as_deref()
                .map(|k| expand_path(k, base_dir))
                .unwrap_or_else(|| home_dir().join(".ssh/id_ed25519")),
        ),
        private_key_explicit: explicit_key.is_some(),
        passphrase_env: global.passphrase_env.clone().unwrap_or_else(|| DEFAULT_PASSPHRASE_ENV.into()),
        password_env: global.password_env.clone().unwrap_or_else(|| DEFAULT_PASSWORD_ENV.into()),
        host_key_policy: global.known_hosts.unwrap_or(HostKeyPolicy::AcceptNew),
        known_hosts_file: global
            .known_hosts_file
            .as_deref()
            .map(|f| expand_path(f, base_dir))
            .unwrap_or_else(|| home_dir().join(".ssh/known_hosts")),
        become_root: false,
        become_password_env: DEFAULT_BECOME_PASSWORD_ENV.into(),
        connect_timeout: Duration::from_secs(global.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS)),
        bastion: None,
    }
}
