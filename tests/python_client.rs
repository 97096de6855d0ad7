//! The official Kubernetes Python client (PyPI `kubernetes` 33.1.0, which .ci/setup installs into
//! target/pyclient) drives an API server the test starts: tests/python/client_compat.py lists nodes, does
//! CRUD, patch, replace, watch, scale and selector lists over the served kinds, reads the server's defaults
//! through the client's typed models and asks a SelfSubjectAccessReview. A missing client fails the test,
//! named.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_official_python_client_works_against_the_server() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyclient/bin/python");
    let has_client = Command::new(&python).args(["-c", "import kubernetes"]).status().is_ok_and(|s| s.success());
    assert!(has_client, "no Python client at {} (run .ci/setup: pip install kubernetes into it)", python.display());

    let server = common::api::start();
    let (admin_conf, conf) = server.admin_kubeconfig();
    let api = kubeboot::apiclient::ApiClient::from_kubeconfig(&conf).unwrap();
    let mut node = kubeboot::agent::node_info::node_object("py-node", "10.0.0.40", false);
    let now = time::OffsetDateTime::now_utc();
    kubeboot::resources::node::set_ready(&mut node, "True", "KubeletReady", "ready", Some(now), now);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reply =
        rt.block_on(api.request("POST", "/api/v1/nodes", Some(serde_json::to_vec(&node).unwrap()), None)).unwrap();
    assert_eq!(reply.status, 201, "{}", reply.message());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_compat.py");
    let out = Command::new(&python).arg(&script).arg(&admin_conf).env("HOME", server.dir.path()).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let passed: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
    assert_eq!(passed.len(), 14, "every check ran: {stdout}");
}
