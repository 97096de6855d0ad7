//! The controllers and the scheduler at a cluster's scale, without containers: N simulated nodes (default
//! 1000, each with its own certificate, heartbeating every 10 s through the agent's code) against one
//! `kubeboot server` process; N ReplicaSets of 1 replica are created at once, and a simulated kubelet per
//! node reports its bound pods Running and Ready through that node's own client (as the agent would, with
//! node authorization). Prints the time until every ReplicaSet reports its replica ready, the controller
//! manager's reconciles and plan time (/metrics), the server's CPU time and memory. Asserts nothing.
//!
//!     cargo bench --bench controllers [-- N]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/simulated_nodes.rs"]
mod simulated_nodes;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kubeboot::apiclient::ApiClient;
use serde_json::{json, Value};

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// (reconciles, seconds computing plans) summed over the controllers.
async fn controller_counters(admin: &ApiClient) -> (f64, f64) {
    let reply = admin.request("GET", "/metrics", None, None).await.unwrap();
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    let sum = |family: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(family))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum()
    };
    (sum("kubeboot_controller_reconciles_total{"), sum("kubeboot_controller_reconcile_seconds_total{"))
}

/// Seconds computing plans per controller since the server started, the largest first.
async fn plan_seconds_by_controller(admin: &ApiClient) -> Vec<(String, f64)> {
    let reply = admin.request("GET", "/metrics", None, None).await.unwrap();
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    let mut by: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("kubeboot_controller_reconcile_seconds_total{controller=\""))
        .filter_map(|l| {
            let (name, rest) = l.split_once('"')?;
            Some((name.to_string(), rest.split_whitespace().last()?.parse().ok()?))
        })
        .collect();
    by.sort_by(|a, b| b.1.total_cmp(&a.1));
    by
}

fn replica_set(i: usize) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": format!("rs-{i:04}")},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"rs": format!("rs-{i:04}")}},
            "template": {"metadata": {"labels": {"rs": format!("rs-{i:04}")}},
                "spec": {"containers": [{"name": "app", "image": "kubetm/app:v1"}]}}}})
}

fn main() {
    let count = std::env::args().skip(1).find_map(|a| a.parse::<usize>().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data, port) = common::init_master(dir.path(), "bench-master");
    let mut server = common::start_server(&cfg, &data, &port);
    let pid = server.id();
    std::thread::sleep(Duration::from_millis(500));
    let url = format!("https://127.0.0.1:{port}");
    let conf =
        kubeboot::bootstrap::kubeconfig::Kubeconfig::parse(&std::fs::read_to_string(cfg.join("admin.conf")).unwrap())
            .unwrap();
    let admin = std::sync::Arc::new(ApiClient::from_kubeconfig(&conf).unwrap());
    eprintln!("issuing {count} node certificates…");
    let nodes = simulated_nodes::clients(&cfg, &url, count);
    let by_name: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    eprintln!("registering…");
    rt.block_on(simulated_nodes::register_all(&nodes));
    let started = Instant::now();
    let end = started + Duration::from_secs(3600);
    for i in 0..count {
        rt.spawn(simulated_nodes::heartbeat_until(nodes.clone(), i, started, end, |_| {}));
    }
    // Every node Ready with a podCIDR before the workload starts.
    rt.block_on(async {
        loop {
            let list = admin.request("GET", "/api/v1/nodes", None, None).await.unwrap().json();
            let ready =
                list["items"].as_array().map_or(0, |n| n.iter().filter(|n| n["spec"]["podCIDR"].is_string()).count());
            if ready >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    // The simulated kubelets: bound pods not yet Running are reported Running and Ready by their node.
    {
        let (admin, nodes, by_name) = (admin.clone(), nodes.clone(), by_name.clone());
        rt.spawn(async move {
            loop {
                let list = admin.request("GET", "/api/v1/pods?fieldSelector=status.phase%3DPending", None, None).await;
                for pod in list.map(|r| r.json()["items"].as_array().cloned().unwrap_or_default()).unwrap_or_default() {
                    let Some(i) = pod["spec"]["nodeName"].as_str().and_then(|n| by_name.get(n)) else { continue };
                    let mut running = pod.clone();
                    let now = kubeboot::resources::meta::now_rfc3339();
                    running["status"] = json!({"phase": "Running", "podIP": "10.250.0.1", "startTime": now,
                        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]});
                    let path =
                        format!("/api/v1/namespaces/default/pods/{}/status", pod["metadata"]["name"].as_str().unwrap());
                    let _ = nodes[*i].1.request("PUT", &path, Some(serde_json::to_vec(&running).unwrap()), None).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
    }

    let (r0, s0) = rt.block_on(controller_counters(&admin));
    let cpu0 = cpu_seconds(pid);
    eprintln!("creating {count} ReplicaSets of 1 replica…");
    let t0 = Instant::now();
    rt.block_on(async {
        let mut pending = futures::stream::FuturesUnordered::new();
        use futures::StreamExt;
        for i in 0..count {
            let body = serde_json::to_vec(&replica_set(i)).unwrap();
            let admin = admin.clone();
            pending.push(async move {
                admin.request("POST", "/apis/apps/v1/namespaces/default/replicasets", Some(body), None).await
            });
            if pending.len() >= 16 {
                pending.next().await;
            }
        }
        while pending.next().await.is_some() {}
    });
    let created = t0.elapsed();
    let all_ready = rt.block_on(async {
        loop {
            let list =
                admin.request("GET", "/apis/apps/v1/namespaces/default/replicasets", None, None).await.unwrap().json();
            let ready = list["items"]
                .as_array()
                .map_or(0, |l| l.iter().filter(|rs| rs["status"]["readyReplicas"] == 1).count());
            if ready >= count {
                return t0.elapsed();
            }
            if t0.elapsed() > Duration::from_secs(900) {
                eprintln!("gave up: {ready} of {count} ready after 15 min");
                return t0.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let (r1, s1) = rt.block_on(controller_counters(&admin));
    let by_controller = rt.block_on(plan_seconds_by_controller(&admin));
    let cpu = cpu_seconds(pid) - cpu0;
    let peak = rss_mib(pid);
    let _ = server.kill();
    let _ = server.wait();
    let reconciles = r1 - r0;
    println!("kubeboot server, {count} simulated nodes heartbeating, {count} ReplicaSets of 1 replica, release build");
    println!("  all {count} created (16 requests at a time): {:.1} s", created.as_secs_f64());
    println!("  every ReplicaSet reporting its replica ready: {:.1} s after the first create", all_ready.as_secs_f64());
    println!(
        "  controller manager: {reconciles:.0} reconciles, {:.0} ms computing plans ({:.0} us per reconcile)",
        (s1 - s0) * 1000.0,
        (s1 - s0) / reconciles * 1e6
    );
    let top: Vec<String> = by_controller.iter().take(4).map(|(c, s)| format!("{c} {:.0} ms", s * 1000.0)).collect();
    println!("  of which (since the server started): {}", top.join(", "));
    println!(
        "  kubeboot-server CPU over the phase (API, store, scheduler, controllers, {count} heartbeats/10 s): {cpu:.1} s \
         ({:.2} ms per reconcile); peak RSS {peak} MiB",
        cpu / reconciles * 1000.0
    );
}
