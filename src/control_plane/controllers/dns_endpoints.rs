//! The kube-dns Service's endpoints. Cluster DNS is served by every node's agent on the node's own
//! address, port 53 (there is no DNS pod to select), so the endpoints are the Ready nodes' InternalIPs:
//! an Endpoints object and one EndpointSlice, kept as nodes come, go and change readiness.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::endpoints::{converge, endpoints, services, slices, SERVICE_NAME_LABEL};
use crate::control_plane::runtime::{Cache, Change, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "kube-dns";

fn nodes() -> &'static ResourceKind {
    kinds::served("", "nodes")
}

fn service_key() -> String {
    services().key(Some(NAMESPACE), NAME)
}

/// The ports kube-dns serves, as kubeadm's CoreDNS Service names them.
pub fn ports() -> Value {
    json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}])
}

/// The node's InternalIP when its Ready condition is True: what it contributes to the endpoints.
fn member_address(node: &Value) -> Option<&str> {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    if !ready {
        return None;
    }
    node.pointer("/status/addresses")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a["type"] == "InternalIP")?
        .get("address")?
        .as_str()
}

/// (name, InternalIP) of every node whose Ready condition is True, by name.
fn ready_nodes(cache: &Cache) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = cache
        .list(nodes(), None)
        .filter_map(|n| Some((n.pointer("/metadata/name")?.as_str()?.to_string(), member_address(n)?.to_string())))
        .collect();
    out.sort();
    out
}

pub struct DnsEndpoints;

impl Reconciler for DnsEndpoints {
    fn name(&self) -> &'static str {
        "dns-endpoints"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        // A heartbeat changes only timestamps: the endpoints (all nodes) are looked at again only when a
        // node comes, goes, or changes readiness or address.
        if change.key.starts_with(&nodes().prefix(None)) {
            let (old, new) = (change.old.as_deref().map(member_address), change.new.as_deref().map(member_address));
            return if old != new { vec![service_key()] } else { Vec::new() };
        }
        let ours = [service_key(), endpoints().key(Some(NAMESPACE), NAME)];
        if ours.iter().any(|p| change.key.starts_with(p.as_str()))
            || change.key.starts_with(&slices().key(Some(NAMESPACE), NAME))
        {
            vec![service_key()]
        } else {
            Vec::new()
        }
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        if cache.get(key).is_none() {
            return plan;
        }
        let members = ready_nodes(cache);
        let addresses: Vec<Value> = members.iter().map(|(node, ip)| json!({"ip": ip, "nodeName": node})).collect();
        let subsets =
            if addresses.is_empty() { json!([]) } else { json!([{"addresses": addresses, "ports": ports()}]) };
        let labels = json!({"k8s-app": "kube-dns", "kubernetes.io/name": "kubeboot-dns"});
        let wanted = json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
            "subsets": subsets});
        let current = cache.get(&endpoints().key(Some(NAMESPACE), NAME)).map(|o| o.as_ref());
        converge(&mut plan, endpoints(), current, wanted, &["subsets"]);
        let mut slice_labels = labels.clone();
        slice_labels[SERVICE_NAME_LABEL] = json!(NAME);
        let wanted = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": slice_labels},
            "addressType": "IPv4",
            "endpoints": members.iter().map(|(node, ip)| json!({"addresses": [ip], "nodeName": node,
                "conditions": {"ready": true, "serving": true, "terminating": false}})).collect::<Vec<_>>(),
            "ports": ports()});
        let current = cache.get(&slices().key(Some(NAMESPACE), NAME)).map(|o| o.as_ref());
        converge(&mut plan, slices(), current, wanted, &["endpoints", "ports", "addressType"]);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::runtime::Action;
    use std::sync::Arc;

    fn node(name: &str, ip: &str, ready: &str) -> (String, Value) {
        (
            nodes().key(None, name),
            json!({"metadata": {"name": name}, "status": {
                "conditions": [{"type": "Ready", "status": ready}],
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}),
        )
    }

    #[test]
    fn the_ready_nodes_are_the_endpoints() {
        let mut cache = Cache::default();
        let service = json!({"metadata": {"name": NAME, "namespace": NAMESPACE}, "spec": {"clusterIP": "10.96.0.10"}});
        for (k, v) in [
            (service_key(), service),
            node("lab-node1", "10.88.0.11", "True"),
            node("lab-node2", "10.88.0.12", "Unknown"),
            node("lab-master", "10.88.0.10", "True"),
        ] {
            cache.apply(&k, Some(Arc::new(v)));
        }
        let plan = DnsEndpoints.reconcile(&service_key(), &cache, OffsetDateTime::now_utc());
        let created: Vec<&Value> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Create { object, .. } => Some(object),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), 2);
        let ips: Vec<&Value> =
            created[0]["subsets"][0]["addresses"].as_array().unwrap().iter().map(|a| &a["ip"]).collect();
        assert_eq!(ips, [&json!("10.88.0.10"), &json!("10.88.0.11")], "the NotReady node left out");
        assert_eq!(created[1]["endpoints"].as_array().unwrap().len(), 2);
        assert_eq!(created[1]["ports"], ports());
        // Readiness or a node leaving changes the endpoints; a heartbeat (timestamps only) does not.
        let (key, before) = node("lab-node2", "10.88.0.12", "Unknown");
        let (_, ready) = node("lab-node2", "10.88.0.12", "True");
        let mut beat = before.clone();
        beat["status"]["conditions"][0]["lastHeartbeatTime"] = json!("2026-12-05T11:00:00Z");
        let change = |old: Option<&Value>, new: Option<&Value>| Change {
            key: key.clone(),
            old: old.cloned().map(Arc::new),
            new: new.cloned().map(Arc::new),
        };
        assert_eq!(DnsEndpoints.keys_for(&change(Some(&before), Some(&ready)), &cache), [service_key()]);
        assert_eq!(DnsEndpoints.keys_for(&change(Some(&ready), None), &cache), [service_key()]);
        assert!(DnsEndpoints.keys_for(&change(Some(&before), Some(&beat)), &cache).is_empty());
    }
}
