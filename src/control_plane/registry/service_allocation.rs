//! ClusterIPs and NodePorts of Services, allocated as kube-apiserver does: a requested value is honoured
//! or refused with a 422 when taken or out of range, otherwise a random free one is chosen (ClusterIPs above
//! the low band kept for requested addresses). Every allocated value is a store key of its own, created
//! with create-if-absent, so one value never goes to two Services, also across restarts. The Service is
//! written after its keys; a failed write gives them back, and `repair` frees keys a crash left behind.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use ipnet::Ipv4Net;
use serde_json::{json, Value};

use crate::control_plane::store::{Store, StoreError};
use crate::resources::validation::FieldError;

pub const NODE_PORTS: RangeInclusive<u16> = 30000..=32767;
const IP_PREFIX: &str = "/ranges/serviceips/";
const PORT_PREFIX: &str = "/ranges/servicenodeports/";
/// A key younger than this may belong to a Service whose write is still under way: repair leaves it.
const REPAIR_GRACE_SECONDS: i64 = 60;

/// The address of the `kubernetes` Service: the range's first, as kube-apiserver reserves it.
pub fn kubernetes_service_ip(network: Ipv4Net) -> Ipv4Addr {
    nth(network, 1)
}

/// The cluster DNS Service's address: the range's tenth, as kubeadm places kube-dns.
pub fn dns_service_ip(network: Ipv4Net) -> Ipv4Addr {
    nth(network, 10)
}

fn nth(network: Ipv4Net, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(network.network()) + n)
}

/// What one request allocated; given back with `undo` when the Service's write fails.
#[derive(Default)]
pub struct Allocated {
    keys: Vec<String>,
}

impl Allocated {
    pub fn undo(self, store: &dyn Store) {
        for key in self.keys {
            let _ = store.delete(&key, None);
        }
    }
}

fn ip_key(ip: Ipv4Addr) -> String {
    format!("{IP_PREFIX}{ip}")
}

fn port_key(port: u16) -> String {
    format!("{PORT_PREFIX}{port}")
}

fn service_type(service: &Value) -> &str {
    service.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP")
}

fn uses_node_ports(service: &Value) -> bool {
    matches!(service_type(service), "NodePort" | "LoadBalancer")
}

fn cluster_ip(service: &Value) -> Option<&str> {
    service.pointer("/spec/clusterIP").and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The keys a stored Service holds.
fn held_keys(service: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(ip) = cluster_ip(service).and_then(|s| s.parse::<Ipv4Addr>().ok()) {
        keys.push(ip_key(ip));
    }
    for port in node_ports(service) {
        keys.push(port_key(port));
    }
    keys
}

fn node_ports(service: &Value) -> Vec<u16> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .collect()
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError { field: field.into(), message: message.into() }]
}

/// Claim `key` for the Service at `service_key`: false when another holds it.
fn claim(store: &dyn Store, key: &str, service_key: &str) -> Result<bool, Vec<FieldError>> {
    let value = json!({"service": service_key, "at": time::OffsetDateTime::now_utc().unix_timestamp()});
    match store.create(key, &serde_json::to_vec(&value).expect("json")) {
        Ok(_) => Ok(true),
        Err(StoreError::AlreadyExists(_)) => Ok(false),
        Err(e) => Err(invalid("spec", format!("Internal error: allocating: {e}"))),
    }
}

/// The random start of a search over `len` values.
fn random_below(len: u32) -> u32 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 4];
    SystemRandom::new().fill(&mut b).expect("system randomness");
    u32::from_le_bytes(b) % len.max(1)
}

/// Fill in and allocate what `service` needs (clusterIP, clusterIPs, ipFamilies, nodePorts), keeping what
/// `old` (the stored Service, on update) already holds. Errors are Kubernetes' field errors.
pub fn prepare(
    store: &dyn Store,
    network: Ipv4Net,
    service_key: &str,
    service: &mut Value,
    old: Option<&Value>,
) -> Result<Allocated, Vec<FieldError>> {
    let mut allocated = Allocated::default();
    let result = prepare_into(store, network, service_key, service, old, &mut allocated);
    if result.is_err() {
        allocated.undo(store);
        return result.map(|_| Allocated::default());
    }
    Ok(allocated)
}

fn prepare_into(
    store: &dyn Store,
    network: Ipv4Net,
    service_key: &str,
    service: &mut Value,
    old: Option<&Value>,
    allocated: &mut Allocated,
) -> Result<(), Vec<FieldError>> {
    if service_type(service) == "ExternalName" {
        return Ok(());
    }
    let ip = assign_cluster_ip(store, network, service_key, service, old, allocated)?;
    service["spec"]["clusterIP"] = json!(ip);
    service["spec"]["clusterIPs"] = json!([ip]);
    if service.pointer("/spec/ipFamilies").is_none() {
        service["spec"]["ipFamilies"] = json!(["IPv4"]);
    }
    if service.pointer("/spec/ipFamilyPolicy").is_none() {
        service["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    }
    assign_node_ports(store, service_key, service, old, allocated)
}

fn assign_cluster_ip(
    store: &dyn Store,
    network: Ipv4Net,
    service_key: &str,
    service: &Value,
    old: Option<&Value>,
    allocated: &mut Allocated,
) -> Result<String, Vec<FieldError>> {
    let first = service.pointer("/spec/clusterIPs/0").and_then(Value::as_str).filter(|s| !s.is_empty());
    let requested = cluster_ip(service);
    if let (Some(a), Some(b)) = (requested, first) {
        if a != b {
            return Err(invalid(
                "spec.clusterIPs[0]",
                format!("Invalid value: {b:?}: must match `clusterIP` when present"),
            ));
        }
    }
    let requested = requested.or(first);
    if let Some(kept) = old.and_then(cluster_ip) {
        return match requested {
            None => Ok(kept.to_string()),
            Some(r) if r == kept => Ok(kept.to_string()),
            Some(r) => {
                Err(invalid("spec.clusterIPs[0]", format!("Invalid value: []string{{{r:?}}}: may not change once set")))
            }
        };
    }
    match requested {
        Some("None") => Ok("None".into()),
        Some(text) => {
            let ip: Ipv4Addr = text.parse().map_err(|_| {
                invalid(
                    "spec.clusterIPs[0]",
                    format!("Invalid value: {text:?}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
                )
            })?;
            if !network.contains(&ip) || ip == network.network() || ip == network.broadcast() {
                return Err(invalid(
                    "spec.clusterIPs",
                    format!("Invalid value: []string{{{text:?}}}: failed to allocate IP {text}: the provided IP ({text}) is not in the valid range. The range of valid IPs is {network}"),
                ));
            }
            if !claim(store, &ip_key(ip), service_key)? {
                return Err(invalid(
                    "spec.clusterIPs",
                    format!("Invalid value: []string{{{text:?}}}: failed to allocate IP {text}: provided IP is already allocated"),
                ));
            }
            allocated.keys.push(ip_key(ip));
            Ok(text.to_string())
        }
        None => {
            let ip = random_cluster_ip(store, network, service_key)?;
            allocated.keys.push(ip_key(ip));
            Ok(ip.to_string())
        }
    }
}

/// A free address above the low band (kube-apiserver keeps min(max(16, size/16), 256) addresses at the
/// bottom for Services that ask for one), falling back to the band when the rest is full.
fn random_cluster_ip(store: &dyn Store, network: Ipv4Net, service_key: &str) -> Result<Ipv4Addr, Vec<FieldError>> {
    let size = 1u64 << (32 - network.prefix_len());
    // Usable offsets 1..size-1 (no network or broadcast address).
    let usable = size.saturating_sub(2).min(u32::MAX as u64) as u32;
    let band = ((size / 16).clamp(16, 256) as u32).min(usable / 2);
    let upper = usable - band;
    let start = random_below(upper);
    let offsets = (0..upper).map(|i| band + 1 + (start + i) % upper).chain(1..=band);
    for offset in offsets {
        let ip = nth(network, offset);
        if claim(store, &ip_key(ip), service_key)? {
            return Ok(ip);
        }
    }
    Err(invalid(
        "spec.clusterIPs",
        format!("Internal error: failed to allocate a serviceIP: range is full ({network})"),
    ))
}

fn assign_node_ports(
    store: &dyn Store,
    service_key: &str,
    service: &mut Value,
    old: Option<&Value>,
    allocated: &mut Allocated,
) -> Result<(), Vec<FieldError>> {
    let wanted = uses_node_ports(service);
    let kind_of_service = service_type(service).to_string();
    let old_ports: Vec<Value> = old
        .filter(|o| uses_node_ports(o))
        .and_then(|o| o.pointer("/spec/ports").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    let held: Vec<u16> = old.filter(|o| uses_node_ports(o)).map(node_ports).unwrap_or_default();
    let Some(ports) = service.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else { return Ok(()) };
    let mut taken_here: Vec<(u16, String)> = Vec::new();
    for (i, port) in ports.iter_mut().enumerate() {
        let field = format!("spec.ports[{i}].nodePort");
        let requested = port.get("nodePort").and_then(Value::as_u64).filter(|p| *p != 0);
        if !wanted {
            // Kubernetes clears nodePorts when a Service stops being NodePort; a new ClusterIP Service may not
            // ask for one.
            match (requested, old) {
                (Some(_), None) => {
                    return Err(invalid(
                        field,
                        format!("Forbidden: may not be used when `type` is '{kind_of_service}'"),
                    ))
                }
                _ => {
                    if let Some(m) = port.as_object_mut() {
                        m.remove("nodePort");
                    }
                    continue;
                }
            }
        }
        let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("TCP").to_string();
        // An update that leaves nodePort out keeps the one the same port had.
        let kept = || {
            old_ports
                .iter()
                .find(|o| {
                    o.get("port") == port.get("port")
                        && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == protocol
                })
                .and_then(|o| o.get("nodePort").and_then(Value::as_u64))
        };
        let chosen = match requested.or_else(kept) {
            Some(p) => {
                let Some(p) = u16::try_from(p).ok().filter(|p| NODE_PORTS.contains(p)) else {
                    return Err(invalid(
                        field,
                        format!("Invalid value: {p}: provided port is not in the valid range. The range of valid ports is {}-{}", NODE_PORTS.start(), NODE_PORTS.end()),
                    ));
                };
                if taken_here.iter().any(|(t, proto)| *t == p && *proto == protocol) {
                    return Err(invalid(field, format!("Duplicate value: {p}")));
                }
                if !held.contains(&p) && !taken_here.iter().any(|(t, _)| *t == p) {
                    if !claim(store, &port_key(p), service_key)? {
                        return Err(invalid(field, format!("Invalid value: {p}: provided port is already allocated")));
                    }
                    allocated.keys.push(port_key(p));
                }
                p
            }
            None => {
                let p = random_node_port(store, service_key, &field)?;
                allocated.keys.push(port_key(p));
                p
            }
        };
        port["nodePort"] = json!(chosen);
        taken_here.push((chosen, protocol));
    }
    Ok(())
}

fn random_node_port(store: &dyn Store, service_key: &str, field: &str) -> Result<u16, Vec<FieldError>> {
    let len = u32::from(NODE_PORTS.end() - NODE_PORTS.start()) + 1;
    let start = random_below(len);
    for i in 0..len {
        let p = NODE_PORTS.start() + ((start + i) % len) as u16;
        if claim(store, &port_key(p), service_key)? {
            return Ok(p);
        }
    }
    Err(invalid(field, "Internal error: failed to allocate a nodePort: range is full"))
}

/// After a Service's update or deletion is written: give back what `old` held and `new` (None: deleted)
/// no longer does.
pub fn release_unused(store: &dyn Store, service_key: &str, old: &Value, new: Option<&Value>) {
    let still = new.map(held_keys).unwrap_or_default();
    for key in held_keys(old).into_iter().filter(|k| !still.contains(k)) {
        release(store, &key, service_key);
    }
}

/// Delete `key` if it is still `service_key`'s.
fn release(store: &dyn Store, key: &str, service_key: &str) {
    if let Ok(Some(stored)) = store.get(key) {
        let holder: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
        if holder["service"] == service_key {
            let _ = store.delete(key, Some(stored.revision));
        }
    }
}

/// Free the keys whose Service is gone or no longer holds them (a crash between the keys and the Service's
/// write, a namespace deleted wholesale). Returns how many were freed.
pub fn repair(store: &dyn Store) -> Result<usize, StoreError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut freed = 0;
    for prefix in [IP_PREFIX, PORT_PREFIX] {
        for item in store.list(prefix)?.0 {
            let holder: Value = serde_json::from_slice(&item.value).unwrap_or(Value::Null);
            if holder["at"].as_i64().is_some_and(|at| now - at < REPAIR_GRACE_SECONDS) {
                continue;
            }
            let service_key = holder["service"].as_str().unwrap_or_default();
            let service: Option<Value> = store.get(service_key)?.and_then(|s| serde_json::from_slice(&s.value).ok());
            if !service.is_some_and(|s| held_keys(&s).contains(&item.key)) {
                store.delete(&item.key, Some(item.revision))?;
                freed += 1;
            }
        }
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        (dir, store)
    }

    fn net() -> Ipv4Net {
        "10.96.0.0/24".parse().unwrap()
    }

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn requested_values_honoured_once() {
        let (_d, s) = store();
        let mut a =
            svc(json!({"clusterIP": "10.96.0.10", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
        prepare(&s, net(), "/services/default/a", &mut a, None).unwrap();
        assert_eq!(a["spec"]["clusterIPs"], json!(["10.96.0.10"]));
        let mut b = svc(json!({"clusterIP": "10.96.0.10"}));
        let e = prepare(&s, net(), "/services/default/b", &mut b, None).err().unwrap();
        assert!(e[0].message.contains("already allocated"), "{}", e[0].message);
        let mut c = svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
        let e = prepare(&s, net(), "/services/default/c", &mut c, None).err().unwrap();
        assert_eq!(e[0].field, "spec.ports[0].nodePort");
        // The refused request left nothing allocated: its random ClusterIP was given back.
        assert_eq!(s.list(IP_PREFIX).unwrap().0.len(), 1);
        for (spec, field) in [
            (json!({"clusterIP": "10.97.0.1"}), "spec.clusterIPs"),
            (json!({"clusterIP": "10.96.0.0"}), "spec.clusterIPs"),
            (json!({"clusterIP": "banana"}), "spec.clusterIPs[0]"),
            (json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}), "spec.ports[0].nodePort"),
            (json!({"ports": [{"port": 80, "nodePort": 30001}]}), "spec.ports[0].nodePort"),
        ] {
            let mut d = svc(spec.clone());
            let e = prepare(&s, net(), "/services/default/d", &mut d, None).err().unwrap();
            assert_eq!(e[0].field, field, "{spec}");
        }
    }

    #[test]
    fn random_values_never_twice_and_released() {
        let (_d, s) = store();
        let small: Ipv4Net = "10.96.0.0/28".parse().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut services = Vec::new();
        for i in 0..14 {
            let key = format!("/services/default/s{i}");
            let mut x = svc(json!({"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}));
            prepare(&s, small, &key, &mut x, None).unwrap();
            assert!(seen.insert(x["spec"]["clusterIP"].as_str().unwrap().to_string()));
            s.create(&key, &serde_json::to_vec(&x).unwrap()).unwrap();
            services.push((key, x));
        }
        // 14 usable addresses in a /28: full.
        let mut full = svc(json!({}));
        assert!(prepare(&s, small, "/services/default/full", &mut full, None).is_err());
        let (key, gone) = services.pop().unwrap();
        s.delete(&key, None).unwrap();
        release_unused(&s, &key, &gone, None);
        let mut again = svc(json!({}));
        prepare(&s, small, "/services/default/again", &mut again, None).unwrap();
        assert_eq!(again["spec"]["clusterIP"], gone["spec"]["clusterIP"]);
        assert_eq!(s.list(PORT_PREFIX).unwrap().0.len(), 26);
    }

    #[test]
    fn updates_keep_what_is_held() {
        let (_d, s) = store();
        let key = "/services/default/a";
        let mut old = svc(json!({"type": "NodePort", "ports": [{"port": 80}]}));
        prepare(&s, net(), key, &mut old, None).unwrap();
        let node_port = old["spec"]["ports"][0]["nodePort"].clone();
        // A PUT without clusterIP or nodePort keeps both; a changed clusterIP is refused.
        let mut new = svc(json!({"type": "NodePort", "ports": [{"port": 80}, {"port": 90}]}));
        prepare(&s, net(), key, &mut new, Some(&old)).unwrap();
        assert_eq!(new["spec"]["clusterIP"], old["spec"]["clusterIP"]);
        assert_eq!(new["spec"]["ports"][0]["nodePort"], node_port);
        // Another address than the one allocated at random above (it was 10.96.0.200 once in a few hundred).
        let other = if old["spec"]["clusterIP"] == "10.96.0.200" { "10.96.0.201" } else { "10.96.0.200" };
        let mut moved = svc(json!({"clusterIP": other}));
        assert!(prepare(&s, net(), key, &mut moved, Some(&old)).is_err());
        // NodePort -> ClusterIP: the nodePorts go, and are given back.
        let mut plain = svc(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": node_port}]}));
        prepare(&s, net(), key, &mut plain, Some(&new)).unwrap();
        assert!(plain["spec"]["ports"][0].get("nodePort").is_none());
        release_unused(&s, key, &new, Some(&plain));
        assert!(s.list(PORT_PREFIX).unwrap().0.is_empty());
        assert_eq!(s.list(IP_PREFIX).unwrap().0.len(), 1);
    }

    #[test]
    fn repair_frees_what_no_service_holds() {
        let (_d, s) = store();
        let stale = json!({"service": "/services/default/gone", "at": 0});
        s.create(&ip_key("10.96.0.50".parse().unwrap()), &serde_json::to_vec(&stale).unwrap()).unwrap();
        let mut young = svc(json!({}));
        prepare(&s, net(), "/services/default/writing", &mut young, None).unwrap();
        assert_eq!(repair(&s).unwrap(), 1);
        assert_eq!(s.list(IP_PREFIX).unwrap().0.len(), 1, "a key still being written is left alone");
    }
}
