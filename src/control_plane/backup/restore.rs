//! A backup put back onto a master whose API server is stopped: the cluster's CA material it lacks, then
//! the store made to hold exactly the snapshot's keys. Into etcd when this master's server keeps its
//! objects there (etcd is the masters' shared truth, so one master restores for all); else into a new
//! redb file built beside the old one and renamed into place, the old kept as state.redb.before-restore:
//! a restore killed at any point leaves the old store or the new one, never half of one.

use std::path::{Path, PathBuf};

use super::{ca_pin, BackupError, CA_FILE};
use crate::control_plane::store::snapshot::{self, Snapshot};
use crate::control_plane::store::{RedbStore, Store, StoreError};
use crate::host::layout::{write_file, Layout, ServerSettings, SHARED_BY_MASTERS};

/// How far a restored redb store's revisions jump past every revision its clients may have seen (the
/// figure etcd's documentation gives Kubernetes for `etcdutl snapshot restore --bump-revision`).
pub const REVISION_BUMP: u64 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "the snapshot is from another cluster: its CA is {theirs}, this master's ({path}) is {ours}; restore it \
         onto that cluster's masters, or `kubeboot reset` this host first"
    )]
    OtherCluster { ours: String, theirs: String, path: String },
    #[error("the snapshot carries no cluster CA ({CA_FILE}): it is a bare store snapshot, not a kubeboot backup")]
    NoClusterCa,
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("{path}: {message}")]
    Settings { path: String, message: String },
    #[error("opening the store: {0} (is the API server still running? `systemctl stop kubeboot-server`)")]
    StoreBusy(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Backup(super::io(path)(source))
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub keys: usize,
    pub revision: u64,
    /// "etcd", or the redb file.
    pub into: String,
    /// The store the restore replaced, kept beside it.
    pub kept: Option<PathBuf>,
    /// CA files written (this master had none).
    pub files_written: Vec<String>,
}

/// The snapshot fits this master: it carries a CA, and the master has none or the same one.
pub fn check(layout: &Layout, snapshot: &Snapshot) -> Result<(), RestoreError> {
    let theirs = ca_pin(snapshot).ok_or(RestoreError::NoClusterCa)?;
    let path = layout.pki("ca.crt");
    let Ok(pem) = std::fs::read_to_string(&path) else { return Ok(()) };
    let ours = crate::bootstrap::pki::ca_pin_of_pem(&pem).unwrap_or_else(|e| format!("unreadable ({e})"));
    if ours != theirs {
        return Err(RestoreError::OtherCluster { ours, theirs, path: path.display().to_string() });
    }
    Ok(())
}

/// Restore `snapshot` onto this master (its server stopped). Settings are this master's own (server.yaml,
/// which `init` writes); the snapshot's are not applied.
pub fn restore(layout: &Layout, snapshot: &Snapshot) -> Result<Restored, RestoreError> {
    check(layout, snapshot)?;
    let files_written = write_missing_ca_files(layout, snapshot)?;
    let settings: Option<ServerSettings> = match std::fs::read_to_string(layout.settings()) {
        Ok(text) => Some(crate::yaml::from_str(&text).map_err(|e| RestoreError::Settings {
            path: layout.settings().display().to_string(),
            message: e.to_string(),
        })?),
        Err(_) => None,
    };
    let (into, kept) = match settings.and_then(|s| s.etcd) {
        Some(etcd) => {
            let store = crate::control_plane::store_backend::open(layout, Some(&etcd))?;
            snapshot::restore(snapshot, store.as_ref())?;
            ("etcd".to_string(), None)
        }
        None => (layout.store().display().to_string(), replace_redb_store(layout, snapshot)?),
    };
    Ok(Restored { keys: snapshot.entries.len(), revision: snapshot.revision, into, kept, files_written })
}

/// The CA, etcd CA (and their keys) of the snapshot that this master lacks; the ones it has stay.
fn write_missing_ca_files(layout: &Layout, snapshot: &Snapshot) -> Result<Vec<String>, RestoreError> {
    let mut written = Vec::new();
    for (name, bytes) in &snapshot.files {
        let Some((_, _, mode)) = SHARED_BY_MASTERS.iter().find(|(from, _, _)| from == name && from.starts_with("pki/"))
        else {
            continue;
        };
        let path = layout.config_dir.join(name);
        if path.exists() {
            continue;
        }
        if let Some(dir) = path.parent() {
            crate::host::layout::secure_data_dir(dir, None).map_err(io(dir))?;
        }
        write_file(&path, bytes, *mode).map_err(io(&path))?;
        written.push(name.clone());
    }
    Ok(written)
}

/// A new redb store holding the snapshot, its revisions moved past the old store's and the snapshot's,
/// renamed into place; the old one is kept as state.redb.before-restore.
fn replace_redb_store(layout: &Layout, snapshot: &Snapshot) -> Result<Option<PathBuf>, RestoreError> {
    let path = layout.store();
    crate::host::layout::secure_data_dir(&layout.data_dir, None).map_err(io(&layout.data_dir))?;
    let old_revision = if path.exists() {
        let old = RedbStore::open(&path).map_err(RestoreError::StoreBusy)?;
        old.revision()?
    } else {
        0
    };
    let staging = crate::host::layout::temp_beside(&path).map_err(io(&path))?;
    {
        let new = RedbStore::open(&staging)?;
        snapshot::restore(snapshot, &new)?;
        new.skip_revisions_to(old_revision.max(snapshot.revision) + REVISION_BUMP)?;
    }
    let kept = path.exists().then(|| path.with_extension("redb.before-restore"));
    if let Some(kept) = &kept {
        std::fs::rename(&path, kept).map_err(io(&path))?;
    }
    crate::host::layout::rename_into_place(&staging, &path).map_err(io(&path))?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::backup::take;

    fn cluster(dir: &Path, name: &str) -> (Layout, RedbStore) {
        let layout = Layout::new(&dir.join(format!("{name}-etc")), &dir.join(format!("{name}-var")));
        let (_, issued) = crate::bootstrap::pki::ClusterCa::generate(name).unwrap();
        issued.write(&layout.pki("ca.crt"), &layout.pki("ca.key")).unwrap();
        std::fs::create_dir_all(&layout.data_dir).unwrap();
        (layout.clone(), RedbStore::open(&layout.store()).unwrap())
    }

    #[test]
    fn a_wiped_master_gets_the_ca_and_every_key_and_its_revisions_jump_past_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, store) = cluster(dir.path(), "a");
        for i in 0..20 {
            store.create(&format!("/registry/pods/default/p{i}"), b"{}").unwrap();
        }
        let backup = take(&store, &layout).unwrap();
        drop(store);
        let wiped = Layout::new(&dir.path().join("w-etc"), &dir.path().join("w-var"));
        let restored = restore(&wiped, &backup).unwrap();
        assert_eq!(restored.files_written, ["pki/ca.crt", "pki/ca.key"]);
        assert!(restored.kept.is_none());
        assert_eq!(std::fs::read(wiped.pki("ca.key")).unwrap(), std::fs::read(layout.pki("ca.key")).unwrap());
        let store = RedbStore::open(&wiped.store()).unwrap();
        assert_eq!(store.list("/").unwrap().0.len(), 20);
        assert!(store.revision().unwrap() > REVISION_BUMP);
    }

    #[test]
    fn the_old_store_is_kept_and_a_snapshot_of_another_cluster_or_without_a_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, store) = cluster(dir.path(), "a");
        store.create("/registry/configmaps/default/before", b"{}").unwrap();
        let backup = take(&store, &layout).unwrap();
        store.create("/registry/configmaps/default/after", b"{}").unwrap();
        let busy = restore(&layout, &backup).unwrap_err();
        assert!(matches!(busy, RestoreError::StoreBusy(_)), "the running store is not replaced: {busy}");
        drop(store);
        let restored = restore(&layout, &backup).unwrap();
        assert_eq!(restored.kept, Some(layout.store().with_extension("redb.before-restore")));
        let keys: Vec<String> =
            RedbStore::open(&layout.store()).unwrap().list("/").unwrap().0.into_iter().map(|s| s.key).collect();
        assert_eq!(keys, ["/registry/configmaps/default/before"]);

        let (other, other_store) = cluster(dir.path(), "b");
        let foreign = take(&other_store, &other).unwrap();
        let refused = restore(&layout, &foreign).unwrap_err();
        assert!(matches!(refused, RestoreError::OtherCluster { .. }), "{refused}");
        let bare = snapshot::take(&other_store).unwrap();
        assert!(matches!(restore(&layout, &bare).unwrap_err(), RestoreError::NoClusterCa));
    }
}
