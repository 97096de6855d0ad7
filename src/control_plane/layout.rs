//! Where a control plane keeps things: configuration and PKI under one folder (/etc/kubeboot), state under
//! another (/var/lib/kubeboot). `init` writes them; `server` and `agent` read them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG_DIR: &str = "/etc/kubeboot";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/kubeboot";

#[derive(Debug, Clone)]
pub struct Layout {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

/// What `init` decided, read back by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSettings {
    pub cluster_name: String,
    pub advertise_address: String,
    pub port: u16,
    pub pod_network_cidr: String,
}

impl ServerSettings {
    pub fn server_url(&self) -> String {
        if self.advertise_address.contains(':') {
            format!("https://[{}]:{}", self.advertise_address, self.port)
        } else {
            format!("https://{}:{}", self.advertise_address, self.port)
        }
    }
}

impl Layout {
    pub fn new(config_dir: &Path, data_dir: &Path) -> Self {
        Layout { config_dir: config_dir.into(), data_dir: data_dir.into() }
    }
    pub fn pki(&self, file: &str) -> PathBuf {
        self.config_dir.join("pki").join(file)
    }
    pub fn settings(&self) -> PathBuf {
        self.config_dir.join("server.yaml")
    }
    pub fn admin_conf(&self) -> PathBuf {
        self.config_dir.join("admin.conf")
    }
    pub fn agent_conf(&self) -> PathBuf {
        self.config_dir.join("agent.conf")
    }
    pub fn store(&self) -> PathBuf {
        self.data_dir.join("state.redb")
    }
}

/// The state folder holds bootstrap-token secrets, every Secret and the pods' secret volumes: 0700, and the
/// store (when there is one) 0600 — made so at every start, which also fixes a folder an older kubeboot
/// left 0755.
pub fn secure_data_dir(dir: &Path, store: Option<&Path>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some(store) = store.filter(|s| s.exists()) {
        std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Write a file atomically with `mode` (temp file in the same folder, fsync, rename).
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("kubeboot-tmp");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(mode).open(&tmp)?;
    f.write_all(contents)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
