//! Objects between the form the store keeps and the form a client of a kind's version reads (autoscaling/v1
//! HorizontalPodAutoscalers are kept as v2), with apiVersion, kind and resourceVersion filled in.

use serde_json::{json, Value};

use crate::resources::kinds::ResourceKind;
use crate::resources::meta;
use crate::resources::{event_v1, hpa_v1};

/// A stored object as served in `kind`'s version, with its resourceVersion.
pub fn served(kind: &ResourceKind, value: &[u8], revision: u64) -> Value {
    let mut object: Value = serde_json::from_slice(value).unwrap_or(Value::Null);
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.kind);
    meta::set_resource_version(&mut object, revision);
    client_form(kind, object)
}

/// An object a client sent, in the form the store keeps (autoscaling/v1 HPAs are kept as v2,
/// events.k8s.io Events as core Events).
pub fn stored_form(kind: &ResourceKind, object: Value) -> Value {
    if hpa_v1::is_v1(kind) {
        hpa_v1::to_v2(object)
    } else if event_v1::is_events_v1(kind) {
        event_v1::to_core(object)
    } else {
        object
    }
}

/// A stored object in the form a client of `kind`'s version reads.
pub fn client_form(kind: &ResourceKind, object: Value) -> Value {
    if hpa_v1::is_v1(kind) {
        hpa_v1::to_v1(object)
    } else if event_v1::is_events_v1(kind) {
        event_v1::to_v1(object)
    } else {
        object
    }
}
