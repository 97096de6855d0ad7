//! The `kubernetes` Service in `default`, as kube-apiserver keeps it: the first address of the service
//! range, port 443 (https) to the API server's port, with an Endpoints object and an EndpointSlice naming
//! every live master's advertised address (master_leases.rs). It has no selector, so the endpoints
//! controller leaves it alone.
//! Written through the registry, so they are allocated, defaulted and validated as any client's.

use serde_json::{json, Value};

use super::registry::{service_allocation, Part, Registry, RegistryError, WriteOptions};
use crate::resources::kinds::{served, ResourceKind};

/// Make `object` (of `kind`, in `default`) exist with the `fields` given: created when missing, those
/// fields rewritten when they differ, left alone otherwise.
fn ensure(
    registry: &Registry,
    kind: &'static ResourceKind,
    object: Value,
    fields: &[&str],
) -> Result<(), RegistryError> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let mut current = registry.create_if_missing(kind, Some("default"), object.clone())?;
    if fields.iter().all(|f| current.get(*f) == object.get(*f)) {
        return Ok(());
    }
    for f in fields {
        current[*f] = object[*f].clone();
    }
    registry.update(kind, Some("default"), &name, current, Part::Object, WriteOptions::default()).map(|_| ())
}

/// The `kubernetes` Service, and its Endpoints and EndpointSlice naming `masters` (the live masters'
/// addresses, master_leases.rs) at `port`.
pub fn ensure_kubernetes_service(registry: &Registry, masters: &[String], port: u16) -> Result<(), RegistryError> {
    let ip = service_allocation::kubernetes_service_ip(registry.service_network()).to_string();
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": ip,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}});
    registry.create_if_missing(served("", "services"), Some("default"), service)?;
    ensure_kubernetes_endpoints(registry, masters, port)
}

/// The `kubernetes` Endpoints and EndpointSlice naming `masters` at `port`, rewritten only when they differ.
pub fn ensure_kubernetes_endpoints(registry: &Registry, masters: &[String], port: u16) -> Result<(), RegistryError> {
    let addresses: Vec<Value> = masters.iter().map(|ip| json!({"ip": ip})).collect();
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": addresses, "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]});
    ensure(registry, served("", "endpoints"), endpoints, &["subsets"])?;
    let slice_endpoints: Vec<Value> =
        masters.iter().map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}})).collect();
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": slice_endpoints,
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]});
    ensure(registry, served("discovery.k8s.io", "endpointslices"), slice, &["endpoints", "ports"])
}

/// The kube-dns Service in kube-system at the range's tenth address (kubeadm's place for it), ports 53 UDP
/// and TCP, without a selector: the dns-endpoints controller names the nodes, whose agents serve DNS.
pub fn ensure_dns_service(registry: &Registry) -> Result<(), RegistryError> {
    use super::controllers::dns_endpoints::{ports, NAME, NAMESPACE};
    let ip = service_allocation::dns_service_ip(registry.service_network()).to_string();
    let mut ports = ports();
    for p in ports.as_array_mut().into_iter().flatten() {
        p["targetPort"] = json!(53);
    }
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "kubeboot-dns"}},
        "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": ports}});
    registry.create_if_missing(served("", "services"), Some(NAMESPACE), service).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;
    use std::sync::Arc;

    #[test]
    fn the_kubernetes_service_is_made_once_and_its_endpoints_follow_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap()));
        registry.ensure_namespaces().unwrap();
        registry.set_service_network("10.43.0.0/16".parse().unwrap());
        ensure_kubernetes_service(&registry, &["10.0.0.1".into()], 6443).unwrap();
        ensure_dns_service(&registry).unwrap();
        let services = served("", "services");
        let service = registry.get(services, Some("default"), "kubernetes").unwrap();
        assert_eq!(service["spec"]["clusterIP"], "10.43.0.1");
        assert_eq!(service["spec"]["sessionAffinity"], "None", "defaulted as any Service");
        assert_eq!(registry.get(services, Some("kube-system"), "kube-dns").unwrap()["spec"]["clusterIP"], "10.43.0.10");
        let first = registry.get(served("", "endpoints"), Some("default"), "kubernetes").unwrap();
        ensure_kubernetes_service(&registry, &["10.0.0.1".into()], 6443).unwrap();
        let again = registry.get(served("", "endpoints"), Some("default"), "kubernetes").unwrap();
        assert_eq!(first["metadata"]["resourceVersion"], again["metadata"]["resourceVersion"], "not rewritten");
        ensure_kubernetes_service(&registry, &["10.0.0.2".into()], 6443).unwrap();
        let moved = registry.get(served("", "endpoints"), Some("default"), "kubernetes").unwrap();
        assert_eq!(moved["subsets"][0]["addresses"][0]["ip"], "10.0.0.2");
        assert_eq!(
            registry.get(services, Some("default"), "kubernetes").unwrap()["metadata"]["resourceVersion"],
            service["metadata"]["resourceVersion"]
        );
    }
}
