//! Resource usage as the API server knows it (metrics-server's part): the agents' `/stats/summary`
//! (agent/node_api/stats.rs), read from every node's node API at once and kept for a few seconds, so
//! that `kubectl top`, the metrics.k8s.io handlers (api/metrics_api.rs) and the HPA controller share one
//! reading. A node that does not answer within NODE_TIMEOUT is left out, as metrics-server leaves it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agent::node_api::stats::{NodeStats, PodStats, Summary};
use crate::agent::usage_sampler::SAMPLE_EVERY;
use crate::control_plane::api::node_proxy::{node_api_address, node_api_client, node_api_url};
use crate::control_plane::api::ApiState;

/// A reading younger than this is served again (the agents sample every 15 s).
const FRESH_FOR: Duration = Duration::from_secs(5);
/// How long one node's summary may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// One reading of every node that answered.
#[derive(Debug, Default)]
pub struct UsageSample {
    pub taken: Option<Instant>,
    pub nodes: BTreeMap<String, NodeStats>,
    /// By pod uid.
    pub pods: HashMap<String, PodStats>,
}

impl UsageSample {
    /// The window usage is measured over (the agents' sampling interval), as metrics.k8s.io writes it.
    pub fn window() -> String {
        format!("{}s", SAMPLE_EVERY.as_secs())
    }

    fn add(&mut self, summary: Summary) {
        for pod in summary.pods {
            self.pods.insert(pod.pod_ref.uid.clone(), pod);
        }
        self.nodes.insert(summary.node.node_name.clone(), summary.node);
    }
}

#[derive(Default)]
pub struct ResourceMetrics {
    latest: Mutex<Option<Arc<UsageSample>>>,
    /// One reading at a time: concurrent requests wait for it rather than asking every node again.
    reading: tokio::sync::Mutex<()>,
}

impl ResourceMetrics {
    /// The last reading, however old (the HPA controller's, which cannot wait on the network).
    pub fn latest(&self) -> Option<Arc<UsageSample>> {
        self.latest.lock().expect("metrics lock").clone()
    }

    fn fresh(&self) -> Option<Arc<UsageSample>> {
        self.latest().filter(|s| s.taken.is_some_and(|t| t.elapsed() < FRESH_FOR))
    }

    /// A reading at most FRESH_FOR old: the last one, or a new one from every node.
    pub async fn current(&self, state: &ApiState) -> Arc<UsageSample> {
        if let Some(sample) = self.fresh() {
            return sample;
        }
        let _one_at_a_time = self.reading.lock().await;
        if let Some(sample) = self.fresh() {
            return sample;
        }
        let sample = Arc::new(read_every_node(state).await);
        *self.latest.lock().expect("metrics lock") = Some(sample.clone());
        sample
    }
}

async fn read_every_node(state: &ApiState) -> UsageSample {
    let mut sample = UsageSample { taken: Some(Instant::now()), ..Default::default() };
    let nodes = match state.store.list("/nodes/") {
        Ok((stored, _)) => stored,
        Err(e) => {
            eprintln!("kubeboot server: resource metrics: listing nodes: {e}");
            return sample;
        }
    };
    let mut readings = tokio::task::JoinSet::new();
    for stored in nodes {
        let Ok(node) = serde_json::from_slice::<Value>(&stored.value) else { continue };
        let Some((address, port)) = node_api_address(&node) else { continue };
        let client = match node_api_client(state, &node_api_url(&address, port)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kubeboot server: resource metrics: {e}");
                return sample;
            }
        };
        readings.spawn(async move {
            let reply = tokio::time::timeout(NODE_TIMEOUT, client.request("GET", "/stats/summary", None, None)).await;
            match reply {
                Ok(Ok(r)) if r.status == 200 => serde_json::from_slice::<Summary>(&r.body).ok(),
                _ => None,
            }
        });
    }
    while let Some(done) = readings.join_next().await {
        if let Ok(Some(summary)) = done {
            sample.add(summary);
        }
    }
    sample
}
