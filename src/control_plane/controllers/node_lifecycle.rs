//! Kubernetes' node lifecycle rule: a node whose agent has not posted a heartbeat for 40 s gets
//! Ready=Unknown. "Not posted" is judged on the server's clock, as kube-controller-manager does: the
//! controller remembers when it last saw each node's heartbeat change, so an agent whose clock is minutes
//! off neither flaps nor hides a dead node. After a server start every node gets the full grace period.
//! One pass = one read of all nodes and a conditional write per stale node (a heartbeat that lands in
//! between wins: the write conflicts and the node is left alone).

use std::collections::HashMap;

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::control_plane::store::{Store, StoreError};
use crate::resources::node::{ready_status, set_ready};

pub const GRACE: Duration = Duration::seconds(40);

/// What the controller observed: per node, the last heartbeat value seen and when (server time) it changed.
#[derive(Default)]
pub struct NodeLifecycle {
    observed: HashMap<String, (String, OffsetDateTime)>,
}

fn heartbeat_value(node: &Value) -> String {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c.get("lastHeartbeatTime"))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

impl NodeLifecycle {
    /// Returns the names of nodes marked Unknown.
    pub fn reconcile(&mut self, store: &dyn Store, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        let (nodes, _) = store.list("/nodes/")?;
        let mut marked = Vec::new();
        let mut names = Vec::new();
        for stored in nodes {
            let Ok(mut node) = serde_json::from_slice::<Value>(&stored.value) else { continue };
            let name = stored.key.trim_start_matches("/nodes/").to_string();
            names.push(name.clone());
            let beat = heartbeat_value(&node);
            let seen_at = match self.observed.get(&name) {
                Some((value, at)) if *value == beat => *at,
                _ => {
                    self.observed.insert(name.clone(), (beat, now));
                    now
                }
            };
            if ready_status(&node) == Some("Unknown") || now - seen_at <= GRACE {
                continue;
            }
            set_ready(&mut node, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", None, now);
            match store.update(&stored.key, &serde_json::to_vec(&node).expect("json"), Some(stored.revision)) {
                Ok(_) => marked.push(name),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.observed.retain(|name, _| names.contains(name));
        Ok(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;
    use crate::resources::meta::parse_rfc3339;

    fn beat(store: &RedbStore, name: &str, agent_clock: OffsetDateTime) {
        let key = format!("/nodes/{name}");
        let mut node = match store.get(&key).unwrap() {
            Some(s) => serde_json::from_slice(&s.value).unwrap(),
            None => serde_json::json!({"metadata": {"name": name}}),
        };
        set_ready(&mut node, "True", "KubeletReady", "ready", Some(agent_clock), agent_clock);
        match store.get(&key).unwrap() {
            Some(_) => store.update(&key, &serde_json::to_vec(&node).unwrap(), None).unwrap(),
            None => store.create(&key, &serde_json::to_vec(&node).unwrap()).unwrap(),
        };
    }

    fn status(store: &RedbStore, name: &str) -> String {
        let node: Value =
            serde_json::from_slice(&store.get(&format!("/nodes/{name}")).unwrap().unwrap().value).unwrap();
        ready_status(&node).unwrap().to_string()
    }

    #[test]
    fn judged_on_the_servers_clock() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let t0 = parse_rfc3339("2026-11-26T18:00:00Z").unwrap();
        let mut lifecycle = NodeLifecycle::default();
        // "skewed" runs 10 minutes behind but beats every 10 s; "dead" beat once, on time.
        beat(&store, "skewed", t0 - Duration::minutes(10));
        beat(&store, "dead", t0);
        for step in 0..5 {
            let now = t0 + Duration::seconds(10 * step);
            beat(&store, "skewed", now - Duration::minutes(10));
            let marked = lifecycle.reconcile(&store, now).unwrap();
            assert!(marked.is_empty(), "nobody stale yet at {step}: {marked:?}");
        }
        assert_eq!(status(&store, "skewed"), "True");
        let now = t0 + Duration::seconds(50);
        beat(&store, "skewed", now - Duration::minutes(10));
        assert_eq!(lifecycle.reconcile(&store, now).unwrap(), ["dead"], "more than 40 s without a new heartbeat");
        assert_eq!((status(&store, "dead"), status(&store, "skewed")), ("Unknown".into(), "True".into()));
        // A fresh controller (a server restart) gives everyone the full grace period first.
        let mut restarted = NodeLifecycle::default();
        beat(&store, "late", t0 - Duration::hours(1));
        assert!(restarted.reconcile(&store, now).unwrap().is_empty());
        assert_eq!(restarted.reconcile(&store, now + Duration::seconds(41)).unwrap(), ["late", "skewed"]);
    }
}
