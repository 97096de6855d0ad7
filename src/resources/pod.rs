//! Pod facts both sides need: resource requests (as the scheduler counts them), QoS class, conditions,
//! owner, and whether a pod is finished.

use serde_json::{json, Value};

use super::quantity::{cpu_millis, units};

/// The pod's controller owner uid (ReplicaSet, Job, …), if any.
pub fn controller_uid(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|o| o.get("uid"))
        .and_then(Value::as_str)
}

pub fn node_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty())
}

pub fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending")
}

/// Succeeded or Failed: its containers will not run again and it holds no node resources.
pub fn is_terminal(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

pub fn is_deleting(pod: &Value) -> bool {
    super::meta::is_deleting(pod)
}

fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{field}")).and_then(Value::as_array).into_iter().flatten()
}

/// A container's request for `resource`: the request, or the limit when only a limit is set (Kubernetes
/// defaults requests to limits).
fn container_request(container: &Value, resource: &str) -> Option<u64> {
    let value = container
        .pointer(&format!("/resources/requests/{resource}"))
        .or_else(|| container.pointer(&format!("/resources/limits/{resource}")))?;
    let quantity = quantity_text(value)?;
    if resource == "cpu" {
        cpu_millis(&quantity)
    } else {
        units(&quantity)
    }
}

/// Quantities arrive as strings ("500m") or, from YAML, as numbers (`cpu: 1`).
pub fn quantity_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What the pod asks of a node: the sum over its containers, or the largest init container when that is
/// more (init containers run one at a time). CPU in millicores, memory in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    pub cpu_millis: u64,
    pub memory: u64,
}

pub fn requests(pod: &Value) -> Requests {
    let sum =
        |resource: &str| -> u64 { containers(pod, "containers").filter_map(|c| container_request(c, resource)).sum() };
    let init_max = |resource: &str| -> u64 {
        containers(pod, "initContainers").filter_map(|c| container_request(c, resource)).max().unwrap_or(0)
    };
    Requests { cpu_millis: sum("cpu").max(init_max("cpu")), memory: sum("memory").max(init_max("memory")) }
}

/// kube-scheduler scores pods without requests as if they asked for 100m and 200Mi, so that empty pods
/// still spread.
pub fn requests_for_scoring(pod: &Value) -> Requests {
    let r = requests(pod);
    Requests {
        cpu_millis: if r.cpu_millis == 0 { 100 } else { r.cpu_millis },
        memory: if r.memory == 0 { 200 * 1024 * 1024 } else { r.memory },
    }
}

/// The configmap and secret names a pod refers to (volumes, env, envFrom).
pub fn referenced_objects(pod: &Value) -> (Vec<String>, Vec<String>) {
    let (mut cms, mut secrets) = (Vec::new(), Vec::new());
    let push = |list: &mut Vec<String>, v: Option<&Value>| {
        if let Some(name) = v.and_then(Value::as_str) {
            if !list.iter().any(|n| n == name) {
                list.push(name.to_string());
            }
        }
    };
    for volume in pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten() {
        push(&mut cms, volume.pointer("/configMap/name"));
        push(&mut secrets, volume.pointer("/secret/secretName"));
    }
    for field in ["initContainers", "containers"] {
        for c in pod.pointer(&format!("/spec/{field}")).and_then(Value::as_array).into_iter().flatten() {
            for env in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                push(&mut cms, env.pointer("/valueFrom/configMapKeyRef/name"));
                push(&mut secrets, env.pointer("/valueFrom/secretKeyRef/name"));
            }
            for from in c.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
                push(&mut cms, from.pointer("/configMapRef/name"));
                push(&mut secrets, from.pointer("/secretRef/name"));
            }
        }
    }
    (cms, secrets)
}

/// Kubernetes' QoS class: Guaranteed (every container has equal cpu and memory requests and limits),
/// BestEffort (no requests or limits at all), Burstable otherwise.
pub fn qos_class(pod: &Value) -> &'static str {
    let all: Vec<&Value> = containers(pod, "initContainers").chain(containers(pod, "containers")).collect();
    let has_any = all.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|k| c.pointer(&format!("/resources/{k}")).and_then(Value::as_object).is_some_and(|m| !m.is_empty()))
    });
    if !has_any {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = c.pointer(&format!("/resources/limits/{r}")).and_then(quantity_text);
            let request = c.pointer(&format!("/resources/requests/{r}")).and_then(quantity_text).or(limit.clone());
            let parse = |q: &str| if *r == "cpu" { cpu_millis(q) } else { units(q) };
            limit.is_some() && request.as_deref().and_then(parse) == limit.as_deref().and_then(parse)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Set a pod condition, keeping lastTransitionTime when the status is unchanged. Returns true on change.
pub fn set_condition(
    pod: &mut Value,
    kind: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: &str,
) -> bool {
    let status_obj = pod.as_object_mut().expect("a pod is an object").entry("status").or_insert_with(|| json!({}));
    if !status_obj.is_object() {
        *status_obj = json!({});
    }
    let conditions = status_obj.as_object_mut().expect("object").entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("array");
    let existing = list.iter().position(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let mut condition = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        condition["reason"] = json!(r);
    }
    if let Some(m) = message {
        condition["message"] = json!(m);
    }
    match existing {
        Some(i) => {
            let old = &list[i];
            if old.get("status").and_then(Value::as_str) == Some(status) {
                condition["lastTransitionTime"] = old.get("lastTransitionTime").cloned().unwrap_or(json!(now));
            }
            if list[i] == condition {
                return false;
            }
            list[i] = condition;
        }
        None => list.push(condition),
    }
    true
}

pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// Kubernetes' DefaultTolerationSeconds admission: a pod that does not tolerate the not-ready or
/// unreachable NoExecute taint already gets a toleration of it for `seconds`.
pub fn add_default_tolerations(pod: &mut Value, seconds: u64) {
    if !pod.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let mut tolerations: Vec<Value> =
        pod.pointer("/spec/tolerations").and_then(Value::as_array).cloned().unwrap_or_default();
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        let covered = tolerations.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let t_key = t.get("key").and_then(Value::as_str).unwrap_or("");
            (effect.is_empty() || effect == "NoExecute")
                && (t_key == key || (t_key.is_empty() && t["operator"] == "Exists"))
        });
        if !covered {
            tolerations
                .push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}));
        }
    }
    pod["spec"]["tolerations"] = json!(tolerations);
}

pub fn condition<'a>(pod: &'a Value, kind: &str) -> Option<&'a Value> {
    pod.pointer("/status/conditions")?.as_array()?.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_qos() {
        let best = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!((requests(&best), qos_class(&best)), (Requests::default(), "BestEffort"));
        assert_eq!(requests_for_scoring(&best), Requests { cpu_millis: 100, memory: 200 << 20 });
        let guaranteed = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "1000m"}}}]}});
        assert_eq!(requests(&guaranteed), Requests { cpu_millis: 1500, memory: 128 << 20 });
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
        let burstable = json!({"spec": {
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}});
        assert_eq!(requests(&burstable).cpu_millis, 2000, "the init container's request is larger");
        assert_eq!(qos_class(&burstable), "Burstable");
    }

    #[test]
    fn conditions_keep_their_transition_time() {
        let mut pod = json!({"metadata": {"name": "p"}});
        assert!(set_condition(&mut pod, "Ready", "False", Some("ContainersNotReady"), None, "t1"));
        assert!(!set_condition(&mut pod, "Ready", "False", Some("ContainersNotReady"), None, "t2"));
        assert!(set_condition(&mut pod, "Ready", "True", None, None, "t3"));
        assert_eq!(condition(&pod, "Ready").unwrap()["lastTransitionTime"], "t3");
    }
}
