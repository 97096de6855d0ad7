//! `kubeboot kubeconfig -i INV`: the admin kubeconfig, read over SSH from a master whose API server
//! answers (each master's admin.conf names that master, or the inventory's control_plane_endpoint), the
//! first in the inventory's order; with several masters a dead first one is passed over.

use super::probe::ADMIN_CONF;
use crate::inventory::Inventory;
use crate::transport::{SshSession, Transport};

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigFetchError {
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error("{host}: /etc/kubeboot/admin.conf does not exist: the cluster is not initialised (run `kubeboot up`)")]
    NotInitialised { host: String },
}

pub async fn fetch_admin_conf(inventory: &Inventory) -> Result<Vec<u8>, KubeconfigFetchError> {
    let masters: Vec<_> = inventory.masters().collect();
    let sessions = futures::future::join_all(masters.iter().map(|m| SshSession::connect(&m.ssh))).await;
    let mut first_failure = None;
    let mut fallback = None;
    for (master, session) in masters.iter().zip(sessions) {
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                first_failure.get_or_insert(KubeconfigFetchError::from(e));
                continue;
            }
        };
        let conf = session.read(ADMIN_CONF).await;
        let answers = super::remote::api_answers(&session).await;
        session.close().await;
        match conf {
            Ok(Some(conf)) if answers => return Ok(conf),
            Ok(Some(conf)) => {
                fallback.get_or_insert(conf);
            }
            Ok(None) => {
                first_failure.get_or_insert(KubeconfigFetchError::NotInitialised { host: master.name.clone() });
            }
            Err(e) => {
                first_failure.get_or_insert(e.into());
            }
        }
    }
    match (fallback, first_failure) {
        // No master's server answers now: the first kubeconfig found is still the cluster's.
        (Some(conf), _) => Ok(conf),
        (None, Some(e)) => Err(e),
        (None, None) => unreachable!("validated: an inventory has a master"),
    }
}
