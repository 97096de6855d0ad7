//! Binding a pod to a node — what the `pods/binding` subresource does and what the scheduler calls: set
//! spec.nodeName once (a bound pod is never moved) and the PodScheduled condition, in one conditional write.

use serde_json::Value;

use super::store::{Store, StoreError};
use crate::resources::meta::now_rfc3339;
use crate::resources::pod::{node_name, set_condition};

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("pods {0:?} not found")]
    NotFound(String),
    #[error("pod {pod} is already assigned to node {node:?}")]
    AlreadyBound { pod: String, node: String },
    #[error("pod {0} is being deleted")]
    Deleting(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bind `namespace/name` to `node`; returns the stored pod.
pub fn bind(store: &dyn Store, namespace: &str, name: &str, node: &str) -> Result<Value, BindError> {
    let key = format!("/pods/{namespace}/{name}");
    let stored = store.get(&key)?.ok_or_else(|| BindError::NotFound(name.into()))?;
    let mut pod: Value = serde_json::from_slice(&stored.value).map_err(|e| StoreError::Backend(e.to_string()))?;
    if let Some(current) = node_name(&pod) {
        return Err(BindError::AlreadyBound { pod: name.into(), node: current.into() });
    }
    if crate::resources::pod::is_deleting(&pod) {
        return Err(BindError::Deleting(name.into()));
    }
    pod["spec"]["nodeName"] = Value::String(node.into());
    set_condition(&mut pod, "PodScheduled", "True", None, None, &now_rfc3339());
    let revision = store.update(&key, &serde_json::to_vec(&pod).expect("json"), Some(stored.revision))?;
    crate::resources::meta::set_resource_version(&mut pod, revision);
    Ok(pod)
}
