//! The store contract, checked the same way on both backends: the embedded redb store and a real etcd
//! (Debian's etcd-server). Revisions, preconditions, prefix lists (also past etcd's page), transactions
//! made all or none, watches from a revision with a deletion's last value, 410 after compaction, and —
//! on etcd — a write through one store reaching another store's watch, as between two masters; and
//! snapshots of either backend restored into the other.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeboot::control_plane::store::{
    Compare, EtcdConfig, EtcdStore, EventKind, HistoryCapacity, Op, RedbStore, Store, StoreError, Subscription, Txn,
    WatchError, WatchHub,
};

fn etcd_store(etcd: &common::etcd::Etcd, prefix: &str) -> EtcdStore {
    compacting_every(etcd, prefix, kubeboot::control_plane::store::ETCD_COMPACT_EVERY)
}

fn compacting_every(etcd: &common::etcd::Etcd, prefix: &str, compact_every: Duration) -> EtcdStore {
    let endpoints = vec![etcd.client_url.clone()];
    EtcdStore::open(&EtcdConfig { endpoints, prefix: prefix.into(), tls: None, compact_every }).unwrap()
}

/// Each check on a fresh store of each backend.
fn on_both(check: fn(&dyn Store)) {
    let dir = tempfile::tempdir().unwrap();
    check(&RedbStore::open(&dir.path().join("state.redb")).unwrap());
    let etcd = common::etcd::Etcd::start(dir.path());
    check(&etcd_store(&etcd, "/kubeboot"));
}

fn crud(store: &dyn Store) {
    let r1 = store.create("/nodes/a", b"{\"a\":1}").unwrap();
    let r2 = store.create("/nodes/b", b"{}").unwrap();
    store.create("/pods/default/web", b"{}").unwrap();
    assert!(r2 > r1);
    assert_eq!(store.create("/nodes/a", b"x"), Err(StoreError::AlreadyExists("/nodes/a".into())));
    let (nodes, at) = store.list("/nodes/").unwrap();
    assert_eq!(nodes.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), ["/nodes/a", "/nodes/b"]);
    assert_eq!(at, store.revision().unwrap());
    assert_eq!(
        store.update("/nodes/a", b"new", Some(r2)),
        Err(StoreError::Conflict { key: "/nodes/a".into(), expected: r2, actual: r1 })
    );
    let r4 = store.update("/nodes/a", b"new", Some(r1)).unwrap();
    let got = store.get("/nodes/a").unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.revision), (&b"new"[..], r4));
    assert_eq!(store.update("/nodes/zz", b"x", None), Err(StoreError::NotFound("/nodes/zz".into())));
    let old = store.delete("/nodes/b", None).unwrap();
    assert_eq!(old.value, b"{}");
    assert_eq!(old.revision, store.revision().unwrap(), "the deletion's revision");
    assert_eq!(store.get("/nodes/b").unwrap(), None);
    assert_eq!(store.delete("/nodes/b", None).err(), Some(StoreError::NotFound("/nodes/b".into())));
}

#[test]
fn crud_with_revisions_and_preconditions() {
    on_both(crud);
}

fn long_list(store: &dyn Store) {
    for i in 0..1200 {
        store.create(&format!("/configmaps/d/cm-{i:04}"), format!("{{\"i\":{i}}}").as_bytes()).unwrap();
    }
    store.create("/configmaps/e/other", b"{}").unwrap();
    let (items, _) = store.list("/configmaps/d/").unwrap();
    let keys: Vec<String> = items.iter().map(|s| s.key.clone()).collect();
    let wanted: Vec<String> = (0..1200).map(|i| format!("/configmaps/d/cm-{i:04}")).collect();
    assert_eq!(keys, wanted, "every key under the prefix, in key order, none from beside it");
}

#[test]
fn lists_every_key_of_a_prefix_in_order() {
    on_both(long_list);
}

fn transactions(store: &dyn Store) {
    let held = store.create("/services/d/a", b"a").unwrap();
    let put = |k: &str| Op::Put(k.into(), b"x".to_vec());
    let refused = Txn {
        compares: vec![Compare::Absent("/ranges/ip/1".into()), Compare::Absent("/services/d/a".into())],
        ops: vec![put("/ranges/ip/1"), put("/services/d/b")],
    };
    assert_eq!(store.txn(refused), Err(StoreError::AlreadyExists("/services/d/a".into())));
    assert_eq!(store.get("/ranges/ip/1").unwrap(), None, "nothing of a refused transaction is written");
    assert_eq!(store.revision().unwrap(), held);
    let stale = Txn { compares: vec![Compare::At("/services/d/a".into(), held + 100)], ops: vec![put("/x")] };
    assert_eq!(
        store.txn(stale),
        Err(StoreError::Conflict { key: "/services/d/a".into(), expected: held + 100, actual: held })
    );
    let made = store
        .txn(Txn {
            compares: vec![Compare::Absent("/ranges/ip/1".into()), Compare::At("/services/d/a".into(), held)],
            ops: vec![put("/ranges/ip/1"), Op::Delete("/services/d/a".into()), Op::Delete("/nothing".into())],
        })
        .unwrap();
    let seen: Vec<(EventKind, &str, &[u8])> =
        made.iter().map(|e| (e.kind, e.key.as_str(), e.value.as_slice())).collect();
    assert_eq!(seen, [(EventKind::Added, "/ranges/ip/1", &b"x"[..]), (EventKind::Deleted, "/services/d/a", b"a")]);
    assert!(made.iter().all(|e| e.revision > held && e.revision <= store.revision().unwrap()));
    assert_eq!(store.get("/ranges/ip/1").unwrap().unwrap().revision, made[0].revision);
}

#[test]
fn transactions_are_all_or_none() {
    on_both(transactions);
}

/// The next `n` live events of `subscription` (waiting up to 10 s).
fn next_live(subscription: &mut Subscription, n: usize) -> Vec<(EventKind, String, u64)> {
    next_live_after(subscription, 0, n)
}

/// The next `n` live events of `subscription` after revision `seen_up_to` (waiting up to 10 s).
fn next_live_after(subscription: &mut Subscription, seen_up_to: u64, n: usize) -> Vec<(EventKind, String, u64)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while seen.len() < n {
        match subscription.live.try_recv() {
            Ok(e) if e.revision <= seen_up_to => {}
            Ok(e) => seen.push((e.kind, e.key.clone(), e.revision)),
            Err(_) => {
                assert!(Instant::now() < deadline, "only {seen:?} arrived live");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    seen
}

fn watches(store: &dyn Store) {
    let before = store.create("/pods/d/before", b"0").unwrap();
    let made = store.create("/pods/d/a", b"1").unwrap();
    let changed = store.update("/pods/d/a", b"2", Some(made)).unwrap();
    let gone = store.delete("/pods/d/a", None).unwrap().revision;
    let mut subscription = store.watch(before).unwrap();
    let replay: Vec<(EventKind, u64, &[u8])> =
        subscription.replay.iter().map(|e| (e.kind, e.revision, e.value.as_slice())).collect();
    assert_eq!(replay[..2], [(EventKind::Added, made, &b"1"[..]), (EventKind::Modified, changed, b"2")]);
    assert_eq!((replay[2].0, replay[2].1), (EventKind::Deleted, gone));
    let next = store.create("/pods/d/b", b"3").unwrap();
    // The feed may first repeat what the replay held (the contract: readers skip what they have seen).
    let live = next_live_after(&mut subscription, gone, 1);
    assert_eq!(live, [(EventKind::Added, "/pods/d/b".to_string(), next)]);
    store.compact(changed).unwrap();
    assert!(matches!(store.watch(before), Err(WatchError::Gone(_))), "a watch from before the compaction is 410");
    let after: Vec<u64> = store.watch(changed).unwrap().replay.iter().map(|e| e.revision).collect();
    assert_eq!(after, [gone, next], "from the compaction on, still there");
}

#[test]
fn watches_replay_then_follow_until_compacted() {
    on_both(watches);
}

/// Two API servers on one etcd: what one writes reaches the other's watch hub, which is what their
/// watchers (controllers, agents, kubectl) follow; transactions of each see the other's writes.
#[test]
fn a_write_through_one_master_reaches_the_others_watchers() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = common::etcd::Etcd::start(dir.path());
    let one: Arc<dyn Store> = Arc::new(etcd_store(&etcd, "/kubeboot"));
    let other: Arc<dyn Store> = Arc::new(etcd_store(&etcd, "/kubeboot"));
    let capacity = HistoryCapacity { events: 100, bytes: 1 << 20 };
    let hub = WatchHub::follow(other.clone(), capacity).unwrap();
    let mut watcher = hub.subscribe(other.revision().unwrap()).unwrap();
    let made = one.create("/configmaps/d/a", b"1").unwrap();
    let deleted = one.delete("/configmaps/d/a", None).unwrap();
    assert_eq!(
        next_live(&mut watcher, 2),
        [
            (EventKind::Added, "/configmaps/d/a".into(), made),
            (EventKind::Deleted, "/configmaps/d/a".into(), deleted.revision)
        ]
    );
    one.create("/ranges/ip/9", b"x").unwrap();
    let taken = Txn::create("/ranges/ip/9", b"y".to_vec());
    assert_eq!(other.txn(taken), Err(StoreError::AlreadyExists("/ranges/ip/9".into())));
    // Another prefix on the same etcd is another store: nothing of it shows here.
    let elsewhere = etcd_store(&etcd, "/other");
    assert_eq!(elsewhere.list("/").unwrap().0.len(), 0);
}

/// A snapshot of either backend restores into the other: every key and value, at the snapshot's
/// revision, through the file format (whose damage is refused); a restore over a store that holds other
/// keys leaves exactly the snapshot's.
#[test]
fn snapshots_move_between_backends() {
    use kubeboot::control_plane::store::snapshot;
    let dir = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(&dir.path().join("state.redb")).unwrap();
    for i in 0..1200 {
        redb.create(&format!("/configmaps/default/c{i:04}"), format!("{{\"n\":{i}}}").as_bytes()).unwrap();
    }
    redb.txn(Txn {
        compares: vec![],
        ops: vec![Op::Put("/ranges/serviceips/10.96.0.1".into(), b"kubernetes".to_vec())],
    })
    .unwrap();
    let taken = snapshot::take(&redb).unwrap();
    assert_eq!((taken.entries.len(), taken.revision), (1201, redb.revision().unwrap()));
    let mut file = Vec::new();
    snapshot::write(&taken, &mut file).unwrap();
    assert!(snapshot::read(&file[..file.len() - 1]).is_err(), "a truncated snapshot is refused");

    let etcd = common::etcd::Etcd::start(dir.path());
    let into_etcd = etcd_store(&etcd, "/kubeboot");
    into_etcd.create("/configmaps/default/stale", b"{}").unwrap();
    let copied = snapshot::restore(&snapshot::read(file.as_slice()).unwrap(), &into_etcd).unwrap();
    assert_eq!((copied.written, copied.deleted), (1201, 1));
    let listed = |s: &dyn Store| -> Vec<(String, Vec<u8>)> {
        s.list("/").unwrap().0.into_iter().map(|s| (s.key, s.value)).collect()
    };
    assert_eq!(listed(&into_etcd), listed(&redb));

    let back = snapshot::take(&into_etcd).unwrap();
    assert_eq!(back.revision, into_etcd.revision().unwrap(), "etcd's snapshot is at one revision");
    let fresh = RedbStore::open(&dir.path().join("restored.redb")).unwrap();
    snapshot::restore(&back, &fresh).unwrap();
    assert_eq!(listed(&fresh), listed(&redb));
}

/// Concurrent creates of the same keys through two stores: exactly one wins each key.
#[test]
fn concurrent_creates_through_two_masters_win_once() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = common::etcd::Etcd::start(dir.path());
    let stores: Vec<Arc<dyn Store>> =
        (0..2).map(|_| Arc::new(etcd_store(&etcd, "/kubeboot")) as Arc<dyn Store>).collect();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = stores[w % 2].clone();
            std::thread::spawn(move || (0..25).filter(|i| store.create(&format!("/leases/l{i}"), b"w").is_ok()).count())
        })
        .collect();
    let won: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(won, 25);
    assert_eq!(stores[0].list("/leases/").unwrap().0.len(), 25);
}

/// On etcd the store compacts its history itself, as kube-apiserver does: after two intervals a watch
/// from before the first one is 410, one from the last interval still replays.
#[test]
fn etcd_history_is_compacted_an_interval_behind() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = common::etcd::Etcd::start(dir.path());
    let store = compacting_every(&etcd, "/kubeboot", Duration::from_secs(1));
    let first = store.create("/configmaps/d/a", b"1").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.watch(first - 1).is_ok() {
        assert!(Instant::now() < deadline, "never compacted");
        store.update("/configmaps/d/a", b"2", None).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let recent = store.update("/configmaps/d/a", b"3", None).unwrap();
    assert_eq!(store.watch(recent - 1).unwrap().replay.len(), 1, "the last interval is still there");
}

/// Over mutual TLS with kubeadm's etcd PKI as `init` makes it: the API server's client certificate opens
/// the store; a client certificate of another CA (the cluster's, which every kubectl user holds one of)
/// and no certificate at all are refused by etcd.
#[test]
fn etcd_over_mutual_tls_takes_only_the_api_servers_certificate() {
    use kubeboot::bootstrap::etcd_pki::{ensure_ca, ensure_master_certificates, EtcdPkiPaths};
    use kubeboot::host::layout::{EtcdSettings, Layout};
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
    let ca = ensure_ca(&layout).unwrap();
    ensure_master_certificates(&layout, &ca, "m1", "127.0.0.1".parse().unwrap()).unwrap();
    let paths = EtcdPkiPaths::of(&layout);
    let etcd = common::etcd::Etcd::start_tls(dir.path(), &paths);
    assert!(etcd.client_url.starts_with("https://"));
    let settings = EtcdSettings { endpoints: vec![etcd.client_url.clone()] };
    let store = kubeboot::control_plane::store_backend::open(&layout, Some(&settings)).unwrap();
    let made = store.create("/secrets/d/s", b"{}").unwrap();
    assert_eq!(store.get("/secrets/d/s").unwrap().unwrap().revision, made);

    let (cluster_ca, _) = kubeboot::bootstrap::pki::ClusterCa::generate("lab").unwrap();
    let admin = cluster_ca.issue_client("kubernetes-admin", &["system:masters"]).unwrap();
    std::fs::write(dir.path().join("admin.crt"), &admin.cert_pem).unwrap();
    std::fs::write(dir.path().join("admin.key"), &admin.key_pem).unwrap();
    let range = format!("{}/v3/kv/range", etcd.client_url);
    let curl = |extra: &[&str]| {
        let mut c = std::process::Command::new("curl");
        c.args(["-s", "--max-time", "5", "--cacert"]).arg(&paths.ca_crt).args(extra);
        c.args(["-X", "POST", "-d", r#"{"key":"L2t1YmVib290"}"#, &range]);
        c.status().unwrap().success()
    };
    let (crt, key) = (paths.client_crt.to_str().unwrap(), paths.client_key.to_str().unwrap());
    assert!(curl(&["--cert", crt, "--key", key]), "the API server's certificate opens etcd");
    let (other_crt, other_key) = (dir.path().join("admin.crt"), dir.path().join("admin.key"));
    assert!(
        !curl(&["--cert", other_crt.to_str().unwrap(), "--key", other_key.to_str().unwrap()]),
        "a cluster-CA client certificate is refused"
    );
    assert!(!curl(&[]), "no certificate is refused");
}
