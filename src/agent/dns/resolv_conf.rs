//! A pod's /etc/resolv.conf as kubelet writes it for its dnsPolicy:
//!   ClusterFirst (the default): the cluster DNS, search <ns>.svc.<domain> svc.<domain> <domain> and the
//!     node's own search domains, options ndots:5;
//!   Default: the node's resolv.conf (nameservers, search, options);
//!   None: only what dnsConfig gives.
//! dnsConfig's nameservers, searches and options are added to the policy's (options by name, the pod's
//! value winning); at most 3 nameservers, as the resolver reads no more.

use std::net::Ipv4Addr;

use serde_json::Value;

/// The node's resolver configuration file, where kubelet reads it (systemd-resolved's real one first).
pub fn node_resolv_conf() -> String {
    std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
        .or_else(|_| std::fs::read_to_string("/etc/resolv.conf"))
        .unwrap_or_default()
}

fn entries<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key).filter(|rest| rest.starts_with([' ', '\t'])))
        .flat_map(str::split_whitespace)
        .collect()
}

fn strings(pod: &Value, pointer: &str) -> Vec<String> {
    pod.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// The file's text; `cluster_dns` is the kube-dns Service's address (None while it is not known: the
/// node's resolvers stand in, as kubelet without --cluster-dns does).
pub fn render(pod: &Value, domain: &str, cluster_dns: Option<Ipv4Addr>, node: &str) -> String {
    let policy = pod.pointer("/spec/dnsPolicy").and_then(Value::as_str).unwrap_or("ClusterFirst");
    let ns = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
    let node_servers: Vec<String> = entries(node, "nameserver").into_iter().map(String::from).collect();
    let node_search: Vec<String> = entries(node, "search").into_iter().map(String::from).collect();
    let node_options: Vec<String> = entries(node, "options").into_iter().map(String::from).collect();
    let (mut servers, mut search, mut options) = match (policy, cluster_dns) {
        ("None", _) => (Vec::new(), Vec::new(), Vec::new()),
        ("Default", _) | (_, None) => (node_servers, node_search, node_options),
        (_, Some(dns)) => {
            let mut search = vec![format!("{ns}.svc.{domain}"), format!("svc.{domain}"), domain.to_string()];
            search.extend(node_search);
            (vec![dns.to_string()], search, vec!["ndots:5".to_string()])
        }
    };
    servers.extend(strings(pod, "/spec/dnsConfig/nameservers"));
    search.extend(strings(pod, "/spec/dnsConfig/searches"));
    for option in pod.pointer("/spec/dnsConfig/options").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = option.get("name").and_then(Value::as_str) else { continue };
        options.retain(|o| o.split(':').next() != Some(name));
        options.push(match option.get("value").and_then(Value::as_str) {
            Some(v) => format!("{name}:{v}"),
            None => name.to_string(),
        });
    }
    servers.dedup();
    servers.truncate(3);
    let mut seen = std::collections::HashSet::new();
    search.retain(|s| seen.insert(s.clone()));
    let mut text = String::new();
    for s in &servers {
        text.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NODE: &str = "# from the node\nnameserver 10.88.0.1\nsearch lab.example\noptions edns0\n";
    const DNS: Option<Ipv4Addr> = Some(Ipv4Addr::new(10, 96, 0, 10));

    #[test]
    fn cluster_first_is_the_default() {
        let pod = json!({"metadata": {"namespace": "team"}, "spec": {}});
        assert_eq!(
            render(&pod, "cluster.local", DNS, NODE),
            "nameserver 10.96.0.10\nsearch team.svc.cluster.local svc.cluster.local cluster.local lab.example\noptions ndots:5\n"
        );
        assert_eq!(
            render(&pod, "cluster.local", None, NODE),
            "nameserver 10.88.0.1\nsearch lab.example\noptions edns0\n"
        );
    }

    #[test]
    fn default_and_none_with_dns_config() {
        let pod = json!({"metadata": {"namespace": "default"}, "spec": {"dnsPolicy": "Default"}});
        assert_eq!(
            render(&pod, "cluster.local", DNS, NODE),
            "nameserver 10.88.0.1\nsearch lab.example\noptions edns0\n"
        );
        let pod = json!({"metadata": {"namespace": "default"}, "spec": {"dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["192.0.2.53"], "searches": ["a.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}});
        assert_eq!(
            render(&pod, "cluster.local", DNS, NODE),
            "nameserver 192.0.2.53\nsearch a.example\noptions ndots:2 edns0\n"
        );
        let pod = json!({"metadata": {"namespace": "default"}, "spec": {"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}});
        assert!(render(&pod, "cluster.local", DNS, NODE).ends_with("options ndots:1\n"), "the pod's value wins");
    }
}
