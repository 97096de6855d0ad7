//! `kubeboot kubeconfig -i INV`: the admin kubeconfig, read from the first master over SSH.

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
    let master = inventory.masters().next().expect("validated: an inventory has a master");
    let session = SshSession::connect(&master.ssh).await?;
    let conf = session.read(super::probe::ADMIN_CONF).await;
    session.close().await;
    conf?.ok_or_else(|| KubeconfigFetchError::NotInitialised { host: master.name.clone() })
}
