//! The etcd cluster's PKI, in kubeadm's layout under the config folder: its own CA (pki/etcd/ca.*, CN
//! etcd-ca, apart from the cluster CA so that no Kubernetes client certificate opens etcd), each member's
//! server and peer certificates (pki/etcd/server.*, peer.*: the member's name and address, localhost and
//! loopback; serving and client use, as etcd's peers are both), and the API server's client certificate
//! (pki/apiserver-etcd-client.*), the only client etcd accepts. Each file is written only when missing,
//! keys 0600.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::pki::{ClusterCa, Issued, PkiError};
use crate::host::layout::Layout;

#[derive(Debug, thiserror::Error)]
pub enum EtcdPkiError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Pki(#[from] PkiError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EtcdPkiError + '_ {
    move |source| EtcdPkiError::Io { path: path.display().to_string(), source }
}

/// The etcd files of a layout.
#[derive(Debug, Clone)]
pub struct EtcdPkiPaths {
    pub ca_crt: PathBuf,
    pub ca_key: PathBuf,
    pub server_crt: PathBuf,
    pub server_key: PathBuf,
    pub peer_crt: PathBuf,
    pub peer_key: PathBuf,
    pub client_crt: PathBuf,
    pub client_key: PathBuf,
}

impl EtcdPkiPaths {
    pub fn of(layout: &Layout) -> Self {
        EtcdPkiPaths {
            ca_crt: layout.etcd_ca(),
            ca_key: layout.pki("etcd/ca.key"),
            server_crt: layout.pki("etcd/server.crt"),
            server_key: layout.pki("etcd/server.key"),
            peer_crt: layout.pki("etcd/peer.crt"),
            peer_key: layout.pki("etcd/peer.key"),
            client_crt: layout.etcd_client_cert(),
            client_key: layout.etcd_client_key(),
        }
    }
}

fn read(path: &Path) -> Result<String, EtcdPkiError> {
    std::fs::read_to_string(path).map_err(io(path))
}

fn write_pair(crt: &Path, key: &Path, issued: &Issued) -> Result<(), EtcdPkiError> {
    issued.write(crt, key).map_err(|(path, e)| io(&path)(e))
}

/// The etcd CA of `layout`, made when missing (on the first master; the others receive it).
pub fn ensure_ca(layout: &Layout) -> Result<ClusterCa, EtcdPkiError> {
    let paths = EtcdPkiPaths::of(layout);
    if paths.ca_crt.exists() && paths.ca_key.exists() {
        return Ok(ClusterCa::load(&read(&paths.ca_crt)?, &read(&paths.ca_key)?)?);
    }
    let (ca, issued) = ClusterCa::generate_named("etcd-ca")?;
    write_pair(&paths.ca_crt, &paths.ca_key, &issued)?;
    Ok(ca)
}

/// This master's member certificates (server and peer, for `name` at `address`) and the API server's
/// client certificate, each made when missing.
pub fn ensure_master_certificates(
    layout: &Layout,
    ca: &ClusterCa,
    name: &str,
    address: IpAddr,
) -> Result<(), EtcdPkiError> {
    let paths = EtcdPkiPaths::of(layout);
    let sans: Vec<String> =
        vec![name.into(), "localhost".into(), address.to_string(), "127.0.0.1".into(), "::1".into()];
    for (crt, key) in [(&paths.server_crt, &paths.server_key), (&paths.peer_crt, &paths.peer_key)] {
        if !crt.exists() || !key.exists() {
            write_pair(crt, key, &ca.issue_serving_and_client(name, &sans)?)?;
        }
    }
    if !paths.client_crt.exists() || !paths.client_key.exists() {
        let client = ca.issue_client("kube-apiserver-etcd-client", &[])?;
        write_pair(&paths.client_crt, &paths.client_key, &client)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_in_kubeadms_places_keys_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
        let ca = ensure_ca(&layout).unwrap();
        ensure_master_certificates(&layout, &ca, "m1", "10.88.0.11".parse().unwrap()).unwrap();
        let paths = EtcdPkiPaths::of(&layout);
        let server = read(&paths.server_crt).unwrap();
        let (cn, _, signed) = crate::bootstrap::pki::describe(&server, ca.cert_pem()).unwrap();
        assert_eq!(cn, "m1");
        assert!(signed, "signed by the etcd CA");
        for key in [&paths.ca_key, &paths.server_key, &paths.peer_key, &paths.client_key] {
            assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600, "{}", key.display());
        }
        // Again: nothing is replaced, the same CA is loaded.
        let again = ensure_ca(&layout).unwrap();
        ensure_master_certificates(&layout, &again, "m1", "10.88.0.11".parse().unwrap()).unwrap();
        assert_eq!(read(&paths.server_crt).unwrap(), server);
        assert_eq!(again.cert_pem(), ca.cert_pem());
    }
}
