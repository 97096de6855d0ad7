//! Node conditions: the Ready condition the agent posts with each heartbeat, and what the node lifecycle
//! controller sets when heartbeats stop.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::meta::{parse_rfc3339, rfc3339};

/// The Ready condition's status ("True", "False", "Unknown"), if any.
pub fn ready_status(node: &Value) -> Option<&str> {
    ready_condition(node).and_then(|c| c.get("status")).and_then(Value::as_str)
}

fn ready_condition(node: &Value) -> Option<&Value> {
    node.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
}

pub fn last_heartbeat(node: &Value) -> Option<OffsetDateTime> {
    ready_condition(node)?.get("lastHeartbeatTime").and_then(Value::as_str).and_then(parse_rfc3339)
}

/// Set the Ready condition, keeping lastTransitionTime when the status does not change.
pub fn set_ready(
    node: &mut Value,
    status: &str,
    reason: &str,
    message: &str,
    heartbeat: Option<OffsetDateTime>,
    now: OffsetDateTime,
) {
    let previous = ready_condition(node).cloned();
    let transition = match &previous {
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => {
            p.get("lastTransitionTime").cloned().unwrap_or(Value::String(rfc3339(now)))
        }
        _ => Value::String(rfc3339(now)),
    };
    let heartbeat = heartbeat
        .map(|h| Value::String(rfc3339(h)))
        .or_else(|| previous.as_ref().and_then(|p| p.get("lastHeartbeatTime").cloned()))
        .unwrap_or(Value::String(rfc3339(now)));
    let condition = json!({
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": heartbeat,
        "lastTransitionTime": transition,
    });
    let status_obj = node.as_object_mut().expect("a node is an object").entry("status").or_insert_with(|| json!({}));
    let conditions =
        status_obj.as_object_mut().expect("status is an object").entry("conditions").or_insert_with(|| json!([]));
    let list = conditions.as_array_mut().expect("conditions is a list");
    list.retain(|c| c.get("type").and_then(Value::as_str) != Some("Ready"));
    list.push(condition);
}

/// What of a node decides which pods belong on it (labels, spec with taints and unschedulable, allocatable,
/// readiness): a heartbeat, which changes only timestamps, leaves it as it was.
pub fn placement_view(node: &Value) -> (Option<&Value>, Option<&Value>, Option<&Value>, Option<&str>) {
    let ready = super::pod::condition(node, "Ready").and_then(|c| c.get("status")).and_then(Value::as_str);
    (node.pointer("/metadata/labels"), node.get("spec"), node.pointer("/status/allocatable"), ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_and_staleness() {
        let t0 = parse_rfc3339("2026-11-26T18:00:00Z").unwrap();
        let mut node = json!({"metadata": {"name": "n1"}});
        set_ready(&mut node, "True", "KubeletReady", "ready", Some(t0), t0);
        assert_eq!(ready_status(&node), Some("True"));
        let t_unknown = t0 + time::Duration::seconds(41);
        set_ready(&mut node, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", None, t_unknown);
        assert_eq!(ready_status(&node), Some("Unknown"));
        assert_eq!(last_heartbeat(&node), Some(t0), "the last heartbeat is kept");
        let t1 = t0 + time::Duration::seconds(100);
        set_ready(&mut node, "True", "KubeletReady", "ready", Some(t1), t1);
        assert_eq!(node["status"]["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(node["status"]["conditions"][0]["lastTransitionTime"], "2026-11-26T18:01:40Z");
    }
}
