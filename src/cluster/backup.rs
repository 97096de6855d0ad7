//! `kubeboot backup -i`: the first master whose API server takes a snapshot (inventory order; a dead one
//! is passed over) and the snapshot copied here over the same SSH session, its checksum verified.

use serde_json::Value;

use super::remote;
use crate::control_plane::store::snapshot::{self, Snapshot};
use crate::inventory::Inventory;
use crate::transport::{SshSession, Transport};

/// A snapshot copied from a master.
pub struct Fetched {
    pub master: String,
    /// The file as the master wrote it (what is saved here, byte for byte).
    pub bytes: Vec<u8>,
    pub snapshot: Snapshot,
    /// Where the master keeps its copy, and the time it took (backup::Saved as JSON).
    pub saved: Value,
}

#[derive(Debug, thiserror::Error)]
#[error("no master could take a snapshot: {0}")]
pub struct BackupFetchError(String);

pub async fn fetch(inventory: &Inventory) -> Result<Fetched, BackupFetchError> {
    let mut failures = Vec::new();
    for master in inventory.masters() {
        match fetch_from(master).await {
            Ok(fetched) => return Ok(fetched),
            Err(why) => failures.push(format!("{}: {why}", master.name)),
        }
    }
    Err(BackupFetchError(failures.join("; ")))
}

async fn fetch_from(master: &crate::inventory::Host) -> Result<Fetched, String> {
    let session = SshSession::connect(&master.ssh).await.map_err(|e| e.to_string())?;
    let fetched = async {
        let out = session.exec(&remote::snapshot_save()).await.map_err(|e| e.to_string())?;
        if !out.success() {
            return Err(out.failure_summary());
        }
        let saved: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("snapshot save printed: {e}"))?;
        let path = saved["path"].as_str().ok_or("snapshot save named no file")?.to_string();
        let bytes = session.read(&path).await.map_err(|e| e.to_string())?.ok_or(format!("{path} is gone"))?;
        let snapshot = snapshot::read(bytes.as_slice()).map_err(|e| format!("{path} as copied: {e}"))?;
        Ok(Fetched { master: master.name.clone(), bytes, snapshot, saved })
    }
    .await;
    session.close().await;
    fetched
}
