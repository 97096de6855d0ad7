//! Where a control plane keeps things: configuration and PKI under one folder (/etc/kubeboot), state under
//! another (/var/lib/kubeboot). `init` writes them; `server` and `agent` read them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a host keeps what an air-gapped bundle brought it: its release's repository, the package
/// manager's settings for it, and on masters the images (written by `up`, kept by `reset`).
pub const AIRGAP_DIR: &str = "/var/lib/kubeboot-airgap";
/// The port a master's kubeboot-registry serves a bundle's images on.
pub const AIRGAP_REGISTRY_PORT: u16 = 5000;

pub const DEFAULT_CONFIG_DIR: &str = "/etc/kubeboot";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/kubeboot";

/// What every master of a cluster shares, copied from the first master to a further one before its
/// `join --control-plane` (kubeadm's certificate sharing): (file on the first master, file on the
/// joining one, mode), relative to the configuration folder. The cluster's settings travel as
/// cluster.yaml (the first master's server.yaml; its address is not the joining master's).
pub const SHARED_BY_MASTERS: &[(&str, &str, u32)] = &[
    ("pki/ca.crt", "pki/ca.crt", 0o644),
    ("pki/ca.key", "pki/ca.key", 0o600),
    ("pki/etcd/ca.crt", "pki/etcd/ca.crt", 0o644),
    ("pki/etcd/ca.key", "pki/etcd/ca.key", 0o600),
    ("server.yaml", "cluster.yaml", 0o644),
];

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
    /// tolerationSeconds of the not-ready/unreachable NoExecute tolerations every pod gets (older
    /// server.yaml files have none: Kubernetes' 300).
    #[serde(default = "default_eviction_timeout")]
    pub pod_eviction_timeout_seconds: u64,
    /// The Services' ClusterIP range (older server.yaml files have none: kubeadm's 10.96.0.0/12).
    #[serde(default = "default_service_cidr")]
    pub service_cidr: String,
    /// Where the cluster's objects live when there are several masters; none: this master's own redb file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdSettings>,
    /// HOST:PORT of a load balancer, VIP or DNS name in front of every master (kubeadm's
    /// --control-plane-endpoint): what kubeconfigs and cluster-info name, and in every serving certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<String>,
    /// How long the certificates the cluster CA signs live (older server.yaml files have none: a year).
    #[serde(default = "default_certificate_validity")]
    pub certificate_validity_seconds: u64,
    /// How often the server snapshots the store, 0 never (older server.yaml files have none: 12 h).
    #[serde(default = "default_snapshot_interval")]
    pub snapshot_interval_seconds: u64,
    /// Scheduled snapshots kept (older server.yaml files have none: 5).
    #[serde(default = "default_snapshot_retention")]
    pub snapshot_retention: u32,
}

/// kubeadm's lifetime of every certificate the cluster CA signs: a year.
pub const DEFAULT_CERTIFICATE_VALIDITY_SECONDS: u64 = 365 * 24 * 3600;

fn default_snapshot_interval() -> u64 {
    12 * 3600
}

fn default_snapshot_retention() -> u32 {
    5
}

fn default_certificate_validity() -> u64 {
    DEFAULT_CERTIFICATE_VALIDITY_SECONDS
}

/// The etcd cluster the masters share (its client TLS files are in the layout: `etcd_ca`,
/// `etcd_client_cert`, `etcd_client_key`, as kubeadm places them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdSettings {
    /// The members' client URLs (https://ADDRESS:2379; http:// only for a local test etcd).
    pub endpoints: Vec<String>,
}

fn default_service_cidr() -> String {
    crate::control_plane::api::DEFAULT_SERVICE_NETWORK.to_string()
}

fn default_eviction_timeout() -> u64 {
    300
}

impl ServerSettings {
    /// The endpoint's host, which serving certificates must name (brackets of an IPv6 address taken off).
    pub fn endpoint_host(&self) -> Option<String> {
        let endpoint = self.control_plane_endpoint.as_deref()?;
        let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
        Some(host.trim_start_matches('[').trim_end_matches(']').to_string())
    }

    /// What clients are given: the control-plane endpoint when there is one, else this master.
    pub fn server_url(&self) -> String {
        if let Some(endpoint) = &self.control_plane_endpoint {
            return format!("https://{endpoint}");
        }
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
    /// The cluster's settings on a further master (see SHARED_BY_MASTERS).
    pub fn cluster_settings(&self) -> PathBuf {
        self.config_dir.join("cluster.yaml")
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
    /// The etcd cluster's CA, and the API server's client certificate and key for etcd (kubeadm's names).
    pub fn etcd_ca(&self) -> PathBuf {
        self.pki("etcd/ca.crt")
    }
    pub fn etcd_client_cert(&self) -> PathBuf {
        self.pki("apiserver-etcd-client.crt")
    }
    pub fn etcd_client_key(&self) -> PathBuf {
        self.pki("apiserver-etcd-client.key")
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

/// A temp name of its own beside `path` (`.NAME.kubeboot-tmp.PID.RANDOM`), for a file that is then renamed
/// into place; the temp files of `path` a killed run left are removed first.
pub fn temp_beside(path: &Path) -> std::io::Result<PathBuf> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.kubeboot-tmp.");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(dir.join(format!("{prefix}{}.{}", std::process::id(), crate::resources::meta::random_suffix())))
}

/// Rename a complete (fsynced) temp file into place, then fsync the folder so the rename survives a crash.
pub fn rename_into_place(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()
}

/// Write a file atomically with `mode`: a temp file of its own (temp_beside), created with the final mode
/// (so no moment exists where the secret is readable by others), fsynced, then renamed into place.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = temp_beside(path)?;
    let mut f = std::fs::OpenOptions::new().create_new(true).write(true).mode(mode).open(&tmp)?;
    // The umask may have taken bits off at creation; mode is exactly what was asked.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(contents)?;
    f.sync_all()?;
    rename_into_place(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_private_writes_with_their_own_temp_names() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed run left: a stale temp file of ca.key.
        std::fs::write(dir.path().join(".ca.key.kubeboot-tmp.1.abcde"), "partial").unwrap();
        std::thread::scope(|scope| {
            for name in ["ca.key", "ca.crt"] {
                let path = dir.path().join(name);
                scope.spawn(move || write_file(&path, name.as_bytes(), 0o600).unwrap());
            }
        });
        for name in ["ca.key", "ca.crt"] {
            let path = dir.path().join(name);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), name, "each file its own contents");
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "no temp files left: {left:?}");
    }
}
