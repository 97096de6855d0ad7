//! The masters an agent may talk to: the addresses of the `kubernetes` Service's EndpointSlice (every live
//! master's, master_leases.rs on the server side) at its https port. The agent's API clients fail over
//! between them (apiclient/servers.rs) when the master they use goes away.

use serde_json::Value;

/// https://ADDRESS:PORT of each ready endpoint of the `default/kubernetes` EndpointSlice among `slices`.
pub fn api_servers<'a>(slices: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    let Some(slice) = slices.into_iter().find(|s| {
        s.pointer("/metadata/namespace").and_then(Value::as_str) == Some("default")
            && s.pointer("/metadata/labels/kubernetes.io~1service-name").and_then(Value::as_str) == Some("kubernetes")
    }) else {
        return Vec::new();
    };
    let Some(port) = slice.pointer("/ports/0/port").and_then(Value::as_u64) else { return Vec::new() };
    let ready = |e: &&Value| e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false);
    let endpoints = slice.get("endpoints").and_then(Value::as_array).into_iter().flatten().filter(ready);
    endpoints
        .filter_map(|e| e.pointer("/addresses/0").and_then(Value::as_str))
        .map(|ip| if ip.contains(':') { format!("https://[{ip}]:{port}") } else { format!("https://{ip}:{port}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_kubernetes_slice_names_the_masters() {
        let kubernetes = json!({"metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "endpoints": [{"addresses": ["10.88.0.11"], "conditions": {"ready": true}},
                          {"addresses": ["10.88.0.12"], "conditions": {"ready": false}},
                          {"addresses": ["fd00::13"]}],
            "ports": [{"name": "https", "port": 6443}]});
        let other = json!({"metadata": {"name": "web-x", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"addresses": ["10.244.1.5"]}], "ports": [{"port": 80}]});
        assert_eq!(
            api_servers([&other, &kubernetes]),
            ["https://10.88.0.11:6443", "https://[fd00::13]:6443"],
            "ready endpoints only, addresses bracketed where IPv6"
        );
        assert!(api_servers([&other]).is_empty());
    }
}
