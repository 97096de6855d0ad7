//! Control loops inside `kubeboot server`. node_lifecycle and node_ipam are plain functions over the store,
//! run on an interval; the rest are reconcilers run by the controller runtime (control_plane/runtime).

pub mod deployment;
pub mod garbage_collector;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod replica_set;
pub mod rollout;

use std::sync::Arc;

use crate::control_plane::runtime::Reconciler;

/// The controllers kube-controller-manager runs here, in the order they are started.
pub fn all() -> Vec<Arc<dyn Reconciler>> {
    vec![
        Arc::new(garbage_collector::GarbageCollector),
        Arc::new(replica_set::ReplicaSetController),
        Arc::new(deployment::DeploymentController),
    ]
}
