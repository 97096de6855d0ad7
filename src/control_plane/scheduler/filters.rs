//! kube-scheduler's filters as plain functions of (pod, node, pods already on the node), in its plugin
//! order: the first that fails gives the node's reason, worded as kube-scheduler words it.

use std::sync::Arc;

use serde_json::Value;

use super::facts::{NodeFacts, PodLoad};
use crate::resources::node::ready_status;
use crate::resources::pod::{requests, Requests};

/// Why a node cannot take a pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Misfit {
    Unschedulable,
    NodeName,
    Taint { key: String, value: String },
    Affinity,
    HostPorts,
    Insufficient(&'static str),
    TooManyPods,
    VolumeNodeAffinity,
    NoVolumeToBind,
}

impl Misfit {
    /// kube-scheduler's words for this reason (counted per node in FailedScheduling).
    pub fn reason(&self) -> String {
        match self {
            Misfit::Unschedulable => "node(s) were unschedulable".into(),
            Misfit::NodeName => "node(s) didn't match the requested node name".into(),
            Misfit::Taint { key, value } => format!("node(s) had untolerated taint {{{key}: {value}}}"),
            Misfit::Affinity => "node(s) didn't match Pod's node affinity/selector".into(),
            Misfit::HostPorts => "node(s) didn't have free ports for the requested pod ports".into(),
            Misfit::Insufficient(resource) => format!("Insufficient {resource}"),
            Misfit::TooManyPods => "Too many pods".into(),
            Misfit::VolumeNodeAffinity => "node(s) had volume node affinity conflict".into(),
            Misfit::NoVolumeToBind => "node(s) didn't find available persistent volumes to bind".into(),
        }
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn array<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer).and_then(Value::as_array).into_iter().flatten()
}

/// The node's taints, plus the ones Kubernetes' node lifecycle controller puts on a node that is not Ready
/// (not-ready) or not heard from (unreachable).
pub fn effective_taints(node: &Value) -> Vec<Value> {
    let mut taints: Vec<Value> = array(node, "/spec/taints").cloned().collect();
    let condition = match ready_status(node) {
        Some("True") => None,
        Some("Unknown") => Some("node.kubernetes.io/unreachable"),
        _ => Some("node.kubernetes.io/not-ready"),
    };
    if let Some(key) = condition {
        // NoSchedule as well as any NoExecute of the same key: pods tolerate the NoExecute one for a while
        // (their eviction timeout), which must not let new pods onto the node.
        if !taints.iter().any(|t| str_at(t, "/key") == key && str_at(t, "/effect") == "NoSchedule") {
            taints.push(serde_json::json!({"key": key, "effect": "NoSchedule"}));
        }
    }
    taints
}

pub fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let (key, operator) = (str_at(toleration, "/key"), str_at(toleration, "/operator"));
    let effect = str_at(toleration, "/effect");
    if !effect.is_empty() && effect != str_at(taint, "/effect") {
        return false;
    }
    if key.is_empty() {
        return operator == "Exists";
    }
    key == str_at(taint, "/key")
        && match operator {
            "Exists" => true,
            _ => str_at(toleration, "/value") == str_at(taint, "/value"),
        }
}

fn untolerated_taint(needs: &PodNeeds, facts: &NodeFacts) -> Option<Misfit> {
    facts
        .taints
        .iter()
        .find(|taint| !needs.tolerations.iter().any(|t| tolerates(t, taint)))
        .map(|t| Misfit::Taint { key: str_at(t, "/key").into(), value: str_at(t, "/value").into() })
}

/// What the filters read of the pod being placed: read once per placement, not once per node.
pub struct PodNeeds<'a> {
    tolerations: Vec<&'a Value>,
    node_name: Option<&'a str>,
    node_selector: Option<&'a serde_json::Map<String, Value>>,
    affinity_terms: Option<&'a Vec<Value>>,
    host_ports: Vec<(u64, String)>,
    requests: Requests,
    tolerates_unschedulable: bool,
}

impl<'a> PodNeeds<'a> {
    pub fn of(pod: &'a Value) -> Self {
        let tolerations: Vec<&Value> = array(pod, "/spec/tolerations").collect();
        let cordon = serde_json::json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"});
        PodNeeds {
            tolerates_unschedulable: tolerations.iter().any(|t| tolerates(t, &cordon)),
            tolerations,
            node_name: pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()),
            node_selector: pod.pointer("/spec/nodeSelector").and_then(Value::as_object),
            affinity_terms: pod
                .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
                .and_then(Value::as_array),
            host_ports: host_ports(pod),
            requests: requests(pod),
        }
    }
}

/// nodeSelector and required node affinity (terms ORed, expressions within a term ANDed).
pub fn matches_affinity(pod: &Value, node: &Value) -> bool {
    affinity_allows(&PodNeeds::of(pod), node)
}

fn affinity_allows(needs: &PodNeeds, node: &Value) -> bool {
    let labels = node.get("metadata").and_then(|m| m.get("labels"));
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    if !needs.node_selector.is_none_or(|sel| sel.iter().all(|(k, v)| label(k) == v.as_str())) {
        return false;
    }
    needs.affinity_terms.is_none_or(|terms| crate::resources::node_selector::matches_terms(terms, node))
}

pub fn host_ports(pod: &Value) -> Vec<(u64, String)> {
    array(pod, "/spec/containers")
        .flat_map(|c| array(c, "/ports"))
        .filter_map(|p| {
            let port = p.get("hostPort")?.as_u64().filter(|p| *p > 0)?;
            Some((port, p.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_string()))
        })
        .collect()
}

/// None when `node` (its `facts`) can take the pod (its `needs`) next to `pods` (the loads of the
/// non-terminal pods bound to it).
pub fn misfit_for(needs: &PodNeeds, node: &Value, facts: &NodeFacts, pods: &[Arc<PodLoad>]) -> Option<Misfit> {
    if facts.unschedulable && !needs.tolerates_unschedulable {
        return Some(Misfit::Unschedulable);
    }
    if let Some(wanted) = needs.node_name {
        if crate::resources::meta::name(node) != Some(wanted) {
            return Some(Misfit::NodeName);
        }
    }
    if let Some(taint) = untolerated_taint(needs, facts) {
        return Some(taint);
    }
    if !affinity_allows(needs, node) {
        return Some(Misfit::Affinity);
    }
    if !needs.host_ports.is_empty()
        && pods.iter().flat_map(|p| p.host_ports.iter()).any(|used| needs.host_ports.contains(used))
    {
        return Some(Misfit::HostPorts);
    }
    if let Some(max) = facts.allocatable_pods {
        if pods.len() as u64 + 1 > max {
            return Some(Misfit::TooManyPods);
        }
    }
    let used = pods.iter().fold(Requests::default(), |a, p| Requests {
        cpu_millis: a.cpu_millis + p.requests.cpu_millis,
        memory: a.memory + p.requests.memory,
    });
    let wanted = &needs.requests;
    if wanted.cpu_millis > 0 && facts.allocatable_cpu_millis.is_some_and(|a| used.cpu_millis + wanted.cpu_millis > a) {
        return Some(Misfit::Insufficient("cpu"));
    }
    if wanted.memory > 0 && facts.allocatable_memory.is_some_and(|a| used.memory + wanted.memory > a) {
        return Some(Misfit::Insufficient("memory"));
    }
    None
}

/// kube-scheduler's FailedScheduling message: "0/3 nodes are available: 1 node(s) had …, 2 node(s) …."
/// (reasons counted, then the "N reason" strings sorted, as kube-scheduler does).
pub fn unschedulable_message(total_nodes: usize, misfits: &[Misfit]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for m in misfits {
        *counts.entry(m.reason()).or_default() += 1;
    }
    let mut parts: Vec<String> = counts.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
    parts.sort();
    if parts.is_empty() {
        return format!("0/{total_nodes} nodes are available.");
    }
    format!("0/{total_nodes} nodes are available: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// misfit_for of JSON objects.
    fn misfit(pod: &Value, node: &Value, facts: &NodeFacts, pods: &[&Value]) -> Option<Misfit> {
        let loads: Vec<Arc<PodLoad>> = pods.iter().map(|p| Arc::new(PodLoad::of(p))).collect();
        misfit_for(&PodNeeds::of(pod), node, facts, &loads)
    }

    fn node(name: &str, labels: Value, extra: Value) -> Value {
        let mut n = json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"},
                       "conditions": [{"type": "Ready", "status": "True"}]},
        });
        if let (Some(n), Some(e)) = (n.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                n.insert(k.clone(), v.clone());
            }
        }
        n
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn filters_as_a_table() {
        let master_taint =
            json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]}});
        let worker = node("w1", json!({"disk": "ssd"}), json!({}));
        let master = node("m", json!({}), master_taint);
        let cordoned = node("c", json!({}), json!({"spec": {"unschedulable": true}}));
        let not_ready = node(
            "nr",
            json!({}),
            json!({"status": {"allocatable": {}, "conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        );
        let plain = pod(json!({"containers": [{"name": "a"}]}));
        let cpu_hog = pod(json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "1500m"}}}]}));
        let port = pod(json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}));
        let extra: Vec<Value> = vec![
            pod(json!({"tolerations": [{"key": "node-role.kubernetes.io/master", "operator": "Exists"}]})),
            pod(json!({"nodeName": "other"})),
            pod(json!({"nodeSelector": {"disk": "ssd"}})),
            pod(json!({"nodeSelector": {"disk": "hdd"}})),
            pod(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}}}),
            ),
            pod(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]}]}}}}),
            ),
        ];
        type Case<'a> = (&'a str, &'a Value, &'a Value, Vec<&'a Value>, Option<Misfit>);
        let cases: Vec<Case> = vec![
            ("plain pod on a worker", &plain, &worker, vec![], None),
            (
                "master taint",
                &plain,
                &master,
                vec![],
                Some(Misfit::Taint { key: "node-role.kubernetes.io/master".into(), value: "".into() }),
            ),
            ("tolerated taint", &extra[0], &master, vec![], None),
            ("cordoned", &plain, &cordoned, vec![], Some(Misfit::Unschedulable)),
            (
                "unreachable",
                &plain,
                &not_ready,
                vec![],
                Some(Misfit::Taint { key: "node.kubernetes.io/unreachable".into(), value: "".into() }),
            ),
            ("nodeName elsewhere", &extra[1], &worker, vec![], Some(Misfit::NodeName)),
            ("nodeSelector match", &extra[2], &worker, vec![], None),
            ("nodeSelector miss", &extra[3], &worker, vec![], Some(Misfit::Affinity)),
            ("affinity NotIn", &extra[4], &worker, vec![], Some(Misfit::Affinity)),
            ("affinity second term", &extra[5], &worker, vec![], None),
            ("cpu fits once", &cpu_hog, &worker, vec![], None),
            ("cpu does not fit twice", &cpu_hog, &worker, vec![&cpu_hog], Some(Misfit::Insufficient("cpu"))),
            ("too many pods", &plain, &worker, vec![&plain, &plain, &plain], Some(Misfit::TooManyPods)),
            ("host port taken", &port, &worker, vec![&port], Some(Misfit::HostPorts)),
        ];
        for (what, pod, node, on_node, expected) in cases {
            assert_eq!(misfit(pod, node, &NodeFacts::of(node), &on_node), expected, "{what}");
        }
    }

    #[test]
    fn message_as_kube_scheduler_words_it() {
        let taint = Misfit::Taint { key: "node-role.kubernetes.io/master".into(), value: "".into() };
        assert_eq!(
            unschedulable_message(3, &[Misfit::Affinity, taint, Misfit::Affinity]),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't match Pod's node affinity/selector."
        );
        assert_eq!(unschedulable_message(0, &[]), "0/0 nodes are available.");
    }
}
