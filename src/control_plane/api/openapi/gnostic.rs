//! The OpenAPI v2 document in protobuf, as kubectl 1.20–1.26 download it: gnostic's `openapi.v2.Document`.
//! Written from the JSON document with prost's wire encoding; the field numbers are gnostic's
//! OpenAPIv2.proto. Only what the JSON document holds is encoded: the info, each path's operations (their
//! query parameters and vendor extensions: kubectl's `diff` looks for `dryRun` there) and the definitions.
//! A vendor extension's value is YAML text, which is how kubectl reads it.

use prost::encoding::{encode_key, encode_varint, WireType};
use serde_json::Value;

/// One protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        encode_key(field, WireType::LengthDelimited, &mut self.0);
        encode_varint(bytes.len() as u64, &mut self.0);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, value: Option<&str>) {
        if let Some(s) = value.filter(|s| !s.is_empty()) {
            self.bytes(field, s.as_bytes());
        }
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.0);
    }

    /// A bool inside a oneof is written even when false: its presence is the choice.
    fn bool_always(&mut self, field: u32, value: bool) {
        encode_key(field, WireType::Varint, &mut self.0);
        encode_varint(u64::from(value), &mut self.0);
    }

    fn bool(&mut self, field: u32, value: Option<bool>) {
        if value == Some(true) {
            self.bool_always(field, true);
        }
    }

    fn int64(&mut self, field: u32, value: Option<i64>) {
        if let Some(v) = value.filter(|v| *v != 0) {
            encode_key(field, WireType::Varint, &mut self.0);
            encode_varint(v as u64, &mut self.0);
        }
    }

    fn double(&mut self, field: u32, value: Option<f64>) {
        if let Some(v) = value {
            encode_key(field, WireType::SixtyFourBit, &mut self.0);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// gnostic `Any`: the value as YAML (field 2).
fn any(value: &Value) -> Message {
    let mut m = Message::default();
    let yaml = serde_yaml::to_string(value).unwrap_or_default();
    m.string(2, Some(&yaml));
    m
}

/// gnostic `NamedAny`: name = 1, value = 2.
fn named_any(name: &str, value: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, Some(name));
    m.message(2, any(value));
    m
}

fn vendor_extensions(m: &mut Message, field: u32, object: &serde_json::Map<String, Value>) {
    for (name, value) in object.iter().filter(|(k, _)| k.starts_with("x-")) {
        m.message(field, named_any(name, value));
    }
}

/// gnostic `Schema`.
fn schema(value: &Value) -> Message {
    let mut m = Message::default();
    let Some(s) = value.as_object() else { return m };
    let text = |k: &str| s.get(k).and_then(Value::as_str);
    m.string(1, text("$ref"));
    m.string(2, text("format"));
    m.string(3, text("title"));
    m.string(4, text("description"));
    if let Some(default) = s.get("default") {
        m.message(5, any(default));
    }
    m.double(6, s.get("multipleOf").and_then(Value::as_f64));
    m.double(7, s.get("maximum").and_then(Value::as_f64));
    m.bool(8, s.get("exclusiveMaximum").and_then(Value::as_bool));
    m.double(9, s.get("minimum").and_then(Value::as_f64));
    m.bool(10, s.get("exclusiveMinimum").and_then(Value::as_bool));
    m.int64(11, s.get("maxLength").and_then(Value::as_i64));
    m.int64(12, s.get("minLength").and_then(Value::as_i64));
    m.string(13, text("pattern"));
    m.int64(14, s.get("maxItems").and_then(Value::as_i64));
    m.int64(15, s.get("minItems").and_then(Value::as_i64));
    m.bool(16, s.get("uniqueItems").and_then(Value::as_bool));
    m.int64(17, s.get("maxProperties").and_then(Value::as_i64));
    m.int64(18, s.get("minProperties").and_then(Value::as_i64));
    for name in s.get("required").and_then(Value::as_array).into_iter().flatten() {
        m.string(19, name.as_str());
    }
    for option in s.get("enum").and_then(Value::as_array).into_iter().flatten() {
        m.message(20, any(option));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut item = Message::default();
            item.bool_always(2, *b);
            m.message(21, item);
        }
        Some(extra @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(extra));
            m.message(21, item);
        }
        _ => {}
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let mut type_item = Message::default();
        types.into_iter().for_each(|t| type_item.string(1, Some(t)));
        m.message(22, type_item);
    }
    match s.get("items") {
        Some(items @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(items));
            m.message(23, item);
        }
        Some(Value::Array(items)) => {
            let mut item = Message::default();
            items.iter().for_each(|i| item.message(1, schema(i)));
            m.message(23, item);
        }
        _ => {}
    }
    for part in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        m.message(24, schema(part));
    }
    if let Some(properties) = s.get("properties").and_then(Value::as_object) {
        m.message(25, named_schemas(properties));
    }
    m.bool(27, s.get("readOnly").and_then(Value::as_bool));
    vendor_extensions(&mut m, 31, s);
    m
}

/// gnostic `Properties` and `Definitions` alike: repeated NamedSchema{name = 1, value = 2} as field 1.
fn named_schemas(map: &serde_json::Map<String, Value>) -> Message {
    let mut m = Message::default();
    for (name, value) in map {
        let mut named = Message::default();
        named.string(1, Some(name));
        named.message(2, schema(value));
        m.message(1, named);
    }
    m
}

/// gnostic `ParametersItem` holding a query parameter (Parameter.non_body_parameter.query_parameter_sub_schema).
fn query_parameter(value: &Value) -> Message {
    let text = |k: &str| value.get(k).and_then(Value::as_str);
    let mut query = Message::default();
    query.bool(1, value.get("required").and_then(Value::as_bool));
    query.string(2, text("in"));
    query.string(3, text("description"));
    query.string(4, text("name"));
    query.string(6, text("type"));
    query.bool(20, value.get("uniqueItems").and_then(Value::as_bool));
    let mut non_body = Message::default();
    non_body.message(3, query);
    let mut parameter = Message::default();
    parameter.message(2, non_body);
    let mut item = Message::default();
    item.message(1, parameter);
    item
}

/// gnostic `Operation`.
fn operation(value: &Value) -> Message {
    let mut m = Message::default();
    m.string(5, value.get("operationId").and_then(Value::as_str));
    // What the operation takes: kubectl 1.27/1.28 patch with the v2 schemas only when PATCH consumes
    // strategic merge patch.
    for media in value.get("consumes").and_then(Value::as_array).into_iter().flatten() {
        m.string(7, media.as_str());
    }
    for parameter in value.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        m.message(8, query_parameter(parameter));
    }
    if let Some(responses) = value.get("responses").and_then(Value::as_object) {
        let mut codes = Message::default();
        for (code, response) in responses {
            let mut body = Message::default();
            body.string(1, response.get("description").and_then(Value::as_str));
            let mut response_value = Message::default();
            response_value.message(1, body);
            let mut named = Message::default();
            named.string(1, Some(code));
            named.message(2, response_value);
            codes.message(1, named);
        }
        m.message(9, codes);
    }
    if let Some(object) = value.as_object() {
        vendor_extensions(&mut m, 13, object);
    }
    m
}

/// gnostic `PathItem`: get = 2, put = 3, post = 4, delete = 5, patch = 8.
fn path_item(value: &Value) -> Message {
    let mut m = Message::default();
    for (verb, field) in [("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("patch", 8)] {
        if let Some(op) = value.get(verb) {
            m.message(field, operation(op));
        }
    }
    m
}

/// The whole `Document` from the v2 JSON document: swagger = 1, info = 2, paths = 8, definitions = 9.
pub fn document(doc: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, doc.get("swagger").and_then(Value::as_str));
    let mut info = Message::default();
    info.string(1, doc.pointer("/info/title").and_then(Value::as_str));
    info.string(2, doc.pointer("/info/version").and_then(Value::as_str));
    m.message(2, info);
    let mut paths = Message::default();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        let mut named = Message::default();
        named.string(1, Some(path));
        named.message(2, path_item(item));
        paths.message(2, named);
    }
    m.message(8, paths);
    if let Some(definitions) = doc.get("definitions").and_then(Value::as_object) {
        m.message(9, named_schemas(definitions));
    }
    m.0
}

#[cfg(test)]
mod tests {
    //! Read back with prost messages that declare a subset of gnostic's fields (prost skips the rest).
    use super::*;
    use prost::Message as _;
    use serde_json::json;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Document {
        #[prost(string, tag = "1")]
        swagger: String,
        #[prost(message, optional, tag = "8")]
        paths: Option<Paths>,
        #[prost(message, optional, tag = "9")]
        definitions: Option<Named>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Paths {
        #[prost(message, repeated, tag = "2")]
        path: Vec<NamedPathItem>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct NamedPathItem {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(message, optional, tag = "2")]
        value: Option<PathItem>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct PathItem {
        #[prost(message, optional, tag = "8")]
        patch: Option<Operation>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Operation {
        #[prost(message, repeated, tag = "13")]
        vendor_extension: Vec<NamedAny>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Named {
        #[prost(message, repeated, tag = "1")]
        items: Vec<NamedSchema>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct NamedSchema {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(message, optional, tag = "2")]
        value: Option<Schema>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Schema {
        #[prost(string, tag = "1")]
        reference: String,
        #[prost(string, tag = "4")]
        description: String,
        #[prost(message, optional, tag = "21")]
        additional_properties: Option<AdditionalProperties>,
        #[prost(message, optional, tag = "22")]
        type_item: Option<TypeItem>,
        #[prost(message, optional, tag = "25")]
        properties: Option<Named>,
        #[prost(message, repeated, tag = "31")]
        vendor_extension: Vec<NamedAny>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct AdditionalProperties {
        #[prost(bool, optional, tag = "2")]
        boolean: Option<bool>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct TypeItem {
        #[prost(string, repeated, tag = "1")]
        value: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct NamedAny {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(message, optional, tag = "2")]
        value: Option<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "2")]
        yaml: String,
    }

    #[test]
    fn document_reads_back() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.30.0"},
            "paths": {"/api/v1/namespaces/{namespace}/pods/{name}": {"patch": {
                "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"},
                "parameters": [{"name": "dryRun", "in": "query", "type": "string"}],
            }}},
            "definitions": {"io.k8s.api.core.v1.Pod": {
                "description": "A pod.",
                "type": "object",
                "additionalProperties": false,
                "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec", "description": "Its spec."}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
            }},
        });
        let read = Document::decode(document(&doc).as_slice()).unwrap();
        assert_eq!(read.swagger, "2.0");
        let op = read.paths.unwrap().path[0].value.clone().unwrap().patch.unwrap();
        assert_eq!(op.vendor_extension[0].name, "x-kubernetes-group-version-kind");
        assert!(op.vendor_extension[0].value.as_ref().unwrap().yaml.contains("kind: Pod"));
        let pod = read.definitions.unwrap().items[0].clone();
        assert_eq!(pod.name, "io.k8s.api.core.v1.Pod");
        let pod = pod.value.unwrap();
        assert_eq!(pod.type_item.unwrap().value, ["object"]);
        assert_eq!(pod.additional_properties.unwrap().boolean, Some(false), "a false oneof bool is still there");
        let spec = pod.properties.unwrap().items[0].clone().value.unwrap();
        assert_eq!(
            (spec.reference.as_str(), spec.description.as_str()),
            ("#/definitions/io.k8s.api.core.v1.PodSpec", "Its spec.")
        );
        assert_eq!(pod.vendor_extension[0].value.as_ref().unwrap().yaml, "- group: ''\n  kind: Pod\n  version: v1\n");
    }
}
