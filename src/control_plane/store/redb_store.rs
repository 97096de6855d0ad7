//! The embedded store on redb: one file, ACID transactions, each commit durable before it returns — so an
//! acknowledged write survives a crash (kill -9) of the server.
//!
//! Every change is also written, in the same transaction, to a history table (revision -> kind, key,
//! value) that keeps the last HISTORY_KEPT revisions: a watch resumes from any of them, across server
//! restarts too, and an older one is Gone (410), as after etcd's compaction.
//!
//! Writes that arrive while a commit is under way are committed together in the next transaction, one
//! fsync for all of them (group commit): each still gets its own revision, its own precondition check and
//! its own answer, and none is answered before its commit is durable.
//!
//! A write that fails on the disk (full, an I/O error) leaves redb refusing every later write until the
//! database is opened again, so the store reopens it at once: the failed write is answered (NoSpace for a
//! full disk, the API's 507), reads go on, and writes work again as soon as there is room — no restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::broadcast;

use super::{Event, EventKind, Gone, Op, Store, StoreError, Stored, Subscription, Txn};

/// key -> (revision, serialized object)
const OBJECTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("objects");
/// "revision" -> the last revision handed out; "compacted" -> the history holds every revision above it
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";
const COMPACTED: &str = "compacted";
/// revision -> (kind code, key, value): the changes a watch resumes from.
const HISTORY: TableDefinition<u64, (u8, &str, &[u8])> = TableDefinition::new("history");

/// Revisions the history keeps (1000 heartbeating nodes write ~100 a second: a minute and a half of them;
/// a small cluster's days). Older ones are dropped a batch at a time as writes go on.
pub const HISTORY_KEPT: u64 = 10_000;
/// The history is trimmed every this many revisions, in the write that reaches it.
const TRIM_EVERY: u64 = 256;
/// How far a live watcher may fall behind before it is told to watch again from where it was.
const LIVE_BUFFER: usize = 1024;

type Reply = std::sync::mpsc::SyncSender<Result<Vec<Arc<Event>>, StoreError>>;
/// A key's entry as a transaction of the batch sees it: (revision, value), None when absent.
type Entry = Option<(u64, Vec<u8>)>;

/// One change a transaction makes, decided against the current objects.
struct Decision {
    key: String,
    kind: EventKind,
    /// The new value, or a deletion's last one.
    value: Vec<u8>,
}

impl Decision {
    /// What the history keeps of it: a deletion keeps only the object's identity (apiVersion, kind and
    /// metadata without annotations and managedFields), so deleting an object on a full disk needs
    /// almost no new space, as it did before there was a history. Live watchers get the whole last value.
    fn history_value(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.kind != EventKind::Deleted {
            return std::borrow::Cow::Borrowed(&self.value);
        }
        let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(&self.value) else {
            return std::borrow::Cow::Borrowed(&[]);
        };
        let mut stub = serde_json::Map::new();
        for field in ["apiVersion", "kind", "metadata"] {
            if let Some(v) = object.get(field) {
                stub.insert(field.into(), v.clone());
            }
        }
        if let Some(serde_json::Value::Object(metadata)) = stub.get_mut("metadata") {
            metadata.remove("annotations");
            metadata.remove("managedFields");
        }
        std::borrow::Cow::Owned(serde_json::to_vec(&stub).unwrap_or_default())
    }
}

/// A transaction waiting for the next commit.
struct Pending {
    txn: Txn,
    reply: Reply,
}

pub struct RedbStore {
    path: PathBuf,
    /// None only while a reopen after a failure has not succeeded yet.
    db: RwLock<Option<Database>>,
    /// Held by the writer committing a batch until its events are sent, so events go out in revision
    /// order and a new watch sees each change once: in its replay or on its feed.
    committing: Mutex<()>,
    /// Writes waiting for the next commit.
    queue: Mutex<Vec<Pending>>,
    live: broadcast::Sender<Arc<Event>>,
    /// Revisions the history keeps (HISTORY_KEPT but in tests).
    history_kept: u64,
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
/// (the B-tree's interior, recent objects, the history's newest end) fit in far less. With the history
/// table, 32 MiB filled up at 1000 nodes (server RSS 133 MiB); at 8 MiB it was 107 MiB, and the
/// heartbeats were no slower.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

fn open_database(path: &Path) -> Result<Database, StoreError> {
    private_file(path)?;
    let db = redb::Builder::new().set_cache_size(CACHE_BYTES).create(path).map_err(backend)?;
    // Create the tables once so readers never meet a missing table.
    let txn = db.begin_write().map_err(backend)?;
    txn.open_table(OBJECTS).map_err(backend)?;
    txn.open_table(META).map_err(backend)?;
    txn.open_table(HISTORY).map_err(backend)?;
    txn.commit().map_err(backend)?;
    Ok(db)
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_keeping(path, HISTORY_KEPT)
    }

    /// The store keeping `history_kept` revisions of history.
    pub fn open_keeping(path: &Path, history_kept: u64) -> Result<Self, StoreError> {
        let db = open_database(path)?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        Ok(RedbStore {
            path: path.to_path_buf(),
            db: RwLock::new(Some(db)),
            committing: Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            live,
            history_kept: history_kept.max(1),
        })
    }

    /// Hand out revisions after `revision` from now on, with no history before it: a restored store is
    /// moved past every resourceVersion its clients saw, so their watches are told to list again rather
    /// than waiting for revisions the restored store reuses (etcdutl's --bump-revision --mark-compacted).
    pub fn skip_revisions_to(&self, revision: u64) -> Result<(), StoreError> {
        let _committing = self.committing.lock().expect("commit lock");
        self.with_db(|db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut meta = txn.open_table(META).map_err(backend)?;
                let to = counter(&meta, REVISION)?.max(revision);
                meta.insert(REVISION, to).map_err(backend)?;
                let mut history = txn.open_table(HISTORY).map_err(backend)?;
                trim(&mut history, &mut meta, to)?;
            }
            txn.commit().map_err(backend)
        })
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

    /// One transaction, queued and committed with whatever else is queued by the first writer to take
    /// the commit lock; the answer is its events.
    fn write(&self, txn: Txn) -> Result<Vec<Arc<Event>>, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.queue.lock().expect("write queue").push(Pending { txn, reply });
        loop {
            if let Ok(result) = answer.try_recv() {
                return result;
            }
            match self.committing.try_lock() {
                Ok(_committing) => {
                    // A committer answers every write it took before it lets go of the lock: unanswered
                    // now, ours is still queued.
                    if let Ok(result) = answer.try_recv() {
                        return result;
                    }
                    let batch = std::mem::take(&mut *self.queue.lock().expect("write queue"));
                    self.commit(batch);
                }
                // Another writer is committing (perhaps ours): wait for the answer, or for the lock.
                Err(_) => match answer.recv_timeout(std::time::Duration::from_micros(500)) {
                    Ok(result) => return result,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(StoreError::Backend("a write was dropped unanswered".into()))
                    }
                },
            }
        }
    }

    /// Commit `batch` in one transaction and answer each write; the events go to live watchers in order.
    /// Only the writer holding the commit lock calls this, so what `decide` reads is still current when the
    /// decisions are written. A full disk first gives up the watch history (a watch from before it then
    /// lists again) and tries once more, so deleting objects makes room as it did before there was one.
    fn commit(&self, batch: Vec<Pending>) {
        let (replies, decisions) = match self.decide(batch) {
            Ok(decided) => decided,
            Err((replies, e)) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut written = self.apply(&decisions);
        if let Err(StoreError::NoSpace(_)) = &written {
            self.reopen_after_failure();
            // Every watch from before now lists again.
            if self.with_db(|db| trim_history(db, None)).is_ok() {
                written = self.apply(&decisions);
            }
        }
        if written.is_err() {
            self.reopen_after_failure();
        }
        let mut events = match written {
            Ok(events) => events.into_iter(),
            Err(e) => {
                for (reply, decision) in replies.into_iter().zip(decisions) {
                    let _ = reply.send(Err(decision.err().unwrap_or_else(|| e.clone())));
                }
                return;
            }
        };
        for (reply, decision) in replies.into_iter().zip(decisions) {
            let answer = decision.map(|changes| {
                let made: Vec<Arc<Event>> = events.by_ref().take(changes.len()).collect();
                for event in &made {
                    let _ = self.live.send(event.clone());
                }
                made
            });
            let _ = reply.send(answer);
        }
    }

    fn reopen_after_failure(&self) {
        if let Err(e) = self.reopen() {
            eprintln!("kubeboot server: reopening the store after a failed write: {e}");
        }
    }

    /// What each transaction of `batch` changes, or which of its compares failed. Later transactions of
    /// the batch see the earlier ones' changes.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        batch: Vec<Pending>,
    ) -> Result<(Vec<Reply>, Vec<Result<Vec<Decision>, StoreError>>), (Vec<Reply>, StoreError)> {
        let (replies, txns): (Vec<Reply>, Vec<Txn>) = batch.into_iter().map(|p| (p.reply, p.txn)).unzip();
        let decided = self.with_db(|db| {
            let read = db.begin_read().map_err(backend)?;
            let objects = read.open_table(OBJECTS).map_err(backend)?;
            // A key written earlier in the batch: its revision is not known yet (u64::MAX), and no
            // precondition can name it, as no writer can have read it.
            let mut pending: std::collections::HashMap<String, Entry> = Default::default();
            let current =
                |pending: &std::collections::HashMap<String, Entry>, key: &str| -> Result<Entry, StoreError> {
                    match pending.get(key) {
                        Some(entry) => Ok(entry.clone()),
                        None => Ok(objects.get(key).map_err(backend)?.map(|v| {
                            let (revision, bytes) = v.value();
                            (revision, bytes.to_vec())
                        })),
                    }
                };
            let mut decisions = Vec::with_capacity(txns.len());
            'txns: for txn in txns {
                for compare in &txn.compares {
                    let revision = current(&pending, compare.key())?.map(|(revision, _)| revision);
                    if let Err(e) = compare.check(revision) {
                        decisions.push(Err(e));
                        continue 'txns;
                    }
                }
                let mut changes = Vec::with_capacity(txn.ops.len());
                for op in txn.ops {
                    let before = current(&pending, op.key())?;
                    match op {
                        Op::Put(key, value) => {
                            let kind = if before.is_some() { EventKind::Modified } else { EventKind::Added };
                            pending.insert(key.clone(), Some((u64::MAX, value.clone())));
                            changes.push(Decision { key, kind, value });
                        }
                        Op::Delete(key) => {
                            if let Some((_, last)) = before {
                                pending.insert(key.clone(), None);
                                changes.push(Decision { key, kind: EventKind::Deleted, value: last });
                            }
                        }
                    }
                }
                decisions.push(Ok(changes));
            }
            Ok(decisions)
        });
        match decided {
            Ok(decisions) => Ok((replies, decisions)),
            Err(e) => Err((replies, e)),
        }
    }

    /// Write the decided changes, each at the next revision, with their history, in one transaction.
    fn apply(&self, decisions: &[Result<Vec<Decision>, StoreError>]) -> Result<Vec<Arc<Event>>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_write().map_err(backend)?;
            let mut events = Vec::new();
            {
                let mut objects = txn.open_table(OBJECTS).map_err(backend)?;
                let mut meta = txn.open_table(META).map_err(backend)?;
                let mut history = txn.open_table(HISTORY).map_err(backend)?;
                let mut revision = counter(&meta, REVISION)?;
                for decision in decisions.iter().flatten().flatten() {
                    let Decision { key, kind, value } = decision;
                    revision += 1;
                    match kind {
                        EventKind::Deleted => {
                            objects.remove(key.as_str()).map_err(backend)?;
                        }
                        _ => {
                            objects.insert(key.as_str(), (revision, value.as_slice())).map_err(backend)?;
                        }
                    }
                    let kept = decision.history_value();
                    history.insert(revision, (kind.code(), key.as_str(), kept.as_ref())).map_err(backend)?;
                    let trim_every = TRIM_EVERY.min(self.history_kept);
                    if revision % trim_every == 0 && revision > self.history_kept {
                        trim(&mut history, &mut meta, revision - self.history_kept)?;
                    }
                    events.push(Arc::new(Event { kind: *kind, key: key.clone(), revision, value: value.clone() }));
                }
                meta.insert(REVISION, revision).map_err(backend)?;
            }
            txn.commit().map_err(backend)?;
            Ok(events)
        })
    }
}

/// A counter of the meta table: REVISION (the last revision handed out) or COMPACTED (every revision
/// above it is in the history); 0 before the first write.
fn counter(meta: &impl ReadableTable<&'static str, u64>, name: &str) -> Result<u64, StoreError> {
    Ok(meta.get(name).map_err(backend)?.map(|v| v.value()).unwrap_or(0))
}

/// Drop the history up to and including `up_to`, or all of it (None), in a transaction of its own.
fn trim_history(db: &Database, up_to: Option<u64>) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    {
        let mut meta = txn.open_table(META).map_err(backend)?;
        let up_to = match up_to {
            Some(revision) => revision,
            None => counter(&meta, REVISION)?,
        };
        let mut history = txn.open_table(HISTORY).map_err(backend)?;
        trim(&mut history, &mut meta, up_to)?;
    }
    txn.commit().map_err(backend)
}

/// Drop the history up to and including `up_to`.
fn trim(
    history: &mut redb::Table<u64, (u8, &str, &[u8])>,
    meta: &mut redb::Table<&str, u64>,
    up_to: u64,
) -> Result<(), StoreError> {
    if up_to <= counter(meta, COMPACTED)? {
        return Ok(());
    }
    history.retain_in(..=up_to, |_, _| false).map_err(backend)?;
    meta.insert(COMPACTED, up_to).map_err(backend)?;
    Ok(())
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
            Ok((out, counter(&meta, REVISION)?))
        })
    }

    fn txn(&self, txn: Txn) -> Result<Vec<Arc<Event>>, StoreError> {
        self.write(txn)
    }

    fn revision(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(backend)?;
            counter(&txn.open_table(META).map_err(backend)?, REVISION)
        })
    }

    fn watch(&self, from: u64) -> Result<Subscription, super::WatchError> {
        // No write commits between reading the history and joining the feed.
        let _committing = self.committing.lock().expect("commit lock");
        let live = self.live.subscribe();
        let replay = self.with_db(|db| {
            let txn = db.begin_read().map_err(backend)?;
            let meta = txn.open_table(META).map_err(backend)?;
            let oldest = counter(&meta, COMPACTED)?;
            if from < oldest {
                return Ok(Err(Gone { requested: from, oldest }));
            }
            let history = txn.open_table(HISTORY).map_err(backend)?;
            let mut replay = Vec::new();
            for entry in history.range(from + 1..).map_err(backend)? {
                let (revision, record) = entry.map_err(backend)?;
                let (kind, key, value) = record.value();
                let (revision, kind) = (revision.value(), EventKind::from_code(kind));
                let event = Event { kind, key: key.into(), revision, value: value.to_vec() };
                replay.push(Arc::new(event));
            }
            Ok(Ok(replay))
        })??;
        Ok(Subscription { replay, live })
    }

    fn compact(&self, up_to: u64) -> Result<(), StoreError> {
        let _committing = self.committing.lock().expect("commit lock");
        self.with_db(|db| trim_history(db, Some(up_to)))
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
    fn a_watch_resumes_from_the_history_across_a_reopen_until_it_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let (made, changed, gone) = {
            let store = RedbStore::open_keeping(&path, 4).unwrap();
            let made = store.create("/pods/d/a", b"1").unwrap();
            let changed = store.update("/pods/d/a", b"2", Some(made)).unwrap();
            let gone = store.delete("/pods/d/a", None).unwrap().revision;
            (made, changed, gone)
        };
        let store = RedbStore::open_keeping(&path, 4).unwrap();
        let replay = store.watch(made - 1).unwrap().replay;
        let seen: Vec<(EventKind, u64, &[u8])> =
            replay.iter().map(|e| (e.kind, e.revision, e.value.as_slice())).collect();
        assert_eq!(
            seen,
            [
                (EventKind::Added, made, &b"1"[..]),
                (EventKind::Modified, changed, b"2"),
                (EventKind::Deleted, gone, b"")
            ]
        );
        let mut live = store.watch(gone).unwrap().live;
        let next = store.create("/pods/d/b", b"3").unwrap();
        assert_eq!(live.try_recv().unwrap().revision, next, "then live, as each commits");
        // Keeping 4 revisions: by revision 8 the first 4 are trimmed.
        for i in 0..4 {
            store.create(&format!("/pods/d/n{i}"), b"{}").unwrap();
        }
        assert!(matches!(store.watch(made - 1), Err(crate::control_plane::store::WatchError::Gone(_))));
        assert_eq!(store.watch(4).unwrap().replay.len(), 4, "revisions 5 to 8 are kept");
    }

    #[test]
    fn the_history_keeps_a_deleted_objects_identity_and_live_watchers_its_last_value() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("state.redb")).unwrap();
        let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d","uid":"u1","annotations":{"big":"x"}},"spec":{"nodeName":"n1"}}"#;
        let made = store.create("/pods/d/p", pod).unwrap();
        let mut live = store.watch(made).unwrap().live;
        store.delete("/pods/d/p", None).unwrap();
        assert_eq!(live.try_recv().unwrap().value, pod.to_vec());
        let replayed = &store.watch(made).unwrap().replay[0];
        let kept: serde_json::Value = serde_json::from_slice(&replayed.value).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d", "uid": "u1"}})
        );
    }

    #[test]
    fn concurrent_writes_share_commits_and_each_gets_its_own_revision_and_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(&dir.path().join("state.redb")).unwrap());
        let mut live = store.watch(0).unwrap().live;
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .map(|i| {
                            let key = format!("/configmaps/d/w{w}-{i}");
                            let made = store.create(&key, b"1").unwrap();
                            assert_eq!(store.create(&key, b"2"), Err(StoreError::AlreadyExists(key.clone())));
                            made
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut revisions: Vec<u64> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        revisions.sort();
        assert_eq!(revisions, (1..=200).collect::<Vec<u64>>(), "one revision per write made, none twice");
        let seen: Vec<u64> = (0..200).map(|_| live.try_recv().unwrap().revision).collect();
        assert_eq!(seen, (1..=200).collect::<Vec<u64>>(), "events in revision order");
        assert_eq!(store.list("/configmaps/").unwrap().0.len(), 200);
    }

    #[test]
    fn skipped_revisions_go_on_from_the_new_one_and_older_watches_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        store.create("/pods/d/a", b"{}").unwrap();
        store.skip_revisions_to(1_000).unwrap();
        assert_eq!(store.revision().unwrap(), 1_000);
        assert_eq!(store.create("/pods/d/b", b"{}").unwrap(), 1_001);
        assert!(matches!(store.watch(5), Err(crate::control_plane::store::WatchError::Gone(_))));
        assert_eq!(store.watch(1_000).unwrap().replay.len(), 1);
        store.skip_revisions_to(10).unwrap();
        assert_eq!(store.revision().unwrap(), 1_001, "never backwards");
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
