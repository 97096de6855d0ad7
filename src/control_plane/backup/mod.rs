//! Backups of a cluster: the store's snapshot at one revision with the files every master shares (the
//! cluster's CA and etcd CA and its settings, SHARED_BY_MASTERS), taken by a running API server into
//! <data dir>/snapshots, 0600: on demand (`kubeboot backup`, `kubeboot snapshot save`) and on a schedule
//! (schedule.rs); restore.rs puts one back onto a master.

pub mod restore;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::store::snapshot::{self, Snapshot, SnapshotError};
use super::store::{Store, StoreError};
use crate::host::layout::{write_file, Layout, SHARED_BY_MASTERS};

/// The folder under the data dir the snapshots are written to.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// The file a backup's cluster CA certificate is carried as.
pub const CA_FILE: &str = "pki/ca.crt";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.display().to_string(), source }
}

/// Where a master keeps its snapshots and how many of each kind.
#[derive(Debug, Clone)]
pub struct SnapshotPlace {
    pub layout: Layout,
    pub node_name: String,
    /// Snapshots of one kind kept (the oldest beyond go); at least 1.
    pub retention: usize,
}

impl SnapshotPlace {
    pub fn dir(&self) -> PathBuf {
        self.layout.data_dir.join(SNAPSHOT_DIR)
    }
}

/// Why a snapshot was taken: its file name starts with this (k3s's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    Scheduled,
    OnDemand,
}

impl SnapshotKind {
    fn prefix(self) -> &'static str {
        match self {
            SnapshotKind::Scheduled => "etcd-snapshot",
            SnapshotKind::OnDemand => "on-demand",
        }
    }
}

/// A snapshot written: where, at which revision, how big, how long it took.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub path: String,
    pub revision: u64,
    pub keys: usize,
    pub bytes: u64,
    pub took_ms: u64,
}

/// The store at one revision and the shared files this master has (a one-master cluster has no etcd CA).
pub fn take(store: &dyn Store, layout: &Layout) -> Result<Snapshot, BackupError> {
    let mut taken = snapshot::take(store)?;
    for (from, _, _) in SHARED_BY_MASTERS {
        let path = layout.config_dir.join(from);
        match std::fs::read(&path) {
            Ok(bytes) => taken.files.push((from.to_string(), bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(taken)
}

/// Take a snapshot into the place's folder (written whole under a temp name, then renamed), then drop
/// the oldest of its kind beyond the retention.
pub fn save(store: &dyn Store, place: &SnapshotPlace, kind: SnapshotKind) -> Result<Saved, BackupError> {
    let started = Instant::now();
    let taken = take(store, &place.layout)?;
    let mut bytes = Vec::new();
    snapshot::write(&taken, &mut bytes)?;
    let dir = place.dir();
    crate::host::layout::secure_data_dir(&dir, None).map_err(io(&dir))?;
    // Named by the millisecond taken; two in one millisecond (on-demand ones) take the next free one.
    let now = time::OffsetDateTime::now_utc();
    let mut stamp = now.unix_timestamp() as u128 * 1000 + now.millisecond() as u128;
    let name = |stamp: u128| dir.join(format!("{}-{}-{stamp}", kind.prefix(), place.node_name));
    while name(stamp).exists() {
        stamp += 1;
    }
    let path = name(stamp);
    write_file(&path, &bytes, 0o600).map_err(io(&path))?;
    prune(&dir, &format!("{}-{}-", kind.prefix(), place.node_name), place.retention.max(1))?;
    Ok(Saved {
        path: path.display().to_string(),
        revision: taken.revision,
        keys: taken.entries.len(),
        bytes: bytes.len() as u64,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

/// Keep the `keep` newest files whose names start with `prefix` (their names end in the time taken).
fn prune(dir: &Path, prefix: &str, keep: usize) -> Result<(), BackupError> {
    let mut taken: Vec<(u128, PathBuf)> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stamp = name.strip_prefix(prefix)?.parse().ok()?;
            Some((stamp, entry.path()))
        })
        .collect();
    taken.sort();
    let excess = taken.len().saturating_sub(keep);
    for (_, path) in taken.into_iter().take(excess) {
        std::fs::remove_file(&path).map_err(io(&path))?;
    }
    Ok(())
}

/// The pin of the cluster CA a snapshot carries (None: no CA in it, a bare store snapshot).
pub fn ca_pin(snapshot: &Snapshot) -> Option<String> {
    let (_, pem) = snapshot.files.iter().find(|(name, _)| name == CA_FILE)?;
    crate::bootstrap::pki::ca_pin_of_pem(std::str::from_utf8(pem).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn a_saved_snapshot_carries_the_shared_files_and_the_oldest_beyond_the_retention_go() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
        let (ca, issued) = crate::bootstrap::pki::ClusterCa::generate("t").unwrap();
        issued.write(&layout.pki("ca.crt"), &layout.pki("ca.key")).unwrap();
        std::fs::write(layout.settings(), "cluster_name: t\n").unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        store.create("/registry/configmaps/default/a", b"{}").unwrap();
        let place = SnapshotPlace { layout: layout.clone(), node_name: "m1".into(), retention: 2 };
        let saved: Vec<Saved> = (0..3).map(|_| save(&store, &place, SnapshotKind::Scheduled).unwrap()).collect();
        save(&store, &place, SnapshotKind::OnDemand).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(place.dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        names.sort();
        assert_eq!(names.len(), 3, "two scheduled kept, the on-demand one beside them: {names:?}");
        assert!(!Path::new(&saved[0].path).exists() && Path::new(&saved[2].path).exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved[2].path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let read = snapshot::read(std::fs::File::open(&saved[2].path).unwrap()).unwrap();
        assert_eq!(read.entries, vec![("/registry/configmaps/default/a".to_string(), b"{}".to_vec())]);
        let names: Vec<&str> = read.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["pki/ca.crt", "pki/ca.key", "server.yaml"]);
        assert_eq!(ca_pin(&read), Some(ca.pin().unwrap()));
    }
}
