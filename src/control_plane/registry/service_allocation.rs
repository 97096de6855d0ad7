//! ClusterIPs and NodePorts of Services, allocated as kube-apiserver does: a requested value is honoured
//! or refused with a 422 when taken or out of range, otherwise a random free one is chosen (ClusterIPs above
//! the low band kept for requested addresses). Every allocated value is a store key of its own, written in
//! the Service's own transaction (compared absent, so one value never goes to two Services) and deleted in
//! the transaction that deletes the Service or stops it holding the value: a Service and its keys are
//! never apart, even across a crash. `repair` frees keys that older versions, which wrote them apart,
//! left behind.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use ipnet::Ipv4Net;
use serde_json::{json, Value};

use crate::control_plane::store::{Compare, Op, Store, StoreError, Txn};
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

/// What one write allocates: the keys it claims (compared absent, then written) and those it frees.
#[derive(Default)]
struct Plan {
    service_key: String,
    claimed: Vec<String>,
    freed: Vec<String>,
}

impl Plan {
    /// Whether `key` is free for this write: not stored and not claimed by it already.
    fn free(&self, store: &dyn Store, key: &str) -> Result<bool, Vec<FieldError>> {
        let stored = store.get(key).map_err(|e| invalid("spec", format!("Internal error: allocating: {e}")))?;
        Ok(stored.is_none() && !self.claimed.iter().any(|k| k == key))
    }

    /// Claim `key` if it is free; false when another holds it.
    fn claim(&mut self, store: &dyn Store, key: String) -> Result<bool, Vec<FieldError>> {
        if !self.free(store, &key)? {
            return Ok(false);
        }
        self.claimed.push(key);
        Ok(true)
    }

    fn into_txn(self) -> Txn {
        let holder = json!({"service": self.service_key, "at": time::OffsetDateTime::now_utc().unix_timestamp()});
        let holder = serde_json::to_vec(&holder).expect("json");
        let mut txn = Txn::default();
        for key in self.claimed {
            txn.compares.push(Compare::Absent(key.clone()));
            txn.ops.push(Op::Put(key, holder.clone()));
        }
        txn.ops.extend(self.freed.into_iter().map(Op::Delete));
        txn
    }
}

/// Whether `key` names an allocated value (a write that lost it to another is tried again).
pub fn is_allocation_key(key: &str) -> bool {
    key.starts_with(IP_PREFIX) || key.starts_with(PORT_PREFIX)
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

/// The random start of a search over `len` values.
fn random_below(len: u32) -> u32 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 4];
    SystemRandom::new().fill(&mut b).expect("system randomness");
    u32::from_le_bytes(b) % len.max(1)
}

/// Fill in what `service` needs (clusterIP, clusterIPs, ipFamilies, nodePorts), keeping what `old` (the
/// stored Service, on update) already holds; the transaction part that claims the new values and frees
/// those `old` held and `service` no longer does, to be made with the Service's own write. Errors are
/// Kubernetes' field errors.
pub fn prepare(
    store: &dyn Store,
    network: Ipv4Net,
    service_key: &str,
    service: &mut Value,
    old: Option<&Value>,
) -> Result<Txn, Vec<FieldError>> {
    let mut plan = Plan { service_key: service_key.to_string(), ..Plan::default() };
    if service_type(service) != "ExternalName" {
        let ip = assign_cluster_ip(store, network, service, old, &mut plan)?;
        service["spec"]["clusterIP"] = json!(ip);
        service["spec"]["clusterIPs"] = json!([ip]);
        if service.pointer("/spec/ipFamilies").is_none() {
            service["spec"]["ipFamilies"] = json!(["IPv4"]);
        }
        if service.pointer("/spec/ipFamilyPolicy").is_none() {
            service["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        }
        assign_node_ports(store, service, old, &mut plan)?;
    }
    let still = held_keys(service);
    plan.freed = old.map(held_keys).unwrap_or_default().into_iter().filter(|k| !still.contains(k)).collect();
    Ok(plan.into_txn())
}

/// What deleting a Service frees: the keys it held, deleted in the Service's own transaction.
pub fn released(service: &Value) -> Txn {
    Txn { compares: Vec::new(), ops: held_keys(service).into_iter().map(Op::Delete).collect() }
}

fn assign_cluster_ip(
    store: &dyn Store,
    network: Ipv4Net,
    service: &Value,
    old: Option<&Value>,
    plan: &mut Plan,
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
            if !plan.claim(store, ip_key(ip))? {
                return Err(invalid(
                    "spec.clusterIPs",
                    format!("Invalid value: []string{{{text:?}}}: failed to allocate IP {text}: provided IP is already allocated"),
                ));
            }
            Ok(text.to_string())
        }
        None => Ok(random_cluster_ip(store, network, plan)?.to_string()),
    }
}

/// A free address above the low band (kube-apiserver keeps min(max(16, size/16), 256) addresses at the
/// bottom for Services that ask for one), falling back to the band when the rest is full.
fn random_cluster_ip(store: &dyn Store, network: Ipv4Net, plan: &mut Plan) -> Result<Ipv4Addr, Vec<FieldError>> {
    let size = 1u64 << (32 - network.prefix_len());
    // Usable offsets 1..size-1 (no network or broadcast address).
    let usable = size.saturating_sub(2).min(u32::MAX as u64) as u32;
    let band = ((size / 16).clamp(16, 256) as u32).min(usable / 2);
    let upper = usable - band;
    let start = random_below(upper);
    let offsets = (0..upper).map(|i| band + 1 + (start + i) % upper).chain(1..=band);
    for offset in offsets {
        let ip = nth(network, offset);
        if plan.claim(store, ip_key(ip))? {
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
    service: &mut Value,
    old: Option<&Value>,
    plan: &mut Plan,
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
                let new_here = !held.contains(&p) && !taken_here.iter().any(|(t, _)| *t == p);
                if new_here && !plan.claim(store, port_key(p))? {
                    return Err(invalid(field, format!("Invalid value: {p}: provided port is already allocated")));
                }
                p
            }
            None => random_node_port(store, plan, &field)?,
        };
        port["nodePort"] = json!(chosen);
        taken_here.push((chosen, protocol));
    }
    Ok(())
}

fn random_node_port(store: &dyn Store, plan: &mut Plan, field: &str) -> Result<u16, Vec<FieldError>> {
    let len = u32::from(NODE_PORTS.end() - NODE_PORTS.start()) + 1;
    let start = random_below(len);
    for i in 0..len {
        let p = NODE_PORTS.start() + ((start + i) % len) as u16;
        if plan.claim(store, port_key(p))? {
            return Ok(p);
        }
    }
    Err(invalid(field, "Internal error: failed to allocate a nodePort: range is full"))
}

/// Free the keys whose Service is gone or no longer holds them (left by versions that wrote the keys and
/// the Service apart, and crashed between them). Returns how many were freed.
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

    /// Allocate for `service` at `key` and write it with its allocation, as the registry does.
    fn write(
        s: &RedbStore,
        net: Ipv4Net,
        key: &str,
        service: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), Vec<FieldError>> {
        let allocation = prepare(s, net, key, service, old)?;
        let bytes = serde_json::to_vec(service).unwrap();
        let own = match old {
            None => Txn::create(key, bytes),
            Some(_) => Txn::update(key, bytes, None),
        };
        s.txn(own.and(allocation)).unwrap();
        Ok(())
    }

    #[test]
    fn requested_values_honoured_once() {
        let (_d, s) = store();
        let mut a =
            svc(json!({"clusterIP": "10.96.0.10", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
        write(&s, net(), "/services/default/a", &mut a, None).unwrap();
        assert_eq!(a["spec"]["clusterIPs"], json!(["10.96.0.10"]));
        let mut b = svc(json!({"clusterIP": "10.96.0.10"}));
        let e = write(&s, net(), "/services/default/b", &mut b, None).err().unwrap();
        assert!(e[0].message.contains("already allocated"), "{}", e[0].message);
        let mut c = svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
        let e = write(&s, net(), "/services/default/c", &mut c, None).err().unwrap();
        assert_eq!(e[0].field, "spec.ports[0].nodePort");
        // The refused requests wrote nothing: only a's address is held.
        assert_eq!(s.list(IP_PREFIX).unwrap().0.len(), 1);
        for (spec, field) in [
            (json!({"clusterIP": "10.97.0.1"}), "spec.clusterIPs"),
            (json!({"clusterIP": "10.96.0.0"}), "spec.clusterIPs"),
            (json!({"clusterIP": "banana"}), "spec.clusterIPs[0]"),
            (json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}), "spec.ports[0].nodePort"),
            (json!({"ports": [{"port": 80, "nodePort": 30001}]}), "spec.ports[0].nodePort"),
        ] {
            let mut d = svc(spec.clone());
            let e = write(&s, net(), "/services/default/d", &mut d, None).err().unwrap();
            assert_eq!(e[0].field, field, "{spec}");
        }
    }

    #[test]
    fn a_value_claimed_meanwhile_fails_the_whole_write() {
        let (_d, s) = store();
        let mut a = svc(json!({"clusterIP": "10.96.0.20"}));
        let allocation = prepare(&s, net(), "/services/default/a", &mut a, None).unwrap();
        // Another writer takes the address between the choice and the write.
        let mut b = svc(json!({"clusterIP": "10.96.0.20"}));
        write(&s, net(), "/services/default/b", &mut b, None).unwrap();
        let own = Txn::create("/services/default/a", serde_json::to_vec(&a).unwrap());
        assert_eq!(
            s.txn(own.and(allocation)).err(),
            Some(StoreError::AlreadyExists(ip_key("10.96.0.20".parse().unwrap())))
        );
        assert_eq!(s.get("/services/default/a").unwrap(), None, "nothing of it was written");
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
            write(&s, small, &key, &mut x, None).unwrap();
            assert!(seen.insert(x["spec"]["clusterIP"].as_str().unwrap().to_string()));
            services.push((key, x));
        }
        // 14 usable addresses in a /28: full.
        let mut full = svc(json!({}));
        assert!(prepare(&s, small, "/services/default/full", &mut full, None).is_err());
        let (key, gone) = services.pop().unwrap();
        s.txn(Txn::delete(&key, None).and(released(&gone))).unwrap();
        let mut again = svc(json!({}));
        write(&s, small, "/services/default/again", &mut again, None).unwrap();
        assert_eq!(again["spec"]["clusterIP"], gone["spec"]["clusterIP"]);
        assert_eq!(s.list(PORT_PREFIX).unwrap().0.len(), 26);
    }

    #[test]
    fn updates_keep_what_is_held() {
        let (_d, s) = store();
        let key = "/services/default/a";
        let mut old = svc(json!({"type": "NodePort", "ports": [{"port": 80}]}));
        write(&s, net(), key, &mut old, None).unwrap();
        let node_port = old["spec"]["ports"][0]["nodePort"].clone();
        // A PUT without clusterIP or nodePort keeps both; a changed clusterIP is refused.
        let mut new = svc(json!({"type": "NodePort", "ports": [{"port": 80}, {"port": 90}]}));
        write(&s, net(), key, &mut new, Some(&old)).unwrap();
        assert_eq!(new["spec"]["clusterIP"], old["spec"]["clusterIP"]);
        assert_eq!(new["spec"]["ports"][0]["nodePort"], node_port);
        // Another address than the one allocated at random above (it was 10.96.0.200 once in a few hundred).
        let other = if old["spec"]["clusterIP"] == "10.96.0.200" { "10.96.0.201" } else { "10.96.0.200" };
        let mut moved = svc(json!({"clusterIP": other}));
        assert!(prepare(&s, net(), key, &mut moved, Some(&old)).is_err());
        // NodePort -> ClusterIP: the nodePorts go, and are given back in the same write.
        let mut plain = svc(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": node_port}]}));
        write(&s, net(), key, &mut plain, Some(&new)).unwrap();
        assert!(plain["spec"]["ports"][0].get("nodePort").is_none());
        assert!(s.list(PORT_PREFIX).unwrap().0.is_empty());
        assert_eq!(s.list(IP_PREFIX).unwrap().0.len(), 1);
    }

    #[test]
    fn repair_frees_what_no_service_holds() {
        let (_d, s) = store();
        let stale = json!({"service": "/services/default/gone", "at": 0});
        s.create(&ip_key("10.96.0.50".parse().unwrap()), &serde_json::to_vec(&stale).unwrap()).unwrap();
        // A key whose Service an older version had not written yet (young) is left alone.
        let young =
            json!({"service": "/services/default/writing", "at": time::OffsetDateTime::now_utc().unix_timestamp()});
        s.create(&ip_key("10.96.0.51".parse().unwrap()), &serde_json::to_vec(&young).unwrap()).unwrap();
        let mut held = svc(json!({}));
        write(&s, net(), "/services/default/a", &mut held, None).unwrap();
        assert_eq!(repair(&s).unwrap(), 1);
        assert_eq!(s.list(IP_PREFIX).unwrap().0.len(), 2);
    }
}
