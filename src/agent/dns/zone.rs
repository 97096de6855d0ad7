//! The cluster's names as Kubernetes' DNS specification defines them, built from Services and
//! EndpointSlices and looked up without any I/O:
//!   <svc>.<ns>.svc.<domain>                A: the ClusterIP, or for a headless Service its ready endpoints
//!   <endpoint>.<svc>.<ns>.svc.<domain>     A: a headless Service's endpoint (its hostname, else a-b-c-d)
//!   _<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV for each named port (per endpoint when headless)
//!   a-b-c-d.<ns>.pod.<domain>              A: a.b.c.d (CoreDNS's `pods insecure`, its default)
//! Names under the domain that do not exist are NXDOMAIN; a name that exists without records of the asked
//! type answers NOERROR with none (so resolvers do not give up on the name's other types).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde_json::Value;

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Data {
    A(Ipv4Addr),
    Srv { priority: u16, weight: u16, port: u16, target: String },
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    A,
    Srv,
    /// Anything else (AAAA, TXT, …): the name may exist, but holds none.
    Other,
}

#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// (owner name, data); the owner is the name asked, lower-cased, with its final dot.
    Found(Vec<(String, Data)>),
    /// NOERROR, no records of that type.
    NoData,
    /// NXDOMAIN.
    NoSuchName,
    /// Not under the cluster domain: for the upstream resolvers.
    NotOurs,
}

/// Every name the cluster holds, each with its records.
#[derive(Debug, Default)]
pub struct Zone {
    /// The cluster domain with a final dot (`cluster.local.`).
    domain: String,
    names: BTreeMap<String, BTreeSet<Data>>,
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// `10-244-1-2` for 10.244.1.2, as CoreDNS names endpoints without a hostname.
fn dashed(ip: Ipv4Addr) -> String {
    ip.to_string().replace('.', "-")
}

impl Zone {
    pub fn build(domain: &str, services: &[Value], slices: &[Value]) -> Zone {
        let domain = format!("{}.", domain.trim_end_matches('.').to_ascii_lowercase());
        let mut zone = Zone { domain, names: BTreeMap::new() };
        let mut slices_of: BTreeMap<(&str, &str), Vec<&Value>> = BTreeMap::new();
        for slice in slices.iter().filter(|s| s.get("addressType").and_then(Value::as_str).unwrap_or("IPv4") == "IPv4")
        {
            let service = text(slice, "/metadata/labels/kubernetes.io~1service-name");
            if !service.is_empty() {
                slices_of.entry((text(slice, "/metadata/namespace"), service)).or_default().push(slice);
            }
        }
        for svc in services {
            let (ns, name) = (text(svc, "/metadata/namespace"), text(svc, "/metadata/name"));
            if ns.is_empty() || name.is_empty() || text(svc, "/spec/type") == "ExternalName" {
                continue;
            }
            let fqdn = format!("{name}.{ns}.svc.{}", zone.domain);
            let cluster_ip = text(svc, "/spec/clusterIP");
            let own = slices_of.get(&(ns, name)).map(Vec::as_slice).unwrap_or_default();
            if let Ok(ip) = cluster_ip.parse::<Ipv4Addr>() {
                zone.add(&fqdn, Data::A(ip));
                for sp in svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
                    let (port_name, port) = (text(sp, "/name"), sp.get("port").and_then(Value::as_u64).unwrap_or(0));
                    if port_name.is_empty() || port == 0 {
                        continue;
                    }
                    let proto = sp.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_ascii_lowercase();
                    let srv = Data::Srv { priority: 0, weight: 100, port: port as u16, target: fqdn.clone() };
                    zone.add(&format!("_{port_name}._{proto}.{fqdn}"), srv);
                }
            } else if cluster_ip == "None" {
                zone.add_headless(&fqdn, own);
            }
        }
        zone
    }

    /// A headless Service: its ready endpoints under its own name and one name each, SRV per named port.
    fn add_headless(&mut self, fqdn: &str, slices: &[&Value]) {
        // Registered even with no endpoint: the Service exists, its name must not be NXDOMAIN.
        self.names.entry(fqdn.to_string()).or_default();
        for slice in slices {
            let ports: Vec<(&str, String, u16)> = slice
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let port = u16::try_from(p.get("port")?.as_u64()?).ok()?;
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_ascii_lowercase();
                    Some((p.get("name").and_then(Value::as_str).unwrap_or(""), proto, port))
                })
                .collect();
            for endpoint in slice.get("endpoints").and_then(Value::as_array).into_iter().flatten() {
                if endpoint.pointer("/conditions/ready").and_then(Value::as_bool) == Some(false) {
                    continue;
                }
                for ip in endpoint.get("addresses").and_then(Value::as_array).into_iter().flatten() {
                    let Some(ip) = ip.as_str().and_then(|a| a.parse::<Ipv4Addr>().ok()) else { continue };
                    let host =
                        endpoint.get("hostname").and_then(Value::as_str).map_or_else(|| dashed(ip), String::from);
                    let host_fqdn = format!("{}.{fqdn}", host.to_ascii_lowercase());
                    self.add(fqdn, Data::A(ip));
                    self.add(&host_fqdn, Data::A(ip));
                    for (name, proto, port) in ports.iter().filter(|(n, _, _)| !n.is_empty()) {
                        let srv = Data::Srv { priority: 0, weight: 100, port: *port, target: host_fqdn.clone() };
                        self.add(&format!("_{name}._{proto}.{fqdn}"), srv);
                    }
                }
            }
        }
    }

    fn add(&mut self, name: &str, data: Data) {
        self.names.entry(name.to_string()).or_default().insert(data);
    }

    pub fn lookup(&self, name: &str, kind: Kind) -> Lookup {
        let mut name = name.to_ascii_lowercase();
        if !name.ends_with('.') {
            name.push('.');
        }
        let Some(inside) = name.strip_suffix(&self.domain) else { return Lookup::NotOurs };
        if let Some(ip) = pod_address(inside) {
            return match kind {
                Kind::A => Lookup::Found(vec![(name, Data::A(ip))]),
                _ => Lookup::NoData,
            };
        }
        match self.names.get(&name) {
            Some(records) => {
                let found: Vec<(String, Data)> = records
                    .iter()
                    .filter(|d| matches!((kind, d), (Kind::A, Data::A(_)) | (Kind::Srv, Data::Srv { .. })))
                    .map(|d| (name.clone(), d.clone()))
                    .collect();
                if found.is_empty() {
                    Lookup::NoData
                } else {
                    Lookup::Found(found)
                }
            }
            // An empty non-terminal (`default.svc.cluster.local.`, `svc.cluster.local.`) exists.
            None if self.names.keys().any(|n| n.ends_with(&format!(".{name}"))) || inside.is_empty() => Lookup::NoData,
            None => Lookup::NoSuchName,
        }
    }
}

/// `a-b-c-d.<ns>.pod.` (the part before the cluster domain) -> a.b.c.d.
fn pod_address(inside: &str) -> Option<Ipv4Addr> {
    let mut labels = inside.trim_end_matches('.').split('.');
    let (dashed, _ns, pod, end) = (labels.next()?, labels.next()?, labels.next()?, labels.next());
    if pod != "pod" || end.is_some() {
        return None;
    }
    dashed.replace('-', ".").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn zone() -> Zone {
        let services = vec![
            json!({"metadata": {"namespace": "default", "name": "svc-1"},
                "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 9000, "protocol": "TCP"}]}}),
            json!({"metadata": {"namespace": "default", "name": "db"},
                "spec": {"clusterIP": "None", "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}}),
            json!({"metadata": {"namespace": "default", "name": "lonely"}, "spec": {"clusterIP": "None"}}),
        ];
        let slices = vec![json!({"metadata": {"namespace": "default", "name": "db-abc",
                "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.244.1.2"], "conditions": {"ready": true}, "hostname": "db-0"},
                {"addresses": ["10.244.2.3"], "conditions": {"ready": true}},
                {"addresses": ["10.244.2.4"], "conditions": {"ready": false}}]})];
        Zone::build("cluster.local", &services, &slices)
    }

    fn a(z: &Zone, name: &str) -> Vec<String> {
        match z.lookup(name, Kind::A) {
            Lookup::Found(r) => r.into_iter().map(|(_, d)| format!("{d:?}")).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn services_resolve_to_their_cluster_ip_or_ready_endpoints() {
        let z = zone();
        assert_eq!(a(&z, "svc-1.default.svc.cluster.local"), ["A(10.96.0.20)"]);
        assert_eq!(a(&z, "SVC-1.Default.svc.cluster.local."), ["A(10.96.0.20)"], "case-insensitive");
        assert_eq!(a(&z, "db.default.svc.cluster.local."), ["A(10.244.1.2)", "A(10.244.2.3)"], "ready only");
        assert_eq!(a(&z, "db-0.db.default.svc.cluster.local."), ["A(10.244.1.2)"]);
        assert_eq!(a(&z, "10-244-2-3.db.default.svc.cluster.local."), ["A(10.244.2.3)"]);
        assert_eq!(z.lookup("lonely.default.svc.cluster.local.", Kind::A), Lookup::NoData);
        assert_eq!(a(&z, "10-244-9-9.default.pod.cluster.local."), ["A(10.244.9.9)"]);
    }

    #[test]
    fn srv_records_for_named_ports() {
        let z = zone();
        let Lookup::Found(srv) = z.lookup("_http._tcp.svc-1.default.svc.cluster.local.", Kind::Srv) else { panic!() };
        assert_eq!(
            srv[0].1,
            Data::Srv { priority: 0, weight: 100, port: 9000, target: "svc-1.default.svc.cluster.local.".into() }
        );
        let Lookup::Found(srv) = z.lookup("_sql._tcp.db.default.svc.cluster.local.", Kind::Srv) else { panic!() };
        let targets: Vec<String> = srv
            .iter()
            .map(|(_, d)| match d {
                Data::Srv { target, .. } => target.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(targets, ["10-244-2-3.db.default.svc.cluster.local.", "db-0.db.default.svc.cluster.local."]);
    }

    #[test]
    fn missing_names_other_types_and_foreign_names() {
        let z = zone();
        assert_eq!(z.lookup("nope.default.svc.cluster.local.", Kind::A), Lookup::NoSuchName);
        assert_eq!(z.lookup("svc-1.default.svc.cluster.local.", Kind::Other), Lookup::NoData, "AAAA: exists, none");
        assert_eq!(z.lookup("default.svc.cluster.local.", Kind::A), Lookup::NoData, "an empty non-terminal");
        assert_eq!(z.lookup("cluster.local.", Kind::A), Lookup::NoData);
        assert_eq!(z.lookup("example.com.", Kind::A), Lookup::NotOurs);
        assert_eq!(z.lookup("svc-1.default.svc.cluster.local.default.svc.cluster.local.", Kind::A), Lookup::NoSuchName);
    }
}
