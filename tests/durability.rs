//! Every acknowledged write survives kill -9: a client creates 1000 ConfigMaps one after another through a
//! real `kubeboot server` process; the server is SIGKILLed (and started again) while the writes run; when
//! the client has 1000 acknowledgements, every one of those objects is there with the data it was given.
//! A server killed at any moment of its start starts again, with the Services it makes at start whole.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeboot::apiclient::ApiClient;
use kubeboot::bootstrap::kubeconfig::Kubeconfig;

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data, port) = common::init_master(dir.path(), "m1");
    let mut server = common::start_server(&cfg, &data, &port);

    let conf = Kubeconfig::parse(&std::fs::read_to_string(cfg.join("admin.conf")).unwrap()).unwrap();
    let client = ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let acknowledged = Arc::new(AtomicUsize::new(0));

    // The killer: SIGKILL once 300 writes are acknowledged, start the server again at once.
    let killer = {
        let acknowledged = acknowledged.clone();
        let (cfg, data, port) = (cfg.clone(), data.clone(), port.clone());
        let pid = server.id();
        std::thread::spawn(move || {
            while acknowledged.load(Ordering::SeqCst) < 300 {
                std::thread::sleep(Duration::from_millis(1));
            }
            Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            common::start_server(&cfg, &data, &port)
        })
    };

    let mut refused_while_down = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0..1000 {
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}")}, "data": {"index": i.to_string()},
        });
        let mut retried = false;
        loop {
            assert!(Instant::now() < deadline, "the writes did not finish");
            match rt.block_on(client.request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                Some(body.to_string().into_bytes()),
                None,
            )) {
                Ok(reply) if reply.status == 201 => break,
                // Committed just before the kill, acknowledgement lost: it is there, which is what counts.
                Ok(reply) if reply.status == 409 && retried => break,
                Ok(reply) => panic!("cm-{i}: {} {}", reply.status, reply.message()),
                Err(_) => {
                    retried = true;
                    refused_while_down += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
    let _ = server.wait(); // the killed first process
    let mut restarted = killer.join().unwrap();
    assert!(refused_while_down > 0, "the kill happened while the writes ran");

    let reply = rt.block_on(client.request("GET", "/api/v1/namespaces/default/configmaps", None, None)).unwrap();
    let list = reply.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1000, "every acknowledged write is there");
    for item in items {
        let name = item["metadata"]["name"].as_str().unwrap();
        assert_eq!(format!("cm-{}", item["data"]["index"].as_str().unwrap()), name);
    }
    let _ = restarted.kill();
    let _ = restarted.wait();
}

/// SIGKILL a server 40 times in the first milliseconds after it listens (its first writes: the `kubernetes`
/// and kube-dns Services with their ClusterIPs); each next start must come up, and at the end the Services
/// hold their addresses with nothing else claimed (a ClusterIP written apart from its Service once left
/// the kube-dns Service refused its own address, and the server unable to start).
#[test]
fn a_server_killed_while_starting_starts_again_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, data, port) = common::init_master(dir.path(), "m1");
    let log = || std::fs::read_to_string(common::server_log(&data)).unwrap_or_default();
    for i in 0..40u64 {
        let mut server = common::start_server(&cfg, &data, &port);
        common::wait_listening(&mut server, &data, &port);
        std::thread::sleep(Duration::from_micros(i * 250 % 5000));
        if let Ok(Some(status)) = server.try_wait() {
            panic!("start {i} exited ({status}); its log:\n{}", log());
        }
        server.kill().unwrap();
        server.wait().unwrap();
    }
    let mut server = common::start_server(&cfg, &data, &port);
    common::wait_listening(&mut server, &data, &port);

    let conf = Kubeconfig::parse(&std::fs::read_to_string(cfg.join("admin.conf")).unwrap()).unwrap();
    let client = ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = |path: &str| rt.block_on(client.request("GET", path, None, None)).unwrap().json();
    assert_eq!(get("/api/v1/namespaces/kube-system/services/kube-dns")["spec"]["clusterIP"], "10.96.0.10");
    assert_eq!(get("/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"], "10.96.0.1");
    let services = get("/api/v1/services");
    assert_eq!(services["items"].as_array().unwrap().len(), 2, "{services}");
    server.kill().unwrap();
    server.wait().unwrap();
    // Every claimed address is a Service's: the store holds exactly the two.
    let store = kubeboot::control_plane::store::RedbStore::open(&data.join("state.redb")).unwrap();
    use kubeboot::control_plane::store::Store;
    let claimed: Vec<String> = store.list("/ranges/serviceips/").unwrap().0.into_iter().map(|s| s.key).collect();
    assert_eq!(claimed, ["/ranges/serviceips/10.96.0.1", "/ranges/serviceips/10.96.0.10"]);
}
