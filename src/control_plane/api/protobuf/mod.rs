//! Kubernetes' protobuf wire format (`application/vnd.kubernetes.protobuf`): kubectl 1.32+ sends its
//! generators' objects and its review requests only this way, and client-go's typed clients ask for it
//! first. A body is the magic `k8s\0`, then a runtime.Unknown whose `raw` is the object's own message.
//! Request bodies are decoded (decode.rs) through the field table generated from Kubernetes' sources
//! (fields.rs) into the JSON the handlers read; the store's format stays JSON. Answers are written as
//! protobuf (encode.rs) when the client asks for it first and the answer is an object or list of a served
//! kind, a watch event or a Status (errors too, as kube-apiserver writes them); Tables and discovery stay
//! JSON, which client-go decodes by the response's Content-Type.

mod answers;
mod decode;
mod encode;
mod fields;
mod special_messages;

pub use answers::{answer, answer_as_asked, as_asked, asked_first};
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
    #[error("{0} cannot be written as protobuf: {1}")]
    Encode(String, String),
    #[error("the body is a {found}, not a {expected}")]
    WrongKind { expected: String, found: String },
}

/// A watch's Content-Type when its events are protobuf.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// An object's or list's JSON as a protobuf body, by its own apiVersion and kind (a Status is metav1's).
pub fn object_as_protobuf(object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let name = match kind {
        "Status" => "k8s.io.apimachinery.pkg.apis.meta.v1.Status".to_string(),
        _ => fields::message_name_of(group, version, kind),
    };
    let raw = encode::message(object, &name).map_err(|e| ProtobufError::Encode(name, e))?;
    let type_meta = Some(TypeMeta { api_version: api_version.into(), kind: kind.into() });
    Ok([MAGIC, &Unknown { type_meta, raw }.encode_to_vec()].concat())
}

/// metav1.WatchEvent: on a protobuf watch, each event is one of these, not enveloped, after a 4-byte
/// big-endian length; its object is an enveloped protobuf body (kube-apiserver's watch encoder).
#[derive(Clone, PartialEq, prost::Message)]
struct WatchEvent {
    #[prost(string, tag = "1")]
    event_type: String,
    #[prost(message, optional, tag = "2")]
    object: Option<special_messages::Raw>,
}

/// One watch event as a protobuf watch frames it.
pub fn watch_frame(event_type: &str, object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let raw = object_as_protobuf(object)?;
    let event = WatchEvent { event_type: event_type.into(), object: Some(special_messages::Raw { raw }) };
    let message = event.encode_to_vec();
    let length =
        u32::try_from(message.len()).map_err(|_| ProtobufError::Encode("WatchEvent".into(), "over 4 GiB".into()))?;
    Ok([&length.to_be_bytes()[..], &message].concat())
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

    #[test]
    fn objects_and_lists_go_to_protobuf_and_back_unchanged() {
        let pod_spec = json!({
            "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "web", "defaultMode": 420}}],
            "containers": [{
                "name": "nginx", "image": "nginx:1.25", "args": ["-g", ""],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "1", "memory": "64Mi"}},
                "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "web", "key": "mode", "optional": false}}}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
            }],
            "terminationGracePeriodSeconds": 0,
            "securityContext": {"runAsUser": 0, "supplementalGroups": [1, 2]},
        });
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "default", "uid": "0b5e", "resourceVersion": "42", "generation": 3,
                "creationTimestamp": "2026-12-04T20:29:22Z", "labels": {"app": "web", "empty": ""},
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}],
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            },
            "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2026-12-04T20:29:23Z"}]},
        });
        let list = json!({
            "apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {"resourceVersion": "43"},
            "items": [deployment.clone(), deployment.clone()],
        });
        let deployments = served("apps", "deployments");
        let body = object_as_protobuf(&deployment).unwrap();
        assert_eq!(object_as_json(&body, deployments).unwrap(), deployment);
        let raw = unwrap(&object_as_protobuf(&list).unwrap(), "DeploymentList").unwrap();
        assert_eq!(decode::message(&raw, "k8s.io.api.apps.v1.DeploymentList").unwrap()["items"][1], {
            let mut item = deployment.clone();
            item.as_object_mut().unwrap().retain(|k, _| k != "apiVersion" && k != "kind");
            item
        });
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"p": "czNjcmV0"}, "type": "Opaque"});
        assert_eq!(object_as_json(&object_as_protobuf(&secret).unwrap(), served("", "secrets")).unwrap(), secret);
        // What the table has no message for stays JSON.
        let table = json!({"apiVersion": "meta.k8s.io/v1", "kind": "Table", "rows": []});
        assert!(object_as_protobuf(&table).is_err());
    }

    #[test]
    fn protobuf_is_written_only_when_asked_for_first() {
        assert!(asked_first(Some("application/vnd.kubernetes.protobuf,application/json")));
        assert!(asked_first(Some("application/vnd.kubernetes.protobuf, */*")));
        assert!(!asked_first(Some("application/json, application/vnd.kubernetes.protobuf")));
        assert!(!asked_first(Some("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io")));
        assert!(!asked_first(None));
    }

    #[test]
    fn watch_events_are_length_prefixed_with_the_object_enveloped() {
        let config_map =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
        let frame = watch_frame("MODIFIED", &config_map).unwrap();
        let (length, message) = frame.split_at(4);
        assert_eq!(u32::from_be_bytes(length.try_into().unwrap()) as usize, message.len());
        let event = WatchEvent::decode(message).unwrap();
        assert_eq!(event.event_type, "MODIFIED");
        let object = event.object.unwrap().raw;
        assert_eq!(object_as_json(&object, served("", "configmaps")).unwrap(), config_map);
        let gone = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "Expired", "code": 410});
        let event = WatchEvent::decode(&watch_frame("ERROR", &gone).unwrap()[4..]).unwrap();
        assert!(unwrap(&event.object.unwrap().raw, "Status").is_ok());
    }
}
