//! Kubernetes' endpoints and endpointslice controllers in one reconciler: for each Service with a selector,
//! the pods it selects become an Endpoints object (ready addresses apart from not-ready ones; terminating
//! pods left out, as kube-controller-manager does) and EndpointSlices (discovery.k8s.io/v1: every pod with
//! its ready / serving / terminating conditions). Named targetPorts are resolved per pod, so pods whose
//! ports differ land in different subsets and slices. Services without a selector are left to whoever
//! writes their endpoints (the API server for `kubernetes`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::control_plane::runtime::{cache, Action, Cache, Change, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::label_selector::labels;
use crate::resources::meta;
use crate::resources::pod::{self, is_ready};

pub struct EndpointsController;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

pub(super) fn services() -> &'static ResourceKind {
    kinds::served("", "services")
}

pub(super) fn endpoints() -> &'static ResourceKind {
    kinds::served("", "endpoints")
}

pub(super) fn slices() -> &'static ResourceKind {
    kinds::served("discovery.k8s.io", "endpointslices")
}

fn pods() -> &'static ResourceKind {
    kinds::served("", "pods")
}

fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

/// A Service's selector as a label map (None: no selector, endpoints are not ours to keep).
fn selector(service: &Value) -> Option<&Map<String, Value>> {
    service.pointer("/spec/selector").and_then(Value::as_object).filter(|s| !s.is_empty())
}

fn selects(selector: &Map<String, Value>, pod: &Value) -> bool {
    let labels = labels(pod);
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The pod's number for a Service port's targetPort: a number as it is, a name looked up in the pod's
/// container ports (None when no container has it: the pod is left out of that port's endpoints).
fn resolve_target_port(service_port: &Value, pod: &Value) -> Option<u64> {
    match service_port.get("targetPort") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(name)) => pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|c| c.get("ports").and_then(Value::as_array).into_iter().flatten())
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|p| p.get("containerPort").and_then(Value::as_u64)),
        _ => service_port.get("port").and_then(Value::as_u64),
    }
}

/// (name, port, protocol) of each Service port as this pod serves it.
fn pod_ports(service: &Value, pod: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for sp in service.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
        if let Some(port) = resolve_target_port(sp, pod) {
            let mut p = json!({"port": port, "protocol": sp.get("protocol").and_then(Value::as_str).unwrap_or("TCP")});
            if let Some(name) = sp.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                p["name"] = json!(name);
            }
            if let Some(app) = sp.get("appProtocol") {
                p["appProtocol"] = app.clone();
            }
            out.push(p);
        }
    }
    out
}

/// A slice's ports always carry a name, "" for an unnamed one (kubectl's describe dereferences it).
fn slice_ports(ports: Vec<Value>) -> Vec<Value> {
    ports
        .into_iter()
        .map(|mut p| {
            if p.get("name").is_none() {
                p["name"] = json!("");
            }
            p
        })
        .collect()
}

fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "namespace": namespace(pod).unwrap_or("default"),
        "name": meta::name(pod).unwrap_or_default(), "uid": cache::uid(pod).unwrap_or_default()})
}

/// The pods a Service's endpoints list, grouped by the ports they serve (sorted by name within a group).
fn selected_pods<'a>(service: &Value, cache: &'a Cache) -> BTreeMap<String, (Vec<Value>, Vec<&'a Value>)> {
    let mut groups: BTreeMap<String, (Vec<Value>, Vec<&'a Value>)> = BTreeMap::new();
    let Some(selector) = selector(service) else { return groups };
    let has_ports = service.pointer("/spec/ports").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
    for p in cache.list(pods(), namespace(service)) {
        let p = p.as_ref();
        let has_ip = p.pointer("/status/podIP").and_then(Value::as_str).is_some_and(|ip| !ip.is_empty());
        if !has_ip || pod::is_terminal(p) || !selects(selector, p) {
            continue;
        }
        let ports = pod_ports(service, p);
        if has_ports && ports.is_empty() {
            continue;
        }
        let group = serde_json::to_string(&ports).unwrap_or_default();
        groups.entry(group).or_insert_with(|| (ports, Vec::new())).1.push(p);
    }
    groups
}

/// The Endpoints object's subsets: per port group, ready and not-ready addresses (terminating pods out).
pub fn subsets(groups: &BTreeMap<String, (Vec<Value>, Vec<&Value>)>) -> Vec<Value> {
    let mut out = Vec::new();
    for (ports, members) in groups.values() {
        let address = |p: &Value| {
            let mut a =
                json!({"ip": p.pointer("/status/podIP").cloned().unwrap_or(Value::Null), "targetRef": target_ref(p)});
            if let Some(node) = pod::node_name(p) {
                a["nodeName"] = json!(node);
            }
            a
        };
        let live: Vec<&&Value> = members.iter().filter(|p| !pod::is_deleting(p)).collect();
        let ready: Vec<Value> = live.iter().filter(|p| is_ready(p)).map(|p| address(p)).collect();
        let not_ready: Vec<Value> = live.iter().filter(|p| !is_ready(p)).map(|p| address(p)).collect();
        if ready.is_empty() && not_ready.is_empty() {
            continue;
        }
        let mut subset = json!({});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        if !ports.is_empty() {
            subset["ports"] = json!(ports);
        }
        out.push(subset);
    }
    out
}

/// A slice's entry for a pod: Kubernetes' conditions (a terminating pod is not ready, and serving while
/// its readiness holds).
fn slice_endpoint(p: &Value) -> Value {
    let terminating = pod::is_deleting(p);
    let mut e = json!({
        "addresses": [p.pointer("/status/podIP").cloned().unwrap_or(Value::Null)],
        "conditions": {"ready": is_ready(p) && !terminating, "serving": is_ready(p), "terminating": terminating},
        "targetRef": target_ref(p),
    });
    if let Some(node) = pod::node_name(p) {
        e["nodeName"] = json!(node);
    }
    e
}

/// A short stable name part for a port group (slices are named `<service>-<this>`).
fn group_suffix(group: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, group.as_bytes());
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    digest.as_ref().iter().take(5).map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

fn owner_reference(service: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "name": meta::name(service).unwrap_or_default(),
        "uid": cache::uid(service).unwrap_or_default(), "controller": true, "blockOwnerDeletion": true})
}

fn copied_labels(service: &Value) -> Map<String, Value> {
    let mut labels = labels(service).cloned().unwrap_or_default();
    if service.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None") {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    labels
}

/// Create `wanted` or bring the cached object at its name in line (data fields and labels only).
pub(super) fn converge(
    plan: &mut Plan,
    kind: &'static ResourceKind,
    current: Option<&Value>,
    wanted: Value,
    fields: &[&str],
) {
    match current {
        None => plan.push(Action::Create { kind, object: wanted, event: None }),
        Some(current) => {
            let same = fields.iter().all(|f| current.get(*f) == wanted.get(*f))
                && current.pointer("/metadata/labels") == wanted.pointer("/metadata/labels");
            if !same {
                let mut updated = current.clone();
                for f in fields {
                    match wanted.get(*f) {
                        Some(v) => updated[*f] = v.clone(),
                        None => {
                            if let Some(m) = updated.as_object_mut() {
                                m.remove(*f);
                            }
                        }
                    }
                }
                updated["metadata"]["labels"] = wanted["metadata"]["labels"].clone();
                plan.push(Action::Update { kind, object: updated });
            }
        }
    }
}

impl Reconciler for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        let service_prefix = services().prefix(None);
        if change.key.starts_with(&service_prefix) {
            return vec![change.key.clone()];
        }
        // Our own objects changed by someone else: put them back.
        if change.key.starts_with(&endpoints().prefix(None)) || change.key.starts_with(&slices().prefix(None)) {
            let object = change.new.as_ref().or(change.old.as_ref());
            let name = object.and_then(|o| {
                o.pointer(&format!("/metadata/labels/{}", SERVICE_NAME_LABEL.replace('/', "~1")))
                    .and_then(Value::as_str)
                    .or_else(|| meta::name(o).filter(|_| change.key.starts_with(&endpoints().prefix(None))))
            });
            return name
                .map(|n| vec![format!("{}{n}", services().prefix(object.and_then(|o| namespace(o))))])
                .unwrap_or_default();
        }
        if !change.key.starts_with(&pods().prefix(None)) {
            return Vec::new();
        }
        let mut keys = Vec::new();
        for p in [&change.old, &change.new].into_iter().flatten() {
            for s in cache.list(services(), namespace(p)) {
                if selector(s).is_some_and(|sel| selects(sel, p)) {
                    keys.push(format!("{}{}", services().prefix(namespace(p)), meta::name(s).unwrap_or_default()));
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn reconcile(&self, key: &str, cache: &Cache, _now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(name) = key.rsplit('/').next() else { return plan };
        let ns = key.trim_start_matches(&services().prefix(None)).split('/').next().unwrap_or("default");
        let current_endpoints = cache.get(&endpoints().key(Some(ns), name)).map(|o| o.as_ref());
        let current_slices: Vec<&Value> = cache
            .list(slices(), Some(ns))
            .map(|s| s.as_ref())
            .filter(|s| s.pointer("/metadata/labels").and_then(|l| l.get(SERVICE_NAME_LABEL)) == Some(&json!(name)))
            .filter(|s| s.pointer("/metadata/labels").and_then(|l| l.get(MANAGED_BY_LABEL)) == Some(&json!(MANAGED_BY)))
            .collect();
        let service = cache.get(key).map(|s| s.as_ref()).filter(|s| s.pointer("/metadata/deletionTimestamp").is_none());
        let Some(service) = service.filter(|s| selector(s).is_some()) else {
            // Gone, or no selector (any more): what this controller wrote goes. A Service without a
            // selector keeps Endpoints someone else wrote (they carry no slice label of ours).
            if service.is_none() {
                if let Some(e) = current_endpoints {
                    plan.push(Action::delete(endpoints(), e, None, None));
                }
            }
            for s in current_slices {
                plan.push(Action::delete(slices(), s, None, None));
            }
            return plan;
        };
        let groups = selected_pods(service, cache);

        let mut wanted = json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": copied_labels(service)}});
        let subsets = subsets(&groups);
        if !subsets.is_empty() {
            wanted["subsets"] = json!(subsets);
        }
        converge(&mut plan, endpoints(), current_endpoints, wanted, &["subsets"]);

        // One slice per port group; a Service with nothing selected keeps one empty slice, as Kubernetes.
        let mut slice_names = Vec::new();
        let mut groups: Vec<(String, Vec<Value>, Vec<&Value>)> =
            groups.into_iter().map(|(g, (ports, members))| (g, ports, members)).collect();
        if groups.is_empty() {
            let ports = pod_ports(service, &json!({}));
            groups.push((String::new(), ports, Vec::new()));
        }
        for (group, ports, members) in groups {
            let slice_name = format!("{name}-{}", group_suffix(&group));
            let mut labels = copied_labels(service);
            labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
            labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
            let wanted = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": slice_name, "namespace": ns, "labels": labels,
                    "ownerReferences": [owner_reference(service)]},
                "addressType": "IPv4",
                "endpoints": members.iter().map(|p| slice_endpoint(p)).collect::<Vec<_>>(),
                "ports": slice_ports(ports)});
            let current = current_slices.iter().copied().find(|s| meta::name(s) == Some(slice_name.as_str()));
            converge(&mut plan, slices(), current, wanted, &["endpoints", "ports", "addressType"]);
            slice_names.push(slice_name);
        }
        for s in current_slices.iter().filter(|s| !slice_names.iter().any(|n| meta::name(s) == Some(n.as_str()))) {
            plan.push(Action::delete(slices(), s, None, None));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn service(ports: Value) -> Value {
        json!({"metadata": {"name": "svc-1", "namespace": "default", "uid": "svc-uid", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20", "ports": ports}})
    }

    fn pod(name: &str, ip: &str, ready: bool, port_name: Option<(&str, u64)>, deleting: bool) -> Value {
        let mut p = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"),
                "labels": {"app": "web"}},
            "spec": {"nodeName": "w1", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "podIP": ip,
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
        if let Some((n, number)) = port_name {
            p["spec"]["containers"][0]["ports"] = json!([{"name": n, "containerPort": number}]);
        }
        if deleting {
            p["metadata"]["deletionTimestamp"] = json!("2026-12-03T10:00:00Z");
        }
        p
    }

    fn cache_with(objects: Vec<(String, Value)>) -> Cache {
        let mut cache = Cache::default();
        for (k, v) in objects {
            cache.apply(&k, Some(Arc::new(v)));
        }
        cache
    }

    fn created<'a>(plan: &'a Plan, kind: &str) -> Vec<&'a Value> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::Create { object, .. } if object["kind"] == kind => Some(object),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ready_not_ready_and_terminating_pods() {
        let svc = service(json!([{"name": "http", "port": 80, "targetPort": 8000, "protocol": "TCP"}]));
        let cache = cache_with(vec![
            ("/services/default/svc-1".into(), svc),
            ("/pods/default/a".into(), pod("a", "10.244.1.2", true, None, false)),
            ("/pods/default/b".into(), pod("b", "10.244.1.3", false, None, false)),
            ("/pods/default/c".into(), pod("c", "10.244.1.4", true, None, true)),
            (
                "/pods/default/other".into(),
                json!({"metadata": {"name": "other", "namespace": "default", "labels": {"app": "x"}},
                "status": {"podIP": "10.244.1.9"}}),
            ),
        ]);
        let plan = EndpointsController.reconcile("/services/default/svc-1", &cache, OffsetDateTime::now_utc());
        let ep = created(&plan, "Endpoints")[0];
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.244.1.2");
        assert_eq!(ep["subsets"][0]["notReadyAddresses"][0]["ip"], "10.244.1.3");
        assert_eq!(ep["subsets"][0]["addresses"].as_array().unwrap().len(), 1, "terminating pods are left out");
        assert_eq!(ep["subsets"][0]["ports"], json!([{"name": "http", "port": 8000, "protocol": "TCP"}]));
        assert_eq!(ep["metadata"]["labels"]["team"], "a");
        let slice = created(&plan, "EndpointSlice")[0];
        let conditions: Vec<(&str, &Value)> = slice["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["addresses"][0].as_str().unwrap(), &e["conditions"]))
            .collect();
        assert_eq!(conditions.len(), 3);
        assert_eq!(conditions[2], ("10.244.1.4", &json!({"ready": false, "serving": true, "terminating": true})));
        assert_eq!(slice["metadata"]["labels"][SERVICE_NAME_LABEL], "svc-1");
        assert_eq!(slice["metadata"]["ownerReferences"][0]["uid"], "svc-uid");
    }

    #[test]
    fn named_target_ports_split_subsets() {
        let svc = service(json!([{"port": 80, "targetPort": "web", "protocol": "TCP"}]));
        let cache = cache_with(vec![
            ("/services/default/svc-1".into(), svc),
            ("/pods/default/a".into(), pod("a", "10.244.1.2", true, Some(("web", 8000)), false)),
            ("/pods/default/b".into(), pod("b", "10.244.2.2", true, Some(("web", 8080)), false)),
            ("/pods/default/c".into(), pod("c", "10.244.2.3", true, None, false)),
        ]);
        let plan = EndpointsController.reconcile("/services/default/svc-1", &cache, OffsetDateTime::now_utc());
        let ep = created(&plan, "Endpoints")[0];
        let ports: Vec<&Value> = ep["subsets"].as_array().unwrap().iter().map(|s| &s["ports"][0]["port"]).collect();
        assert_eq!(ports, [&json!(8000), &json!(8080)], "a pod without the named port is left out");
        let slices = created(&plan, "EndpointSlice");
        assert_eq!(slices.len(), 2);
        assert_eq!(slices[0]["ports"][0]["name"], "", "an unnamed port is named \"\" in a slice");
        assert!(ep["subsets"][0]["ports"][0].get("name").is_none(), "and left out in Endpoints");
    }

    #[test]
    fn unchanged_is_not_rewritten_and_deleted_service_cleans_up() {
        let svc = service(json!([{"port": 80, "targetPort": 8000, "protocol": "TCP"}]));
        let mut objects = vec![
            ("/services/default/svc-1".to_string(), svc),
            ("/pods/default/a".into(), pod("a", "10.244.1.2", true, None, false)),
        ];
        let cache = cache_with(objects.clone());
        let first = EndpointsController.reconcile("/services/default/svc-1", &cache, OffsetDateTime::now_utc());
        for object in created(&first, "Endpoints").into_iter().chain(created(&first, "EndpointSlice")) {
            let kind = if object["kind"] == "Endpoints" { endpoints() } else { slices() };
            objects.push((kind.key(Some("default"), meta::name(object).unwrap()), object.clone()));
        }
        let cache = cache_with(objects.clone());
        let again = EndpointsController.reconcile("/services/default/svc-1", &cache, OffsetDateTime::now_utc());
        assert!(again.actions.is_empty(), "{again:?}");
        objects.remove(0);
        let cache = cache_with(objects);
        let gone = EndpointsController.reconcile("/services/default/svc-1", &cache, OffsetDateTime::now_utc());
        assert_eq!(gone.actions.iter().filter(|a| matches!(a, Action::Delete { .. })).count(), 2);
    }
}
