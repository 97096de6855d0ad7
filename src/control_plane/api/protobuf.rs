//! Kubernetes' protobuf wire format (`application/vnd.kubernetes.protobuf`) for the request bodies some
//! clients send only that way (kubectl 1.32+'s `auth can-i` and `auth whoami`): the magic `k8s\0`, then a
//! runtime.Unknown whose `raw` is the object's own message. Decoded with prost into the JSON the handlers
//! read; answers stay JSON, which client-go decodes by the response's Content-Type. The messages declare
//! only the fields read here (field numbers from k8s.io/api's generated.proto); prost skips the others.

use serde_json::{json, Value};

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

fn decode<M: prost::Message + Default>(kind: &'static str, bytes: &[u8]) -> Result<M, ProtobufError> {
    M::decode(bytes).map_err(|e| ProtobufError::Decode(kind, e.to_string()))
}

/// A review request (`kind` is SelfSubjectAccessReview, SelfSubjectRulesReview or SelfSubjectReview) as the
/// JSON object a client would have sent.
pub fn review_as_json(body: &[u8], kind: &'static str) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let unknown: Unknown = decode("runtime.Unknown", envelope)?;
    let found = unknown.type_meta.map(|t| t.kind).unwrap_or_default();
    if found != kind {
        return Err(ProtobufError::WrongKind { expected: kind.into(), found });
    }
    let spec = match kind {
        "SelfSubjectAccessReview" => {
            let review: SelfSubjectAccessReview = decode(kind, &unknown.raw)?;
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
            let review: SelfSubjectRulesReview = decode(kind, &unknown.raw)?;
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
    fn refuses_what_is_not_a_kubernetes_protobuf_of_the_kind() {
        assert_eq!(review_as_json(b"{}", "SelfSubjectReview"), Err(ProtobufError::NoMagic));
        let other = envelope("Namespace", Vec::new());
        assert!(matches!(review_as_json(&other, "SelfSubjectReview"), Err(ProtobufError::WrongKind { .. })));
        assert!(matches!(review_as_json(b"k8s\0\xff\xff", "SelfSubjectReview"), Err(ProtobufError::Decode(..))));
    }
}
