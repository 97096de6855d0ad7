//! Kubernetes' node IPAM controller: every Node gets a podCIDR (a /24 by default) out of the cluster's pod
//! network. The allocation lives in the Node itself (spec.podCIDR and spec.podCIDRs), so it survives server
//! restarts, and a deleted Node frees its range for the next one. All nodes are one key: allocations are
//! made by one worker at a time, from a cache that has seen the previous ones, so no range goes twice.

use std::collections::HashSet;

use ipnet::{IpNet, Ipv4Net};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::control_plane::runtime::{Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds;

pub const NODE_MASK: u8 = 24;
const KEY: &str = "all-nodes";

pub struct NodeIpam {
    pub cluster: IpNet,
    pub mask: u8,
}

impl Reconciler for NodeIpam {
    fn name(&self) -> &'static str {
        "node-ipam"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        let missing = change.new.as_ref().is_some_and(|n| n.pointer("/spec/podCIDR").is_none());
        if change.key.starts_with("/nodes/") && missing {
            return vec![KEY.into()];
        }
        Vec::new()
    }

    fn reconcile(&self, _key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let IpNet::V4(cluster) = self.cluster else { return plan };
        let mask = self.mask.max(cluster.prefix_len());
        let nodes: Vec<&Value> = cache.list(kinds::served("", "nodes"), None).map(|n| n.as_ref()).collect();
        let taken: HashSet<&str> =
            nodes.iter().filter_map(|n| n.pointer("/spec/podCIDR").and_then(Value::as_str)).collect();
        let Ok(subnets) = cluster.subnets(mask) else { return plan };
        let mut free = subnets.filter(|s: &Ipv4Net| !taken.contains(s.to_string().as_str()));
        for node in nodes.into_iter().filter(|n| n.pointer("/spec/podCIDR").is_none()) {
            let Some(cidr) = free.next() else { break };
            let mut assigned = node.clone();
            if !assigned.get("spec").is_some_and(Value::is_object) {
                assigned["spec"] = json!({});
            }
            assigned["spec"]["podCIDR"] = json!(cidr.to_string());
            assigned["spec"]["podCIDRs"] = json!([cidr.to_string()]);
            plan.push(Action::Update { kind: kinds::served("", "nodes"), object: assigned });
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn assigned(plan: &Plan) -> Vec<(String, String)> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::Update { object, .. } => Some((
                    object["metadata"]["name"].as_str().unwrap().to_string(),
                    object["spec"]["podCIDR"].as_str().unwrap().to_string(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn assigns_keeps_and_reuses_ranges() {
        let ipam = NodeIpam { cluster: "10.244.0.0/16".parse().unwrap(), mask: NODE_MASK };
        let mut cache = Cache::default();
        for name in ["a", "b"] {
            cache.apply(&format!("/nodes/{name}"), Some(Arc::new(json!({"metadata": {"name": name}}))));
        }
        let now = OffsetDateTime::now_utc();
        let first = ipam.reconcile(KEY, &cache, now);
        assert_eq!(assigned(&first), [("a".into(), "10.244.0.0/24".into()), ("b".into(), "10.244.1.0/24".into())]);
        for action in first.actions {
            if let Action::Update { object, .. } = action {
                cache
                    .apply(&format!("/nodes/{}", object["metadata"]["name"].as_str().unwrap()), Some(Arc::new(object)));
            }
        }
        assert!(ipam.reconcile(KEY, &cache, now).actions.is_empty(), "kept");
        cache.apply("/nodes/a", None);
        cache.apply("/nodes/c", Some(Arc::new(json!({"metadata": {"name": "c"}}))));
        assert_eq!(assigned(&ipam.reconcile(KEY, &cache, now)), [("c".into(), "10.244.0.0/24".into())]);
    }
}
