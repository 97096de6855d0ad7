//! The agent's DNS server against a client nobody here wrote (busybox's nslookup, from Debian's
//! busybox-static): cluster names answered from the zone, SRV for a named port, NXDOMAIN for a missing
//! Service, and a name outside the cluster forwarded to the upstream (a second server for another
//! domain). Binds 127.0.0.86:53 and 127.0.0.87:53 (root, as CI).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use kubeboot::agent::dns::{server, zone::Zone};
use serde_json::json;

fn nslookup(args: &[&str]) -> (bool, String) {
    let out = Command::new("busybox")
        .arg("nslookup")
        .args(args)
        .output()
        .expect("busybox on PATH (Debian's busybox-static; .ci/setup installs it)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn busybox_nslookup_resolves_cluster_names_and_forwards_the_rest() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let services = vec![json!({"metadata": {"namespace": "default", "name": "svc-1"},
            "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 9000, "protocol": "TCP"}]}})];
    let cluster = Zone::build("cluster.local", &services, &[]);
    let elsewhere = Zone::build(
        "example.test",
        &[json!({"metadata": {"namespace": "ns", "name": "www"}, "spec": {"clusterIP": "192.0.2.7"}})],
        &[],
    );
    let cluster_address: SocketAddr = "127.0.0.86:53".parse().unwrap();
    let upstream_listen: SocketAddr = "127.0.0.87:53".parse().unwrap();
    let (_keep1, cluster_zone) = tokio::sync::watch::channel(Arc::new(cluster));
    let (_keep2, upstream_zone) = tokio::sync::watch::channel(Arc::new(elsewhere));
    runtime.spawn(server::serve(upstream_listen, upstream_zone, Vec::new()));
    runtime.spawn(server::serve(cluster_address, cluster_zone, vec![upstream_listen]));
    std::thread::sleep(std::time::Duration::from_millis(300));

    let (ok, out) = nslookup(&["svc-1.default.svc.cluster.local", "127.0.0.86"]);
    assert!(ok && out.contains("Address: 10.96.0.20"), "{out}");
    let (ok, out) = nslookup(&["-type=srv", "_http._tcp.svc-1.default.svc.cluster.local", "127.0.0.86"]);
    assert!(ok && out.contains("9000 svc-1.default.svc.cluster.local"), "{out}");
    let (ok, out) = nslookup(&["nope.default.svc.cluster.local", "127.0.0.86"]);
    assert!(!ok && out.contains("NXDOMAIN"), "{out}");
    let (ok, out) = nslookup(&["www.ns.svc.example.test", "127.0.0.86"]);
    assert!(ok && out.contains("Address: 192.0.2.7"), "forwarded: {out}");
}
