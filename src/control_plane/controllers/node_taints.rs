//! Kubernetes' node lifecycle taints: a node whose Ready condition is Unknown (not heard from) gets
//! `node.kubernetes.io/unreachable:NoExecute`, one that is not Ready gets `node.kubernetes.io/not-ready:NoExecute`,
//! each with the time it was added (eviction counts from it); a Ready node has neither.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::control_plane::runtime::{Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds;
use crate::resources::meta::rfc3339;
use crate::resources::node::ready_status;
use crate::resources::pod::{NOT_READY_TAINT, UNREACHABLE_TAINT};

pub struct NodeTaints;

/// The NoExecute lifecycle taint a node should carry now (None when Ready).
pub fn wanted(node: &Value) -> Option<&'static str> {
    match ready_status(node) {
        Some("True") => None,
        Some("Unknown") => Some(UNREACHABLE_TAINT),
        // No Ready condition yet: a registering node, not one to evict from.
        None => None,
        Some(_) => Some(NOT_READY_TAINT),
    }
}

impl Reconciler for NodeTaints {
    fn name(&self) -> &'static str {
        "node-lifecycle-taints"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        if change.key.starts_with("/nodes/") && change.new.is_some() {
            return vec![change.key.clone()];
        }
        Vec::new()
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(node) = cache.get(key) else { return plan };
        let want = wanted(node);
        let taints: Vec<Value> = node.pointer("/spec/taints").and_then(Value::as_array).cloned().unwrap_or_default();
        let is_lifecycle =
            |t: &Value| t["effect"] == "NoExecute" && (t["key"] == NOT_READY_TAINT || t["key"] == UNREACHABLE_TAINT);
        let mut kept: Vec<Value> = taints
            .iter()
            .filter(|t| !is_lifecycle(t) || Some(t["key"].as_str().unwrap_or("")) == want)
            .cloned()
            .collect();
        if let Some(key) = want {
            if !kept.iter().any(|t| t["key"] == key && t["effect"] == "NoExecute") {
                kept.push(json!({"key": key, "effect": "NoExecute", "timeAdded": rfc3339(now)}));
            }
        }
        if kept != taints {
            let mut updated = node.as_ref().clone();
            if kept.is_empty() {
                if let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("taints");
                }
            } else {
                updated["spec"]["taints"] = json!(kept);
            }
            plan.push(Action::Update { kind: kinds::served("", "nodes"), object: updated });
        }
        plan
    }
}
