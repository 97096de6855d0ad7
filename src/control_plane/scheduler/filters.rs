//! kube-scheduler's filters as plain functions of (pod, node, pods already on the node), in its plugin
//! order: the first that fails gives the node's reason, worded as kube-scheduler words it.

use serde_json::Value;

use crate::resources::node::ready_status;
use crate::resources::pod::{requests, Requests};
use crate::resources::quantity::{cpu_millis, units};

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

fn untolerated_taint(pod: &Value, node: &Value) -> Option<Misfit> {
    effective_taints(node)
        .into_iter()
        .filter(|t| matches!(str_at(t, "/effect"), "NoSchedule" | "NoExecute"))
        .find(|taint| !array(pod, "/spec/tolerations").any(|t| tolerates(t, taint)))
        .map(|t| Misfit::Taint { key: str_at(&t, "/key").into(), value: str_at(&t, "/value").into() })
}

/// nodeSelector and required node affinity (terms ORed, expressions within a term ANDed).
pub fn matches_affinity(pod: &Value, node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels");
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let selector_ok = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .is_none_or(|sel| sel.iter().all(|(k, v)| label(k) == v.as_str()));
    if !selector_ok {
        return false;
    }
    let Some(terms) = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
    else {
        return true;
    };
    crate::resources::node_selector::matches_terms(terms, node)
}

fn host_ports(pod: &Value) -> Vec<(u64, String)> {
    array(pod, "/spec/containers")
        .flat_map(|c| array(c, "/ports"))
        .filter_map(|p| {
            let port = p.get("hostPort")?.as_u64().filter(|p| *p > 0)?;
            Some((port, p.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_string()))
        })
        .collect()
}

fn allocatable(node: &Value, resource: &str) -> Option<u64> {
    let text = crate::resources::pod::quantity_text(node.pointer(&format!("/status/allocatable/{resource}"))?)?;
    if resource == "cpu" {
        cpu_millis(&text)
    } else {
        units(&text)
    }
}

/// None when `node` can take `pod` next to `pods` (the non-terminal pods bound to it).
pub fn misfit(pod: &Value, node: &Value, pods: &[&Value]) -> Option<Misfit> {
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true)
        && !array(pod, "/spec/tolerations").any(|t| {
            tolerates(t, &serde_json::json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}))
        })
    {
        return Some(Misfit::Unschedulable);
    }
    if let Some(wanted) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        if crate::resources::meta::name(node) != Some(wanted) {
            return Some(Misfit::NodeName);
        }
    }
    if let Some(taint) = untolerated_taint(pod, node) {
        return Some(taint);
    }
    if !matches_affinity(pod, node) {
        return Some(Misfit::Affinity);
    }
    let wanted_ports = host_ports(pod);
    if !wanted_ports.is_empty() && pods.iter().flat_map(|p| host_ports(p)).any(|used| wanted_ports.contains(&used)) {
        return Some(Misfit::HostPorts);
    }
    if let Some(max) = allocatable(node, "pods") {
        if pods.len() as u64 + 1 > max {
            return Some(Misfit::TooManyPods);
        }
    }
    let used = pods.iter().map(|p| requests(p)).fold(Requests::default(), |a, r| Requests {
        cpu_millis: a.cpu_millis + r.cpu_millis,
        memory: a.memory + r.memory,
    });
    let wanted = requests(pod);
    if wanted.cpu_millis > 0 && allocatable(node, "cpu").is_some_and(|a| used.cpu_millis + wanted.cpu_millis > a) {
        return Some(Misfit::Insufficient("cpu"));
    }
    if wanted.memory > 0 && allocatable(node, "memory").is_some_and(|a| used.memory + wanted.memory > a) {
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
            assert_eq!(misfit(pod, node, &on_node), expected, "{what}");
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
