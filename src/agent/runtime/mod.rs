//! The container runtime seen from the pod sync: containers labelled the way kubelet's dockershim labels
//! them, observed as `Instance`s, and the few operations the sync needs. `docker.rs` implements it on the
//! Docker Engine API; tests of the pure parts use plain data.

pub mod docker;
pub mod pause_image;

use std::collections::HashMap;

pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// dockershim's marker: "podsandbox" or "container".
pub const LABEL_TYPE: &str = "io.kubernetes.docker.type";
/// The attempt (restart count) of this instance, and whether it is an init container.
pub const LABEL_ATTEMPT: &str = "io.kubeboot.attempt";
pub const LABEL_INIT: &str = "io.kubeboot.init";
/// The container's spec as started, to restart it when the pod's spec changes it (kubelet's hash).
pub const LABEL_SPEC_HASH: &str = "io.kubernetes.container.hash";
/// The sandbox a container was started in.
pub const LABEL_SANDBOX: &str = "io.kubeboot.sandbox";
pub const SANDBOX_NAME: &str = "POD";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Created,
    Running,
    Exited,
}

/// One container as Docker has it, with the labels that tie it to a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub pod_uid: String,
    pub pod_name: String,
    pub pod_namespace: String,
    /// The container's name in the pod; SANDBOX_NAME for the sandbox.
    pub container: String,
    pub attempt: u32,
    pub init: bool,
    pub sandbox_id: String,
    pub spec_hash: String,
    pub state: RunState,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub image: String,
    pub image_id: String,
    pub pid: i64,
}

impl Instance {
    pub fn is_sandbox(&self) -> bool {
        self.container == SANDBOX_NAME
    }

    pub fn from_labels(id: &str, labels: &HashMap<String, String>) -> Option<Instance> {
        let label = |k: &str| labels.get(k).cloned();
        Some(Instance {
            id: id.to_string(),
            pod_uid: label(LABEL_POD_UID)?,
            pod_name: label(LABEL_POD_NAME).unwrap_or_default(),
            pod_namespace: label(LABEL_POD_NAMESPACE).unwrap_or_default(),
            container: if label(LABEL_TYPE).as_deref() == Some("podsandbox") {
                SANDBOX_NAME.into()
            } else {
                label(LABEL_CONTAINER_NAME)?
            },
            attempt: label(LABEL_ATTEMPT).and_then(|a| a.parse().ok()).unwrap_or(0),
            init: label(LABEL_INIT).as_deref() == Some("true"),
            sandbox_id: label(LABEL_SANDBOX).unwrap_or_default(),
            spec_hash: label(LABEL_SPEC_HASH).unwrap_or_default(),
            state: RunState::Created,
            exit_code: 0,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            image: String::new(),
            image_id: String::new(),
            pid: 0,
        })
    }
}

/// dockershim's container name: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>.
pub fn docker_name(container: &str, pod: &str, namespace: &str, uid: &str, attempt: u32) -> String {
    format!("k8s_{container}_{pod}_{namespace}_{uid}_{attempt}")
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("docker: {0}")]
    Docker(String),
    #[error("image {image}: {message}")]
    Pull { image: String, message: String },
    #[error("container image {0:?} is not present with pull policy of Never")]
    NeverPull(String),
}

impl From<bollard::errors::Error> for RuntimeError {
    fn from(e: bollard::errors::Error) -> Self {
        RuntimeError::Docker(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_read_back() {
        assert_eq!(docker_name("c1", "pod-1", "default", "u-1", 2), "k8s_c1_pod-1_default_u-1_2");
        let labels: HashMap<String, String> = [
            (LABEL_POD_UID, "u-1"),
            (LABEL_POD_NAME, "pod-1"),
            (LABEL_POD_NAMESPACE, "default"),
            (LABEL_TYPE, "podsandbox"),
            (LABEL_ATTEMPT, "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sandbox = Instance::from_labels("abc", &labels).unwrap();
        assert!(sandbox.is_sandbox());
        assert_eq!(sandbox.attempt, 3);
        assert!(Instance::from_labels("x", &HashMap::new()).is_none(), "not ours");
    }
}
