//! What the filters and scores read, parsed once instead of once per node per placement (kube-scheduler's
//! NodeInfo snapshot, in small): of a node (per node revision) its taints as the scheduler sees them,
//! whether it is cordoned, its allocatable pods, cpu and memory; of a bound pod (per pod revision) its
//! requests, host ports and owner; of the pod being placed (per placement) what it asks for. At 1000 nodes,
//! reading these from the JSON on every node of every placement was nearly all of the scheduler's time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::filters::{effective_taints, host_ports};
use crate::resources::pod::{controller_uid, requests, requests_for_scoring, Requests};
use crate::resources::quantity::{cpu_millis, units};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub unschedulable: bool,
    /// NoSchedule and NoExecute taints, the not-ready and unreachable ones included.
    pub taints: Vec<Value>,
    pub allocatable_pods: Option<u64>,
    pub allocatable_cpu_millis: Option<u64>,
    pub allocatable_memory: Option<u64>,
}

fn allocatable(node: &Value, resource: &str, parse: fn(&str) -> Option<u64>) -> Option<u64> {
    let quantity = node.pointer("/status/allocatable")?.get(resource)?;
    parse(&crate::resources::pod::quantity_text(quantity)?)
}

impl NodeFacts {
    pub fn of(node: &Value) -> Self {
        let taints = effective_taints(node)
            .into_iter()
            .filter(|t| matches!(t.get("effect").and_then(Value::as_str), Some("NoSchedule" | "NoExecute")))
            .collect();
        NodeFacts {
            unschedulable: node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true),
            taints,
            allocatable_pods: allocatable(node, "pods", units),
            allocatable_cpu_millis: allocatable(node, "cpu", cpu_millis),
            allocatable_memory: allocatable(node, "memory", units),
        }
    }
}

/// What a pod bound to a node takes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLoad {
    pub requests: Requests,
    /// Requests with kube-scheduler's non-zero defaults (for scores).
    pub scoring: Requests,
    pub host_ports: Vec<(u64, String)>,
    pub owner: Option<String>,
}

impl PodLoad {
    pub fn of(pod: &Value) -> Self {
        PodLoad {
            requests: requests(pod),
            scoring: requests_for_scoring(pod),
            host_ports: host_ports(pod),
            owner: controller_uid(pod).map(String::from),
        }
    }
}

/// Parsed facts per object key, kept while the object's resourceVersion stays the same.
pub struct FactsCache<T> {
    by_key: Mutex<HashMap<String, (String, Arc<T>)>>,
    parse: fn(&Value) -> T,
}

impl<T> FactsCache<T> {
    pub fn new(parse: fn(&Value) -> T) -> Self {
        FactsCache { by_key: Mutex::default(), parse }
    }

    pub fn get(&self, key: &str, object: &Value) -> Arc<T> {
        let version = object.get("metadata").and_then(|m| m.get("resourceVersion")).and_then(Value::as_str);
        let version = version.unwrap_or_default();
        let mut by_key = self.by_key.lock().expect("scheduler facts");
        if let Some((seen, facts)) = by_key.get(key) {
            if seen == version && !version.is_empty() {
                return facts.clone();
            }
        }
        let facts = Arc::new((self.parse)(object));
        by_key.insert(key.to_string(), (version.to_string(), facts.clone()));
        facts
    }

    /// Forget objects not among `present` (deleted ones), once the cache holds many more than there are.
    pub fn prune(&self, present: usize, keep: impl Fn(&str) -> bool) {
        let mut by_key = self.by_key.lock().expect("scheduler facts");
        if by_key.len() > present * 2 + 16 {
            by_key.retain(|key, _| keep(key));
        }
    }
}

/// The scheduler's parsed nodes (by name) and bound pods (by store key).
pub struct Facts {
    pub nodes: FactsCache<NodeFacts>,
    pub pods: FactsCache<PodLoad>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts { nodes: FactsCache::new(NodeFacts::of), pods: FactsCache::new(PodLoad::of) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parsed_once_per_node_revision() {
        let node = |rv: &str, cpu: &str| {
            json!({"metadata": {"name": "n1", "resourceVersion": rv},
                   "status": {"allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "110"},
                              "conditions": [{"type": "Ready", "status": "True"}]}})
        };
        let cache = Facts::default().nodes;
        let first = cache.get("n1", &node("5", "2"));
        assert_eq!((first.allocatable_cpu_millis, first.allocatable_pods), (Some(2000), Some(110)));
        assert!(first.taints.is_empty() && !first.unschedulable);
        assert!(Arc::ptr_eq(&first, &cache.get("n1", &node("5", "2"))), "the same revision is not parsed again");
        assert_eq!(cache.get("n1", &node("6", "4")).allocatable_cpu_millis, Some(4000), "a new revision is");
        let not_ready =
            json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(NodeFacts::of(&not_ready).taints[0]["key"], "node.kubernetes.io/unreachable");
    }
}
