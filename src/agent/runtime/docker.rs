//! The runtime on the Docker Engine API (bollard over the unix socket). The API version is negotiated, so
//! the walkthrough's docker-ce 18.06 (API 1.38), Debian's docker.io 20.10 (1.41) and current releases all
//! work. Inspections of finished containers are cached: they do not change.

use std::collections::HashMap;
use std::sync::Mutex;

use bollard::exec::StartExecResults;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, ExecConfig, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ImportImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::StreamExt;

use super::{ContainerRuntime, ContainerSpec, Instance, RunState, RuntimeError, LABEL_POD_UID};

pub struct DockerRuntime {
    pub(super) docker: bollard::Docker,
    finished: Mutex<HashMap<String, Instance>>,
}

/// `kubetm/app:v1` -> ("kubetm/app", "v1"); no tag means latest; a digest is kept as the "tag".
pub fn split_image(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

fn not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

impl DockerRuntime {
    pub async fn connect() -> Result<Self, RuntimeError> {
        let docker = bollard::Docker::connect_with_unix("/var/run/docker.sock", 300, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?;
        Ok(DockerRuntime { docker, finished: Mutex::new(HashMap::new()) })
    }

    async fn inspect(&self, id: &str) -> Result<Option<Instance>, RuntimeError> {
        let info = match self.docker.inspect_container(id, None).await {
            Ok(i) => i,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let labels = info.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
        let Some(mut instance) = Instance::from_labels(id, &labels) else { return Ok(None) };
        let state = info.state.unwrap_or_default();
        instance.state = match state.status {
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::PAUSED
                | ContainerStateStatusEnum::RESTARTING,
            ) => RunState::Running,
            Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
            _ => RunState::Exited,
        };
        instance.exit_code = state.exit_code.unwrap_or(0);
        instance.oom_killed = state.oom_killed.unwrap_or(false);
        // Docker's nanosecond timestamps as Kubernetes writes them (whole seconds); Go's zero time is none.
        let time = |t: Option<String>| {
            t.filter(|t| !t.starts_with("0001-"))
                .map(|t| crate::resources::meta::parse_rfc3339(&t).map(crate::resources::meta::rfc3339).unwrap_or(t))
        };
        instance.started_at = time(state.started_at);
        instance.finished_at = time(state.finished_at);
        instance.pid = state.pid.unwrap_or(0);
        instance.image = info.config.and_then(|c| c.image).unwrap_or_default();
        instance.image_id = info.image.unwrap_or_default();
        Ok(Some(instance))
    }

    /// A running container's CPU time so far (nanoseconds) and working set (bytes), from one Docker stats
    /// reading (one-shot: no second sample taken by Docker); None for a container that is gone.
    pub async fn usage(&self, id: &str) -> Result<Option<(u64, u64)>, RuntimeError> {
        let options = bollard::query_parameters::StatsOptions { stream: false, one_shot: true };
        let mut readings = self.docker.stats(id, Some(options));
        let stats = match readings.next().await {
            Some(Ok(s)) => s,
            Some(Err(e)) if not_found(&e) => return Ok(None),
            Some(Err(e)) => return Err(e.into()),
            None => return Ok(None),
        };
        let cpu = stats.cpu_stats.and_then(|c| c.cpu_usage).and_then(|u| u.total_usage);
        let memory = stats.memory_stats.unwrap_or_default();
        let (Some(cpu), Some(usage)) = (cpu, memory.usage) else { return Ok(None) };
        let working_set = crate::agent::usage::container_working_set_bytes(usage, &memory.stats.unwrap_or_default());
        Ok(Some((cpu, working_set)))
    }

    fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
        let (network_mode, ipc_mode) = match &spec.join_sandbox {
            Some(id) => (format!("container:{id}"), format!("container:{id}")),
            None => ("none".to_string(), "shareable".to_string()),
        };
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.args.clone(),
            env: Some(spec.env.clone()),
            working_dir: spec.working_dir.clone(),
            labels: Some(spec.labels.clone()),
            hostname: spec.hostname.clone(),
            user: spec.user.clone(),
            tty: spec.tty,
            open_stdin: spec.stdin,
            stdin_once: spec.stdin_once,
            host_config: Some(HostConfig {
                network_mode: Some(network_mode),
                ipc_mode: Some(ipc_mode),
                binds: Some(spec.binds.clone()),
                memory: spec.memory_limit,
                nano_cpus: spec.nano_cpus,
                cpu_shares: spec.cpu_shares,
                privileged: spec.privileged,
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

impl ContainerRuntime for DockerRuntime {
    async fn version(&self) -> Result<String, RuntimeError> {
        Ok(self.docker.version().await?.version.unwrap_or_default())
    }

    /// Every container that belongs to a pod, with its state.
    async fn pod_instances(&self, pod_uid: Option<&str>) -> Result<Vec<Instance>, RuntimeError> {
        let label = match pod_uid {
            Some(uid) => format!("{LABEL_POD_UID}={uid}"),
            None => LABEL_POD_UID.to_string(),
        };
        let filters: HashMap<&str, Vec<&str>> = [("label", vec![label.as_str()])].into_iter().collect();
        let list = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()))
            .await?;
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for summary in list {
            let Some(id) = summary.id.clone() else { continue };
            seen.push(id.clone());
            if let Some(cached) = self.finished.lock().expect("cache").get(&id) {
                out.push(cached.clone());
                continue;
            }
            match self.inspect(&id).await {
                Ok(Some(instance)) => {
                    if instance.state == RunState::Exited {
                        self.finished.lock().expect("cache").insert(id, instance.clone());
                    }
                    out.push(instance);
                }
                Ok(None) => {}
                Err(RuntimeError::Docker(m)) if m.contains("404") || m.contains("No such container") => {}
                Err(e) => return Err(e),
            }
        }
        // Only a list of every pod's containers tells which cached ones are gone.
        if pod_uid.is_none() {
            self.finished.lock().expect("cache").retain(|id, _| seen.contains(id));
        }
        Ok(out)
    }

    async fn image_present(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        let (repo, tag) = split_image(image);
        let options = CreateImageOptionsBuilder::new().from_image(&repo).tag(&tag).build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                let message = match e {
                    bollard::errors::Error::DockerStreamError { error } => error,
                    bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(RuntimeError::Pull { image: image.into(), message });
            }
        }
        Ok(())
    }

    /// `docker load` of a docker-save archive.
    async fn load(&self, archive: Vec<u8>) -> Result<(), RuntimeError> {
        let mut stream = self.docker.import_image(
            ImportImageOptionsBuilder::new().quiet(true).build(),
            bollard::body_full(archive.into()),
            None,
        );
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok(())
    }

    async fn create_and_start(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let options = || Some(CreateContainerOptionsBuilder::new().name(&spec.name).build());
        let body = Self::create_body(spec);
        let id = match self.docker.create_container(options(), body.clone()).await {
            Ok(c) => c.id,
            // A leftover of an agent that died between create and start: replace it.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
                self.remove(&spec.name).await?;
                self.docker.create_container(options(), body).await?.id
            }
            Err(e) => return Err(e.into()),
        };
        self.docker.start_container(&id, None).await?;
        Ok(id)
    }

    async fn pid(&self, id: &str) -> Result<i64, RuntimeError> {
        let info = self.docker.inspect_container(id, None).await?;
        info.state
            .and_then(|s| s.pid)
            .filter(|p| *p > 0)
            .ok_or_else(|| RuntimeError::Docker(format!("container {id} is not running")))
    }

    async fn exec(&self, id: &str, command: Vec<String>) -> Result<i64, RuntimeError> {
        let config = ExecConfig {
            cmd: Some(command),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = self.docker.create_exec(id, config).await?;
        if let StartExecResults::Attached { mut output, .. } = self.docker.start_exec(&created.id, None).await? {
            while output.next().await.is_some() {}
        }
        Ok(self.docker.inspect_exec(&created.id).await?.exit_code.unwrap_or(-1))
    }

    /// SIGTERM, then SIGKILL after `grace_secs` (Docker's stop does exactly kubelet's sequence).
    async fn stop(&self, id: &str, grace_secs: i64) -> Result<(), RuntimeError> {
        let options = StopContainerOptionsBuilder::new().t(grace_secs.clamp(0, i32::MAX as i64) as i32).build();
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        match self
            .docker
            .remove_container(id, Some(RemoveContainerOptionsBuilder::new().force(true).v(true).build()))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            // Already being removed.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Images on the node as the Node's status.images lists them.
    async fn images(&self) -> Result<Vec<serde_json::Value>, RuntimeError> {
        let images = self.docker.list_images(None::<bollard::query_parameters::ListImagesOptions>).await?;
        Ok(images
            .into_iter()
            .map(|i| {
                let mut names: Vec<String> =
                    i.repo_digests.into_iter().chain(i.repo_tags).filter(|n| !n.contains("<none>")).collect();
                names.dedup();
                serde_json::json!({"names": names, "sizeBytes": i.size})
            })
            .filter(|i| i["names"].as_array().is_some_and(|n| !n.is_empty()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_references() {
        let s = |i: &str| super::split_image(i);
        assert_eq!(s("kubetm/p8000"), ("kubetm/p8000".into(), "latest".into()));
        assert_eq!(s("kubetm/app:v1"), ("kubetm/app".into(), "v1".into()));
        assert_eq!(s("10.88.0.1:5000/kubetm/app"), ("10.88.0.1:5000/kubetm/app".into(), "latest".into()));
        assert_eq!(s("busybox@sha256:abc"), ("busybox".into(), "sha256:abc".into()));
    }
}
