//! Store commits never hold the API server's async workers (issue 14, item 8). The server runs, as
//! `kubeboot server` does on this 2-core machine, on 2 async workers, over a store that holds every write
//! at a gate, as a disk stalled in fsync would. With 8 writes stuck in their commit (all 8 at the store:
//! nothing above it serialises them), health checks, a get, a list and new watches are still answered;
//! once the gate opens every write is acknowledged, stored, and seen once by a watch that started during
//! the stall.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use kubeboot::control_plane::store::{Event, RedbStore, Store, StoreError, Stored, Subscription, Txn, WatchError};

/// A RedbStore whose writes wait while the gate is shut.
struct GatedStore {
    inner: RedbStore,
    shut: Mutex<bool>,
    opened: Condvar,
    waiting: AtomicUsize,
}

impl GatedStore {
    fn pass(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut shut = self.shut.lock().unwrap();
        while *shut {
            shut = self.opened.wait(shut).unwrap();
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
    fn set_shut(&self, value: bool) {
        *self.shut.lock().unwrap() = value;
        self.opened.notify_all();
    }
}

impl Store for GatedStore {
    fn get(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        self.inner.get(key)
    }
    fn list(&self, prefix: &str) -> Result<(Vec<Stored>, u64), StoreError> {
        self.inner.list(prefix)
    }
    fn txn(&self, txn: Txn) -> Result<Vec<Arc<Event>>, StoreError> {
        self.pass();
        self.inner.txn(txn)
    }
    fn revision(&self) -> Result<u64, StoreError> {
        self.inner.revision()
    }
    fn watch(&self, from: u64) -> Result<Subscription, WatchError> {
        self.inner.watch(from)
    }
    fn compact(&self, revision: u64) -> Result<(), StoreError> {
        self.inner.compact(revision)
    }
}

/// POST a ConfigMap `name` as the admin: (status, body).
fn post(s: &common::api::Server, admin: &(PathBuf, PathBuf), name: &str) -> (u16, String) {
    let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"k":"v"}}}}"#);
    let who = Some((admin.0.as_path(), admin.1.as_path()));
    let args = ["--max-time", "60", "-X", "POST", "-H", "Content-Type: application/json", "-d", &body];
    s.curl("/api/v1/namespaces/default/configmaps", who, &args)
}

#[test]
fn stuck_commits_leave_health_reads_and_watches_answered() {
    let dir = tempfile::tempdir().unwrap();
    let gated = Arc::new(GatedStore {
        inner: RedbStore::open(&dir.path().join("state.redb")).unwrap(),
        shut: Mutex::new(false),
        opened: Condvar::new(),
        waiting: AtomicUsize::new(0),
    });
    let s = Arc::new(common::api::start_over(gated.clone()));
    let admin = (s.file("admin.pem", &s.admin.0), s.file("admin-key.pem", &s.admin.1));
    let who = Some((admin.0.as_path(), admin.1.as_path()));
    let (code, created) = post(&s, &admin, "before");
    assert_eq!(code, 201, "{created}");
    let before: serde_json::Value = serde_json::from_str(&created).unwrap();
    let from = before["metadata"]["resourceVersion"].as_str().unwrap().to_string();

    gated.set_shut(true);
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let (s, admin) = (s.clone(), admin.clone());
            std::thread::spawn(move || post(&s, &admin, &format!("burst-{i}")))
        })
        .collect();
    common::wait_for("a write stuck in its commit", Duration::from_secs(20), || {
        gated.waiting.load(Ordering::SeqCst) >= 1
    });
    // The other seven reach the store too: nothing above it serialises writes (the store commits the
    // writes that wait together in one transaction).
    common::wait_for("all 8 writes at the store", Duration::from_secs(20), || {
        gated.waiting.load(Ordering::SeqCst) == 8
    });

    // A watch from before the stall, started during it: it must not wait for the stuck commit.
    let watcher = {
        let (s, admin) = (s.clone(), admin.clone());
        let from = from.clone();
        std::thread::spawn(move || {
            let who = Some((admin.0.as_path(), admin.1.as_path()));
            let path = format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={from}&timeoutSeconds=6");
            s.curl(&path, who, &["-N", "--max-time", "20"])
        })
    };
    let quick = ["--max-time", "5"];
    assert_eq!(s.curl("/healthz", None, &quick), (200, "ok".to_string()), "health while 8 commits are stuck");
    let (code, got) = s.curl("/api/v1/namespaces/default/configmaps/before", who, &quick);
    assert_eq!(code, 200, "a get while commits are stuck: {got}");
    let (code, listed) = s.curl("/api/v1/namespaces/default/configmaps", who, &quick);
    assert_eq!(code, 200, "a list while commits are stuck: {listed}");
    assert!(!listed.contains("burst-"), "nothing stuck is visible yet: {listed}");
    let (code, _) = s.curl("/api/v1/configmaps?watch=1&timeoutSeconds=1", who, &quick);
    assert_eq!(code, 200, "a new watch while commits are stuck");
    assert_eq!(gated.waiting.load(Ordering::SeqCst), 8, "all 8 commits are still stuck");

    gated.set_shut(false);
    for writer in writers {
        let (code, body) = writer.join().unwrap();
        assert_eq!(code, 201, "every stuck write is acknowledged once the store moves: {body}");
    }
    let (code, listed) = s.curl("/api/v1/namespaces/default/configmaps", who, &quick);
    assert_eq!(code, 200);
    for i in 0..8 {
        assert!(listed.contains(&format!("\"burst-{i}\"")), "burst-{i} stored: {listed}");
    }
    let (code, events) = watcher.join().unwrap();
    assert_eq!(code, 200, "{events}");
    let mut added: Vec<String> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "ADDED")
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    added.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("burst-{i}")).collect();
    assert_eq!(added, expected, "the watch saw each write once: {events}");
}
