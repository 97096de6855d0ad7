//! Services: type, affinity and traffic-policy defaults, each port's protocol and targetPort, and the
//! ClusterIP and NodePorts allocated (service_allocation.rs) in the Service's own write and freed in the
//! write that stops it holding them.

use serde_json::{json, Value};

use crate::control_plane::registry::service_allocation;
use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;
use crate::control_plane::store::Txn;
use crate::resources::validation::FieldError;

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    fn prepare_for_create(&self, _ctx: &Context, object: &mut Value) {
        defaults(object);
    }

    fn prepare_for_update(&self, object: &mut Value) {
        defaults(object);
    }

    fn allocate(
        &self,
        ctx: &Context,
        key: &str,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<Txn, Vec<FieldError>> {
        service_allocation::prepare(ctx.store, ctx.service_network, key, object, old)
    }

    fn released(&self, old: &Value) -> Txn {
        service_allocation::released(old)
    }
}

/// What the API server fills in on a Service (allocation aside).
fn defaults(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let ty = spec.entry("type").or_insert(json!("ClusterIP")).as_str().unwrap_or("ClusterIP").to_string();
    if ty == "ExternalName" {
        return;
    }
    spec.entry("sessionAffinity").or_insert(json!("None"));
    spec.entry("internalTrafficPolicy").or_insert(json!("Cluster"));
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        spec.entry("externalTrafficPolicy").or_insert(json!("Cluster"));
    }
    if spec.get("sessionAffinity") == Some(&json!("ClientIP")) {
        spec.entry("sessionAffinityConfig").or_insert(json!({"clientIP": {"timeoutSeconds": 10800}}));
    }
    for port in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(p) = port.as_object_mut() {
            p.entry("protocol").or_insert(json!("TCP"));
            if let Some(number) = p.get("port").cloned() {
                p.entry("targetPort").or_insert(number);
            }
        }
    }
    if ty == "LoadBalancer" && object.pointer("/status/loadBalancer").is_none() {
        object["status"] = json!({"loadBalancer": {}});
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_get_protocol_and_target_port() {
        let mut service = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        defaults(&mut service);
        assert_eq!(service["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(service["spec"]["externalTrafficPolicy"], "Cluster");
        let mut external = json!({"spec": {"type": "ExternalName", "externalName": "x.example"}});
        defaults(&mut external);
        assert!(external["spec"].get("sessionAffinity").is_none());
    }
}
