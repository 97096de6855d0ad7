//! The container runtime seen from the pod sync: containers labelled the way kubelet's dockershim labels
//! them, observed as `Instance`s, asked for as `ContainerSpec`s, and the few operations the sync needs
//! (`ContainerRuntime`). `docker.rs` implements it on the Docker Engine API; tests of the pure parts use
//! plain data.

pub mod docker;
pub mod docker_streams;
pub mod pause_image;

use std::collections::HashMap;
use std::future::Future;

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

/// A container as the pod sync asks for it, in no runtime's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub labels: HashMap<String, String>,
    /// The sandbox's hostname (containers get the sandbox's).
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub tty: Option<bool>,
    pub stdin: Option<bool>,
    pub stdin_once: Option<bool>,
    /// None: a sandbox, with no network of the runtime's (the agent gives it one); Some(id): join that
    /// sandbox's network and IPC namespaces.
    pub join_sandbox: Option<String>,
    /// host:container[:ro]
    pub binds: Vec<String>,
    pub memory_limit: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub privileged: Option<bool>,
}

/// What the pod sync needs of a container runtime.
pub trait ContainerRuntime: Send + Sync {
    /// The runtime's version, as the Node reports it after `docker://`.
    fn version(&self) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// Every container that belongs to a pod (or to the pod with this uid), with its state.
    fn pod_instances(&self, pod_uid: Option<&str>) -> impl Future<Output = Result<Vec<Instance>, RuntimeError>> + Send;
    fn image_present(&self, image: &str) -> impl Future<Output = Result<bool, RuntimeError>> + Send;
    fn pull(&self, image: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Load a `docker save` archive.
    fn load(&self, archive: Vec<u8>) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Create and start; returns the container's id.
    fn create_and_start(&self, spec: &ContainerSpec) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// SIGTERM, then SIGKILL after `grace_secs`.
    fn stop(&self, id: &str, grace_secs: i64) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// The container's main process (to enter its network namespace).
    fn pid(&self, id: &str) -> impl Future<Output = Result<i64, RuntimeError>> + Send;
    /// Run a command in the container; its exit code.
    fn exec(&self, id: &str, command: Vec<String>) -> impl Future<Output = Result<i64, RuntimeError>> + Send;
    /// The images on the node, as Node.status.images lists them.
    fn images(&self) -> impl Future<Output = Result<Vec<serde_json::Value>, RuntimeError>> + Send;
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

/// A runtime that only records what it was asked (unit tests of code above the runtime).
#[cfg(test)]
pub mod fake {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    pub struct FakeRuntime {
        pub images: Mutex<Vec<String>>,
        pub loaded: Mutex<usize>,
        pub exit_code: i64,
    }

    impl ContainerRuntime for FakeRuntime {
        async fn version(&self) -> Result<String, RuntimeError> {
            Ok("fake".into())
        }
        async fn pod_instances(&self, _: Option<&str>) -> Result<Vec<Instance>, RuntimeError> {
            Ok(Vec::new())
        }
        async fn image_present(&self, image: &str) -> Result<bool, RuntimeError> {
            Ok(self.images.lock().unwrap().iter().any(|i| i == image))
        }
        async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
            self.images.lock().unwrap().push(image.into());
            Ok(())
        }
        async fn load(&self, archive: Vec<u8>) -> Result<(), RuntimeError> {
            // The tag is in the archive's manifest.json.
            let mut tar = tar::Archive::new(archive.as_slice());
            for entry in tar.entries().unwrap() {
                let mut entry = entry.unwrap();
                if entry.path().unwrap().to_string_lossy() == "manifest.json" {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
                    self.images.lock().unwrap().push(manifest[0]["RepoTags"][0].as_str().unwrap().into());
                }
            }
            *self.loaded.lock().unwrap() += 1;
            Ok(())
        }
        async fn create_and_start(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
            Ok(spec.name.clone())
        }
        async fn stop(&self, _: &str, _: i64) -> Result<(), RuntimeError> {
            Ok(())
        }
        async fn remove(&self, _: &str) -> Result<(), RuntimeError> {
            Ok(())
        }
        async fn pid(&self, _: &str) -> Result<i64, RuntimeError> {
            Ok(1)
        }
        async fn exec(&self, _: &str, _: Vec<String>) -> Result<i64, RuntimeError> {
            Ok(self.exit_code)
        }
        async fn images(&self) -> Result<Vec<serde_json::Value>, RuntimeError> {
            Ok(Vec::new())
        }
    }
}
