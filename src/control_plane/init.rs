//! `kubeboot init` on the first master, like kubeadm's: the cluster CA and the API server's certificate, the
//! admin kubeconfig, the master's own node credentials, the server settings, and a bootstrap token. An
//! initialised master is left exactly as it is (its CA and keys are never replaced).

use std::path::Path;

use super::store::RedbStore;
use super::tokens;
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pki::{node_csr, ClusterCa, PkiError};
use crate::bootstrap::token::{BootstrapToken, TokenError};
use crate::host::layout::{write_file, Layout, ServerSettings};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    #[error("{path}: {message}")]
    Settings { path: String, message: String },
    #[error("{0} is missing: a further master needs the cluster's CA (`kubeboot up` delivers it; by hand: --certificate-key)")]
    NoClusterCa(String),
}

/// Which master is being set up.
#[derive(Debug, Clone, Copy)]
pub enum Founding {
    /// `init`: the cluster CA is made if missing, and a first bootstrap token (this lifetime; None: never
    /// expires).
    FirstMaster { token_ttl: Option<u64> },
    /// `join --control-plane`: the cluster's CA was delivered, and the store is the cluster's etcd.
    FurtherMaster,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io { path: path.display().to_string(), source }
}

pub struct InitOutcome {
    /// false when the master was already initialised (nothing was written).
    pub created: bool,
    /// The first bootstrap token, made only when the master was initialised now.
    pub token: Option<BootstrapToken>,
    pub pin: String,
    pub server_url: String,
}

/// Initialise (or find initialised) a master. `extra_sans` are names and addresses clients may use.
///
/// Each file is written only when missing, and server.yaml last: a run that died halfway is finished by
/// the next one with the same CA, and a master with server.yaml is left exactly as it is.
pub fn initialize(
    layout: &Layout,
    settings: &ServerSettings,
    node_name: &str,
    extra_sans: &[String],
    founding: Founding,
) -> Result<InitOutcome, InitError> {
    let created = !layout.settings().exists();
    let (ca_crt, ca_key) = (layout.pki("ca.crt"), layout.pki("ca.key"));
    let read = |p: &Path| std::fs::read_to_string(p).map_err(io(p));
    let ca = if ca_crt.exists() && ca_key.exists() {
        ClusterCa::load(&read(&ca_crt)?, &read(&ca_key)?)?.with_leaf_validity(settings.certificate_validity_seconds)
    } else if matches!(founding, Founding::FurtherMaster) {
        return Err(InitError::NoClusterCa(ca_key.display().to_string()));
    } else {
        let (ca, issued) = ClusterCa::generate(&settings.cluster_name)?;
        issued.write(&ca_crt, &ca_key).map_err(|(path, e)| io(&path)(e))?;
        ca.with_leaf_validity(settings.certificate_validity_seconds)
    };
    if created {
        write_missing_credentials(layout, settings, node_name, extra_sans, &ca)?;
    }
    let token = match (created, founding) {
        (true, Founding::FirstMaster { token_ttl }) => {
            crate::host::layout::secure_data_dir(&layout.data_dir, None).map_err(io(&layout.data_dir))?;
            let token = BootstrapToken::generate()?;
            let store: std::sync::Arc<dyn super::store::Store> = match &settings.etcd {
                Some(etcd) => super::store_backend::open(layout, Some(etcd))?,
                None => std::sync::Arc::new(first_store(layout)?),
            };
            tokens::create(store.as_ref(), &token, token_ttl)?;
            // This master's agent certificate, made above, has no record; one restored from a backup (the
            // renewals of the agent this host had before) would refuse it.
            super::node_credentials::forget(store.as_ref(), node_name)?;
            Some(token)
        }
        _ => None,
    };
    if created {
        write_file(&layout.settings(), crate::yaml::to_string(settings).as_bytes(), 0o644)
            .map_err(io(&layout.settings()))?;
    }
    let stored: ServerSettings = crate::yaml::from_str(&read(&layout.settings())?)
        .map_err(|e| InitError::Settings { path: layout.settings().display().to_string(), message: e.to_string() })?;
    Ok(InitOutcome { created, token, pin: ca.pin()?, server_url: stored.server_url() })
}

/// The serving certificate, admin.conf and the master's own agent.conf, each only if missing.
/// The store of a master whose init has not finished (no server.yaml yet, so no server has used it): the one
/// a killed init completed, or a new one built under a temp name and renamed into place, so that a kill
/// never leaves a half-made database behind (redb refuses one: "not a redb database"). One that does not
/// open is such a leftover of an older kubeboot, and is replaced.
fn first_store(layout: &Layout) -> Result<RedbStore, InitError> {
    let path = layout.store();
    if path.exists() {
        if let Ok(store) = RedbStore::open(&path) {
            return Ok(store);
        }
    }
    let staging = crate::host::layout::temp_beside(&path).map_err(io(&path))?;
    drop(RedbStore::open(&staging)?); // made, its tables committed durably, closed
    crate::host::layout::rename_into_place(&staging, &path).map_err(io(&path))?;
    Ok(RedbStore::open(&path)?)
}

fn write_missing_credentials(
    layout: &Layout,
    settings: &ServerSettings,
    node_name: &str,
    extra_sans: &[String],
    ca: &ClusterCa,
) -> Result<(), InitError> {
    let url = settings.server_url();
    if !layout.pki("apiserver.crt").exists() || !layout.pki("apiserver.key").exists() {
        let mut sans =
            vec![settings.advertise_address.clone(), node_name.to_string(), "127.0.0.1".into(), "localhost".into()];
        sans.extend(settings.endpoint_host());
        sans.extend(extra_sans.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        sans.retain(|s| seen.insert(s.clone()));
        let serving = ca.issue_serving("kubeboot-apiserver", &sans)?;
        serving.write(&layout.pki("apiserver.crt"), &layout.pki("apiserver.key")).map_err(|(path, e)| io(&path)(e))?;
    }
    if !layout.admin_conf().exists() {
        let admin = ca.issue_client("kubernetes-admin", &["system:masters"])?;
        let conf = Kubeconfig::with_user(
            &settings.cluster_name,
            &url,
            ca.cert_pem(),
            "kubernetes-admin",
            &admin.cert_pem,
            &admin.key_pem,
        );
        write_file(&layout.admin_conf(), conf.to_yaml().as_bytes(), 0o600).map_err(io(&layout.admin_conf()))?;
    }
    if !layout.agent_conf().exists() {
        // The master runs an agent too; its node certificate comes straight from the CA.
        let (csr, key) = node_csr(node_name)?;
        let cert = ca.sign_node_csr(&csr, node_name)?;
        let conf = Kubeconfig::with_user(
            &settings.cluster_name,
            &url,
            ca.cert_pem(),
            &format!("system:node:{node_name}"),
            &cert,
            &key,
        );
        write_file(&layout.agent_conf(), conf.to_yaml().as_bytes(), 0o600).map_err(io(&layout.agent_conf()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ServerSettings {
        ServerSettings {
            cluster_name: "t".into(),
            advertise_address: "127.0.0.1".into(),
            port: 6443,
            pod_network_cidr: "10.244.0.0/16".into(),
            pod_eviction_timeout_seconds: 300,
            service_cidr: "10.96.0.0/16".into(),
            etcd: None,
            control_plane_endpoint: None,
            certificate_validity_seconds: crate::host::layout::DEFAULT_CERTIFICATE_VALIDITY_SECONDS,
            snapshot_interval_seconds: 0,
            snapshot_retention: 5,
        }
    }

    #[test]
    fn an_init_killed_while_making_the_store_is_finished_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
        std::fs::create_dir_all(&layout.data_dir).unwrap();
        // What a kill inside redb's first write leaves: a store that is not a database yet, and a temp one.
        std::fs::write(layout.store(), b"redb").unwrap();
        std::fs::write(layout.data_dir.join(".state.redb.kubeboot-tmp.1.bcdfg"), b"half").unwrap();
        let outcome =
            initialize(&layout, &settings(), "m1", &[], Founding::FirstMaster { token_ttl: Some(60) }).unwrap();
        assert!(outcome.created && outcome.token.is_some());
        let store = RedbStore::open(&layout.store()).unwrap();
        assert_eq!(tokens::valid(&store).unwrap().len(), 1, "the new token is in the rebuilt store");
        let names: Vec<String> = std::fs::read_dir(&layout.data_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        assert_eq!(names, ["state.redb"], "no temp store left");
    }

    #[test]
    fn a_store_a_killed_init_completed_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
        std::fs::create_dir_all(&layout.data_dir).unwrap();
        let first = BootstrapToken::generate().unwrap();
        tokens::create(&RedbStore::open(&layout.store()).unwrap(), &first, Some(60)).unwrap();
        initialize(&layout, &settings(), "m1", &[], Founding::FirstMaster { token_ttl: Some(60) }).unwrap();
        let store = RedbStore::open(&layout.store()).unwrap();
        assert_eq!(tokens::valid(&store).unwrap().len(), 2, "the killed run's token and the new one");
    }

    #[test]
    fn a_control_plane_endpoint_is_in_the_certificate_and_the_kubeconfigs() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
        let settings = ServerSettings { control_plane_endpoint: Some("api.lab.example:6443".into()), ..settings() };
        let outcome = initialize(&layout, &settings, "m1", &[], Founding::FirstMaster { token_ttl: Some(60) }).unwrap();
        assert_eq!(outcome.server_url, "https://api.lab.example:6443");
        let admin = std::fs::read_to_string(layout.admin_conf()).unwrap();
        assert!(admin.contains("server: https://api.lab.example:6443"), "{admin}");
        let pem = std::fs::read_to_string(layout.pki("apiserver.crt")).unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&block.contents).unwrap();
        let sans = format!("{:?}", cert.subject_alternative_name().unwrap().unwrap().value.general_names);
        assert!(
            sans.contains("api.lab.example")
                && sans.contains("localhost")
                && sans.matches("[127, 0, 0, 1]").count() == 1,
            "{sans}"
        );
    }
}
