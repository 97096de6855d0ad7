//! The apps and batch kinds, ReplicationControllers and PodDisruptionBudgets: metadata.generation counts
//! their spec changes (their controllers report status.observedGeneration);
//! Jobs get their completion defaults and are orphaned by default (kept for old clients: kubectl always
//! sends Background); a ReplicationController without labels takes its template's.

use serde_json::Value;

use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;

pub struct WorkloadStrategy {
    job: bool,
    replication_controller: bool,
}

pub const WORKLOAD: WorkloadStrategy = WorkloadStrategy { job: false, replication_controller: false };
pub const JOB: WorkloadStrategy = WorkloadStrategy { job: true, replication_controller: false };
pub const REPLICATION_CONTROLLER: WorkloadStrategy = WorkloadStrategy { job: false, replication_controller: true };

impl Strategy for WorkloadStrategy {
    fn canonicalize(&self, object: &mut Value) {
        if self.replication_controller {
            crate::resources::workload_defaults::replication_controller_labels(object);
        }
    }

    fn prepare_for_create(&self, _ctx: &Context, object: &mut Value) {
        if self.job {
            crate::resources::job_defaults::apply(object);
        }
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn default_propagation(&self) -> &'static str {
        if self.job {
            "Orphan"
        } else {
            "Background"
        }
    }
}
