//! The `kubernetes` Service in `default`, as kube-apiserver keeps it: the first address of the service
//! range, port 443 (https) to the API server's port, with an Endpoints object and an EndpointSlice naming
//! this server's advertised address. It has no selector, so the endpoints controller leaves it alone.

use ipnet::Ipv4Net;
use serde_json::{json, Value};

use super::api::service_allocation;
use super::store::{Store, StoreError};
use crate::resources::meta;

const SERVICE_KEY: &str = "/services/default/kubernetes";
const ENDPOINTS_KEY: &str = "/endpoints/default/kubernetes";
const SLICE_KEY: &str = "/discovery.k8s.io/endpointslices/default/kubernetes";

/// Write `value` at `key` unless what is there already has the same `fields`; returns the stored object.
fn ensure(store: &dyn Store, key: &str, mut value: Value, fields: &[&str]) -> Result<Value, StoreError> {
    match store.get(key)? {
        Some(stored) => {
            let mut current: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
            if fields.iter().all(|f| current.get(*f) == value.get(*f)) {
                return Ok(current);
            }
            for f in fields {
                current[*f] = value[*f].clone();
            }
            store.update(key, &serde_json::to_vec(&current).expect("json"), Some(stored.revision))?;
            Ok(current)
        }
        None => {
            meta::stamp_new(&mut value);
            store.create(key, &serde_json::to_vec(&value).expect("json"))?;
            Ok(value)
        }
    }
}

pub fn ensure_kubernetes_service(
    store: &dyn Store,
    network: Ipv4Net,
    address: &str,
    port: u16,
) -> Result<(), StoreError> {
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    if store.get(SERVICE_KEY)?.is_none() {
        let ip = service_allocation::kubernetes_service_ip(network).to_string();
        let mut service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
            "status": {"loadBalancer": {}}});
        let allocated = service_allocation::prepare(store, network, SERVICE_KEY, &mut service, None)
            .map_err(|e| StoreError::Backend(format!("the kubernetes Service: {}", e[0].message)))?;
        meta::stamp_new(&mut service);
        if let Err(e) = store.create(SERVICE_KEY, &serde_json::to_vec(&service).expect("json")) {
            allocated.undo(store);
            if !matches!(e, StoreError::AlreadyExists(_)) {
                return Err(e);
            }
        }
    }
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]});
    ensure(store, ENDPOINTS_KEY, endpoints, &["subsets"])?;
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]});
    ensure(store, SLICE_KEY, slice, &["endpoints", "ports"])?;
    Ok(())
}

/// The kube-dns Service in kube-system at the range's tenth address (kubeadm's place for it), ports 53 UDP
/// and TCP, without a selector: the dns-endpoints controller names the nodes, whose agents serve DNS.
pub fn ensure_dns_service(store: &dyn Store, network: Ipv4Net) -> Result<(), StoreError> {
    use super::controllers::dns_endpoints::{ports, NAME, NAMESPACE};
    let key = format!("/services/{NAMESPACE}/{NAME}");
    if store.get(&key)?.is_some() {
        return Ok(());
    }
    let ip = service_allocation::dns_service_ip(network).to_string();
    let mut ports = ports();
    for p in ports.as_array_mut().into_iter().flatten() {
        p["targetPort"] = json!(53);
    }
    let mut service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "kubeboot-dns"}},
        "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster", "ports": ports},
        "status": {"loadBalancer": {}}});
    let allocated = service_allocation::prepare(store, network, &key, &mut service, None)
        .map_err(|e| StoreError::Backend(format!("the kube-dns Service: {}", e[0].message)))?;
    meta::stamp_new(&mut service);
    if let Err(e) = store.create(&key, &serde_json::to_vec(&service).expect("json")) {
        allocated.undo(store);
        if !matches!(e, StoreError::AlreadyExists(_)) {
            return Err(e);
        }
    }
    Ok(())
}
