//! Which Docker container a node API request means: the pod's container by name, the newest instance, or
//! the one before it (`--previous`); kubelet's answers when there is none.
// Errors here are the HTTP answers themselves, returned once per request: their size does not matter.
#![allow(clippy::result_large_err)]

use axum::http::StatusCode;
use axum::response::Response;

use crate::agent::runtime::docker::DockerRuntime;
use crate::agent::runtime::{ContainerRuntime, Instance, RunState};
use crate::https::status::status;

pub struct PodRef<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub uid: Option<&'a str>,
}

async fn instances(runtime: &DockerRuntime, pod: &PodRef<'_>) -> Result<Vec<Instance>, Response> {
    let all = runtime
        .pod_instances(pod.uid)
        .await
        .map_err(|e| status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()))?;
    Ok(all.into_iter().filter(|i| i.pod_namespace == pod.namespace && i.pod_name == pod.pod).collect())
}

/// The container's newest instance (or the one before it).
pub async fn container(
    runtime: &DockerRuntime,
    pod: &PodRef<'_>,
    container: &str,
    previous: bool,
) -> Result<Instance, Response> {
    let mut found: Vec<Instance> =
        instances(runtime, pod).await?.into_iter().filter(|i| !i.is_sandbox() && i.container == container).collect();
    found.sort_by_key(|i| std::cmp::Reverse(i.attempt));
    let wanted = if previous { found.get(1) } else { found.first() };
    wanted.cloned().ok_or_else(|| {
        let message = if previous {
            format!("previous terminated container {container:?} in pod {:?} not found", pod.pod)
        } else {
            format!("container {container:?} in pod {:?} is waiting to start: ContainerCreating", pod.pod)
        };
        status(StatusCode::BAD_REQUEST, "BadRequest", message)
    })
}

/// The container, which must be running (exec and attach).
pub async fn running_container(runtime: &DockerRuntime, pod: &PodRef<'_>, name: &str) -> Result<Instance, Response> {
    let instance = container(runtime, pod, name, false).await?;
    if instance.state != RunState::Running {
        return Err(status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("container {name:?} in pod {:?} is not running", pod.pod),
        ));
    }
    Ok(instance)
}

/// The pod's running sandbox (its network namespace is the pod's).
pub async fn sandbox(runtime: &DockerRuntime, pod: &PodRef<'_>) -> Result<Instance, Response> {
    instances(runtime, pod)
        .await?
        .into_iter()
        .filter(|i| i.is_sandbox() && i.state == RunState::Running)
        .max_by_key(|i| i.attempt)
        .ok_or_else(|| {
            status(StatusCode::NOT_FOUND, "NotFound", format!("pod {:?} has no running sandbox on this node", pod.pod))
        })
}
