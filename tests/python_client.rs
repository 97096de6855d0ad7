//! The official Kubernetes Python client (PyPI `kubernetes` 33.1.0, which .ci/setup installs into
//! target/pyclient) drives an API server the test starts: tests/python/client_compat.py lists nodes, does
//! CRUD, patch, replace, watch, scale and selector lists over the served kinds (every kind at least created,
//! read, patched, listed by label and deleted), reads the server's defaults
//! through the client's typed models and asks a SelfSubjectAccessReview. A missing client fails the test,
//! named.

mod common;

#[test]
fn the_official_python_client_works_against_the_server() {
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

    let passed = common::python_client::run_script("client_compat.py", &admin_conf, server.dir.path());
    assert_eq!(passed.len(), 15, "every check ran: {passed:?}");
}
