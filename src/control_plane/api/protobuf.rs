//! Kubernetes' protobuf wire format (`application/vnd.kubernetes.protobuf`) for the request bodies some
//! clients send only that way (kubectl 1.32+'s `auth can-i` and `auth whoami`, and its `create namespace`,
//! `create configmap` and `create secret` generators): the magic `k8s\0`, then a runtime.Unknown whose
//! `raw` is the object's own message. Decoded with prost into the JSON the handlers read (the store's format
//! stays JSON); answers stay JSON, which client-go decodes by the response's Content-Type. The messages
//! declare only the fields read here (field numbers from k8s.io/api's generated.proto); prost skips the
//! others.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    #[error("the body does not start with Kubernetes' protobuf magic")]
    NoMagic,
    #[error("the body is not a protobuf {0}: {1}")]
    Decode(&'static str, String),
    #[error("the body is a {found}, not a {expected}")]
    WrongKind { expected: String, found: String },
}

/// runtime.Unknown: the envelope of every protobuf body.
#[derive(Clone, PartialEq, prost::Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", tag = "2")]
    raw: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TypeMeta {
    #[prost(string, tag = "1")]
    api_version: String,
    #[prost(string, tag = "2")]
    kind: String,
}

/// authorization.k8s.io/v1 SelfSubjectAccessReview (metadata = 1 and status = 3 are not read).
#[derive(Clone, PartialEq, prost::Message)]
struct SelfSubjectAccessReview {
    #[prost(message, optional, tag = "2")]
    spec: Option<SelfSubjectAccessReviewSpec>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SelfSubjectAccessReviewSpec {
    #[prost(message, optional, tag = "1")]
    resource_attributes: Option<ResourceAttributes>,
    #[prost(message, optional, tag = "2")]
    non_resource_attributes: Option<NonResourceAttributes>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResourceAttributes {
    #[prost(string, tag = "1")]
    namespace: String,
    #[prost(string, tag = "2")]
    verb: String,
    #[prost(string, tag = "3")]
    group: String,
    #[prost(string, tag = "4")]
    version: String,
    #[prost(string, tag = "5")]
    resource: String,
    #[prost(string, tag = "6")]
    subresource: String,
    #[prost(string, tag = "7")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NonResourceAttributes {
    #[prost(string, tag = "1")]
    path: String,
    #[prost(string, tag = "2")]
    verb: String,
}

/// authorization.k8s.io/v1 SelfSubjectRulesReview.
#[derive(Clone, PartialEq, prost::Message)]
struct SelfSubjectRulesReview {
    #[prost(message, optional, tag = "2")]
    spec: Option<SelfSubjectRulesReviewSpec>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SelfSubjectRulesReviewSpec {
    #[prost(string, tag = "1")]
    namespace: String,
}

/// metav1.ObjectMeta: what a client sets on create.
#[derive(Clone, PartialEq, prost::Message)]
struct ObjectMeta {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    generate_name: String,
    #[prost(string, tag = "3")]
    namespace: String,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
    #[prost(string, repeated, tag = "14")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Namespace {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    secret_type: Option<String>,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

fn meta_json(meta: Option<ObjectMeta>) -> Value {
    let meta = meta.unwrap_or_default();
    let mut out = Map::new();
    for (field, value) in [("name", meta.name), ("generateName", meta.generate_name), ("namespace", meta.namespace)] {
        if !value.is_empty() {
            out.insert(field.into(), json!(value));
        }
    }
    if !meta.labels.is_empty() {
        out.insert("labels".into(), json!(meta.labels));
    }
    if !meta.annotations.is_empty() {
        out.insert("annotations".into(), json!(meta.annotations));
    }
    if !meta.finalizers.is_empty() {
        out.insert("finalizers".into(), json!(meta.finalizers));
    }
    Value::Object(out)
}

fn base64_map(map: BTreeMap<String, Vec<u8>>) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    Value::Object(map.into_iter().map(|(k, v)| (k, json!(engine.encode(v)))).collect())
}

/// The envelope's payload, checked to be a `kind`.
fn unwrap(body: &[u8], kind: &str) -> Result<Vec<u8>, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let unknown: Unknown = decode("runtime.Unknown", envelope)?;
    let found = unknown.type_meta.map(|t| t.kind).unwrap_or_default();
    if found != kind {
        return Err(ProtobufError::WrongKind { expected: kind.into(), found });
    }
    Ok(unknown.raw)
}

/// The kinds whose protobuf bodies are read: the ones kubectl's generators send.
pub fn reads_objects_of(kind: &str) -> bool {
    matches!(kind, "Namespace" | "ConfigMap" | "Secret")
}

/// A Namespace, ConfigMap or Secret body as the JSON object a client would have sent.
pub fn object_as_json(body: &[u8], kind: &'static str) -> Result<Value, ProtobufError> {
    let raw = unwrap(body, kind)?;
    let mut object = match kind {
        "Namespace" => {
            let ns: Namespace = decode(kind, &raw)?;
            json!({"metadata": meta_json(ns.metadata)})
        }
        "ConfigMap" => {
            let cm: ConfigMap = decode(kind, &raw)?;
            let mut o = json!({"metadata": meta_json(cm.metadata)});
            if !cm.data.is_empty() {
                o["data"] = json!(cm.data);
            }
            if !cm.binary_data.is_empty() {
                o["binaryData"] = base64_map(cm.binary_data);
            }
            if let Some(immutable) = cm.immutable {
                o["immutable"] = json!(immutable);
            }
            o
        }
        "Secret" => {
            let secret: Secret = decode(kind, &raw)?;
            let mut o = json!({"metadata": meta_json(secret.metadata)});
            if !secret.data.is_empty() {
                o["data"] = base64_map(secret.data);
            }
            if !secret.string_data.is_empty() {
                o["stringData"] = json!(secret.string_data);
            }
            if let Some(t) = secret.secret_type.filter(|t| !t.is_empty()) {
                o["type"] = json!(t);
            }
            if let Some(immutable) = secret.immutable {
                o["immutable"] = json!(immutable);
            }
            o
        }
        _ => {
            return Err(ProtobufError::WrongKind {
                expected: "Namespace, ConfigMap or Secret".into(),
                found: kind.into(),
            })
        }
    };
    object["apiVersion"] = json!("v1");
    object["kind"] = json!(kind);
    Ok(object)
}

fn decode<M: prost::Message + Default>(kind: &'static str, bytes: &[u8]) -> Result<M, ProtobufError> {
    M::decode(bytes).map_err(|e| ProtobufError::Decode(kind, e.to_string()))
}

/// A review request (`kind` is SelfSubjectAccessReview, SelfSubjectRulesReview or SelfSubjectReview) as the
/// JSON object a client would have sent.
pub fn review_as_json(body: &[u8], kind: &'static str) -> Result<Value, ProtobufError> {
    let raw = unwrap(body, kind)?;
    let spec = match kind {
        "SelfSubjectAccessReview" => {
            let review: SelfSubjectAccessReview = decode(kind, &raw)?;
            let spec = review.spec.unwrap_or_default();
            let mut out = json!({});
            if let Some(a) = spec.resource_attributes {
                out["resourceAttributes"] = json!({
                    "namespace": a.namespace, "verb": a.verb, "group": a.group, "version": a.version,
                    "resource": a.resource, "subresource": a.subresource, "name": a.name,
                });
            }
            if let Some(a) = spec.non_resource_attributes {
                out["nonResourceAttributes"] = json!({"path": a.path, "verb": a.verb});
            }
            out
        }
        "SelfSubjectRulesReview" => {
            let review: SelfSubjectRulesReview = decode(kind, &raw)?;
            json!({"namespace": review.spec.unwrap_or_default().namespace})
        }
        _ => json!({}),
    };
    Ok(json!({"kind": kind, "metadata": {}, "spec": spec}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta { api_version: "authorization.k8s.io/v1".into(), kind: kind.into() }),
            raw,
        };
        [MAGIC.to_vec(), unknown.encode_to_vec()].concat()
    }

    #[test]
    fn access_reviews_decode_to_the_json_clients_send() {
        let review = SelfSubjectAccessReview {
            spec: Some(SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: "default".into(),
                    verb: "create".into(),
                    group: "apps".into(),
                    resource: "deployments".into(),
                    ..Default::default()
                }),
                non_resource_attributes: None,
            }),
        };
        let json =
            review_as_json(&envelope("SelfSubjectAccessReview", review.encode_to_vec()), "SelfSubjectAccessReview")
                .unwrap();
        let attributes = &json["spec"]["resourceAttributes"];
        assert_eq!(
            (attributes["verb"].as_str(), attributes["resource"].as_str()),
            (Some("create"), Some("deployments"))
        );
        assert_eq!(attributes["group"], "apps");
        assert!(json["spec"].get("nonResourceAttributes").is_none());
    }

    #[test]
    fn secrets_and_config_maps_decode_to_their_json() {
        let meta = ObjectMeta { name: "creds".into(), labels: [("a".into(), "b".into())].into(), ..Default::default() };
        let secret = Secret {
            metadata: Some(meta),
            data: [("p".to_string(), b"s3cret".to_vec())].into(),
            secret_type: Some("Opaque".into()),
            ..Default::default()
        };
        let json = object_as_json(&envelope("Secret", secret.encode_to_vec()), "Secret").unwrap();
        assert_eq!(json["data"]["p"], "czNjcmV0");
        assert_eq!(
            (json["metadata"]["name"].as_str(), json["metadata"]["labels"]["a"].as_str()),
            (Some("creds"), Some("b"))
        );
        assert_eq!(
            (json["apiVersion"].as_str(), json["kind"].as_str(), json["type"].as_str()),
            (Some("v1"), Some("Secret"), Some("Opaque"))
        );
        let cm = ConfigMap { data: [("k".to_string(), "v".to_string())].into(), ..Default::default() };
        let json = object_as_json(&envelope("ConfigMap", cm.encode_to_vec()), "ConfigMap").unwrap();
        assert_eq!(json["data"], json!({"k": "v"}));
        assert!(json.get("binaryData").is_none() && json.get("immutable").is_none());
    }

    #[test]
    fn refuses_what_is_not_a_kubernetes_protobuf_of_the_kind() {
        assert_eq!(review_as_json(b"{}", "SelfSubjectReview"), Err(ProtobufError::NoMagic));
        let other = envelope("Namespace", Vec::new());
        assert!(matches!(review_as_json(&other, "SelfSubjectReview"), Err(ProtobufError::WrongKind { .. })));
        assert!(matches!(review_as_json(b"k8s\0\xff\xff", "SelfSubjectReview"), Err(ProtobufError::Decode(..))));
    }
}
