//! The OpenAPI documents, with every served kind's real schema (definitions.rs):
//! - /openapi/v2: one document, JSON or — as kubectl 1.20–1.26 ask for it — gnostic protobuf (gnostic.rs);
//!   kubectl reads its schemas for `explain`, client-side validation and strategic merge patches;
//! - /openapi/v3: an index of group-versions, each naming its document by a content hash, and
//!   /openapi/v3/{group-version}: that group-version's paths and the schemas its kinds use (kubectl 1.27+).
//!
//! The paths are one PATCH operation per kind, taking `dryRun` (kubectl's `diff` looks for it) and
//! `fieldValidation` (so kubectl 1.27+ sends `fieldValidation=Strict` and lets the server validate).
//! The documents are built once, at the first request.

mod definitions;
mod gnostic;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::resources::kinds::ResourceKind;
use definitions::REF_PREFIX;

/// What the Kubernetes API server answers (kubectl asks with `…spec.v2@v1.0+protobuf`, but `@` is not a valid
/// MIME token and Go's parser refuses it in a Content-Type).
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

struct Documents {
    v2_json: Vec<u8>,
    v2_protobuf: Vec<u8>,
    /// "api/v1", "apis/apps/v1", …: (content hash, JSON document).
    v3: BTreeMap<String, (String, Vec<u8>)>,
}

fn documents() -> &'static Documents {
    static DOCUMENTS: OnceLock<Documents> = OnceLock::new();
    DOCUMENTS.get_or_init(build_documents)
}

fn group_version_path(kind: &ResourceKind) -> String {
    if kind.group.is_empty() {
        format!("api/{}", kind.version)
    } else {
        format!("apis/{}/{}", kind.group, kind.version)
    }
}

fn info() -> Value {
    json!({"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBERNETES_MINOR)})
}

/// The PATCH operation of one kind, in v2's form (a v3 parameter wraps its type in a schema).
fn patch_operation(kind: &ResourceKind) -> (String, Value) {
    let base = format!("/{}", group_version_path(kind));
    let path = if kind.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}/{{name}}", kind.plural)
    } else {
        format!("{base}/{}/{{name}}", kind.plural)
    };
    let query = |name: &str, description: &str| json!({"name": name, "in": "query", "type": "string", "uniqueItems": true, "description": description});
    let operation = json!({
        "operationId": format!("patch{}", kind.kind),
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
        "parameters": [
            query("dryRun", "When present, indicates that modifications should not be persisted."),
            query("fieldValidation", "How the server treats unknown or duplicate fields: Ignore, Warn or Strict."),
            query("fieldManager", "A name associated with the actor or entity that is making these changes."),
        ],
        "responses": {"200": {"description": "OK"}},
    });
    (path, json!({"patch": operation}))
}

/// A v2 schema in v3's form: refs point into components/schemas, and a ref with a description beside it is
/// wrapped in allOf, as Kubernetes publishes it.
fn to_v3(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), to_v3(v))).collect();
            if let Some(Value::String(reference)) = out.remove("$ref") {
                let reference = reference.replacen(REF_PREFIX, "#/components/schemas/", 1);
                if out.is_empty() {
                    out.insert("$ref".into(), json!(reference));
                } else {
                    out.insert("allOf".into(), json!([{"$ref": reference}]));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

fn v3_parameters(operation: &Value) -> Value {
    let mut operation = operation.clone();
    if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in parameters.iter_mut().filter_map(Value::as_object_mut) {
            let kind = p.remove("type").unwrap_or(json!("string"));
            let unique = p.remove("uniqueItems").unwrap_or(json!(false));
            p.insert("schema".into(), json!({"type": kind, "uniqueItems": unique}));
        }
    }
    operation
}

/// OpenAPI v2 has no "integer or string": Kubernetes' v2 document calls such a value (IntOrString, Quantity) a
/// string, IntOrString with the format `int-or-string`; kubectl 1.20's validation takes any value for a string.
fn v2_scalars(definitions: &definitions::Definitions) -> definitions::Definitions {
    let mut out = definitions.clone();
    for (name, schema) in out.iter_mut() {
        let Some(schema) = schema.as_object_mut() else { continue };
        if schema.get("x-kubernetes-int-or-string") == Some(&json!(true)) && !schema.contains_key("type") {
            schema.insert("type".into(), json!("string"));
            if name.ends_with(".IntOrString") {
                schema.insert("format".into(), json!("int-or-string"));
            }
        }
    }
    out
}

fn content_hash(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA512, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

fn build_documents() -> Documents {
    let schemas = definitions::build();
    let mut paths = Map::new();
    let mut by_group_version: BTreeMap<String, (Map<String, Value>, Vec<String>)> = BTreeMap::new();
    for (kind, definition) in &schemas.kinds {
        let (path, item) = patch_operation(kind);
        let entry = by_group_version.entry(group_version_path(kind)).or_default();
        entry.0.insert(path.clone(), json!({"patch": v3_parameters(&item["patch"])}));
        entry.1.push(definition.clone());
        paths.insert(path, item);
    }
    let v2 = json!({"swagger": "2.0", "info": info(), "paths": paths, "definitions": v2_scalars(&schemas.definitions)});
    let v3 = by_group_version
        .into_iter()
        .map(|(gv, (paths, roots))| {
            let used = definitions::reachable(&schemas.definitions, roots);
            let components: Map<String, Value> =
                used.iter().filter_map(|n| Some((n.clone(), to_v3(schemas.definitions.get(n)?)))).collect();
            let doc =
                json!({"openapi": "3.0.0", "info": info(), "paths": paths, "components": {"schemas": components}});
            let bytes = serde_json::to_vec(&doc).expect("JSON values serialize");
            (gv, (content_hash(&bytes), bytes))
        })
        .collect();
    Documents {
        v2_protobuf: gnostic::document(&v2),
        v2_json: serde_json::to_vec(&v2).expect("JSON values serialize"),
        v3,
    }
}

fn json_response(bytes: &[u8]) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes.to_vec()).into_response()
}

/// /openapi/v3: where each group-version's document is.
pub fn v3_index() -> Response {
    let paths: Map<String, Value> = documents()
        .v3
        .iter()
        .map(|(gv, (hash, _))| (gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")})))
        .collect();
    axum::Json(json!({"paths": paths})).into_response()
}

/// /openapi/v3/{api/v1 | apis/GROUP/VERSION}.
pub fn v3_group_version(gv: &str) -> Option<Response> {
    let (_, bytes) = documents().v3.get(gv.trim_matches('/'))?;
    Some(json_response(bytes))
}

/// /openapi/v2: protobuf when asked for (kubectl), JSON otherwise.
pub fn v2(accept: Option<&str>) -> Response {
    if accept.is_some_and(|a| a.contains("protobuf")) {
        return ([(header::CONTENT_TYPE, PROTOBUF)], documents().v2_protobuf.clone()).into_response();
    }
    json_response(&documents().v2_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_wraps_described_refs_and_points_into_components() {
        let v2 = json!({"properties": {
            "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec", "description": "Its spec."},
            "items": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}},
        }});
        assert_eq!(
            to_v3(&v2),
            json!({"properties": {
                "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}], "description": "Its spec."},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}},
            }})
        );
    }

    #[test]
    fn each_group_version_document_holds_its_kinds_and_what_they_use() {
        let docs = documents();
        let (_, apps) = &docs.v3["apis/apps/v1"];
        let apps: Value = serde_json::from_slice(apps).unwrap();
        let schemas = apps["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("io.k8s.api.apps.v1.Deployment"));
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Node"), "only what apps/v1's kinds use");
        let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["parameters"][0]["schema"]["type"], "string");
        assert!(docs.v3.contains_key("apis/batch/v1beta1"));
        let int_or_string = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
        assert!(schemas[int_or_string].get("type").is_none(), "v3 keeps x-kubernetes-int-or-string alone");
        let v2: Value = serde_json::from_slice(&docs.v2_json).unwrap();
        assert_eq!(
            (v2["definitions"][int_or_string]["type"].as_str(), v2["definitions"][int_or_string]["format"].as_str()),
            (Some("string"), Some("int-or-string"))
        );
        let text = String::from_utf8_lossy(&docs.v3["apis/apps/v1"].1).to_string();
        assert!(!text.contains(REF_PREFIX), "no v2 reference is left");
    }
}
