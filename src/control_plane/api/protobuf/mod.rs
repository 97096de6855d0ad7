//! Kubernetes' protobuf wire format (`application/vnd.kubernetes.protobuf`) for request bodies: kubectl
//! 1.32+ sends its generators' objects and its review requests only this way, and client-go programs
//! prefer it. A body is the magic `k8s\0`, then a runtime.Unknown whose `raw` is the object's own message,
//! decoded (decode.rs) through the field table generated from Kubernetes' sources (fields.rs) into the
//! JSON the handlers read: the store's format stays JSON, and answers stay JSON, which client-go decodes
//! by the response's Content-Type.

mod decode;
mod fields;

use prost::Message as _;
use serde_json::{json, Value};

use crate::resources::kinds::ResourceKind;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    #[error("the body does not start with Kubernetes' protobuf magic")]
    NoMagic,
    #[error("the body is not a protobuf {0}: {1}")]
    Decode(String, String),
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

/// The envelope's payload, checked to be a `kind`.
fn unwrap(body: &[u8], kind: &str) -> Result<Vec<u8>, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let unknown =
        Unknown::decode(envelope).map_err(|e| ProtobufError::Decode("runtime.Unknown".into(), e.to_string()))?;
    let found = unknown.type_meta.map(|t| t.kind).unwrap_or_default();
    if found != kind {
        return Err(ProtobufError::WrongKind { expected: kind.into(), found });
    }
    Ok(unknown.raw)
}

/// A protobuf body of a served kind (or a review) as the JSON object a client would have sent.
pub fn object_as_json(body: &[u8], kind: &ResourceKind) -> Result<Value, ProtobufError> {
    let raw = unwrap(body, kind.kind)?;
    let name = fields::message_name(kind);
    let mut object = decode::message(&raw, &name).map_err(|e| ProtobufError::Decode(name, e))?;
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.kind);
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::kinds;

    // Messages written by prost as Go writes them: every non-pointer field present, zero or not.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Meta {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(string, optional, tag = "2")]
        generate_name: Option<String>,
        #[prost(message, optional, tag = "8")]
        creation_timestamp: Option<Time>,
        #[prost(btree_map = "string, string", tag = "11")]
        labels: std::collections::BTreeMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Time {
        #[prost(int64, optional, tag = "1")]
        seconds: Option<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Deployment {
        #[prost(message, optional, tag = "1")]
        metadata: Option<Meta>,
        #[prost(message, optional, tag = "2")]
        spec: Option<DeploymentSpec>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct DeploymentSpec {
        #[prost(int32, optional, tag = "1")]
        replicas: Option<i32>,
        #[prost(message, optional, tag = "3")]
        template: Option<PodTemplateSpec>,
        #[prost(message, optional, tag = "4")]
        strategy: Option<Strategy>,
        #[prost(int32, optional, tag = "5")]
        min_ready_seconds: Option<i32>,
        #[prost(bool, optional, tag = "7")]
        paused: Option<bool>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Strategy {
        #[prost(string, optional, tag = "1")]
        kind: Option<String>,
        #[prost(message, optional, tag = "2")]
        rolling_update: Option<RollingUpdate>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct RollingUpdate {
        #[prost(message, optional, tag = "1")]
        max_unavailable: Option<IntOrString>,
        #[prost(message, optional, tag = "2")]
        max_surge: Option<IntOrString>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct IntOrString {
        #[prost(int64, optional, tag = "1")]
        kind: Option<i64>,
        #[prost(int32, optional, tag = "2")]
        int_val: Option<i32>,
        #[prost(string, optional, tag = "3")]
        str_val: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct PodTemplateSpec {
        #[prost(message, optional, tag = "2")]
        spec: Option<PodSpec>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct PodSpec {
        #[prost(message, repeated, tag = "1")]
        volumes: Vec<Volume>,
        #[prost(message, repeated, tag = "2")]
        containers: Vec<Container>,
        #[prost(string, optional, tag = "10")]
        node_name: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Volume {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(message, optional, tag = "2")]
        source: Option<VolumeSource>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct VolumeSource {
        #[prost(message, optional, tag = "2")]
        empty_dir: Option<Empty>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Empty {}

    #[derive(Clone, PartialEq, prost::Message)]
    struct Container {
        #[prost(string, optional, tag = "1")]
        name: Option<String>,
        #[prost(string, optional, tag = "2")]
        image: Option<String>,
        #[prost(string, repeated, tag = "3")]
        command: Vec<String>,
        #[prost(message, repeated, tag = "6")]
        ports: Vec<Port>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Port {
        #[prost(int32, optional, tag = "2")]
        host_port: Option<i32>,
        #[prost(int32, optional, tag = "3")]
        container_port: Option<i32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Secret {
        #[prost(message, optional, tag = "1")]
        metadata: Option<Meta>,
        #[prost(btree_map = "string, bytes", tag = "2")]
        data: std::collections::BTreeMap<String, Vec<u8>>,
        #[prost(string, optional, tag = "3")]
        kind: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct AccessReview {
        #[prost(message, optional, tag = "1")]
        metadata: Option<Meta>,
        #[prost(message, optional, tag = "2")]
        spec: Option<AccessReviewSpec>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct AccessReviewSpec {
        #[prost(message, optional, tag = "1")]
        resource_attributes: Option<ResourceAttributes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct ResourceAttributes {
        #[prost(string, optional, tag = "1")]
        namespace: Option<String>,
        #[prost(string, optional, tag = "2")]
        verb: Option<String>,
        #[prost(string, optional, tag = "3")]
        group: Option<String>,
        #[prost(string, optional, tag = "5")]
        resource: Option<String>,
    }

    fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown { type_meta: Some(TypeMeta { api_version: String::new(), kind: kind.into() }), raw };
        [MAGIC.to_vec(), unknown.encode_to_vec()].concat()
    }

    fn served(group: &str, plural: &str) -> &'static ResourceKind {
        kinds::served(group, plural)
    }

    fn text(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn a_deployment_decodes_to_the_json_go_would_marshal() {
        let port = |p| Port { host_port: Some(0), container_port: Some(p) };
        let deployment = Deployment {
            metadata: Some(Meta {
                name: text("web"),
                generate_name: text(""),
                creation_timestamp: Some(Time::default()),
                labels: [("app".to_string(), "web".to_string())].into(),
            }),
            spec: Some(DeploymentSpec {
                replicas: Some(0),
                template: Some(PodTemplateSpec {
                    spec: Some(PodSpec {
                        volumes: vec![Volume {
                            name: text("scratch"),
                            source: Some(VolumeSource { empty_dir: Some(Empty {}) }),
                        }],
                        containers: vec![Container {
                            name: text("nginx"),
                            image: text("nginx:1.25"),
                            command: vec!["nginx".into(), String::new()],
                            ports: vec![port(80), port(443)],
                        }],
                        node_name: text(""),
                    }),
                }),
                strategy: Some(Strategy {
                    kind: text("RollingUpdate"),
                    rolling_update: Some(RollingUpdate {
                        max_unavailable: Some(IntOrString { kind: Some(0), int_val: Some(0), str_val: text("") }),
                        max_surge: Some(IntOrString { kind: Some(1), int_val: Some(0), str_val: text("30%") }),
                    }),
                }),
                min_ready_seconds: Some(0),
                paused: Some(false),
            }),
        };
        let body = envelope("Deployment", deployment.encode_to_vec());
        let json = object_as_json(&body, served("apps", "deployments")).unwrap();
        let pod = json!({
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "containers": [{
                "name": "nginx", "image": "nginx:1.25", "command": ["nginx", ""],
                "ports": [{"containerPort": 80}, {"containerPort": 443}],
            }],
        });
        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "template": {"spec": pod},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "30%"}},
            },
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn bytes_are_base64_and_times_rfc3339() {
        let secret = Secret {
            metadata: Some(Meta {
                name: text("creds"),
                creation_timestamp: Some(Time { seconds: Some(1_700_000_000) }),
                ..Default::default()
            }),
            data: [("p".to_string(), b"s3cret".to_vec()), ("empty".to_string(), Vec::new())].into(),
            kind: text("Opaque"),
        };
        let json = object_as_json(&envelope("Secret", secret.encode_to_vec()), served("", "secrets")).unwrap();
        assert_eq!(json["data"], json!({"p": "czNjcmV0", "empty": ""}));
        assert_eq!(json["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!((json["apiVersion"].as_str(), json["type"].as_str()), (Some("v1"), Some("Opaque")));
    }

    #[test]
    fn access_reviews_decode_to_the_json_clients_send() {
        let review = AccessReview {
            metadata: Some(Meta::default()),
            spec: Some(AccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: text("default"),
                    verb: text("create"),
                    group: text(""),
                    resource: text("pods"),
                }),
            }),
        };
        let kind =
            ResourceKind { group: "authorization.k8s.io", kind: "SelfSubjectAccessReview", ..*served("", "pods") };
        let json = object_as_json(&envelope("SelfSubjectAccessReview", review.encode_to_vec()), &kind).unwrap();
        assert_eq!(
            json["spec"],
            json!({"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}})
        );
        assert_eq!(json["apiVersion"], "authorization.k8s.io/v1");
    }

    #[test]
    fn refuses_what_is_not_a_kubernetes_protobuf_of_the_kind() {
        let namespaces = served("", "namespaces");
        assert_eq!(object_as_json(b"{}", namespaces), Err(ProtobufError::NoMagic));
        let other = envelope("Secret", Vec::new());
        assert!(matches!(object_as_json(&other, namespaces), Err(ProtobufError::WrongKind { .. })));
        assert!(matches!(object_as_json(b"k8s\0\xff\xff", namespaces), Err(ProtobufError::Decode(..))));
        // A string field holding a varint, then a length running past the end.
        for raw in [vec![0x0a, 0x03, 0x08, 0x01, 0x00], vec![0x0a, 0x7f]] {
            let refused = object_as_json(&envelope("Namespace", raw), namespaces);
            assert!(matches!(refused, Err(ProtobufError::Decode(..))), "{refused:?}");
        }
    }
}
