//! The agent's resource usage sampler: every SAMPLE_EVERY (15 s), the node's counters from /proc and each
//! running pod container's from Docker, turned into rates (agent/usage.rs) and kept as the summary the
//! node API serves (node_api/stats.rs). A container's CPU rate needs two readings, so a new container
//! shows up one interval after it started, as with kubelet and metrics-server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::node_api::stats::{ContainerStats, CpuStats, MemoryStats, NodeStats, PodReference, PodStats, Summary};
use super::node_api::NodeApiState;
use super::runtime::{ContainerRuntime, Instance, RunState};
use super::usage::{node_cpu_nanoseconds, node_working_set_bytes, CpuRates};
use crate::resources::meta::now_rfc3339;

/// How often usage is read: the window metrics.k8s.io reports (metrics-server's default resolution).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);
/// Containers whose stats are read at once: Docker's answer takes up to a second, mostly waiting, so a
/// few side by side keep a sample short without a burst of work on the node.
const READ_AT_ONCE: usize = 8;
/// The node's own source name among the container ids in the rates.
const NODE: &str = "node";

pub async fn keep_sampling(state: Arc<NodeApiState>, node_name: String) {
    let mut rates = CpuRates::default();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    // A sample that overran its interval is followed by a whole interval, not a catch-up burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reported = false;
    loop {
        tick.tick().await;
        match sample(&state, &node_name, &mut rates).await {
            Ok(summary) => {
                *state.summary.lock().expect("summary lock") = summary;
                reported = false;
            }
            // Docker restarting: keep the last summary, say so once.
            Err(e) if !reported => {
                eprintln!("kubeboot agent: sampling resource usage: {e}");
                reported = true;
            }
            Err(_) => {}
        }
    }
}

async fn sample(
    state: &Arc<NodeApiState>,
    node_name: &str,
    rates: &mut CpuRates,
) -> Result<Summary, super::runtime::RuntimeError> {
    let mut summary =
        Summary { node: NodeStats { node_name: node_name.to_string(), ..Default::default() }, pods: vec![] };
    let time = now_rfc3339();
    let proc_stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    if let Some(total) = node_cpu_nanoseconds(&proc_stat) {
        let rate = rates.sample(NODE, total, Instant::now());
        summary.node.cpu =
            Some(CpuStats { time: time.clone(), usage_nano_cores: rate, usage_core_nano_seconds: total });
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(bytes) = node_working_set_bytes(&meminfo) {
        summary.node.memory = Some(MemoryStats { time: time.clone(), working_set_bytes: bytes });
    }
    let mut live = vec![NODE.to_string()];
    let mut pods: BTreeMap<String, PodStats> = BTreeMap::new();
    let instances = state.runtime.pod_instances(None).await?;
    let running: Vec<Instance> =
        instances.into_iter().filter(|i| i.state == RunState::Running && !i.is_sandbox()).collect();
    let mut readings = Vec::new();
    for batch in running.chunks(READ_AT_ONCE) {
        let mut reading = tokio::task::JoinSet::new();
        for instance in batch.iter().cloned() {
            let state = state.clone();
            reading.spawn(async move {
                let usage = state.runtime.usage(&instance.id).await;
                (instance, usage, Instant::now(), now_rfc3339())
            });
        }
        while let Some(done) = reading.join_next().await {
            readings.extend(done.ok());
        }
    }
    for (instance, reading, at, time) in readings {
        // A container that stopped between the list and its stats is left out of this sample.
        let Ok(Some((cpu_ns, working_set))) = reading else { continue };
        live.push(instance.id.clone());
        let rate = rates.sample(&instance.id, cpu_ns, at);
        let pod = pods.entry(instance.pod_uid.clone()).or_insert_with(|| PodStats {
            pod_ref: PodReference {
                name: instance.pod_name.clone(),
                namespace: instance.pod_namespace.clone(),
                uid: instance.pod_uid.clone(),
            },
            containers: vec![],
        });
        pod.containers.push(ContainerStats {
            name: instance.container.clone(),
            cpu: Some(CpuStats { time: time.clone(), usage_nano_cores: rate, usage_core_nano_seconds: cpu_ns }),
            memory: Some(MemoryStats { time, working_set_bytes: working_set }),
        });
    }
    rates.retain(&live);
    summary.pods = pods.into_values().collect();
    Ok(summary)
}
