//! Snapshots of a store holding 10,000 objects (5 KB each, a walkthrough Pod's size) while a writer keeps
//! writing, one durable write after another, as a busy cluster does: how long the snapshot takes (what a
//! scheduled or on-demand snapshot costs the server: kubeboot's backup::save, the file written and
//! fsynced), how big it is, and the longest write during it against the longest write of the same
//! writer with no snapshot running (the write stall). On redb (one master) and on etcd (one member,
//! Debian's etcd-server), where the peer in the same run is etcd's own `etcdctl snapshot save`. Then the
//! restore: the snapshot read back, checked and restored into a new redb file. Asserts nothing.
//!
//!     cargo bench --bench snapshot [-- OBJECTS]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeboot::control_plane::backup::{self, SnapshotKind, SnapshotPlace};
use kubeboot::control_plane::store::snapshot;
use kubeboot::control_plane::store::{EtcdConfig, EtcdStore, RedbStore, Store, ETCD_COMPACT_EVERY};
use kubeboot::host::layout::Layout;

const OBJECT_BYTES: usize = 5_000;

fn fill(store: &dyn Store, objects: usize) {
    let padding = "x".repeat(OBJECT_BYTES - 100);
    for i in 0..objects {
        let value = format!(r#"{{"kind":"Pod","metadata":{{"name":"pod-{i}"}},"spec":{{"padding":"{padding}"}}}}"#);
        store.create(&format!("/pods/bench/pod-{i:05}"), value.as_bytes()).unwrap();
    }
}

/// A writer updating its own keys one durable write at a time until stopped; each write's (end, took).
struct Writer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, Duration)>>,
}

fn start_writer(store: Arc<dyn Store>) -> Writer {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut writes = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let start = Instant::now();
                store.update(&format!("/leases/bench/w{}", i % 50), br#"{"renewTime":"now"}"#, None).unwrap();
                writes.push((Instant::now(), start.elapsed()));
                i += 1;
            }
            writes
        })
    };
    Writer { stop, thread }
}

fn longest(writes: &[(Instant, Duration)], from: Instant, to: Instant) -> (Duration, usize) {
    // A write that ended inside the window, or that was running across it, counts.
    let during: Vec<Duration> = writes
        .iter()
        .filter(|(end, took)| *end >= from && end.checked_sub(*took).is_some_and(|s| s <= to))
        .map(|w| w.1)
        .collect();
    (during.iter().copied().max().unwrap_or_default(), during.len())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The writer's longest write over 2 s with nothing else running, then during `snapshot`.
fn with_writer<T>(store: Arc<dyn Store>, snapshot: impl FnOnce() -> T) -> (T, Duration, Duration, Duration, usize) {
    for i in 0..50 {
        let _ = store.create(&format!("/leases/bench/w{i}"), b"{}");
    }
    let writer = start_writer(store);
    let quiet_from = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let quiet_to = Instant::now();
    let started = Instant::now();
    let result = snapshot();
    let took = started.elapsed();
    let ended = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    writer.stop.store(true, Ordering::SeqCst);
    let writes = writer.thread.join().unwrap();
    let (quiet, _) = longest(&writes, quiet_from, quiet_to);
    let (during, count) = longest(&writes, started, ended);
    (result, took, quiet, during, count)
}

fn main() {
    let objects = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000usize);
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
    let place = SnapshotPlace { layout: layout.clone(), node_name: "bench".into(), retention: 5 };
    println!("{objects} objects of {OBJECT_BYTES} bytes; a writer making one durable write after another\n");

    let redb: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("bench.redb")).unwrap());
    fill(redb.as_ref(), objects);
    let (saved, took, quiet, during, count) =
        with_writer(redb.clone(), || backup::save(redb.as_ref(), &place, SnapshotKind::OnDemand).unwrap());
    println!(
        "redb: snapshot {} ({:.1} MB); longest write during it {} ({count} writes), with no snapshot {}",
        ms(took),
        saved.bytes as f64 / 1e6,
        ms(during),
        ms(quiet)
    );

    let started = Instant::now();
    let read = snapshot::read(std::fs::File::open(&saved.path).unwrap()).unwrap();
    let restored = RedbStore::open(&dir.path().join("restored.redb")).unwrap();
    snapshot::restore(&read, &restored).unwrap();
    println!("redb: restore (read, checksum, {} keys into a new file) {}", read.entries.len(), ms(started.elapsed()));
    drop((redb, restored));

    let etcd_dir = dir.path().join("etcd");
    std::fs::create_dir_all(&etcd_dir).unwrap();
    let member = common::etcd::Etcd::start(&etcd_dir);
    let config = EtcdConfig {
        endpoints: vec![member.client_url.clone()],
        prefix: "/kubeboot".into(),
        tls: None,
        compact_every: ETCD_COMPACT_EVERY,
    };
    let etcd: Arc<dyn Store> = Arc::new(EtcdStore::open(&config).unwrap());
    fill(etcd.as_ref(), objects);
    let (saved, took, quiet, during, count) =
        with_writer(etcd.clone(), || backup::save(etcd.as_ref(), &place, SnapshotKind::OnDemand).unwrap());
    println!(
        "\netcd: snapshot {} ({:.1} MB); longest write during it {} ({count} writes), with no snapshot {}",
        ms(took),
        saved.bytes as f64 / 1e6,
        ms(during),
        ms(quiet)
    );
    let peer_file = dir.path().join("etcdctl.db");
    let url = member.client_url.clone();
    let (status, took, quiet, during, count) = with_writer(etcd.clone(), || {
        std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &url, "snapshot", "save"])
            .arg(&peer_file)
            .output()
            .expect("etcdctl (Debian's etcd-client)")
    });
    assert!(status.status.success(), "etcdctl snapshot save: {}", String::from_utf8_lossy(&status.stderr));
    println!(
        "  etcdctl snapshot save (peer): {} ({:.1} MB); longest write during it {} ({count} writes), with none {}",
        ms(took),
        std::fs::metadata(&peer_file).unwrap().len() as f64 / 1e6,
        ms(during),
        ms(quiet)
    );
}
