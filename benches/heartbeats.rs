//! The control plane under a cluster's worth of agents: N simulated nodes (default 1000), each with its own
//! node certificate, heartbeating every 10 s (the agent's own heartbeat code: GET, then PUT of the status)
//! against one `kubeboot server` process, for S seconds (default 60). Prints heartbeat latency (p50, p99,
//! max), `kubectl get nodes` wall time over the N nodes (measured during the load), and the server's
//! memory. Asserts nothing.
//!
//!     cargo bench --bench heartbeats [-- NODES [SECONDS]]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/simulated_nodes.rs"]
mod simulated_nodes;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The kubectl build for the server's version: on this kind of machine `kubectl` on PATH is the Cloud SDK's
/// dispatcher, which asks the server its version and then runs the matching `kubectl.1.NN` beside it
/// (~90 ms of its own per call); measure kubectl itself where it is there.
fn kubectl_binary() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("kubectl")).find(|p| p.is_file()))
        .unwrap_or_else(|| "kubectl".into());
    let versioned = std::fs::canonicalize(&on_path)
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("kubectl.1.30")))
        .filter(|p| p.is_file());
    versioned.unwrap_or(on_path)
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let nodes = args.first().copied().unwrap_or(1000) as usize;
    let seconds = args.get(1).copied().unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data, port) = common::init_master(dir.path(), "bench-master");
    let mut server = common::start_server(&cfg, &data, &port);
    let pid = server.id();
    std::thread::sleep(Duration::from_millis(500));

    let url = format!("https://127.0.0.1:{port}");
    eprintln!("issuing {nodes} node certificates…");
    let clients = simulated_nodes::clients(&cfg, &url, nodes);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    eprintln!("registering…");
    rt.block_on(simulated_nodes::register_all(&clients));

    eprintln!("{nodes} nodes heartbeating every 10 s for {seconds} s…");
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0u64));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..nodes)
        .map(|i| {
            let (clients, latencies, errors) = (clients.clone(), latencies.clone(), errors.clone());
            // Spread evenly over the 10 s period, as agents started at different times are.
            rt.spawn(simulated_nodes::heartbeat_until(clients, i, started, end, move |result| match result {
                Ok(took) => latencies.lock().unwrap().push(took),
                Err(()) => *errors.lock().unwrap() += 1,
            }))
        })
        .collect();

    // kubectl get nodes during the load, half-way through.
    std::thread::sleep(Duration::from_secs(seconds / 2));
    let admin = cfg.join("admin.conf");
    let kubectl = kubectl_binary();
    let mut kubectl_times = Vec::new();
    let mut floor_times = Vec::new();
    let mut listed = 0;
    for _ in 0..5 {
        // kubectl's own start-up, TLS and one trivial request: the part of the figure that is not the list.
        let t = Instant::now();
        let floor = Command::new(&kubectl).arg("--kubeconfig").arg(&admin).args(["get", "--raw", "/readyz"]).output();
        if floor.is_ok_and(|o| o.status.success()) {
            floor_times.push(t.elapsed());
        }
        let t = Instant::now();
        let out = Command::new(&kubectl).arg("--kubeconfig").arg(&admin).args(["get", "nodes"]).output();
        match out {
            Ok(out) if out.status.success() => {
                kubectl_times.push(t.elapsed());
                listed = String::from_utf8_lossy(&out.stdout).lines().count() - 1;
            }
            _ => break,
        }
    }
    // The server's own share: the Table list of all nodes as kubectl asks for it, timed by curl.
    let conf = kubeboot::bootstrap::kubeconfig::Kubeconfig::parse(&std::fs::read_to_string(&admin).unwrap()).unwrap();
    let (cert, key) = conf.first_user_credentials().unwrap();
    let (cert_file, key_file) = (dir.path().join("admin.pem"), dir.path().join("admin-key.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let mut list_times = Vec::new();
    for _ in 0..5 {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{time_total}", "--cacert"])
            .arg(cfg.join("pki/ca.crt"))
            .arg("--cert")
            .arg(&cert_file)
            .arg("--key")
            .arg(&key_file)
            .args(["-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json"])
            .arg(format!("https://127.0.0.1:{port}/api/v1/nodes?limit=500"))
            .output();
        if let Some(secs) = out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).parse::<f64>().ok()) {
            list_times.push(Duration::from_secs_f64(secs));
        }
    }
    list_times.sort();
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let rss = rss_kib(pid, "VmRSS:");
    let peak = rss_kib(pid, "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    println!("kubeboot server, {nodes} simulated nodes, heartbeat every 10 s, {seconds} s, release build");
    println!(
        "heartbeats: {} ok, {} failed; latency p50 {}  p90 {}  p99 {}  max {}   (target p99 < 50 ms)",
        lat.len(),
        errors.lock().unwrap(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.90)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap()),
    );
    if kubectl_times.is_empty() {
        println!("kubectl get nodes: SKIPPED (no kubectl on PATH)");
    } else {
        kubectl_times.sort();
        floor_times.sort();
        println!(
            "{} get nodes ({listed} nodes, during the load): median {}  max {}   (target < 300 ms); \
             get --raw /readyz (kubectl alone): median {}",
            kubectl.display(),
            ms(kubectl_times[kubectl_times.len() / 2]),
            ms(*kubectl_times.last().unwrap()),
            ms(floor_times.get(floor_times.len() / 2).copied().unwrap_or_default()),
        );
    }
    if let Some(median) = list_times.get(list_times.len() / 2) {
        println!("the Table list of all nodes alone (curl, TLS included): median {}", ms(*median));
    }
    println!("server memory: RSS {} MiB now, peak {} MiB   (target < 150 MB)", rss / 1024, peak / 1024);
}
