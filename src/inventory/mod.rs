//! The inventory: which hosts, their roles, how to reach them, and cluster settings.
//! `load` reads and validates a file; every problem names file:line:col and the key.

mod error;
mod resolve;
pub mod spec;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{InventoryError, Problem};
pub use resolve::{expand_path, home_dir};
pub use spec::{DockerSource, DockerSpec, Endpoint, Role};

use crate::transport::SshTarget;
use crate::yaml::Value;
use std::collections::BTreeMap;

/// A validated inventory with every host's connection settings resolved.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub source: PathBuf,
    pub cluster: Cluster,
    pub docker: DockerSpec,
    pub vars: BTreeMap<String, Value>,
    /// The air-gapped bundle every host's packages and images come from.
    pub airgap_bundle: Option<PathBuf>,
    pub hosts: Vec<Host>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub pod_network_cidr: ipnet::IpNet,
    pub control_plane_endpoint: Option<Endpoint>,
    pub pod_eviction_timeout_seconds: u64,
    pub service_cidr: ipnet::Ipv4Net,
    pub certificate_validity_seconds: u64,
    /// 0: no scheduled snapshots.
    pub snapshot_interval_seconds: u64,
    pub snapshot_retention: u32,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub address: String,
    pub role: Role,
    /// The cluster's docker settings with this host's overrides applied.
    pub docker: DockerSpec,
    pub ssh: SshTarget,
    pub vars: BTreeMap<String, Value>,
}

impl Inventory {
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let src = std::fs::read_to_string(path)
            .map_err(|source| InventoryError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&src, path)
    }

    /// Parse `src` as if read from `path` (relative key paths resolve against its folder).
    pub fn parse(src: &str, path: &Path) -> Result<Self, InventoryError> {
        let invalid = |problems| InventoryError::Invalid { file: path.to_path_buf(), problems };
        let file: spec::InventoryFile = crate::yaml::from_str(src)
            .map_err(|e| invalid(vec![Problem { line: e.line, column: e.column, message: e.message }]))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let locator = crate::yaml::locate::Locator::new(src);
        let problems = validate::check(&file, &locator, &base_dir);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let hosts = file
            .hosts
            .iter()
            .map(|h| Host {
                name: h.name.clone(),
                address: h.address.clone(),
                role: h.role,
                docker: DockerSpec {
                    source: h.docker.as_ref().and_then(|d| d.source).unwrap_or(file.docker.source),
                    version: h.docker.as_ref().and_then(|d| d.version.clone()).or_else(|| file.docker.version.clone()),
                    registry_mirrors: file.docker.registry_mirrors.clone(),
                    insecure_registries: file.docker.insecure_registries.clone(),
                },
                ssh: resolve::ssh_target(&file, h, &base_dir),
                vars: h.vars.clone(),
            })
            .collect();
        // Validation above has checked these parse.
        let cluster = Cluster {
            name: file.cluster.name.clone(),
            pod_network_cidr: spec::parse_cidr(
                file.cluster.pod_network_cidr.as_deref().unwrap_or(spec::DEFAULT_POD_NETWORK_CIDR),
            )
            .expect("validated"),
            pod_eviction_timeout_seconds: spec::parse_eviction_timeout(
                file.cluster.pod_eviction_timeout.as_deref().unwrap_or(spec::DEFAULT_POD_EVICTION_TIMEOUT),
            )
            .expect("validated"),
            service_cidr: spec::parse_service_cidr(
                file.cluster.service_cidr.as_deref().unwrap_or(spec::DEFAULT_SERVICE_CIDR),
            )
            .expect("validated"),
            certificate_validity_seconds: spec::parse_certificate_validity(
                file.cluster.certificate_validity.as_deref().unwrap_or(spec::DEFAULT_CERTIFICATE_VALIDITY),
            )
            .expect("validated"),
            snapshot_interval_seconds: spec::parse_snapshot_interval(
                file.cluster.snapshot_interval.as_deref().unwrap_or(spec::DEFAULT_SNAPSHOT_INTERVAL),
            )
            .expect("validated"),
            snapshot_retention: file.cluster.snapshot_retention.unwrap_or(spec::DEFAULT_SNAPSHOT_RETENTION),
            control_plane_endpoint: file
                .cluster
                .control_plane_endpoint
                .as_deref()
                .map(|e| spec::parse_endpoint(e).expect("validated")),
        };
        let airgap_bundle = file.airgap.as_ref().map(|a| expand_path(&a.bundle, &base_dir));
        Ok(Inventory {
            source: path.to_path_buf(),
            cluster,
            docker: file.docker,
            vars: file.vars,
            airgap_bundle,
            hosts,
        })
    }

    /// Hosts selected by `--limit` (comma-separated names; empty = all). Unknown names are bad input.
    pub fn select(&self, limit: &[String]) -> Result<Vec<&Host>, InventoryError> {
        if limit.is_empty() {
            return Ok(self.hosts.iter().collect());
        }
        let mut selected = Vec::new();
        for name in limit {
            match self.hosts.iter().find(|h| &h.name == name) {
                Some(h) => selected.push(h),
                None => return Err(InventoryError::UnknownHost { name: name.clone(), file: self.source.clone() }),
            }
        }
        Ok(selected)
    }

    pub fn masters(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.role == Role::Master)
    }

    /// A warning for an even number of masters (see `quorum_warning`).
    pub fn quorum_warning(&self) -> Option<String> {
        quorum_warning(self.masters().count())
    }
}

/// etcd writes need a majority of its members: an even number of masters survives no more failures than
/// one master fewer, and waits for one more member on every write.
pub fn quorum_warning(masters: usize) -> Option<String> {
    if masters < 2 || masters % 2 == 1 {
        return None;
    }
    let quorum = masters / 2 + 1;
    let advice = if masters == 2 {
        "losing either master stops the cluster, as losing the only one would; use 3".to_string()
    } else {
        format!("{} masters survive as many; use {} or {}", masters - 1, masters - 1, masters + 1)
    };
    Some(format!(
        "{masters} masters: etcd accepts a write only with {quorum} of its {masters} members up, so the cluster \
         survives {} master failure(s): {advice}",
        masters - quorum
    ))
}

#[cfg(test)]
mod quorum_tests {
    use super::quorum_warning;

    #[test]
    fn even_numbers_of_masters_are_explained() {
        assert_eq!(quorum_warning(1), None);
        assert_eq!(quorum_warning(3), None);
        let two = quorum_warning(2).unwrap();
        assert!(two.contains("2 of its 2 members") && two.contains("survives 0 master failure(s)"), "{two}");
        let four = quorum_warning(4).unwrap();
        assert!(four.contains("3 of its 4") && four.contains("survives 1") && four.contains("use 3 or 5"), "{four}");
    }
}
