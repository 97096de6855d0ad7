//! `kubeboot certs renew all|NAME…` (kubeadm's `certs renew`), and the API server's own renewal: each
//! certificate issued again by its authority with the same subject and SANs and a new key, for the
//! cluster's certificate lifetime, written in place atomically (the key first, so no certificate is ever
//! left beside another's key). The API server picks its new serving certificate up by itself.

use super::{describe, read, Authority, CertificateError, Holder, MasterCertificate};
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pki::{ClusterCa, Issued};
use crate::host::layout::{write_file, Layout};

/// What kubeadm says when it renews the certificate of this name.
pub fn purpose(name: &str) -> &'static str {
    match name {
        "admin.conf" => "certificate embedded in the kubeconfig file for the admin to use and for kubeboot itself",
        "agent.conf" => "certificate embedded in the kubeconfig file for this master's agent",
        "apiserver" => "certificate for serving the Kubernetes API",
        "apiserver-etcd-client" => "certificate the apiserver uses to access etcd",
        "etcd-peer" => "certificate for etcd nodes to communicate with each other",
        "etcd-server" => "certificate for serving etcd",
        _ => "certificate",
    }
}

/// The authority that signs `authority`'s certificates on this master, for `validity_seconds`.
fn signer(layout: &Layout, authority: Authority, validity_seconds: u64) -> Result<ClusterCa, CertificateError> {
    let (crt, key) = authority.files(layout);
    if !key.exists() {
        return Err(CertificateError::ExternallyManaged(authority.name().into()));
    }
    Ok(ClusterCa::load(&read(&crt)?, &read(&key)?)?.with_leaf_validity(validity_seconds))
}

/// Issue `certificate` again, in place.
pub fn renew(layout: &Layout, certificate: &MasterCertificate, validity_seconds: u64) -> Result<(), CertificateError> {
    let ca = signer(layout, certificate.authority, validity_seconds)?;
    let current = describe(&certificate.holder.certificate()?, certificate.holder.path())?;
    let orgs: Vec<&str> = current.organizations.iter().map(String::as_str).collect();
    let issued = match certificate.name {
        "apiserver" => ca.issue_serving(&current.common_name, &current.sans)?,
        "etcd-peer" | "etcd-server" => ca.issue_serving_and_client(&current.common_name, &current.sans)?,
        _ => ca.issue_client(&current.common_name, &orgs)?,
    };
    write(&certificate.holder, &issued)
}

fn write(holder: &Holder, issued: &Issued) -> Result<(), CertificateError> {
    match holder {
        Holder::Pair { crt, key } => issued
            .write(crt, key)
            .map_err(|(path, source)| CertificateError::Write { path: path.display().to_string(), source }),
        Holder::Kubeconfig(path) => {
            let kubeconfig = |source| CertificateError::Kubeconfig { path: path.display().to_string(), source };
            let mut config = Kubeconfig::parse(&read(path)?).map_err(kubeconfig)?;
            config.set_first_user_credentials(&issued.cert_pem, &issued.key_pem).map_err(kubeconfig)?;
            write_file(path, config.to_yaml().as_bytes(), 0o600)
                .map_err(|source| CertificateError::Write { path: path.display().to_string(), source })
        }
    }
}
