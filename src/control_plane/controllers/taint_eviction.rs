//! Kubernetes' NoExecute taint manager: a pod on a node with a NoExecute taint it does not tolerate is
//! deleted now; one it tolerates for tolerationSeconds is deleted when that time has passed since the
//! taint was added (every pod tolerates not-ready/unreachable for the server's pod eviction timeout, by
//! admission). The deletion is the graceful one; on a dead node the pod stays Terminating until the node
//! returns, but its ReplicaSet counts it gone and starts a replacement elsewhere at once.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use crate::control_plane::runtime::{Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::control_plane::scheduler::filters::tolerates;
use crate::resources::kinds;
use crate::resources::meta::{self, parse_rfc3339};
use crate::resources::pod;

pub struct TaintEviction;

/// When the pod must go because of `node`'s NoExecute taints (None: never; a past time: now).
pub fn eviction_time(pod: &Value, node: &Value) -> Option<OffsetDateTime> {
    let tolerations: Vec<&Value> =
        pod.pointer("/spec/tolerations").and_then(Value::as_array).into_iter().flatten().collect();
    let mut at: Option<OffsetDateTime> = None;
    for taint in node.pointer("/spec/taints").and_then(Value::as_array).into_iter().flatten() {
        if taint["effect"] != "NoExecute" {
            continue;
        }
        let added = taint["timeAdded"].as_str().and_then(parse_rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let matching: Vec<&&Value> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(OffsetDateTime::UNIX_EPOCH);
        }
        // Tolerated forever by one without tolerationSeconds; otherwise for the shortest one.
        let seconds =
            matching.iter().map(|t| t.get("tolerationSeconds").and_then(Value::as_i64)).collect::<Option<Vec<i64>>>();
        if let Some(limit) = seconds.and_then(|s| s.into_iter().min()) {
            let deadline = crate::resources::meta::plus_seconds(added, limit.max(0));
            at = Some(at.map_or(deadline, |a| a.min(deadline)));
        }
    }
    at
}

impl Reconciler for TaintEviction {
    fn name(&self) -> &'static str {
        "taint-eviction"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        if change.key.starts_with("/pods/") {
            return change
                .new
                .as_ref()
                .filter(|p| pod::node_name(p).is_some())
                .map(|_| vec![change.key.clone()])
                .unwrap_or_default();
        }
        // A node's taints changed: every pod on it is looked at.
        let Some(node) = change.new.as_ref().filter(|_| change.key.starts_with("/nodes/")) else { return Vec::new() };
        if change.old.as_ref().map(|o| o.pointer("/spec/taints")) == Some(node.pointer("/spec/taints")) {
            return Vec::new();
        }
        let name = meta::name(node).unwrap_or_default();
        cache
            .list(kinds::served("", "pods"), None)
            .filter(|p| pod::node_name(p) == Some(name))
            .filter_map(|p| {
                let ns = p.pointer("/metadata/namespace").and_then(Value::as_str)?;
                Some(format!("/pods/{ns}/{}", meta::name(p)?))
            })
            .collect()
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(p) = cache.get(key) else { return plan };
        if pod::is_deleting(p) || pod::is_terminal(p) {
            return plan;
        }
        let Some(node) = pod::node_name(p).and_then(|n| cache.get(&format!("/nodes/{n}"))) else { return plan };
        match eviction_time(p, node) {
            Some(at) if at <= now => {
                let ns = p.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
                let name = meta::name(p).unwrap_or_default().to_string();
                let event = EventNote {
                    about: p.as_ref().clone(),
                    kind: "Pod",
                    warning: false,
                    reason: "TaintManagerEviction".into(),
                    message: format!("Marking for deletion Pod {ns}/{name}"),
                };
                plan.push(Action::delete(kinds::served("", "pods"), p, None, Some(event)));
            }
            Some(at) => plan.requeue(Duration::from_secs_f64((at - now).as_seconds_f64()) + Duration::from_millis(200)),
            None => {}
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn eviction_times_as_a_table() {
        let t0 = "2026-12-03T10:00:00Z";
        let node = json!({"spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": t0}]}});
        let at = |tolerations: Value| {
            eviction_time(&json!({"spec": {"tolerations": tolerations}}), &node).map(crate::resources::meta::rfc3339)
        };
        let default = json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]);
        assert_eq!(at(default), Some("2026-12-03T10:00:30Z".into()));
        assert_eq!(at(json!([])), Some("1970-01-01T00:00:00Z".into()), "untolerated: now");
        assert_eq!(at(json!([{"operator": "Exists"}])), None, "tolerates everything forever (DaemonSet-style)");
        let two = json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 60},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]);
        assert_eq!(at(two), Some("2026-12-03T10:00:10Z".into()), "the shortest toleration");
        let schedule_only = json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
        assert_eq!(eviction_time(&json!({"spec": {}}), &schedule_only), None);
    }
}
