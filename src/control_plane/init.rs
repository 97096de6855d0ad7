//! `kubeboot init` on the first master, like kubeadm's: the cluster CA and the API server's certificate, the
//! admin kubeconfig, the master's own node credentials, the server settings, and a bootstrap token. An
//! initialised master is left exactly as it is (its CA and keys are never replaced).

use std::path::Path;

use super::layout::{write_file, Layout, ServerSettings};
use super::store::RedbStore;
use super::tokens;
use crate::bootstrap::kubeconfig::Kubeconfig;
use crate::bootstrap::pki::{node_csr, ClusterCa, PkiError};
use crate::bootstrap::token::{BootstrapToken, TokenError};

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
    token_ttl: Option<u64>,
) -> Result<InitOutcome, InitError> {
    let created = !layout.settings().exists();
    let (ca_crt, ca_key) = (layout.pki("ca.crt"), layout.pki("ca.key"));
    let read = |p: &Path| std::fs::read_to_string(p).map_err(io(p));
    let ca = if ca_crt.exists() && ca_key.exists() {
        ClusterCa::load(&read(&ca_crt)?, &read(&ca_key)?)?
    } else {
        let (ca, issued) = ClusterCa::generate(&settings.cluster_name)?;
        write_file(&ca_key, issued.key_pem.as_bytes(), 0o600).map_err(io(&ca_key))?;
        write_file(&ca_crt, issued.cert_pem.as_bytes(), 0o644).map_err(io(&ca_crt))?;
        ca
    };
    if created {
        write_missing_credentials(layout, settings, node_name, extra_sans, &ca)?;
    }
    let token = if created {
        super::layout::secure_data_dir(&layout.data_dir, None).map_err(io(&layout.data_dir))?;
        let store = RedbStore::open(&layout.store())?;
        let token = BootstrapToken::generate()?;
        tokens::create(&store, &token, token_ttl)?;
        write_file(&layout.settings(), crate::yaml::to_string(settings).as_bytes(), 0o644)
            .map_err(io(&layout.settings()))?;
        Some(token)
    } else {
        None
    };
    let stored: ServerSettings = crate::yaml::from_str(&read(&layout.settings())?)
        .map_err(|e| InitError::Settings { path: layout.settings().display().to_string(), message: e.to_string() })?;
    Ok(InitOutcome { created, token, pin: ca.pin()?, server_url: stored.server_url() })
}

/// The serving certificate, admin.conf and the master's own agent.conf, each only if missing.
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
        sans.extend(extra_sans.iter().cloned());
        sans.dedup();
        let serving = ca.issue_serving("kubeboot-apiserver", &sans)?;
        let key = layout.pki("apiserver.key");
        write_file(&key, serving.key_pem.as_bytes(), 0o600).map_err(io(&key))?;
        let crt = layout.pki("apiserver.crt");
        write_file(&crt, serving.cert_pem.as_bytes(), 0o644).map_err(io(&crt))?;
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
