//! The OpenAPI documents, with every served kind's real schema (definitions.rs):
//! - /openapi/v2: one document, JSON or — as kubectl 1.20–1.26 ask for it — gnostic protobuf (gnostic.rs);
//!   kubectl reads its schemas for `explain`, client-side validation and strategic merge patches;
//! - /openapi/v3: an index of group-versions, each naming its document by a content hash, and
//!   /openapi/v3/{group-version}: that group-version's paths and the schemas its kinds use (kubectl 1.27+).
//!
//! The paths are one PATCH operation per kind, taking `dryRun` (kubectl's `diff` looks for it) and
//! `fieldValidation` (so kubectl 1.27+ sends `fieldValidation=Strict` and lets the server validate).
//! The documents are built at the first request, and again after the custom kinds changed.

mod definitions;
mod gnostic;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

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

/// The documents for the kinds served now.
fn documents() -> Arc<Documents> {
    static DOCUMENTS: RwLock<Option<(u64, Arc<Documents>)>> = RwLock::new(None);
    let generation = crate::resources::custom_kinds::generation();
    if let Some((built, docs)) = DOCUMENTS.read().expect("openapi documents").as_ref() {
        if *built == generation {
            return docs.clone();
        }
    }
    let docs = Arc::new(build_documents(&crate::resources::custom_kinds::versions()));
    *DOCUMENTS.write().expect("openapi documents") = Some((generation, docs.clone()));
    docs
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
        "consumes": PATCH_TYPES,
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
/// The request content types kube-apiserver's PATCH takes for a built-in kind (kubectl 1.27+ look for
/// strategic merge patch here before they compute one from the v3 schemas).
const PATCH_TYPES: [&str; 4] = [
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// meta/v1 Patch: the schema of every PATCH body.
const PATCH_SCHEMA: &str = definitions::PATCH;
const STATUS_SCHEMA: &str = definitions::STATUS;
const SCALE_SCHEMA: &str = definitions::SCALE;

/// kube-apiserver's operationId part for a group and version: `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
fn operation_group(kind: &ResourceKind) -> String {
    let capitalized = |word: &str| {
        let mut chars = word.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
    };
    let group =
        if kind.group.is_empty() { "core".to_string() } else { kind.group.trim_end_matches(".k8s.io").to_string() };
    let group: String = group.split('.').map(capitalized).collect();
    format!("{group}{}", capitalized(kind.version))
}

/// The OpenAPI v3 path items of `kind`, as kube-apiserver publishes them: the collection (list, create,
/// deletecollection where served), the object (read, replace, patch, delete) and its status and scale
/// subresources, each operation with its query parameters, request content types and answers.
fn v3_path_items(kind: &'static ResourceKind, definition: &str) -> Vec<(String, Value)> {
    let base = format!("/{}", group_version_path(kind));
    let (collection, scope) = if kind.namespaced {
        (format!("{base}/namespaces/{{namespace}}/{}", kind.plural), "Namespaced")
    } else {
        (format!("{base}/{}", kind.plural), "")
    };
    let object = format!("{collection}/{{name}}");
    let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let query = |name: &str, description: &str| json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}});
    let write_parameters = json!([
        query("dryRun", "When present, indicates that modifications should not be persisted."),
        query("fieldManager", "A name associated with the actor or entity that is making these changes."),
        query("fieldValidation", "How the server treats unknown or duplicate fields: Ignore, Warn or Strict."),
    ]);
    let answers = |codes: &[&str], answer: &str| -> Value {
        let content: Map<String, Value> =
            ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
                .iter()
                .map(|media| (media.to_string(), json!({"schema": schema(answer)})))
                .collect();
        codes
            .iter()
            .map(|code| (code.to_string(), json!({"description": "OK", "content": content})))
            .collect::<Map<_, _>>()
            .into()
    };
    let group = operation_group(kind);
    // kube-apiserver's operationIds: readCoreV1NamespacedPod, deleteCoreV1CollectionNamespacedPod, …
    let id = |verb: &str, infix: &str, suffix: &str| format!("{verb}{group}{infix}{scope}{}{suffix}", kind.kind);
    let operation = |id: String, action: &str, parameters: Value, body: Option<Value>, codes: &[&str], answer: &str| {
        let mut op = json!({
            "operationId": id,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": parameters,
            "responses": answers(codes, answer),
        });
        if let Some(body) = body {
            op["requestBody"] = body;
        }
        op
    };
    let whole = |answer: &str| json!({"content": {"*/*": {"schema": schema(answer)}}, "required": true});
    let patch_body = || {
        let content: Map<String, Value> =
            PATCH_TYPES.iter().map(|media| (media.to_string(), json!({"schema": schema(PATCH_SCHEMA)}))).collect();
        json!({"content": content, "required": true})
    };
    let mut patch_parameters = write_parameters.clone();
    if let Some(list) = patch_parameters.as_array_mut() {
        list.push(query(
            "force",
            "Force is going to \"force\" Apply requests. It must be unset for non-apply patches.",
        ));
    }
    let list_parameters = json!([
        query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
        query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
        query("limit", "limit is a maximum number of responses to return for a list call."),
        query("continue", "The continue option should be set when retrieving more results from the server."),
        query("resourceVersion", "Shows changes that occur after that particular version of a resource."),
        query("watch", "Watch for changes to the described resources."),
    ]);
    let list = format!("{definition}List");
    let mut collection_item = json!({
        "get": operation(id("list", "", ""), "list", list_parameters, None, &["200"], &list),
        "post": operation(id("create", "", ""), "post", write_parameters.clone(), Some(whole(definition)), &["200", "201", "202"], definition),
    });
    if super::objects::serves_delete_collection(kind) {
        collection_item["delete"] =
            operation(id("delete", "Collection", ""), "deletecollection", json!([]), None, &["200"], STATUS_SCHEMA);
    }
    let object_item = json!({
        "get": operation(id("read", "", ""), "get", json!([]), None, &["200"], definition),
        "put": operation(id("replace", "", ""), "put", write_parameters.clone(), Some(whole(definition)), &["200", "201"], definition),
        "patch": operation(id("patch", "", ""), "patch", patch_parameters.clone(), Some(patch_body()), &["200", "201"], definition),
        "delete": operation(id("delete", "", ""), "delete", json!([]), None, &["200", "202"], definition),
    });
    let mut items = vec![(collection, collection_item), (object.clone(), object_item)];
    let mut subresource = |name: &str, answer: &str, suffix: &str| {
        let item = json!({
            "get": operation(id("read", "", suffix), "get", json!([]), None, &["200"], answer),
            "put": operation(id("replace", "", suffix), "put", write_parameters.clone(), Some(whole(answer)), &["200", "201"], answer),
            "patch": operation(id("patch", "", suffix), "patch", patch_parameters.clone(), Some(patch_body()), &["200", "201"], answer),
        });
        items.push((format!("{object}/{name}"), item));
    };
    if kind.status {
        subresource("status", definition, "Status");
    }
    if crate::control_plane::registry::serves_scale(kind) {
        subresource("scale", SCALE_SCHEMA, "Scale");
    }
    items
}

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

fn build_documents(custom: &[Arc<crate::resources::custom_kinds::CustomVersion>]) -> Documents {
    let schemas = definitions::build(custom);
    let mut paths = Map::new();
    let mut by_group_version: BTreeMap<String, (Map<String, Value>, Vec<String>)> = BTreeMap::new();
    for (kind, definition) in &schemas.kinds {
        let (path, item) = patch_operation(kind);
        let entry = by_group_version.entry(group_version_path(kind)).or_default();
        entry.0.extend(v3_path_items(kind, definition));
        entry.1.push(definition.clone());
        entry.1.extend([format!("{definition}List"), PATCH_SCHEMA.to_string(), STATUS_SCHEMA.to_string()]);
        if crate::control_plane::registry::serves_scale(kind) {
            entry.1.push(SCALE_SCHEMA.to_string());
        }
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
    let docs = documents();
    let (_, bytes) = docs.v3.get(gv.trim_matches('/'))?;
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
        assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
        let collection = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"];
        assert_eq!(collection["delete"]["operationId"], "deleteAppsV1CollectionNamespacedDeployment");
        assert!(apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["put"].is_object());
        assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentList"));
        assert!(schemas.contains_key(PATCH_SCHEMA) && schemas.contains_key(SCALE_SCHEMA));
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
