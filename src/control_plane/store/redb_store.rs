//! The embedded store on redb: one file, ACID transactions, each commit durable before it returns — so an
//! acknowledged write survives a crash (kill -9) of the server.
//!
//! A write that fails on the disk (full, an I/O error) leaves redb refusing every later write until the
//! database is opened again, so the store reopens it at once: the failed write is answered (NoSpace for a
//! full disk, the API's 507), reads go on, and writes work again as soon as there is room — no restart.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Store, StoreError, Stored};

/// key -> (revision, serialized object)
const OBJECTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("objects");
/// "revision" -> the last revision handed out
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";

pub struct RedbStore {
    path: PathBuf,
    /// None only while a reopen after a failure has not succeeded yet.
    db: RwLock<Option<Database>>,
}

/// A redb error as the store reports it: a full disk apart from everything else.
fn backend(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) =>
        {
            StoreError::NoSpace(io.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

/// The store holds bootstrap-token secrets and every Secret: its file is 0600 before redb writes a byte to
/// it (a run killed right after creating it leaves nothing readable), and made so again at every open.
fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path);
    file.and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))
}

/// redb's page cache ceiling. Its default (1 GiB) is a ceiling, not a reservation, but pages a write-heavy
/// server touched stay cached under it: a cluster's store is a few MiB to a few hundred, and its hot pages
/// (the B-tree's interior, recent objects) fit in far less.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

fn open_database(path: &Path) -> Result<Database, StoreError> {
    private_file(path)?;
    let db = redb::Builder::new().set_cache_size(CACHE_BYTES).create(path).map_err(backend)?;
    // Create the tables once so readers never meet a missing table.
    let txn = db.begin_write().map_err(backend)?;
    txn.open_table(OBJECTS).map_err(backend)?;
    txn.open_table(META).map_err(backend)?;
    txn.commit().map_err(backend)?;
    Ok(db)
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(RedbStore { path: path.to_path_buf(), db: RwLock::new(Some(open_database(path)?)) })
    }

    /// Run `f` on the open database (reopening it first if a reopen failed before).
    fn with_db<T>(&self, f: impl FnOnce(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        {
            let guard = self.db.read().expect("not poisoned");
            if let Some(db) = guard.as_ref() {
                return f(db);
            }
        }
        self.reopen()?;
        let guard = self.db.read().expect("not poisoned");
        f(guard.as_ref().ok_or_else(|| StoreError::Backend("the store is closed".into()))?)
    }

    /// Close and open the database again (redb's way out of a failed write).
    fn reopen(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().expect("not poisoned");
        guard.take();
        let db = open_database(&self.path)?;
        *guard = Some(db);
        Ok(())
    }

    /// One write transaction: `change` sees the current entry and says what to store (None = delete); the
    /// revision is bumped and committed with it. A failure of the disk reopens the database.
    fn write<T>(
        &self,
        key: &str,
        change: impl FnOnce(Option<(u64, Vec<u8>)>) -> Result<(Option<Vec<u8>>, T), StoreError>,
    ) -> Result<(u64, T), StoreError> {
        let mut refused = false;
        let result = self.with_db(|db| {
            let txn = db.begin_write().map_err(backend)?;
            let result = {
                let mut objects = txn.open_table(OBJECTS).map_err(backend)?;
                let mut meta = txn.open_table(META).map_err(backend)?;
                let current = objects.get(key).map_err(backend)?.map(|v| {
                    let (rev, bytes) = v.value();
                    (rev, bytes.to_vec())
                });
                let (next_value, out) = change(current).inspect_err(|_| refused = true)?;
                let revision = meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0) + 1;
                meta.insert(REVISION, revision).map_err(backend)?;
                match next_value {
                    Some(bytes) => {
                        objects.insert(key, (revision, bytes.as_slice())).map_err(backend)?;
                    }
                    None => {
                        objects.remove(key).map_err(backend)?;
                    }
                }
                (revision, out)
            };
            txn.commit().map_err(backend)?;
            Ok(result)
        });
        if result.is_err() && !refused {
            if let Err(e) = self.reopen() {
                eprintln!("kubeboot server: reopening the store after a failed write: {e}");
            }
        }
        result
    }
}

fn check(key: &str, expected: Option<u64>, actual: u64) -> Result<(), StoreError> {
    match expected {
        Some(e) if e != actual => Err(StoreError::Conflict { key: key.into(), expected: e, actual }),
        _ => Ok(()),
    }
}

impl Store for RedbStore {
    fn get(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(backend)?;
            let objects = txn.open_table(OBJECTS).map_err(backend)?;
            Ok(objects.get(key).map_err(backend)?.map(|v| {
                let (revision, bytes) = v.value();
                Stored { key: key.into(), value: bytes.to_vec(), revision }
            }))
        })
    }

    fn list(&self, prefix: &str) -> Result<(Vec<Stored>, u64), StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(backend)?;
            let objects = txn.open_table(OBJECTS).map_err(backend)?;
            let meta = txn.open_table(META).map_err(backend)?;
            let mut out = Vec::new();
            for entry in objects.range(prefix..).map_err(backend)? {
                let (k, v) = entry.map_err(backend)?;
                let key = k.value();
                if !key.starts_with(prefix) {
                    break;
                }
                let (revision, bytes) = v.value();
                out.push(Stored { key: key.to_string(), value: bytes.to_vec(), revision });
            }
            let revision = meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0);
            Ok((out, revision))
        })
    }

    fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        let (rev, ()) = self.write(key, |current| match current {
            Some(_) => Err(StoreError::AlreadyExists(key.into())),
            None => Ok((Some(value.to_vec()), ())),
        })?;
        Ok(rev)
    }

    fn update(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        let (rev, ()) = self.write(key, |current| {
            let (actual, _) = current.ok_or_else(|| StoreError::NotFound(key.into()))?;
            check(key, expected, actual)?;
            Ok((Some(value.to_vec()), ()))
        })?;
        Ok(rev)
    }

    fn delete(&self, key: &str, expected: Option<u64>) -> Result<Stored, StoreError> {
        let (revision, value) = self.write(key, |current| {
            let (actual, bytes) = current.ok_or_else(|| StoreError::NotFound(key.into()))?;
            check(key, expected, actual)?;
            Ok((None, bytes))
        })?;
        Ok(Stored { key: key.into(), value, revision })
    }

    fn revision(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(backend)?;
            let meta = txn.open_table(META).map_err(backend)?;
            Ok(meta.get(REVISION).map_err(backend)?.map(|v| v.value()).unwrap_or(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_private_from_its_creation_and_at_every_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(RedbStore::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600, "a new store");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600, "an older kubeboot's 0644 store");
        store.create("/k", b"{}").unwrap();
    }

    #[test]
    fn crud_with_revisions_conflicts_and_prefix_lists() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("state.redb")).unwrap();
        assert_eq!(store.revision().unwrap(), 0);
        let r1 = store.create("/nodes/a", b"{\"a\":1}").unwrap();
        let r2 = store.create("/nodes/b", b"{}").unwrap();
        store.create("/pods/default/web", b"{}").unwrap();
        assert_eq!((r1, r2), (1, 2));
        assert_eq!(store.create("/nodes/a", b"x"), Err(StoreError::AlreadyExists("/nodes/a".into())));

        let (nodes, rev) = store.list("/nodes/").unwrap();
        assert_eq!(nodes.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), ["/nodes/a", "/nodes/b"]);
        assert_eq!(rev, 3);

        assert_eq!(
            store.update("/nodes/a", b"new", Some(2)),
            Err(StoreError::Conflict { key: "/nodes/a".into(), expected: 2, actual: 1 })
        );
        let r4 = store.update("/nodes/a", b"new", Some(1)).unwrap();
        assert_eq!(
            store.get("/nodes/a").unwrap().unwrap(),
            Stored { key: "/nodes/a".into(), value: b"new".to_vec(), revision: r4 }
        );
        assert_eq!(store.update("/nodes/zz", b"x", None), Err(StoreError::NotFound("/nodes/zz".into())));

        let old = store.delete("/nodes/b", None).unwrap();
        assert_eq!((old.value.as_slice(), old.revision), (&b"{}"[..], 5), "the last value, at the deletion's revision");
        assert_eq!(store.get("/nodes/b").unwrap(), None);
        assert_eq!(store.revision().unwrap(), 5, "deletes advance the revision too");
    }

    #[test]
    fn committed_writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            for i in 0..100 {
                store.create(&format!("/nodes/n{i:03}"), b"{}").unwrap();
            }
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.list("/nodes/").unwrap().0.len(), 100);
        assert_eq!(store.revision().unwrap(), 100);
    }
}
