//! A master's certificates, as `kubeboot certs` sees them (kubeadm's `certs check-expiration` and
//! `certs renew`): each one's name, where it is kept (a certificate and key pair, or embedded in a
//! kubeconfig), and the authority that signs it. Only those present on this master are listed: the etcd
//! ones exist where the master runs an etcd member.

pub mod expiration;
pub mod renew;

use std::path::PathBuf;

use x509_parser::extensions::GeneralName;

use crate::bootstrap::kubeconfig::{Kubeconfig, KubeconfigError};
use crate::host::layout::Layout;

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Kubeconfig { path: String, source: KubeconfigError },
    #[error("{path}: not a PEM certificate: {message}")]
    Parse { path: String, message: String },
    #[error(transparent)]
    Pki(#[from] crate::bootstrap::pki::PkiError),
    #[error("no certificate named {0:?} on this master (known: {1})")]
    Unknown(String, String),
    #[error("{0}: the authority's key is not on this master (externally managed): it cannot be renewed here")]
    ExternallyManaged(String),
}

/// Who signs a certificate: the cluster CA or the etcd CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Cluster,
    Etcd,
}

impl Authority {
    /// kubeadm's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Authority::Cluster => "ca",
            Authority::Etcd => "etcd-ca",
        }
    }

    pub fn files(self, layout: &Layout) -> (PathBuf, PathBuf) {
        match self {
            Authority::Cluster => (layout.pki("ca.crt"), layout.pki("ca.key")),
            Authority::Etcd => (layout.etcd_ca(), layout.pki("etcd/ca.key")),
        }
    }
}

/// Where a certificate is kept.
#[derive(Debug, Clone)]
pub enum Holder {
    Pair {
        crt: PathBuf,
        key: PathBuf,
    },
    /// Embedded in a kubeconfig as its first user's credentials.
    Kubeconfig(PathBuf),
}

impl Holder {
    pub fn path(&self) -> &PathBuf {
        match self {
            Holder::Pair { crt, .. } => crt,
            Holder::Kubeconfig(path) => path,
        }
    }

    /// The certificate (PEM) it holds.
    pub fn certificate(&self) -> Result<String, CertificateError> {
        let path = self.path();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CertificateError::Read { path: path.display().to_string(), message: e.to_string() })?;
        match self {
            Holder::Pair { .. } => Ok(text),
            Holder::Kubeconfig(_) => {
                let kubeconfig = |source| CertificateError::Kubeconfig { path: path.display().to_string(), source };
                Ok(Kubeconfig::parse(&text).and_then(|k| k.first_user_credentials()).map_err(kubeconfig)?.0)
            }
        }
    }
}

/// One of a master's certificates.
#[derive(Debug, Clone)]
pub struct MasterCertificate {
    pub name: &'static str,
    pub holder: Holder,
    pub authority: Authority,
}

/// The certificates of the master at `layout`, in kubeadm's order (by name), those present only.
pub fn of(layout: &Layout) -> Vec<MasterCertificate> {
    let pair = |crt: PathBuf, key: PathBuf| Holder::Pair { crt, key };
    let all = [
        ("admin.conf", Holder::Kubeconfig(layout.admin_conf()), Authority::Cluster),
        ("agent.conf", Holder::Kubeconfig(layout.agent_conf()), Authority::Cluster),
        ("apiserver", pair(layout.pki("apiserver.crt"), layout.pki("apiserver.key")), Authority::Cluster),
        ("apiserver-etcd-client", pair(layout.etcd_client_cert(), layout.etcd_client_key()), Authority::Etcd),
        ("etcd-peer", pair(layout.pki("etcd/peer.crt"), layout.pki("etcd/peer.key")), Authority::Etcd),
        ("etcd-server", pair(layout.pki("etcd/server.crt"), layout.pki("etcd/server.key")), Authority::Etcd),
    ];
    all.into_iter()
        .filter(|(_, holder, _)| holder.path().exists())
        .map(|(name, holder, authority)| MasterCertificate { name, holder, authority })
        .collect()
}

/// What renewal keeps of a certificate and what expiry reads: its subject, SANs, lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub sans: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
}

pub fn describe(pem: &str, path: &std::path::Path) -> Result<Described, CertificateError> {
    let parse = |message: String| CertificateError::Parse { path: path.display().to_string(), message };
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| parse(e.to_string()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&block.contents).map_err(|e| parse(e.to_string()))?;
    let text = |a: &x509_parser::x509::AttributeTypeAndValue| a.as_str().ok().map(String::from);
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    GeneralName::IPAddress(b) if b.len() == 4 => {
                        Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string())
                    }
                    GeneralName::IPAddress(b) if b.len() == 16 => {
                        <[u8; 16]>::try_from(*b).ok().map(|o| std::net::Ipv6Addr::from(o).to_string())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let common_name = cert.subject().iter_common_name().next().and_then(text).unwrap_or_default();
    let organizations = cert.subject().iter_organization().filter_map(text).collect();
    let (not_before, not_after) = (cert.validity().not_before.timestamp(), cert.validity().not_after.timestamp());
    Ok(Described { common_name, organizations, sans, not_before, not_after })
}
