//! Kubernetes' node IPAM controller: every Node gets a podCIDR (a /24 by default) out of the cluster's pod
//! network. The allocation lives in the Node itself (spec.podCIDR and spec.podCIDRs), so it survives server
//! restarts, and a deleted Node frees its range for the next one.

use std::collections::HashSet;

use ipnet::{IpNet, Ipv4Net};
use serde_json::{json, Value};

use crate::control_plane::store::{Store, StoreError};

pub const NODE_MASK: u8 = 24;

/// Give every Node without a podCIDR the first free one. Returns (node, cidr) for each assignment.
pub fn reconcile(store: &dyn Store, cluster: IpNet, mask: u8) -> Result<Vec<(String, String)>, StoreError> {
    let IpNet::V4(cluster) = cluster else { return Ok(Vec::new()) };
    let mask = mask.max(cluster.prefix_len());
    let (nodes, _) = store.list("/nodes/")?;
    let mut taken: HashSet<String> = HashSet::new();
    let mut missing = Vec::new();
    for stored in &nodes {
        let Ok(node) = serde_json::from_slice::<Value>(&stored.value) else { continue };
        match node.pointer("/spec/podCIDR").and_then(Value::as_str) {
            Some(cidr) => {
                taken.insert(cidr.to_string());
            }
            None => missing.push((stored.clone(), node)),
        }
    }
    let mut free = cluster
        .subnets(mask)
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .filter(|s: &Ipv4Net| !taken.contains(&s.to_string()));
    let mut assigned = Vec::new();
    for (stored, mut node) in missing {
        let Some(cidr) = free.next() else { break };
        if !node.get("spec").is_some_and(Value::is_object) {
            node["spec"] = json!({});
        }
        node["spec"]["podCIDR"] = json!(cidr.to_string());
        node["spec"]["podCIDRs"] = json!([cidr.to_string()]);
        match store.update(&stored.key, &serde_json::to_vec(&node).expect("json"), Some(stored.revision)) {
            Ok(_) => assigned.push((stored.key.trim_start_matches("/nodes/").to_string(), cidr.to_string())),
            // The agent wrote in between (a heartbeat): the next pass assigns it.
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn assigns_keeps_and_reuses_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let cluster: IpNet = "10.244.0.0/16".parse().unwrap();
        for name in ["a", "b"] {
            store
                .create(&format!("/nodes/{name}"), json!({"metadata": {"name": name}}).to_string().as_bytes())
                .unwrap();
        }
        let first = reconcile(&store, cluster, NODE_MASK).unwrap();
        assert_eq!(first, [("a".into(), "10.244.0.0/24".into()), ("b".into(), "10.244.1.0/24".into())]);
        assert!(reconcile(&store, cluster, NODE_MASK).unwrap().is_empty(), "kept");
        store.delete("/nodes/a", None).unwrap();
        store.create("/nodes/c", json!({"metadata": {"name": "c"}}).to_string().as_bytes()).unwrap();
        assert_eq!(reconcile(&store, cluster, NODE_MASK).unwrap(), [("c".into(), "10.244.0.0/24".into())]);
    }
}
