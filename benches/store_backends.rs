//! The store's backends side by side on this machine: the embedded redb file (one master) and etcd
//! (Debian's etcd-server; one member, and three members as three masters run it), each write durable
//! before it is answered. Prints, per backend: sequential creates through the Store (p50 / p99), and for
//! etcd the same puts made with the etcd client alone (the peer: what kubeboot's layer adds); 8 writers
//! at once (writes per second); creates through a real `kubeboot server` (ConfigMaps POSTed over HTTPS,
//! p50 / p99). For three members it kills the etcd leader (3 trials) and prints when new writes succeed
//! again and how long the write in flight at the kill took. Asserts nothing.
//!
//!     cargo bench --bench store_backends [-- WRITES]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeboot::control_plane::store::{EtcdConfig, EtcdStore, RedbStore, Store, ETCD_COMPACT_EVERY};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn summary(mut took: Vec<Duration>) -> String {
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!("p50 {:.2} ms, p99 {:.2} ms", ms(percentile(&took, 0.5)), ms(percentile(&took, 0.99)))
}

fn etcd_store(endpoints: &[String]) -> EtcdStore {
    let config = EtcdConfig {
        endpoints: endpoints.to_vec(),
        prefix: "/kubeboot".into(),
        tls: None,
        compact_every: ETCD_COMPACT_EVERY,
    };
    EtcdStore::open(&config).unwrap()
}

fn sequential(store: &dyn Store, writes: usize, tag: &str) -> Vec<Duration> {
    (0..writes)
        .map(|i| {
            let start = Instant::now();
            store.create(&format!("/configmaps/bench/{tag}-{i}"), br#"{"data":{"k":"v"}}"#).unwrap();
            start.elapsed()
        })
        .collect()
}

fn concurrent(store: Arc<dyn Store>, writes: usize, tag: &str) -> f64 {
    let start = Instant::now();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, tag) = (store.clone(), tag.to_string());
            std::thread::spawn(move || {
                for i in 0..writes / 8 {
                    store.create(&format!("/configmaps/bench/{tag}-{w}-{i}"), b"{}").unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    (writes / 8 * 8) as f64 / start.elapsed().as_secs_f64()
}

/// The etcd client alone: `writes` puts, one after another.
fn raw_etcd_puts(endpoint: &str, writes: usize) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut client = etcd_client::Client::connect([endpoint], None).await.unwrap();
        let mut took = Vec::new();
        for i in 0..writes {
            let start = Instant::now();
            client.put(format!("/raw/{i}"), r#"{"data":{"k":"v"}}"#, None).await.unwrap();
            took.push(start.elapsed());
        }
        took
    })
}

/// ConfigMaps POSTed one after another to a real server whose init took `init_args`.
fn through_the_api(dir: &std::path::Path, init_args: &[&str], writes: usize) -> Vec<Duration> {
    use kubeboot::apiclient::ApiClient;
    use kubeboot::bootstrap::kubeconfig::Kubeconfig;
    let (cfg, data, port) = common::init_master_with(dir, "bench", init_args);
    let mut server = common::start_server(&cfg, &data, &port);
    common::wait_listening(&mut server, &data, &port);
    let conf = Kubeconfig::parse(&std::fs::read_to_string(cfg.join("admin.conf")).unwrap()).unwrap();
    let client = ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let took = rt.block_on(async {
        let mut took = Vec::new();
        for i in 0..writes {
            let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{i}"}}}}"#);
            let start = Instant::now();
            let reply = client
                .request("POST", "/api/v1/namespaces/default/configmaps", Some(body.into_bytes()), None)
                .await
                .unwrap();
            assert_eq!(reply.status, 201, "{}", reply.message());
            took.push(start.elapsed());
        }
        took
    });
    let _ = server.kill();
    let _ = server.wait();
    took
}

/// The member etcd reports as leader.
fn leader_of(members: &[common::etcd::Etcd]) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for m in members {
            let Ok(mut c) = etcd_client::Client::connect([m.client_url.as_str()], None).await else { continue };
            let Ok(status) = c.status().await else { continue };
            if status.leader() == status.header().map_or(0, |h| h.member_id()) {
                return Some(m.name.clone());
            }
        }
        None
    })
    .expect("a leader")
}

/// Kill the leader while one writer writes back to back, and start a new write every 100 ms for 10 s
/// after. Returns how long the write in flight at the kill took (etcd answers it only at its request
/// timeout), and from when after the kill every newly started write succeeded within 500 ms.
fn leader_loss(store: Arc<dyn Store>, members: &mut [common::etcd::Etcd]) -> (Duration, Duration) {
    let leader = leader_of(members);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut longest = Duration::ZERO;
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let start = Instant::now();
                let _ = store.create(&format!("/configmaps/bench/steady-{i}"), b"{}");
                longest = longest.max(start.elapsed());
                i += 1;
            }
            longest
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    members.iter_mut().find(|m| m.name == leader).unwrap().kill();
    let probes: Vec<_> = (0..100)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(100));
            let store = store.clone();
            let started = killed.elapsed();
            std::thread::spawn(move || {
                let start = Instant::now();
                let ok = store.create(&format!("/configmaps/bench/probe-{i}"), b"{}").is_ok();
                (started, ok && start.elapsed() < Duration::from_millis(500))
            })
        })
        .collect();
    let results: Vec<(Duration, bool)> = probes.into_iter().map(|p| p.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let in_flight = writer.join().unwrap();
    let last_bad = results.iter().filter(|(_, good)| !good).map(|(at, _)| *at).max();
    let back = results.iter().map(|(at, _)| *at).find(|at| last_bad.is_none_or(|bad| *at > bad)).unwrap_or_default();
    (in_flight, back)
}

fn main() {
    let writes = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000usize);
    let dir = tempfile::tempdir().unwrap();
    println!("{writes} writes per figure; every write durable before it is answered\n");

    let redb: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("bench.redb")).unwrap());
    println!("redb            sequential: {}", summary(sequential(redb.as_ref(), writes, "seq")));
    println!("redb            8 writers:  {:.0} writes/s", concurrent(redb.clone(), writes, "par"));

    let one_dir = dir.path().join("one");
    std::fs::create_dir_all(&one_dir).unwrap();
    let one = common::etcd::Etcd::start(&one_dir);
    let store: Arc<dyn Store> = Arc::new(etcd_store(std::slice::from_ref(&one.client_url)));
    println!("etcd, 1 member  sequential: {}", summary(sequential(store.as_ref(), writes, "seq")));
    println!("  etcd client alone (peer): {}", summary(raw_etcd_puts(&one.client_url, writes)));
    println!("etcd, 1 member  8 writers:  {:.0} writes/s", concurrent(store.clone(), writes, "par"));
    drop(store);
    drop(one);

    let three_dir = dir.path().join("three");
    std::fs::create_dir_all(&three_dir).unwrap();
    let three = common::etcd::Etcd::cluster(&three_dir, 3);
    let endpoints: Vec<String> = three.iter().map(|e| e.client_url.clone()).collect();
    let store = Arc::new(etcd_store(&endpoints));
    println!("etcd, 3 members sequential: {}", summary(sequential(store.as_ref(), writes, "seq")));
    println!("  etcd client alone (peer): {}", summary(raw_etcd_puts(&endpoints[0], writes)));
    println!("etcd, 3 members 8 writers:  {:.0} writes/s", concurrent(store.clone(), writes, "par"));

    let api_writes = writes.min(500);
    let api_redb = through_the_api(&dir.path().join("api-redb"), &[], api_writes);
    println!("\nAPI creates, redb:             {} ({api_writes})", summary(api_redb));
    let joined = endpoints.join(",");
    let api_etcd = through_the_api(&dir.path().join("api-etcd"), &["--etcd-endpoints", &joined], api_writes);
    println!("API creates, etcd (3 members): {} ({api_writes})", summary(api_etcd));

    // Leader losses: 3 members can lose one; a fresh cluster for each trial.
    drop(store);
    drop(three);
    let mut losses = Vec::new();
    for trial in 0..3 {
        let trial_dir = dir.path().join(format!("loss-{trial}"));
        std::fs::create_dir_all(&trial_dir).unwrap();
        let mut members = common::etcd::Etcd::cluster(&trial_dir, 3);
        let endpoints: Vec<String> = members.iter().map(|e| e.client_url.clone()).collect();
        let store: Arc<dyn Store> = Arc::new(etcd_store(&endpoints));
        losses.push(leader_loss(store, &mut members));
    }
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let in_flight: Vec<String> = losses.iter().map(|(f, _)| secs(*f)).collect();
    let back: Vec<String> = losses.iter().map(|(_, b)| secs(*b)).collect();
    println!("\netcd leader killed (3 trials): new writes succeed again from {} after the kill;", back.join(", "));
    println!("  the write in flight at the kill took {} (etcd's request timeout)", in_flight.join(", "));
}
