//! /metrics as Prometheus reads it: tests/python/metrics_scrape.py fetches it with the official Kubernetes
//! Python client and parses it with prometheus_client's own parser (request counts by verb, resource, scope
//! and code, the duration histogram, open watches, the controllers' counters). Its own test binary: the
//! metrics are process-wide, as kube-apiserver's, so no other server may share the process.

mod common;

#[test]
fn metrics_are_what_prometheus_parses() {
    let server = common::api::start_with_controllers();
    let (admin_conf, _) = server.admin_kubeconfig();
    let passed = common::python_client::run_script("metrics_scrape.py", &admin_conf, server.dir.path());
    assert_eq!(passed.len(), 4, "every check ran: {passed:?}");
}
