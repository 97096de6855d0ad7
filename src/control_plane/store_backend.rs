//! Which store a master uses: its own redb file when it is the only master, the shared etcd cluster when
//! its settings name one (several masters). Both give the same contract (store/mod.rs).

use std::sync::Arc;

use super::store::{
    EtcdConfig, EtcdStore, EtcdTls, RedbStore, Store, StoreError, DEFAULT_ETCD_PREFIX, ETCD_COMPACT_EVERY,
};
use crate::host::layout::{EtcdSettings, Layout};

/// The store `etcd` names (its TLS files from `layout`), or the master's redb file.
pub fn open(layout: &Layout, etcd: Option<&EtcdSettings>) -> Result<Arc<dyn Store>, StoreError> {
    match etcd {
        None => Ok(Arc::new(RedbStore::open(&layout.store())?)),
        Some(etcd) => Ok(Arc::new(EtcdStore::open(&etcd_config(layout, etcd)?)?)),
    }
}

/// How to reach `etcd`: over TLS with the layout's etcd CA and client certificate when its endpoints are
/// https (kubeadm's), plainly only for a local http etcd.
pub fn etcd_config(layout: &Layout, etcd: &EtcdSettings) -> Result<EtcdConfig, StoreError> {
    let tls = if etcd.endpoints.iter().any(|e| e.starts_with("https://")) { Some(client_tls(layout)?) } else { None };
    Ok(EtcdConfig {
        endpoints: etcd.endpoints.clone(),
        prefix: DEFAULT_ETCD_PREFIX.into(),
        tls,
        compact_every: ETCD_COMPACT_EVERY,
    })
}

/// The API server's etcd client credentials: the etcd CA and apiserver-etcd-client (kubeadm's files).
pub fn client_tls(layout: &Layout) -> Result<EtcdTls, StoreError> {
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(&path)
            .map_err(|e| StoreError::Backend(format!("{}: {e} (the etcd client credentials)", path.display())))
    };
    Ok(EtcdTls {
        ca: read(layout.etcd_ca())?,
        cert: read(layout.etcd_client_cert())?,
        key: read(layout.etcd_client_key())?,
    })
}
