//! kube-controller-manager's controllers inside `kubeboot server`: reconcilers (plain functions over the
//! informer's cache returning plans) run by the controller runtime (control_plane/runtime).

pub mod cron_job;
pub mod custom_resource_definition;
pub mod daemon_set;
pub mod deployment;
pub mod disruption;
pub mod dns_endpoints;
pub mod endpoints;
pub mod garbage_collector;
pub mod horizontal_pod_autoscaler;
pub mod job;
pub mod local_path;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod node_taints;
pub mod replica_calculator;
pub mod replica_set;
pub mod rollout;
pub mod taint_eviction;
pub mod volume_binder;
pub mod volume_protection;

use std::sync::Arc;

use crate::control_plane::runtime::{Cache, Change, Reconciler};
use crate::resources::pod::controller_uid;

/// The keys a change concerns for a controller of the objects under `own_prefix` that owns those under
/// `dependent_prefix`: the object itself, or the controller owner (old and new) of a changed dependent.
pub fn own_or_owner_keys(change: &Change, cache: &Cache, own_prefix: &str, dependent_prefix: &str) -> Vec<String> {
    if change.key.starts_with(own_prefix) {
        return vec![change.key.clone()];
    }
    if !change.key.starts_with(dependent_prefix) {
        return Vec::new();
    }
    let mut keys: Vec<String> = [&change.old, &change.new]
        .into_iter()
        .flatten()
        .filter_map(|o| controller_uid(o).and_then(|u| cache.key_of_uid(u)))
        .filter(|k| k.starts_with(own_prefix))
        .map(String::from)
        .collect();
    keys.dedup();
    keys
}

/// The controllers kube-controller-manager runs here, in the order they are started. `pod_network`: the
/// cluster's pod range, out of which each Node gets its podCIDR.
pub fn all(pod_network: ipnet::IpNet) -> Vec<Arc<dyn Reconciler>> {
    vec![
        Arc::new(node_lifecycle::NodeLifecycle::default()),
        Arc::new(node_ipam::NodeIpam { cluster: pod_network, mask: node_ipam::NODE_MASK }),
        Arc::new(node_taints::NodeTaints),
        Arc::new(taint_eviction::TaintEviction),
        Arc::new(garbage_collector::GarbageCollector),
        Arc::new(replica_set::ReplicaSetController::for_replica_sets()),
        Arc::new(replica_set::ReplicaSetController::for_replication_controllers()),
        Arc::new(deployment::DeploymentController),
        Arc::new(daemon_set::DaemonSetController),
        Arc::new(job::JobController),
        Arc::new(cron_job::CronJobController),
        Arc::new(endpoints::EndpointsController),
        Arc::new(dns_endpoints::DnsEndpoints),
        Arc::new(volume_binder::VolumeBinder::default()),
        Arc::new(local_path::LocalPathProvisioner),
        Arc::new(volume_protection::VolumeProtection),
        Arc::new(namespace::NamespaceController),
        Arc::new(disruption::DisruptionController),
        Arc::new(custom_resource_definition::DefinitionController),
    ]
}
