//! Pods: Pending until an agent reports, the default not-ready/unreachable tolerations, and graceful
//! deletion — a pod on a node is only marked (deletionTimestamp = now + grace) and its node's agent stops
//! the containers and deletes the object with grace 0.

use serde_json::{json, Value};

use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;
use crate::resources::{meta, pod};

pub struct PodStrategy;

impl Strategy for PodStrategy {
    fn prepare_for_create(&self, ctx: &Context, object: &mut Value) {
        if object.pointer("/status/phase").is_none() {
            object["status"] = json!({"phase": "Pending"});
        }
        pod::add_default_tolerations(object, ctx.toleration_seconds);
    }

    /// A pod no node runs, a grace of 0 (`--force --grace-period=0`) or a shorter grace on an already
    /// marked pod's last step deletes at once.
    fn graceful_deletion(&self, object: &Value, requested: Option<i64>) -> Option<Value> {
        pod::node_name(object)?;
        if pod::is_terminal(object) && !pod::is_deleting(object) {
            return None;
        }
        let default = object.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
        let grace = requested.unwrap_or(default).max(0);
        if grace == 0 {
            return None;
        }
        let current = object.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64);
        if current.is_some_and(|c| c <= grace) {
            return Some(object.clone());
        }
        let mut marked = object.clone();
        let deadline = meta::plus_seconds(time::OffsetDateTime::now_utc(), grace);
        marked["metadata"]["deletionTimestamp"] = json!(meta::rfc3339(deadline));
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        Some(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_on_a_node_is_marked_and_an_unbound_one_goes_at_once() {
        let bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let marked = PodStrategy.graceful_deletion(&bound, None).unwrap();
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
        assert!(PodStrategy.graceful_deletion(&bound, Some(0)).is_none(), "grace 0 deletes now");
        let again = PodStrategy.graceful_deletion(&marked, Some(60)).unwrap();
        assert_eq!(again, marked, "a longer grace never extends a marked pod's");
        let unbound = json!({"metadata": {"name": "p"}, "spec": {}});
        assert!(PodStrategy.graceful_deletion(&unbound, None).is_none());
    }
}
