//! Kubernetes' node lifecycle rule: a node whose agent has not posted a heartbeat for 40 s gets
//! Ready=Unknown. "Not posted" is judged on the server's clock, as kube-controller-manager does: the
//! controller remembers when it last saw each node's heartbeat change, so an agent whose clock is minutes
//! off neither flaps nor hides a dead node. After a server start (or a change of leader) every node gets
//! the full grace period. The status is written through the API, conditional on what was read: a heartbeat
//! that lands in between wins.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::control_plane::runtime::{Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds;
use crate::resources::node::{ready_status, set_ready};

pub const GRACE: Duration = Duration::seconds(40);

/// Per node: the last heartbeat value seen and when (server time) it was first seen.
#[derive(Default)]
pub struct NodeLifecycle {
    observed: Mutex<HashMap<String, (String, OffsetDateTime)>>,
}

fn heartbeat_value(node: &Value) -> String {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c.get("lastHeartbeatTime"))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn requeue_after(d: Duration) -> std::time::Duration {
    std::time::Duration::from_secs_f64(d.as_seconds_f64().max(0.0)) + std::time::Duration::from_secs(1)
}

impl Reconciler for NodeLifecycle {
    fn name(&self) -> &'static str {
        "node-lifecycle"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        if change.key.starts_with("/nodes/") {
            return vec![change.key.clone()];
        }
        Vec::new()
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let mut observed = self.observed.lock().expect("node lifecycle");
        let Some(node) = cache.get(key) else {
            observed.remove(key);
            return plan;
        };
        let beat = heartbeat_value(node);
        let seen_at = match observed.get(key) {
            Some((value, at)) if *value == beat => *at,
            _ => {
                observed.insert(key.to_string(), (beat, now));
                now
            }
        };
        if ready_status(node) == Some("Unknown") {
            return plan;
        }
        let quiet = now - seen_at;
        if quiet <= GRACE {
            plan.requeue(requeue_after(GRACE - quiet));
            return plan;
        }
        let mut marked = node.as_ref().clone();
        set_ready(&mut marked, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", None, now);
        plan.push(Action::UpdateStatus { kind: kinds::served("", "nodes"), object: marked });
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::meta::parse_rfc3339;
    use std::sync::Arc;

    fn beat(cache: &mut Cache, name: &str, agent_clock: OffsetDateTime) {
        let key = format!("/nodes/{name}");
        let mut node =
            cache.get(&key).map(|n| n.as_ref().clone()).unwrap_or(serde_json::json!({"metadata": {"name": name}}));
        set_ready(&mut node, "True", "KubeletReady", "ready", Some(agent_clock), agent_clock);
        cache.apply(&key, Some(Arc::new(node)));
    }

    fn marks(lifecycle: &NodeLifecycle, cache: &Cache, name: &str, now: OffsetDateTime) -> bool {
        lifecycle
            .reconcile(&format!("/nodes/{name}"), cache, now)
            .actions
            .iter()
            .any(|a| matches!(a, Action::UpdateStatus { object, .. } if ready_status(object) == Some("Unknown")))
    }

    #[test]
    fn judged_on_the_servers_clock() {
        let mut cache = Cache::default();
        let t0 = parse_rfc3339("2026-11-26T18:00:00Z").unwrap();
        let lifecycle = NodeLifecycle::default();
        // "skewed" runs 10 minutes behind but beats every 10 s; "dead" beat once, on time.
        beat(&mut cache, "skewed", t0 - Duration::minutes(10));
        beat(&mut cache, "dead", t0);
        for step in 0..5 {
            let now = t0 + Duration::seconds(10 * step);
            beat(&mut cache, "skewed", now - Duration::minutes(10));
            assert!(
                !marks(&lifecycle, &cache, "skewed", now) && !marks(&lifecycle, &cache, "dead", now),
                "step {step}"
            );
        }
        let now = t0 + Duration::seconds(50);
        beat(&mut cache, "skewed", now - Duration::minutes(10));
        assert!(marks(&lifecycle, &cache, "dead", now), "more than 40 s without a new heartbeat");
        assert!(!marks(&lifecycle, &cache, "skewed", now));
        // A new leader (a fresh controller) gives everyone the full grace period first.
        let restarted = NodeLifecycle::default();
        beat(&mut cache, "late", t0 - Duration::hours(1));
        assert!(!marks(&restarted, &cache, "late", now));
        let plan = restarted.reconcile("/nodes/late", &cache, now);
        assert_eq!(plan.requeue_after, Some(std::time::Duration::from_secs(41)), "looked at again after the grace");
        assert!(marks(&restarted, &cache, "late", now + Duration::seconds(41)));
    }
}
