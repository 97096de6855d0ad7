//! The API conventions other people's clients rely on (issue 28), checked with the official Python client
//! (tests/python/api_conventions.py) against an API server with its controllers: concurrent writes without
//! preconditions, DeleteOptions preconditions, server-side apply, and (issue 29) eviction against
//! PodDisruptionBudgets. A missing client fails the test, named.

mod common;

#[test]
fn the_api_keeps_kubernetes_conventions_for_the_python_client() {
    let server = common::api::start_with_controllers();
    let (admin_conf, _) = server.admin_kubeconfig();
    let passed = common::python_client::run_script("api_conventions.py", &admin_conf, server.dir.path());
    assert_eq!(passed.len(), 18, "every check ran: {passed:?}");
}
