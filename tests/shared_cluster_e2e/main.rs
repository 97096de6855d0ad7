//! The lab suites that need only a plain cluster, on one (`lab up 3` + `up`, built once: a cluster costs a
//! minute): persistent volumes (storage.rs), what other people's software needs — an operator, admission
//! webhooks, resource metrics and the HPA — (extensions.rs), then Services, DNS and the data path
//! (services.rs), whose last check resets the cluster. Each part cleans up what could disturb the next.

#[path = "../common/mod.rs"]
mod common;
mod extensions;
mod services;
mod storage;

#[test]
fn storage_extensions_and_services_on_one_lab_cluster() {
    let cluster = common::kubectl::lab_cluster();
    storage::checks(&cluster);
    extensions::checks(&cluster);
    services::checks(&cluster);
    let down = common::kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
