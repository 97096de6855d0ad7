//! The inventory file's schema: plain serde types. serde_yaml places type errors (a string where a number
//! belongs, unknown keys) exactly; errors raised inside a custom Deserialize it places at the enclosing
//! mapping, so value checks (names, addresses, CIDRs) are functions here that `validate.rs` calls with the
//! `Locator`, which knows each value's own line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use crate::transport::HostKeyPolicy;
use crate::yaml::Value;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryFile {
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub docker: DockerSpec,
    #[serde(default)]
    pub ssh: SshSpec,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Hosts without internet: everything they need comes from a bundle (`kubeboot bundle create`).
    #[serde(default)]
    pub airgap: Option<AirgapSpec>,
    pub hosts: Vec<HostSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AirgapSpec {
    /// The bundle file (relative to the inventory's folder).
    pub bundle: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    #[serde(default)]
    pub pod_network_cidr: Option<String>,
    #[serde(default)]
    pub control_plane_endpoint: Option<String>,
    /// How long pods stay bound to a node that is not Ready before they are evicted (a Go duration;
    /// Kubernetes' default-not-ready/unreachable-toleration-seconds, 5m).
    #[serde(default)]
    pub pod_eviction_timeout: Option<String>,
    /// The Services' ClusterIP range (kubeadm's --service-cidr).
    #[serde(default)]
    pub service_cidr: Option<String>,
    /// How long the certificates the cluster CA signs live (a Go duration; kubeadm's year, 8760h).
    #[serde(default)]
    pub certificate_validity: Option<String>,
    /// How often every master snapshots the store into its data dir (a Go duration, 0 for never; k3s's
    /// 12h).
    #[serde(default)]
    pub snapshot_interval: Option<String>,
    /// How many scheduled snapshots each master keeps (k3s's 5).
    #[serde(default)]
    pub snapshot_retention: Option<u32>,
}

pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";

pub const DEFAULT_POD_EVICTION_TIMEOUT: &str = "5m";

pub const DEFAULT_CERTIFICATE_VALIDITY: &str = "8760h";

/// A certificate lifetime in seconds (a Go duration, at least a minute: renewal runs at two thirds).
pub fn parse_certificate_validity(text: &str) -> Result<u64, String> {
    match crate::bootstrap::ttl::parse_ttl(text) {
        Ok(Some(seconds)) if seconds >= 60 => Ok(seconds),
        _ => Err(format!("{text:?} is not a duration of at least 1m (e.g. 8760h for a year, 720h, 10m)")),
    }
}

pub const DEFAULT_SNAPSHOT_INTERVAL: &str = "12h";

pub const DEFAULT_SNAPSHOT_RETENTION: u32 = 5;

/// A snapshot interval in seconds (a Go duration, or 0: no scheduled snapshots).
pub fn parse_snapshot_interval(text: &str) -> Result<u64, String> {
    match crate::bootstrap::ttl::parse_ttl(text) {
        Ok(None) => Ok(0),
        Ok(Some(seconds)) => Ok(seconds),
        Err(_) => Err(format!("{text:?} is not a duration, or 0 for none (e.g. 12h, 30m)")),
    }
}

/// A snapshot retention: at least one kept.
pub fn check_snapshot_retention(count: u32) -> Result<u32, String> {
    if count == 0 {
        return Err("keeps at least 1 snapshot".into());
    }
    Ok(count)
}

/// A pod eviction timeout in seconds (a Go duration, at least 1 s).
pub fn parse_eviction_timeout(text: &str) -> Result<u64, String> {
    match crate::bootstrap::ttl::parse_ttl(text) {
        Ok(Some(seconds)) if seconds > 0 => Ok(seconds),
        _ => Err(format!("{text:?} is not a duration of at least 1s (e.g. 5m, 30s, 1m30s)")),
    }
}

pub const DEFAULT_POD_NETWORK_CIDR: &str = "20.96.0.0/12";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DockerSpec {
    #[serde(default)]
    pub source: DockerSource,
    #[serde(default)]
    pub version: Option<String>,
    /// daemon.json `registry-mirrors`: where Docker looks for Docker Hub images first (an air-gapped site's
    /// own registry).
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
    /// daemon.json `insecure-registries`: registries reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DockerOverride {
    pub source: Option<DockerSource>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DockerSource {
    /// The vendor's repository, as in the walkthrough.
    #[default]
    DockerCe,
    /// The distribution's own package (docker.io on Debian).
    Distro,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Master,
    Node,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Master => "master",
            Role::Node => "node",
        })
    }
}

/// SSH settings: the top-level `ssh:` gives defaults, a host's `ssh:` overrides any of them.
/// Secrets are never in the file: `*_env` keys name the environment variable that holds them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SshSpec {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub private_key: Option<String>,
    pub known_hosts: Option<HostKeyPolicy>,
    pub known_hosts_file: Option<String>,
    #[serde(rename = "become")]
    pub become_root: Option<bool>,
    pub bastion: Option<BastionSpec>,
    pub connect_timeout: Option<u64>,
    pub passphrase_env: Option<String>,
    pub password_env: Option<String>,
    pub become_password_env: Option<String>,
    /// Refused with a pointer to `password_env`: the file is no place for secrets.
    #[serde(default, skip_serializing)]
    pub password: Option<Value>,
    #[serde(default, skip_serializing)]
    pub become_password: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BastionSpec {
    pub address: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub private_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    pub address: String,
    pub role: Role,
    /// Overrides `docker.source` / `docker.version` for this host (e.g. one Debian host in an EL cluster).
    #[serde(default)]
    pub docker: Option<DockerOverride>,
    #[serde(default)]
    pub ssh: SshSpec,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
}

/// A host or cluster name: an RFC 1123 DNS name in lower case, as Kubernetes requires for node names.
pub fn check_name(raw: &str) -> Result<(), String> {
    if is_dns_name(raw, false) {
        Ok(())
    } else {
        Err(format!(
            "{raw:?} is not a valid name: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)"
        ))
    }
}

/// An IP address or a DNS host name that a host is reached at.
pub fn check_address(raw: &str) -> Result<(), String> {
    // An all-numeric last label is a mistyped IP address, not a name (no top-level domain is numeric).
    let numeric_tld = raw.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if raw.parse::<IpAddr>().is_ok() || (is_dns_name(raw, true) && !numeric_tld) {
        Ok(())
    } else {
        Err(format!("{raw:?} is neither an IP address nor a DNS name"))
    }
}

pub fn check_port(port: u16) -> Result<(), String> {
    if port == 0 {
        Err("port 0 is out of range 1-65535".into())
    } else {
        Ok(())
    }
}

/// A pod network in CIDR notation, e.g. 20.96.0.0/12, with no host bits set.
pub fn parse_cidr(raw: &str) -> Result<IpNet, String> {
    let net: IpNet =
        raw.parse().map_err(|_| format!("{raw:?} is not a CIDR (expected ADDRESS/PREFIX, e.g. 20.96.0.0/12)"))?;
    if net.network() != net.addr() {
        return Err(format!("{raw:?} has host bits set (did you mean {}?)", net.trunc()));
    }
    Ok(net)
}

/// The Services' range: an IPv4 CIDR with room for the `kubernetes` and DNS Services (at most /28).
pub fn parse_service_cidr(raw: &str) -> Result<ipnet::Ipv4Net, String> {
    match parse_cidr(raw)? {
        IpNet::V4(net) if net.prefix_len() <= 28 => Ok(net),
        IpNet::V4(_) => Err(format!("{raw:?} is too small for Services (at most /28, e.g. 10.96.0.0/12)")),
        IpNet::V6(_) => Err(format!("{raw:?} is IPv6; Services here are IPv4 only (e.g. 10.96.0.0/12)")),
    }
}

/// `host:port` of the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

pub fn parse_endpoint(raw: &str) -> Result<Endpoint, String> {
    parse_endpoint_parts(raw).ok_or_else(|| format!("{raw:?} is not HOST:PORT (e.g. 192.168.0.30:6443)"))
}

fn parse_endpoint_parts(raw: &str) -> Option<Endpoint> {
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (host, rest) = rest.split_once(']')?;
        (host, rest.strip_prefix(':')?)
    } else {
        raw.rsplit_once(':')?
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    check_address(host).ok()?;
    Some(Endpoint { host: host.to_string(), port })
}

/// RFC 1123 names; `allow_upper` for addresses, where DNS is case-insensitive.
pub fn is_dns_name(s: &str, allow_upper: bool) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && bytes.iter().all(|b| {
                    b.is_ascii_digit()
                        || *b == b'-'
                        || b.is_ascii_lowercase()
                        || (allow_upper && b.is_ascii_uppercase())
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_ipv4_ipv6_and_names() {
        assert_eq!(parse_endpoint("192.168.0.30:6443"), Ok(Endpoint { host: "192.168.0.30".into(), port: 6443 }));
        assert_eq!(parse_endpoint("[fd00::1]:6443").map(|e| e.to_string()), Ok("[fd00::1]:6443".into()));
        assert_eq!(parse_endpoint("master.example:443").map(|e| e.port), Ok(443));
        assert!(parse_endpoint("192.168.0.30").is_err());
        assert!(parse_endpoint("192.168.0.30:0").is_err());
        assert!(parse_endpoint("bad_host:6443").is_err());
        assert!(check_address("300.1.1.1").is_err());
        assert!(parse_cidr("20.96.0.1/12").is_err());
    }

    #[test]
    fn dns_names_follow_rfc1123() {
        assert!(is_dns_name("k8s-master", false));
        assert!(is_dns_name("node1.lab", false));
        assert!(!is_dns_name("K8s", false));
        assert!(is_dns_name("K8s", true));
        assert!(!is_dns_name("-a", false));
        assert!(!is_dns_name("a..b", false));
        assert!(!is_dns_name("under_score", false));
    }
}
