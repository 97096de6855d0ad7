//! The agent's pod lifecycle: one pod bound to this node (desired) against the containers Docker has for it
//! (actual) — sandbox and network, init containers in order, then the containers, restarts per
//! restartPolicy with kubelet's back-off (10 s doubling to 5 min), graceful deletion — and its status
//! written back when it changed; pod_workers.rs calls it, a worker per pod. Housekeeping removes
//! containers whose pod is gone. Docker is read again on every sync, so an agent restart adopts running
//! pods without touching them.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::container_config::{self, PodContext};
use super::network::PodNetwork;
use super::pod_status::{self, latest, restarts, Observed};
use super::probes::Prober;
use super::proxy::gate::EndpointGate;
use super::referenced_objects::ReferencedObjects;
use super::runtime::{ContainerRuntime, Instance, RunState, RuntimeError};
use super::volumes::{self, VolumeSources};
use super::watch_cache::WatchCache;
use crate::apiclient::ApiClient;
use crate::resources::meta::{now_rfc3339, parse_rfc3339, text};

const MAX_BACKOFF: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_secs(10);
/// A container that could not start (bad command) has no exit code of its own: Kubernetes reports 128.
const START_ERROR_EXIT: i64 = 128;

pub struct PodSync<R: ContainerRuntime> {
    pub client: ApiClient,
    pub runtime: R,
    pub network: PodNetwork,
    pub node_name: String,
    pub host_ip: String,
    pub data_dir: PathBuf,
    pub pause_image: String,
    endpoint_gate: EndpointGate,
    dns_zone: tokio::sync::watch::Receiver<std::sync::Arc<crate::agent::dns::zone::Zone>>,
    /// The status last written per pod uid (nothing is written while it stays the same).
    written: Mutex<HashMap<String, Value>>,
    /// Image pull back-off: image -> (not before, current delay).
    pull_backoff: Mutex<HashMap<String, (Instant, Duration)>>,
    prober: Prober,
    /// kubelet's events, written by another task so the sync never waits for them.
    events: tokio::sync::mpsc::UnboundedSender<PodEvent>,
    /// Crashed instances whose BackOff was reported (once each, not on every pass).
    backoff_reported: Mutex<HashSet<String>>,
    /// The configMaps, secrets, claims and volumes the pods use, each followed by a watch.
    objects: ReferencedObjects,
}

/// Who and where the sync runs: the node's name and address, the agent's state folder, the sandbox image.
pub struct NodeContext {
    pub node_name: String,
    pub host_ip: String,
    pub data_dir: PathBuf,
    pub pause_image: String,
    /// Holds a terminating pod's SIGTERM until the Service rules no longer send it traffic.
    pub endpoint_gate: EndpointGate,
    /// The cluster DNS names (the kube-dns Service's address for pods' resolv.conf).
    pub dns_zone: tokio::sync::watch::Receiver<std::sync::Arc<crate::agent::dns::zone::Zone>>,
}

/// An event about a pod for the events task: (pod, warning, reason, message).
pub type PodEvent = (Value, bool, &'static str, String);

/// Why a container is not running, as its waiting state says it.
type Waiting = (String, String);

/// The container's pull policy; the API's default when a pod from an older server has none.
pub fn pull_policy(container: &Value) -> String {
    if let Some(p) = container.get("imagePullPolicy").and_then(Value::as_str) {
        return p.to_string();
    }
    let image = container.get("image").and_then(Value::as_str).unwrap_or("");
    crate::resources::pod_defaults::pull_policy_for(image).into()
}

/// kubelet's crash back-off before the restart that follows `attempt` (0-based): the first restart is
/// immediate, then 10 s, 20 s, 40 s, … up to 5 min; a container that had run for 10 minutes starts over.
pub fn crash_backoff(attempt: u32, ran_for: Duration) -> Duration {
    if attempt == 0 || ran_for >= 2 * MAX_BACKOFF {
        return Duration::ZERO;
    }
    FIRST_BACKOFF.saturating_mul(1u32.checked_shl((attempt - 1).min(16)).unwrap_or(u32::MAX)).min(MAX_BACKOFF)
}

fn seconds_since(t: Option<&str>) -> Option<Duration> {
    let t = parse_rfc3339(t?)?;
    let elapsed = time::OffsetDateTime::now_utc() - t;
    Some(Duration::from_secs_f64(elapsed.as_seconds_f64().max(0.0)))
}

impl<R: ContainerRuntime> PodSync<R> {
    pub fn new(
        client: ApiClient,
        runtime: R,
        network: PodNetwork,
        node: NodeContext,
        events: tokio::sync::mpsc::UnboundedSender<PodEvent>,
    ) -> Self {
        let NodeContext { node_name, host_ip, data_dir, pause_image, endpoint_gate, dns_zone } = node;
        PodSync {
            runtime,
            network,
            node_name,
            host_ip,
            data_dir,
            pause_image,
            endpoint_gate,
            dns_zone,
            written: Default::default(),
            pull_backoff: Default::default(),
            prober: Prober::default(),
            objects: ReferencedObjects::new(Arc::new(client.clone())),
            client,
            events,
            backoff_reported: Default::default(),
        }
    }

    fn event(&self, pod: &Value, warning: bool, reason: &'static str, message: String) {
        let _ = self.events.send((pod.clone(), warning, reason, message));
    }

    /// Converge one pod: its containers as Docker has them now against its spec, then its status.
    pub async fn sync_one(&self, pod: &Value) -> Result<(), String> {
        let instances = self.runtime_instances(&text(pod, "/metadata/uid")).await?;
        self.sync_pod(pod, instances).await
    }

    /// kubelet's housekeeping: containers and folders of pods that no longer exist are removed, and what
    /// is kept per container or per object (probes, back-off notes, addresses, referenced objects' watches)
    /// is trimmed to what is still there. Docker is read before the pods, so a pod whose worker has just
    /// started its containers is always among the pods seen.
    pub async fn housekeeping(&self, pods: &WatchCache) -> Result<(), String> {
        let instances = self.runtime.pod_instances(None).await.map_err(|e| e.to_string())?;
        let pods = pods.list();
        let wanted: HashSet<String> = pods.iter().map(|p| text(p, "/metadata/uid")).collect();
        let mut by_pod: HashMap<String, Vec<Instance>> = HashMap::new();
        for i in instances {
            by_pod.entry(i.pod_uid.clone()).or_default().push(i);
        }
        // Containers of pods that no longer exist (deleted while this agent was away, or forced).
        for (uid, leftovers) in by_pod.iter().filter(|(uid, _)| !wanted.contains(*uid)) {
            eprintln!("kubeboot agent: removing the containers of pod {uid}, which no longer exists");
            self.tear_down(leftovers, 2).await;
            volumes::clean(&volumes::pod_dir(&self.data_dir, uid));
            self.written.lock().expect("written").remove(uid);
        }
        // Folders of pods that no longer exist and left no containers (removed while this node was down),
        // as kubelet's cleanupOrphanedPodDirs.
        for uid in
            volumes::pod_dirs(&self.data_dir).into_iter().filter(|u| !wanted.contains(u) && !by_pod.contains_key(u))
        {
            eprintln!("kubeboot agent: removing the folder of pod {uid}, which no longer exists");
            volumes::clean(&volumes::pod_dir(&self.data_dir, &uid));
        }
        self.written.lock().expect("written").retain(|uid, _| wanted.contains(uid));
        let live = self.runtime.pod_instances(None).await.map_err(|e| e.to_string())?;
        let live_ids: Vec<String> = live.iter().map(|i| i.id.clone()).collect();
        self.prober.retain(&live_ids);
        self.backoff_reported.lock().expect("backoff").retain(|id| live_ids.contains(id));
        let live_sandboxes: Vec<String> =
            live.iter().filter(|i| i.is_sandbox() && i.state == RunState::Running).map(|i| i.id.clone()).collect();
        self.network.release_all_but(&live_sandboxes);
        self.objects.retain(&super::referenced_objects::paths_used_by(&pods, &self.objects));
        Ok(())
    }

    /// Routes to other nodes' pods and our forwarding/masquerading rules, from the Node objects.
    pub async fn sync_network(&self, nodes: &[Arc<Value>]) {
        let mut peers = Vec::new();
        let mut cidrs = Vec::new();
        for node in nodes {
            let Some(cidr) = node.pointer("/spec/podCIDR").and_then(Value::as_str).and_then(|c| c.parse().ok()) else {
                continue;
            };
            cidrs.push(cidr);
            let address = node
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|a| a["type"] == "InternalIP")
                .and_then(|a| a["address"].as_str())
                .and_then(|a| a.parse().ok());
            if let Some(address) = address {
                peers.push((cidr, address));
            }
        }
        if let Err(e) = self.network.sync_routes(&peers).await {
            eprintln!("kubeboot agent: pod routes: {e}");
        }
        if let Err(e) = self.network.sync_rules(&cidrs).await {
            eprintln!("kubeboot agent: pod network rules: {e}");
        }
    }

    /// Stop (SIGTERM, SIGKILL after `grace`) and remove every container given, the sandboxes last.
    async fn tear_down(&self, instances: &[Instance], grace: i64) {
        let (sandboxes, containers): (Vec<&Instance>, Vec<&Instance>) = instances.iter().partition(|i| i.is_sandbox());
        futures::future::join_all(containers.iter().map(|i| async move {
            if i.state == RunState::Running {
                let _ = self.runtime.stop(&i.id, grace).await;
            }
            let _ = self.runtime.remove(&i.id).await;
        }))
        .await;
        for sandbox in sandboxes {
            let _ = self.runtime.stop(&sandbox.id, 0).await;
            let _ = self.runtime.remove(&sandbox.id).await;
            self.network.detach(&sandbox.id);
        }
    }

    async fn sync_pod(&self, pod: &Value, instances: Vec<Instance>) -> Result<(), String> {
        let uid = text(pod, "/metadata/uid");
        if crate::resources::pod::is_deleting(pod) {
            return self.finish_deletion(pod, &instances).await;
        }
        let phase = crate::resources::pod::phase(pod);
        let sandbox = instances.iter().filter(|i| i.is_sandbox()).max_by_key(|i| i.attempt).cloned();
        if matches!(phase, "Succeeded" | "Failed") {
            // A finished pod keeps its containers (for logs) but not its sandbox.
            if let Some(s) = sandbox.filter(|s| s.state == RunState::Running) {
                let _ = self.runtime.stop(&s.id, 0).await;
                self.network.detach(&s.id);
            }
            return Ok(());
        }
        let mut waiting: HashMap<String, Waiting> = HashMap::new();
        let (sandbox_id, pod_ip) = match sandbox.filter(|s| s.state == RunState::Running) {
            Some(s) => {
                let ip = match self.network.address_of(&s.id) {
                    Some(ip) => ip,
                    None => self.network.attach(&s.id, s.pid).await.map_err(|e| e.to_string())?,
                };
                (s.id.clone(), ip.to_string())
            }
            None => self.new_sandbox(pod, &instances).await?,
        };
        let instances = self.runtime_instances(&uid).await?;
        let (config_maps, secrets) = crate::resources::pod::referenced_objects(pod);
        let claims = crate::resources::storage::pod_claims(pod);
        let sources = self.fetch_sources(&text(pod, "/metadata/namespace"), &config_maps, &secrets, &claims).await;
        let pod_dir = volumes::pod_dir(&self.data_dir, &uid);
        let volume_paths = match volumes::prepare(pod, &pod_dir, &sources) {
            Ok(p) => p,
            Err(message) => {
                for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
                    waiting.insert(
                        text(c, "/name"),
                        ("ContainerCreating".into(), format!("MountVolume.SetUp failed: {message}")),
                    );
                }
                return self.report(pod, &instances, Some(pod_ip), waiting, Vec::new()).await;
            }
        };
        let ctx = PodContext {
            pod,
            pod_ip: pod_ip.clone(),
            host_ip: self.host_ip.clone(),
            node_name: self.node_name.clone(),
            sandbox_id: sandbox_id.clone(),
            sources: &sources,
            volume_paths: &volume_paths,
            resolv_conf: self.write_resolv_conf(pod, &pod_dir),
        };
        let policy = pod.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or("Always").to_string();
        let init_done = self.sync_init_containers(&ctx, &instances, &policy, &mut waiting).await;
        if init_done {
            let specs: Vec<Value> =
                pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
            let results = futures::future::join_all(
                specs.iter().map(|spec| self.sync_container(&ctx, &instances, spec, &policy, false)),
            )
            .await;
            for (spec, result) in specs.iter().zip(results) {
                if let Some(w) = result {
                    waiting.insert(text(spec, "/name"), w);
                }
            }
        }
        let instances = self.runtime_instances(&uid).await?;
        let not_ready = self.probe(pod, &instances, &pod_ip).await;
        self.report(pod, &instances, Some(pod_ip), waiting, not_ready).await
    }

    /// Run the due probes of the running containers; a failed startup or liveness probe stops the
    /// container (the next pass restarts it per restartPolicy). Returns the containers that are not ready.
    async fn probe(&self, pod: &Value, instances: &[Instance], pod_ip: &str) -> Vec<String> {
        let specs: Vec<Value> = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
        let grace = pod.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
        let checks = specs.iter().filter_map(|spec| {
            let name = text(spec, "/name");
            let running = latest(instances, &name, false).0.filter(|i| i.state == RunState::Running)?.clone();
            Some(async move {
                let started = seconds_since(running.started_at.as_deref()).unwrap_or_default().as_secs();
                let verdict = self.prober.check(&self.runtime, spec, &running.id, pod_ip, started).await;
                if let Some(message) = &verdict.restart {
                    self.event(pod, true, "Unhealthy", message.clone());
                    self.event(pod, false, "Killing", message.clone());
                    let _ = self.runtime.stop(&running.id, grace).await;
                }
                (name, verdict.ready)
            })
        });
        futures::future::join_all(checks).await.into_iter().filter(|(_, ready)| !ready).map(|(n, _)| n).collect()
    }

    async fn runtime_instances(&self, uid: &str) -> Result<Vec<Instance>, String> {
        self.runtime.pod_instances(Some(uid)).await.map_err(|e| e.to_string())
    }

    /// Init containers one at a time; true once all have succeeded.
    async fn sync_init_containers(
        &self,
        ctx: &PodContext<'_>,
        instances: &[Instance],
        policy: &str,
        waiting: &mut HashMap<String, Waiting>,
    ) -> bool {
        let specs: Vec<Value> =
            ctx.pod.pointer("/spec/initContainers").and_then(Value::as_array).cloned().unwrap_or_default();
        for spec in &specs {
            let name = text(spec, "/name");
            match latest(instances, &name, true).0 {
                Some(i) if i.state == RunState::Exited && i.exit_code == 0 => continue,
                Some(i) if i.state == RunState::Running => return false,
                _ => {
                    // Init containers restart unless the pod's policy is Never.
                    let init_policy = if policy == "Never" { "Never" } else { "OnFailure" };
                    if let Some(w) = self.sync_container(ctx, instances, spec, init_policy, true).await {
                        waiting.insert(name, w);
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Start the container if it has no instance, or restart it per `policy` once its back-off has passed.
    /// Returns why it is waiting, if it is.
    async fn sync_container(
        &self,
        ctx: &PodContext<'_>,
        instances: &[Instance],
        spec: &Value,
        policy: &str,
        init: bool,
    ) -> Option<Waiting> {
        let name = text(spec, "/name");
        let (last, _) = latest(instances, &name, init);
        let attempt = match last {
            None => 0,
            Some(i) if i.state == RunState::Running => return None,
            Some(i) => {
                let exit = if i.state == RunState::Created { START_ERROR_EXIT } else { i.exit_code };
                if !restarts(policy, exit) {
                    return None;
                }
                let ran_for = match (
                    i.started_at.as_deref().and_then(parse_rfc3339),
                    i.finished_at.as_deref().and_then(parse_rfc3339),
                ) {
                    (Some(start), Some(end)) => Duration::from_secs((end - start).whole_seconds().max(0) as u64),
                    _ => Duration::ZERO,
                };
                let backoff = crash_backoff(i.attempt, ran_for);
                let since = seconds_since(i.finished_at.as_deref()).unwrap_or(backoff);
                if since < backoff {
                    let pod = format!(
                        "{}_{}({})",
                        text(ctx.pod, "/metadata/name"),
                        text(ctx.pod, "/metadata/namespace"),
                        text(ctx.pod, "/metadata/uid")
                    );
                    if self.backoff_reported.lock().expect("backoff").insert(i.id.clone()) {
                        self.event(
                            ctx.pod,
                            true,
                            "BackOff",
                            format!("Back-off restarting failed container {name} in pod {pod}"),
                        );
                    }
                    return Some((
                        "CrashLoopBackOff".into(),
                        format!("back-off {}s restarting failed container={name} pod={pod}", backoff.as_secs()),
                    ));
                }
                i.attempt + 1
            }
        };
        if let Err(w) = self.ensure_image(ctx.pod, spec).await {
            return Some(w);
        }
        let body = match container_config::container(ctx, spec, init, attempt) {
            Ok(b) => b,
            Err(message) => {
                self.event(ctx.pod, true, "Failed", format!("Error: {message}"));
                return Some(("CreateContainerConfigError".into(), message));
            }
        };
        if let Err(e) = self.runtime.create_and_start(&body).await {
            self.event(ctx.pod, true, "Failed", format!("Error: {e}"));
            return Some(("RunContainerError".into(), e.to_string()));
        }
        self.event(ctx.pod, false, "Created", format!("Created container {name}"));
        self.event(ctx.pod, false, "Started", format!("Started container {name}"));
        // Keep the instance before this one (for `logs --previous`), remove older ones.
        for old in instances.iter().filter(|i| i.container == name && i.init == init && i.attempt + 1 < attempt) {
            let _ = self.runtime.remove(&old.id).await;
        }
        None
    }

    async fn ensure_image(&self, pod: &Value, spec: &Value) -> Result<(), Waiting> {
        let image = text(spec, "/image");
        let policy = pull_policy(spec);
        // Always pulls whatever is there: only the other policies need to know what is present.
        let present = policy != "Always" && self.runtime.image_present(&image).await.unwrap_or(false);
        let must_pull = match policy.as_str() {
            "Never" if !present => {
                return Err(("ErrImageNeverPull".into(), RuntimeError::NeverPull(image).to_string()));
            }
            "Never" => false,
            "IfNotPresent" => !present,
            _ => true,
        };
        if !must_pull {
            self.event(pod, false, "Pulled", format!("Container image {image:?} already present on machine"));
            return Ok(());
        }
        if let Some((not_before, _)) = self.pull_backoff.lock().expect("backoff").get(&image) {
            if Instant::now() < *not_before {
                return Err(("ImagePullBackOff".into(), format!("Back-off pulling image {image:?}")));
            }
        }
        self.event(pod, false, "Pulling", format!("Pulling image {image:?}"));
        let started = Instant::now();
        match self.runtime.pull(&image).await {
            Ok(()) => {
                self.pull_backoff.lock().expect("backoff").remove(&image);
                let took = started.elapsed().as_secs_f64();
                self.event(pod, false, "Pulled", format!("Successfully pulled image {image:?} in {took:.3}s"));
                Ok(())
            }
            Err(e) => {
                let mut backoff = self.pull_backoff.lock().expect("backoff");
                let delay = backoff.get(&image).map(|(_, d)| (*d * 2).min(MAX_BACKOFF)).unwrap_or(FIRST_BACKOFF);
                backoff.insert(image.clone(), (Instant::now() + delay, delay));
                self.event(pod, true, "Failed", format!("Failed to pull image {image:?}: {e}"));
                Err(("ErrImagePull".into(), e.to_string()))
            }
        }
    }

    /// A new sandbox (the previous one died, or there was none): containers still running in the old one
    /// are stopped, the old sandbox removed and its address freed.
    async fn new_sandbox(&self, pod: &Value, instances: &[Instance]) -> Result<(String, String), String> {
        let previous: Vec<&Instance> = instances.iter().filter(|i| i.is_sandbox()).collect();
        let attempt = previous.iter().map(|i| i.attempt + 1).max().unwrap_or(0);
        for i in instances.iter().filter(|i| !i.is_sandbox() && i.state == RunState::Running) {
            let _ = self.runtime.stop(&i.id, 2).await;
        }
        for old in previous {
            let _ = self.runtime.remove(&old.id).await;
            self.network.detach(&old.id);
        }
        let spec = container_config::sandbox(pod, &self.pause_image, attempt);
        let id = self.runtime.create_and_start(&spec).await.map_err(|e| format!("creating the pod sandbox: {e}"))?;
        let pid = self.runtime.pid(&id).await.map_err(|e| format!("the pod sandbox did not start: {e}"))?;
        let ip = self.network.attach(&id, pid).await.map_err(|e| format!("setting up the pod network: {e}"))?;
        Ok((id, ip.to_string()))
    }

    /// The objects the pod's volumes and environment read, from their watches.
    async fn fetch_sources(
        &self,
        namespace: &str,
        config_maps: &[String],
        secrets: &[String],
        claims: &[String],
    ) -> VolumeSources {
        let mut sources = VolumeSources::default();
        for (kind, names, into) in [
            ("configmaps", config_maps, &mut sources.config_maps),
            ("secrets", secrets, &mut sources.secrets),
            ("persistentvolumeclaims", claims, &mut sources.claims),
        ] {
            let collection = format!("/api/v1/namespaces/{namespace}/{kind}");
            for name in names {
                into.insert(name.clone(), self.objects.get(&collection, name).await);
            }
        }
        let bound: Vec<String> = sources
            .claims
            .values()
            .flatten()
            .filter_map(|c| c.pointer("/spec/volumeName").and_then(Value::as_str).filter(|v| !v.is_empty()))
            .map(String::from)
            .collect();
        for volume in bound {
            let object = self.objects.get("/api/v1/persistentvolumes", &volume).await;
            sources.volumes.insert(volume, object);
        }
        sources
    }

    /// The pod's resolv.conf for its dnsPolicy, written when it changed; None when it cannot be written
    /// (the containers then get Docker's, a copy of the node's).
    fn write_resolv_conf(&self, pod: &Value, pod_dir: &std::path::Path) -> Option<PathBuf> {
        use crate::agent::dns::{resolv_conf, zone, CLUSTER_DOMAIN};
        let service = format!("kube-dns.kube-system.svc.{CLUSTER_DOMAIN}");
        let cluster_dns = match self.dns_zone.borrow().lookup(&service, zone::Kind::A) {
            zone::Lookup::Found(found) => found.into_iter().find_map(|(_, d)| match d {
                zone::Data::A(ip) => Some(ip),
                _ => None,
            }),
            _ => None,
        };
        let text = resolv_conf::render(pod, CLUSTER_DOMAIN, cluster_dns, &resolv_conf::node_resolv_conf());
        let path = pod_dir.join("resolv.conf");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::create_dir_all(pod_dir).ok()?;
            std::fs::write(&path, text).ok()?;
        }
        Some(path)
    }

    /// Graceful deletion's node half: stop the containers within what is left of the grace period, remove
    /// them, the sandbox, the address and the pod's volumes, then delete the object for good.
    async fn finish_deletion(&self, pod: &Value, instances: &[Instance]) -> Result<(), String> {
        let deadline = pod.pointer("/metadata/deletionTimestamp").and_then(Value::as_str).and_then(parse_rfc3339);
        let mut grace = deadline.map(|d| (d - time::OffsetDateTime::now_utc()).whole_seconds().max(0)).unwrap_or(0);
        let running = instances.iter().any(|i| !i.is_sandbox() && i.state == RunState::Running);
        let pod_ip = pod.pointer("/status/podIP").and_then(Value::as_str).and_then(|ip| ip.parse().ok());
        if let (true, Some(ip)) = (running, pod_ip) {
            // Out of every node's Service rules first; the wait comes out of the grace period, half at most.
            let waited = self.endpoint_gate.wait_out(ip, Duration::from_secs(grace.max(0) as u64 / 2)).await;
            grace -= waited.as_secs() as i64;
            eprintln!(
                "kubeboot agent: pod {}/{}: out of the Service rules after {} ms, stopping it",
                text(pod, "/metadata/namespace"),
                text(pod, "/metadata/name"),
                waited.as_millis()
            );
        }
        for i in instances.iter().filter(|i| !i.is_sandbox() && i.state == RunState::Running) {
            self.event(pod, false, "Killing", format!("Stopping container {}", i.container));
        }
        self.tear_down(instances, grace).await;
        let uid = text(pod, "/metadata/uid");
        volumes::clean(&volumes::pod_dir(&self.data_dir, &uid));
        let path =
            format!("/api/v1/namespaces/{}/pods/{}", text(pod, "/metadata/namespace"), text(pod, "/metadata/name"));
        let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": uid}});
        let reply = self
            .client
            .request("DELETE", &path, Some(serde_json::to_vec(&options).expect("json")), None)
            .await
            .map_err(|e| e.to_string())?;
        self.written.lock().expect("written").remove(&uid);
        match reply.status {
            200 | 404 | 409 => Ok(()),
            _ => Err(format!("deleting the pod: {}", reply.message())),
        }
    }

    /// Write the pod's status when it differs from what was last written.
    async fn report(
        &self,
        pod: &Value,
        instances: &[Instance],
        pod_ip: Option<String>,
        waiting: HashMap<String, Waiting>,
        not_ready: Vec<String>,
    ) -> Result<(), String> {
        let uid = text(pod, "/metadata/uid");
        let observed =
            Observed { instances: instances.to_vec(), pod_ip, host_ip: self.host_ip.clone(), waiting, not_ready };
        let status = pod_status::compute(pod, &observed, &now_rfc3339());
        if pod.get("status") == Some(&status) || self.written.lock().expect("written").get(&uid) == Some(&status) {
            return Ok(());
        }
        let mut updated = pod.clone();
        updated["status"] = status.clone();
        let path = format!(
            "/api/v1/namespaces/{}/pods/{}/status",
            text(pod, "/metadata/namespace"),
            text(pod, "/metadata/name")
        );
        let reply = self
            .client
            .request("PUT", &path, Some(serde_json::to_vec(&updated).expect("json")), None)
            .await
            .map_err(|e| e.to_string())?;
        match reply.status {
            200 => {
                self.written.lock().expect("written").insert(uid, status);
                Ok(())
            }
            // Changed meanwhile: the next pass reads it again.
            409 | 404 => Ok(()),
            _ => Err(format!("writing the pod status: {}", reply.message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults_as_kubernetes() {
        for (image, expected) in
            [("kubetm/p8000", "Always"), ("kubetm/app:latest", "Always"), ("kubetm/app:v1", "IfNotPresent")]
        {
            assert_eq!(pull_policy(&json!({"image": image})), expected, "{image}");
        }
        assert_eq!(pull_policy(&json!({"image": "x", "imagePullPolicy": "Never"})), "Never");
    }

    #[test]
    fn crash_backoff_doubles_to_five_minutes() {
        let short = Duration::from_secs(1);
        let secs: Vec<u64> = (0..8).map(|a| crash_backoff(a, short).as_secs()).collect();
        assert_eq!(secs, [0, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(crash_backoff(100, short).as_secs(), 300);
        assert_eq!(crash_backoff(5, Duration::from_secs(601)).as_secs(), 0, "ten good minutes reset it");
    }
}
