//! Unmodified kubectl binaries against an API server the test starts: every kubectl this machine has
//! (PATH, the versioned builds beside it, Debian's 1.20 that .ci/setup unpacks into target/) runs
//! `get nodes` plain, -o wide, -o yaml, -o json, -l, --show-labels and a single node. A missing binary is
//! reported as SKIPPED by name.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// (label, path) of each kubectl to try; missing ones are printed as skipped.
fn kubectls() -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("kubectl")).find(|p| p.is_file()));
    match &on_path {
        Some(p) => found.push(("kubectl (PATH)".to_string(), p.clone())),
        None => eprintln!("SKIPPED kubectl (PATH): not found"),
    }
    let beside = on_path.and_then(|p| std::fs::canonicalize(p).ok()).and_then(|p| p.parent().map(Path::to_path_buf));
    for minor in 27..=33 {
        let name = format!("kubectl.1.{minor}");
        match beside.as_ref().map(|d| d.join(&name)).filter(|p| p.is_file()) {
            Some(p) => found.push((name, p)),
            None => eprintln!("SKIPPED {name}: not beside the kubectl on PATH"),
        }
    }
    let debian = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kubectl-1.20/usr/bin/kubectl");
    if debian.is_file() {
        found.push(("kubectl 1.20 (Debian kubernetes-client)".into(), debian));
    } else {
        eprintln!("SKIPPED kubectl 1.20 (Debian kubernetes-client): run .ci/setup to unpack it");
    }
    found
}

fn node(name: &str, ip: &str, master: bool) -> Value {
    let mut n = kubeboot::agent::node_info::node_object(name, ip, master);
    let now = time::OffsetDateTime::now_utc();
    kubeboot::resources::node::set_ready(&mut n, "True", "KubeletReady", "ready", Some(now), now);
    n
}

#[test]
fn kubectl_versions_get_nodes() {
    let server = common::api::start();
    let admin_conf = server.dir.path().join("admin.conf");
    let conf = kubeboot::bootstrap::kubeconfig::Kubeconfig::with_user(
        "t",
        &format!("https://127.0.0.1:{}", server.port),
        &server.ca_pem,
        "kubernetes-admin",
        &server.admin.0,
        &server.admin.1,
    );
    std::fs::write(&admin_conf, conf.to_yaml()).unwrap();
    let client = kubeboot::apiclient::ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for n in [node("k8s-master", "10.0.0.30", true), node("k8s-node1", "10.0.0.31", false)] {
        let body = serde_json::to_vec(&n).unwrap();
        let reply = rt.block_on(client.request("POST", "/api/v1/nodes", Some(body), None)).unwrap();
        assert_eq!(reply.status, 201, "{}", reply.message());
    }

    let binaries = kubectls();
    assert!(!binaries.is_empty(), "no kubectl at all on this machine");
    for (label, kubectl) in binaries {
        let run = |args: &[&str]| {
            let out = Command::new(&kubectl)
                .args(args)
                .env("KUBECONFIG", &admin_conf)
                .env("HOME", server.dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{label} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let rows = |text: &str| -> Vec<Vec<String>> {
            text.lines().map(|l| l.split_whitespace().map(String::from).collect()).collect()
        };

        let plain = rows(&run(&["get", "nodes"]));
        assert_eq!(plain[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], "{label}");
        assert_eq!(&plain[1][..3], ["k8s-master", "Ready", "master"], "{label}");
        assert_eq!(&plain[2][..3], ["k8s-node1", "Ready", "<none>"], "{label}");

        let wide = rows(&run(&["get", "nodes", "-o", "wide"]));
        assert_eq!(wide[0][5..7], ["INTERNAL-IP", "EXTERNAL-IP"], "{label}");
        assert_eq!(wide[2][5], "10.0.0.31", "{label}");

        let yaml = run(&["get", "nodes", "-o", "yaml"]);
        assert!(yaml.contains("kind: Node\n") && yaml.contains("name: k8s-node1\n"), "{label}: {yaml}");
        let list: Value = serde_json::from_str(&run(&["get", "nodes", "-o", "json"])).unwrap();
        assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{label}");

        let masters = rows(&run(&["get", "nodes", "-l", "node-role.kubernetes.io/master"]));
        assert_eq!(masters.len(), 2, "{label}: header + the master only: {masters:?}");
        let workers = rows(&run(&["get", "no", "-l", "!node-role.kubernetes.io/master"]));
        assert_eq!(workers[1][0], "k8s-node1", "{label}");

        let labelled = run(&["get", "nodes", "--show-labels"]);
        assert!(labelled.contains("kubernetes.io/hostname=k8s-node1"), "{label}: {labelled}");
        let one = rows(&run(&["get", "node", "k8s-node1"]));
        assert_eq!((one.len(), one[1][0].as_str()), (2, "k8s-node1"), "{label}");
        let missing =
            Command::new(&kubectl).args(["get", "node", "nope"]).env("KUBECONFIG", &admin_conf).output().unwrap();
        assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFound"), "{label}");
        eprintln!("ok: {label}");
    }
}
