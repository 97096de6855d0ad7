//! A master's certificates, as `kubeboot certs` sees them (kubeadm's `certs check-expiration` and
//! `certs renew`): each one's name, where it is kept (a certificate and key pair, or embedded in a
//! kubeconfig), and the authority that signs it. Only those present on this master are listed: the etcd
//! ones exist where the master runs an etcd member.

pub mod expiration;
pub mod renew;

use std::path::PathBuf;

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
        let text = read(path)?;
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

/// A file of the master's PKI (a certificate, a key, a kubeconfig).
pub fn read(path: &std::path::Path) -> Result<String, CertificateError> {
    std::fs::read_to_string(path)
        .map_err(|e| CertificateError::Read { path: path.display().to_string(), message: e.to_string() })
}

pub use crate::bootstrap::certificate_lifetime::Described;

/// `certificate_lifetime::describe`, the error naming the file the certificate came from.
pub fn describe(pem: &str, path: &std::path::Path) -> Result<Described, CertificateError> {
    crate::bootstrap::certificate_lifetime::describe(pem)
        .map_err(|message| CertificateError::Parse { path: path.display().to_string(), message })
}
