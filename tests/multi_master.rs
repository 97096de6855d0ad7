//! Two masters on a three-member etcd (real etcd, real `kubeboot server` processes, real kubectl), on this
//! machine's loopback: what is written through one master is read and watched through the other; exactly
//! one runs the controllers, and when it dies (with its etcd member: a power cut of its host) the other
//! takes the controllers over and the API keeps answering and acknowledging writes, none of them lost; a
//! ClusterIP asked of both masters at once goes to one Service only; the `kubernetes` endpoints name the
//! live masters, and a client that knows both goes on through the survivor.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::kubectl::Kubectl;
use kubeboot::apiclient::ApiClient;
use kubeboot::bootstrap::kubeconfig::Kubeconfig;

/// A running master; its server is ended (by its process id) when dropped, also when a check fails.
struct Master {
    server: Child,
    kubectl: Kubectl,
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string()
}

/// Start the master whose config is `cfg` on `port`, with a kubectl whose kubeconfig points at it.
fn start(dir: &Path, name: &str, cfg: &Path, port: &str, first_port: &str) -> Master {
    let data = dir.join(name).join("var");
    let mut server = common::start_server(cfg, &data, port);
    common::wait_listening(&mut server, &data, port);
    let admin = std::fs::read_to_string(cfg.join("admin.conf")).unwrap();
    let kubeconfig = dir.join(format!("{name}.conf"));
    std::fs::write(&kubeconfig, admin.replace(&format!("127.0.0.1:{first_port}"), &format!("127.0.0.1:{port}")))
        .unwrap();
    let kubectl = Kubectl::new("kubectl.1.33", &kubeconfig).with_home(dir).in_namespace("default");
    Master { server, kubectl }
}

/// Wait up to `limit` for `done`; how long it took.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

fn lease_holder(kubectl: &Kubectl) -> String {
    let (_, out) = kubectl.code(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-controller-manager",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    out.trim().to_string()
}

#[test]
fn two_masters_on_three_etcd_members_survive_losing_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = common::etcd::Etcd::cluster(dir.path(), 3);
    let endpoints: Vec<String> = etcd.iter().map(|e| e.client_url.clone()).collect();

    let etcd_endpoints = endpoints.join(",");
    let (cfg1, _, first_port) =
        common::init_master_with(&dir.path().join("m1"), "m1", &["--etcd-endpoints", &etcd_endpoints]);
    // The second master has the first one's PKI and settings (what `join --control-plane` delivers).
    let cfg2 = dir.path().join("m2").join("etc");
    copy_dir(&cfg1, &cfg2);
    // Its own address (loopback too, so the test reaches it); the API server certificate is m1's.
    let settings = std::fs::read_to_string(cfg2.join("server.yaml")).unwrap();
    let own = settings.replace("advertise_address: 127.0.0.1", "advertise_address: 127.0.0.2");
    assert_ne!(own, settings, "{settings}");
    std::fs::write(cfg2.join("server.yaml"), own).unwrap();

    let mut m1 = start(dir.path(), "m1", &cfg1, &first_port, &first_port);
    let first_leader =
        wait_for("m1 leads the controllers", Duration::from_secs(30), || !lease_holder(&m1.kubectl).is_empty());
    eprintln!("m1 took the controllers' Lease in {first_leader:?}");
    let holder = lease_holder(&m1.kubectl);
    let m2_port = free_port();
    let m2 = start(dir.path(), "m2", &cfg2, &m2_port, &first_port);

    // The `kubernetes` Service's endpoints name both masters.
    let masters = |k: &Kubectl| {
        k.stdout(&["get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[*].ip}"]).trim().to_string()
    };
    wait_for("both masters in the kubernetes endpoints", Duration::from_secs(15), || {
        masters(&m1.kubectl) == "127.0.0.1 127.0.0.2"
    });

    // Written through one, read and watched through the other.
    let (mut watch, lines) = m2.kubectl.spawn(&["get", "configmaps", "--watch-only", "-o", "name"]);
    std::thread::sleep(Duration::from_secs(1));
    m1.kubectl.stdout(&["create", "configmap", "through-m1", "--from-literal=k=v"]);
    let seen = lines.recv_timeout(Duration::from_secs(10)).expect("m2's watch saw the create through m1");
    assert_eq!(seen, "configmap/through-m1");
    let _ = watch.kill();
    let _ = watch.wait();
    let on_m1 = m1.kubectl.json(&["get", "configmap", "through-m1", "-o", "json"]);
    let on_m2 = m2.kubectl.json(&["get", "configmap", "through-m1", "-o", "json"]);
    assert_eq!(on_m1["metadata"]["resourceVersion"], on_m2["metadata"]["resourceVersion"]);
    assert_eq!(on_m2["data"]["k"], "v");

    // One ClusterIP asked of both masters at once: one Service gets it, the other a 422.
    let asks: Vec<_> = [&m1.kubectl, &m2.kubectl]
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let k = k.clone();
            std::thread::spawn(move || {
                k.code(&[
                    "create",
                    "service",
                    "clusterip",
                    &format!("race-{i}"),
                    "--tcp=80:80",
                    "--clusterip=10.96.0.77",
                ])
            })
        })
        .collect();
    let answers: Vec<(Option<i32>, String)> = asks.into_iter().map(|a| a.join().unwrap()).collect();
    let won = answers.iter().filter(|(code, _)| *code == Some(0)).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(answers.iter().any(|(_, out)| out.contains("provided IP is already allocated")), "{answers:?}");

    // The controllers run on the Lease holder (m1): a Deployment made through m2 gets its ReplicaSet.
    m2.kubectl.stdout(&["create", "deployment", "before", "--image=registry.lab/nginx:1.25"]);
    wait_for("before's ReplicaSet", Duration::from_secs(30), || {
        m2.kubectl.stdout(&["get", "replicasets", "-l", "app=before", "-o", "name"]).contains("replicaset")
    });

    // A client that knows both masters (as an agent learns them from the kubernetes endpoints) uses m1.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let admin = Kubeconfig::parse(&std::fs::read_to_string(cfg1.join("admin.conf")).unwrap()).unwrap();
    let client = ApiClient::from_kubeconfig(&admin).unwrap();
    let (m1_url, m2_url) = (format!("https://127.0.0.1:{first_port}"), format!("https://127.0.0.1:{m2_port}"));
    client.servers().learn(&[m1_url.clone(), m2_url.clone()]);
    let get = |path: &str| rt.block_on(client.request("GET", path, None, None)).map(|r| r.status);
    assert_eq!(get("/api/v1/namespaces/default/configmaps/through-m1").unwrap(), 200);
    assert_eq!(client.server(), m1_url);

    // Power cut of m1's host: its server and its etcd member die.
    let _ = m1.server.kill();
    let _ = m1.server.wait();
    let cut = Instant::now();
    etcd[0].kill();
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let name = format!("after-{i}");
        let (code, out) = m2.kubectl.code(&["create", "configmap", &name, "--from-literal=k=v"]);
        assert_eq!(code, Some(0), "a write through m2 after the cut: {out}");
        acknowledged.push(name);
    }
    let writes_after = cut.elapsed();
    assert_eq!(get("/api/v1/namespaces/default/configmaps/through-m1").unwrap(), 200, "the client failed over");
    assert_eq!(client.server(), m2_url, "and stays with m2");
    m2.kubectl.stdout(&["create", "deployment", "after", "--image=registry.lab/nginx:1.25"]);
    wait_for("the controllers move to m2", Duration::from_secs(60), || {
        m2.kubectl.stdout(&["get", "replicasets", "-l", "app=after", "-o", "name"]).contains("replicaset")
    });
    let controllers_back = cut.elapsed();
    let new_holder = lease_holder(&m2.kubectl);
    assert!(!new_holder.is_empty() && new_holder != holder, "the Lease moved from {holder} to {new_holder}");
    eprintln!("after the cut: 20 writes acknowledged in {writes_after:?}; controllers running on m2 {controllers_back:?} after it");
    wait_for("m1 out of the kubernetes endpoints", Duration::from_secs(40), || masters(&m2.kubectl) == "127.0.0.2");
    let names = m2.kubectl.stdout(&["get", "configmaps", "-o", "name"]);
    for name in &acknowledged {
        assert!(names.contains(&format!("configmap/{name}")), "{name} acknowledged, then lost");
    }
}
