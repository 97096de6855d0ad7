//! Binding a pod to a node — what the `pods/binding` subresource does and what the scheduler calls: set
//! spec.nodeName once (a bound pod is never moved) and the PodScheduled condition, in one conditional write.

use serde_json::Value;

use super::{Registry, RegistryError};
use crate::resources::meta::{now_rfc3339, set_resource_version};
use crate::resources::pod::{is_deleting, node_name, set_condition};

impl Registry {
    /// Bind `namespace/name` to `node`; returns the pod as stored.
    pub fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<Value, RegistryError> {
        let pods = crate::resources::kinds::served("", "pods");
        let stored = self.existing(pods, Some(namespace), name)?;
        let mut pod: Value =
            serde_json::from_slice(&stored.value).map_err(|e| RegistryError::Internal(e.to_string()))?;
        let refused = |why: String| {
            RegistryError::Precondition(format!("Operation cannot be fulfilled on pods/binding {name:?}: {why}"))
        };
        if let Some(current) = node_name(&pod) {
            return Err(refused(format!("pod {name} is already assigned to node {current:?}")));
        }
        if is_deleting(&pod) {
            return Err(refused(format!("pod {name} is being deleted")));
        }
        pod["spec"]["nodeName"] = Value::String(node.into());
        set_condition(&mut pod, "PodScheduled", "True", None, None, &now_rfc3339());
        let revision = self
            .store()
            .update(&stored.key, &serde_json::to_vec(&pod).expect("json"), Some(stored.revision))
            .map_err(|e| RegistryError::from_store(pods, name, e))?;
        set_resource_version(&mut pod, revision);
        Ok(pod)
    }
}
