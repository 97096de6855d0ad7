//! kube-proxy's iptables mode as a pure function: Services and their EndpointSlices in, iptables-restore
//! text out. Per Service port a KUBEBOOT-SVC chain spreads new connections over KUBEBOOT-SEP chains (one
//! per endpoint, `statistic` with probabilities 1/n, 1/(n-1), … so each gets an equal share), each a DNAT;
//! ClientIP affinity pins a client with `recent`. ClusterIPs are matched in PREROUTING and OUTPUT, NodePorts
//! on any local address; NodePort traffic and hairpin traffic (a pod reaching itself) are marked and
//! masqueraded so replies come back through this node. A Service port without endpoints is rejected in
//! the filter table rather than left to time out.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::Value;

/// (table, built-in chain, our chain): the jumps that must stand first in the built-in chains.
pub const JUMPS: [(&str, &str, &str); 7] = [
    ("nat", "PREROUTING", "KUBEBOOT-SERVICES"),
    ("nat", "OUTPUT", "KUBEBOOT-SERVICES"),
    ("nat", "POSTROUTING", "KUBEBOOT-SVC-POSTROUTING"),
    ("filter", "INPUT", "KUBEBOOT-SVC-REJECT"),
    ("filter", "FORWARD", "KUBEBOOT-SVC-REJECT"),
    ("filter", "FORWARD", "KUBEBOOT-SVC-FORWARD"),
    ("filter", "OUTPUT", "KUBEBOOT-SVC-REJECT"),
];

/// The mark bit for "masquerade this on the way out" (kube-proxy uses 0x4000 the same way).
const MASQ_MARK: &str = "0x4000/0x4000";

/// One Service port as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePort {
    /// namespace/name:port-name, for comments and chain names.
    pub id: String,
    pub protocol: String,
    pub cluster_ip: Option<Ipv4Addr>,
    pub port: u16,
    pub node_port: Option<u16>,
    /// ClientIP affinity timeout, seconds.
    pub affinity_seconds: Option<u32>,
    pub endpoints: Vec<(Ipv4Addr, u16)>,
    /// The endpoints are terminating ones kept because none is ready (kube-proxy's fallback).
    pub terminating_fallback: bool,
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The Service ports to program from Services and EndpointSlices (as the API serves them): ready endpoints,
/// or, when none is ready, those still serving while they terminate (kube-proxy's fallback, so a rollout's
/// last pod keeps answering until its replacement is ready).
pub fn service_ports(services: &[Value], slices: &[Value]) -> Vec<ServicePort> {
    // Slices by (namespace, service name): one pass, not one per Service.
    let mut by_service: std::collections::HashMap<(String, String), Vec<&Value>> = Default::default();
    for slice in slices.iter().filter(|s| s.get("addressType").and_then(Value::as_str).unwrap_or("IPv4") == "IPv4") {
        if let Some(service) = slice.pointer("/metadata/labels/kubernetes.io~1service-name").and_then(Value::as_str) {
            by_service.entry((text(slice, "/metadata/namespace"), service.to_string())).or_default().push(slice);
        }
    }
    let mut out = Vec::new();
    for svc in services {
        let (ns, name) = (text(svc, "/metadata/namespace"), text(svc, "/metadata/name"));
        let ty = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
        if ty == "ExternalName" {
            continue;
        }
        let cluster_ip = svc.pointer("/spec/clusterIP").and_then(Value::as_str).and_then(|s| s.parse().ok());
        let affinity_seconds =
            (svc.pointer("/spec/sessionAffinity").and_then(Value::as_str) == Some("ClientIP")).then(|| {
                svc.pointer("/spec/sessionAffinityConfig/clientIP/timeoutSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(10800) as u32
            });
        let own_slices = by_service.get(&(ns.clone(), name.clone())).map(Vec::as_slice).unwrap_or_default();
        for sp in svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
            let port_name = sp.get("name").and_then(Value::as_str).unwrap_or("");
            let protocol = sp.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_string();
            let Some(port) = sp.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()) else {
                continue;
            };
            let mut ready = BTreeSet::new();
            let mut terminating = BTreeSet::new();
            for slice in own_slices {
                let Some(target) = slice
                    .get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
                    .and_then(|p| p.get("port").and_then(Value::as_u64))
                    .and_then(|p| u16::try_from(p).ok())
                else {
                    continue;
                };
                for e in slice.get("endpoints").and_then(Value::as_array).into_iter().flatten() {
                    let conditions = e.get("conditions");
                    let flag = |f: &str, default: bool| {
                        conditions.and_then(|c| c.get(f)).and_then(Value::as_bool).unwrap_or(default)
                    };
                    for address in e.get("addresses").and_then(Value::as_array).into_iter().flatten() {
                        let Some(ip) = address.as_str().and_then(|a| a.parse::<Ipv4Addr>().ok()) else { continue };
                        if flag("ready", true) {
                            ready.insert((ip, target));
                        } else if flag("serving", false) && flag("terminating", false) {
                            terminating.insert((ip, target));
                        }
                    }
                }
            }
            let terminating_fallback = ready.is_empty() && !terminating.is_empty();
            let endpoints = if ready.is_empty() { terminating } else { ready };
            let node_port = sp
                .get("nodePort")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|_| matches!(ty, "NodePort" | "LoadBalancer"));
            if cluster_ip.is_none() && node_port.is_none() {
                // Headless: nothing virtual to program (DNS hands out the pods' own addresses).
                continue;
            }
            out.push(ServicePort {
                id: format!("{ns}/{name}:{port_name}"),
                protocol: protocol.clone(),
                cluster_ip,
                port,
                node_port,
                affinity_seconds,
                endpoints: endpoints.into_iter().collect(),
                terminating_fallback,
            });
        }
    }
    out.sort_by(|a, b| (&a.id, &a.protocol).cmp(&(&b.id, &b.protocol)));
    out
}

/// A chain name from a stable hash of what it is for (iptables allows 28 characters).
fn chain(prefix: &str, what: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, what.as_bytes());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash: String = digest.as_ref().iter().take(12).map(|b| ALPHABET[(*b & 31) as usize] as char).collect();
    format!("{prefix}{hash}")
}

/// The rules for a set of Service ports: the filter table's two chains whole, the nat table chain by
/// chain (so a sync can write only the chains that changed, as kube-proxy does since 1.26).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    pub filter: Vec<String>,
    pub nat: std::collections::BTreeMap<String, Vec<String>>,
}

impl Rendered {
    /// Everything, for a node whose state is unknown: every chain declared (so flushed) and written;
    /// `stale` are KUBEBOOT-SVC-/SEP- chains found on the node, deleted unless still wanted.
    pub fn full_text(&self, stale: &BTreeSet<String>) -> String {
        let gone: Vec<&String> = stale.iter().filter(|c| !self.nat.contains_key(*c)).collect();
        self.text(self.nat.keys().collect(), gone)
    }

    /// Only what changed since `applied` was written: new and changed chains rewritten, chains that went
    /// away deleted (whatever jumped to them changed too, so it is rewritten in the same transaction).
    pub fn changes_since(&self, applied: &Rendered) -> String {
        let changed = self.nat.iter().filter(|(c, rules)| applied.nat.get(*c) != Some(rules)).map(|(c, _)| c).collect();
        let gone = applied.nat.keys().filter(|c| !self.nat.contains_key(*c)).collect();
        self.text(changed, gone)
    }

    /// iptables-restore input: the filter chains, then nat's `write` chains declared and filled and
    /// `gone` ones declared (flushed) and deleted once nothing jumps to them.
    fn text(&self, write: Vec<&String>, gone: Vec<&String>) -> String {
        let mut text = String::from("*filter\n:KUBEBOOT-SVC-REJECT - [0:0]\n:KUBEBOOT-SVC-FORWARD - [0:0]\n");
        for line in &self.filter {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("COMMIT\n*nat\n");
        for c in write.iter().chain(&gone) {
            text.push_str(&format!(":{c} - [0:0]\n"));
        }
        for c in &write {
            for line in &self.nat[*c] {
                text.push_str(&format!("-A {c} {line}\n"));
            }
        }
        for c in gone {
            text.push_str(&format!("-X {c}\n"));
        }
        text.push_str("COMMIT\n");
        text
    }

    /// Rules in all, for the log.
    pub fn rule_count(&self) -> usize {
        self.filter.len() + self.nat.values().map(Vec::len).sum::<usize>()
    }
}

/// The whole nat and filter state for `ports`.
pub fn render(ports: &[ServicePort]) -> Rendered {
    // Declared even when empty: the built-in chains jump to them.
    let mut nat: std::collections::BTreeMap<String, Vec<String>> =
        ["KUBEBOOT-SERVICES", "KUBEBOOT-NODEPORTS", "KUBEBOOT-SVC-POSTROUTING", "KUBEBOOT-MARK-MASQ"]
            .into_iter()
            .map(|c| (c.to_string(), Vec::new()))
            .collect();
    let mut add = |chain: &str, rule: String| nat.entry(chain.to_string()).or_default().push(rule);
    let mut filter = Vec::new();
    add("KUBEBOOT-MARK-MASQ", format!("-j MARK --set-xmark {MASQ_MARK}"));
    add("KUBEBOOT-SVC-POSTROUTING", format!("-m mark ! --mark {MASQ_MARK} -j RETURN"));
    add("KUBEBOOT-SVC-POSTROUTING", "-j MARK --set-xmark 0x4000/0x0".into());
    add(
        "KUBEBOOT-SVC-POSTROUTING",
        "-m comment --comment \"kubeboot service traffic requiring SNAT\" -j MASQUERADE".into(),
    );
    // Forwarded service traffic (a NodePort answered by a pod on another node) passes Docker's DROP policy.
    filter.push(format!(
        "-A KUBEBOOT-SVC-FORWARD -m mark --mark {MASQ_MARK} -m comment --comment \"kubeboot forwarding rules for marked service traffic\" -j ACCEPT"
    ));
    filter.push("-A KUBEBOOT-SVC-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT".into());
    for sp in ports {
        let proto = sp.protocol.to_lowercase();
        let comment = |what: &str| format!("-m comment --comment \"{} {what}\"", sp.id);
        if sp.endpoints.is_empty() {
            if let Some(ip) = sp.cluster_ip {
                filter.push(format!(
                    "-A KUBEBOOT-SVC-REJECT -d {ip}/32 -p {proto} -m {proto} --dport {} {} -j REJECT --reject-with icmp-port-unreachable",
                    sp.port,
                    comment("has no endpoints")
                ));
            }
            if let Some(np) = sp.node_port {
                filter.push(format!(
                    "-A KUBEBOOT-SVC-REJECT -m addrtype --dst-type LOCAL -p {proto} -m {proto} --dport {np} {} -j REJECT --reject-with icmp-port-unreachable",
                    comment("has no endpoints")
                ));
            }
            continue;
        }
        let svc_chain = chain("KUBEBOOT-SVC-", &format!("{}/{}", sp.id, sp.protocol));
        if let Some(ip) = sp.cluster_ip {
            add(
                "KUBEBOOT-SERVICES",
                format!(
                    "-d {ip}/32 -p {proto} -m {proto} --dport {} {} -j {svc_chain}",
                    sp.port,
                    comment("cluster IP")
                ),
            );
        }
        if let Some(np) = sp.node_port {
            add(
                "KUBEBOOT-NODEPORTS",
                format!("-p {proto} -m {proto} --dport {np} {} -j KUBEBOOT-MARK-MASQ", comment("node port")),
            );
            add(
                "KUBEBOOT-NODEPORTS",
                format!("-p {proto} -m {proto} --dport {np} {} -j {svc_chain}", comment("node port")),
            );
        }
        let endpoint_chains: Vec<String> = sp
            .endpoints
            .iter()
            .map(|(ip, port)| chain("KUBEBOOT-SEP-", &format!("{}/{}/{ip}:{port}", sp.id, sp.protocol)))
            .collect();
        if let Some(seconds) = sp.affinity_seconds {
            for sep in &endpoint_chains {
                add(
                    &svc_chain,
                    format!(
                        "-m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck --seconds {seconds} --reap -j {sep}"
                    ),
                );
            }
        }
        let n = endpoint_chains.len();
        for (i, sep) in endpoint_chains.iter().enumerate() {
            let remaining = n - i;
            if remaining > 1 {
                add(
                    &svc_chain,
                    format!("-m statistic --mode random --probability {:.10} -j {sep}", 1.0 / remaining as f64),
                );
            } else {
                add(&svc_chain, format!("-j {sep}"));
            }
        }
        for ((ip, port), sep) in sp.endpoints.iter().zip(&endpoint_chains) {
            add(sep, format!("-s {ip}/32 {} -j KUBEBOOT-MARK-MASQ", comment("hairpin")));
            let recent = match sp.affinity_seconds {
                Some(_) => format!("-m recent --name {sep} --mask 255.255.255.255 --rsource --set "),
                None => String::new(),
            };
            add(sep, format!("{recent}-p {proto} -m {proto} -j DNAT --to-destination {ip}:{port}"));
        }
    }
    // NodePorts last: only for packets to one of this node's own addresses.
    add("KUBEBOOT-SERVICES", "-m addrtype --dst-type LOCAL -j KUBEBOOT-NODEPORTS".into());
    Rendered { filter, nat }
}

/// The JUMPS `iptables-save` output (all tables) does not show.
pub fn missing_jumps(saved: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut table = "";
    let mut present = BTreeSet::new();
    for line in saved.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.trim();
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let mut words = rule.split_whitespace();
            if let (Some(chain), Some("-j"), Some(target), None) =
                (words.next(), words.next(), words.next(), words.next())
            {
                present.insert((table.to_string(), chain.to_string(), target.to_string()));
            }
        }
    }
    JUMPS.into_iter().filter(|(t, c, o)| !present.contains(&(t.to_string(), c.to_string(), o.to_string()))).collect()
}

/// The KUBEBOOT-SVC-/SEP- chains of the nat table in `iptables-save` output.
pub fn existing_service_chains(saved: &str) -> BTreeSet<String> {
    let mut in_nat = false;
    let mut chains = BTreeSet::new();
    for line in saved.lines() {
        if let Some(table) = line.strip_prefix('*') {
            in_nat = table.trim() == "nat";
        }
        let Some(chain) = line.strip_prefix(':').and_then(|l| l.split_whitespace().next()) else { continue };
        if in_nat
            && (chain.starts_with("KUBEBOOT-SVC-") || chain.starts_with("KUBEBOOT-SEP-"))
            && chain != "KUBEBOOT-SVC-POSTROUTING"
        {
            chains.insert(chain.to_string());
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_jumps_are_read_from_iptables_save() {
        let saved = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j KUBEBOOT-SVC-REJECT\n-A FORWARD -j KUBEBOOT-SVC-FORWARD\nCOMMIT\n\
                     *nat\n-A PREROUTING -j KUBEBOOT-SERVICES\n-A OUTPUT -m foo -j KUBEBOOT-SERVICES\nCOMMIT\n";
        let missing = missing_jumps(saved);
        assert_eq!(
            missing,
            [
                ("nat", "OUTPUT", "KUBEBOOT-SERVICES"),
                ("nat", "POSTROUTING", "KUBEBOOT-SVC-POSTROUTING"),
                ("filter", "FORWARD", "KUBEBOOT-SVC-REJECT"),
                ("filter", "OUTPUT", "KUBEBOOT-SVC-REJECT"),
            ],
            "a jump with a match is not ours; the nat INPUT jump is in filter"
        );
        assert_eq!(missing_jumps("").len(), JUMPS.len());
    }

    fn fixtures() -> (Vec<Value>, Vec<Value>) {
        let services = vec![
            json!({"metadata": {"namespace": "default", "name": "svc-1"},
                "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "sessionAffinity": "None",
                    "ports": [{"port": 9000, "targetPort": 8000, "protocol": "TCP", "nodePort": 30900}]}}),
            json!({"metadata": {"namespace": "default", "name": "sticky"},
                "spec": {"clusterIP": "10.96.0.21", "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}),
            json!({"metadata": {"namespace": "default", "name": "empty"},
                "spec": {"clusterIP": "10.96.0.22", "ports": [{"port": 80, "protocol": "TCP"}]}}),
            json!({"metadata": {"namespace": "default", "name": "headless"},
                "spec": {"clusterIP": "None", "ports": [{"port": 80, "protocol": "TCP"}]}}),
        ];
        let slice = |svc: &str, port_name: Option<&str>, port: u16, eps: Value| {
            let mut p = json!({"port": port, "protocol": "TCP"});
            if let Some(n) = port_name {
                p["name"] = json!(n);
            }
            json!({"metadata": {"namespace": "default", "name": format!("{svc}-abcde"),
                "labels": {"kubernetes.io/service-name": svc}}, "addressType": "IPv4", "ports": [p], "endpoints": eps})
        };
        let slices = vec![
            slice(
                "svc-1",
                None,
                8000,
                json!([
                {"addresses": ["10.244.1.2"], "conditions": {"ready": true}},
                {"addresses": ["10.244.2.2"], "conditions": {"ready": true}},
                {"addresses": ["10.244.2.3"], "conditions": {"ready": false, "serving": true, "terminating": true}}]),
            ),
            slice(
                "sticky",
                Some("http"),
                8080,
                json!([
                {"addresses": ["10.244.1.5"], "conditions": {"ready": false, "serving": true, "terminating": true}}]),
            ),
            slice("headless", None, 80, json!([{"addresses": ["10.244.1.7"], "conditions": {"ready": true}}])),
        ];
        (services, slices)
    }

    #[test]
    fn golden_rules() {
        let (services, slices) = fixtures();
        let ports = service_ports(&services, &slices);
        let stale: BTreeSet<String> = ["KUBEBOOT-SVC-GONEGONEGONE".to_string()].into();
        let rendered = render(&ports).full_text(&stale);
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/proxy-rules.txt");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &rendered).unwrap();
        }
        let expected =
            std::fs::read_to_string(&golden).expect("tests/golden/proxy-rules.txt (UPDATE_GOLDEN=1 writes it)");
        assert_eq!(rendered, expected);
    }

    #[test]
    fn endpoints_chosen_as_kube_proxy_does() {
        let (services, slices) = fixtures();
        let ports = service_ports(&services, &slices);
        let by_id = |id: &str| ports.iter().find(|p| p.id == id).unwrap();
        // Ready ones only while any is ready; a terminating-but-serving one when it is the last.
        assert_eq!(by_id("default/svc-1:").endpoints.len(), 2);
        assert_eq!(by_id("default/sticky:http").endpoints, [("10.244.1.5".parse().unwrap(), 8080)]);
        assert_eq!(by_id("default/sticky:http").affinity_seconds, Some(60));
        assert!(by_id("default/empty:").endpoints.is_empty());
        assert!(ports.iter().all(|p| p.id != "default/headless:"), "headless: no virtual address to program");
        let text = render(&ports).full_text(&BTreeSet::new());
        assert!(text.contains("--probability 0.5000000000"), "two endpoints: half each");
        assert!(text.contains("-d 10.96.0.22/32 -p tcp -m tcp --dport 80 -m comment --comment \"default/empty: has no endpoints\" -j REJECT"));
        assert!(!text.contains("-d None"));
    }

    #[test]
    fn a_sync_writes_only_the_chains_that_changed() {
        let (services, mut slices) = fixtures();
        let before = render(&service_ports(&services, &slices));
        let nothing = before.changes_since(&before);
        assert_eq!(nothing.lines().filter(|l| l.starts_with(':')).count(), 2, "only the filter chains: {nothing}");
        // One endpoint of svc-1 goes: its SVC chain is rewritten, its SEP chain deleted, nothing else.
        let gone_ip = slices[0]["endpoints"][0]["addresses"][0].as_str().unwrap().to_string();
        slices[0]["endpoints"].as_array_mut().unwrap().remove(0);
        let after = render(&service_ports(&services, &slices));
        let text = after.changes_since(&before);
        let declared: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix(':')).collect();
        let deleted: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("-X ")).collect();
        assert_eq!(deleted.len(), 1, "{text}");
        assert_eq!(declared.len(), 2 + 2, "the two filter chains, the SVC chain and the gone SEP chain: {text}");
        assert!(declared.iter().any(|d| d.starts_with("KUBEBOOT-SVC-") && !d.starts_with(deleted[0])), "{text}");
        assert!(!text.contains(&format!("--to-destination {gone_ip}:")), "{text}");
        assert!(!text.contains("KUBEBOOT-SERVICES"), "the cluster IP rules did not change: {text}");
        // Written on top of the full state, the change gives the full state of `after`.
        let full_after = after.full_text(&BTreeSet::new());
        let nat_rules = |t: &str| -> BTreeSet<String> {
            t.lines().filter(|l| l.starts_with("-A KUBEBOOT-SEP")).map(String::from).collect()
        };
        let mut applied = nat_rules(&before.full_text(&BTreeSet::new()));
        applied.retain(|r| !deleted.iter().any(|d| r.starts_with(&format!("-A {d} "))));
        assert_eq!(applied, nat_rules(&full_after));
    }

    #[test]
    fn stale_chains_read_back() {
        let saved = "*filter\n:KUBEBOOT-SVC-REJECT - [0:0]\n:KUBEBOOT-SVC-FORWARD - [0:0]\nCOMMIT\n\
                     *nat\n:PREROUTING ACCEPT [0:0]\n:KUBEBOOT-SERVICES - [0:0]\n:KUBEBOOT-SVC-POSTROUTING - [0:0]\n:KUBEBOOT-SVC-ABC - [0:0]\n:KUBEBOOT-SEP-DEF - [0:0]\nCOMMIT\n";
        let found: Vec<String> = existing_service_chains(saved).into_iter().collect();
        assert_eq!(found, ["KUBEBOOT-SEP-DEF", "KUBEBOOT-SVC-ABC"], "the filter table's chains are not nat's");
    }
}
