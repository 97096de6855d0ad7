//! The OpenAPI answers kubectl needs before `apply`: /openapi/v3 (an index of group-versions) and
//! /openapi/v3/{group-version} with one PATCH operation per kind that takes `fieldValidation` — which tells
//! kubectl 1.27+ that the server validates fields, so it sends `fieldValidation=Strict` instead of
//! validating on its own — and /openapi/v2 for older kubectl (1.20), which insists on downloading a
//! protobuf document for its client-side validation: a valid document with no definitions, so every object
//! passes to the server's own validation.
//!
//! The protobuf is the gnostic OpenAPIv2 `Document` message written by hand (swagger = field 1, info = 2
//! with title = 1 and version = 2, paths = 8): three fields do not justify a protobuf code generator.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map};

use crate::resources::kinds::{ResourceKind, KINDS};

/// What the Kubernetes API server answers (kubectl asks with `…spec.v2@v1.0+protobuf`, but `@` is not a valid
/// MIME token and Go's parser refuses it in a Content-Type).
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

fn group_version_path(kind: &ResourceKind) -> String {
    if kind.group.is_empty() {
        format!("api/{}", kind.version)
    } else {
        format!("apis/{}/{}", kind.group, kind.version)
    }
}

/// /openapi/v3: where each group-version's document is.
pub fn v3_index() -> Response {
    let mut paths = Map::new();
    for kind in KINDS {
        let gv = group_version_path(kind);
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", env!("CARGO_PKG_VERSION"))}),
        );
    }
    Json(json!({"paths": paths})).into_response()
}

/// /openapi/v3/{api/v1 | apis/GROUP/VERSION}: the PATCH operations, each saying it takes fieldValidation.
pub fn v3_group_version(gv: &str) -> Option<Response> {
    let parts: Vec<&str> = gv.trim_matches('/').split('/').collect();
    let (group, version) = match parts.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    let kinds: Vec<&ResourceKind> = KINDS.iter().filter(|k| k.group == group && k.version == version).collect();
    if kinds.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for k in kinds {
        let base = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let path = if k.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{base}/{}/{{name}}", k.plural)
        };
        paths.insert(
            path,
            json!({"patch": {
                "operationId": format!("patch{}", k.kind),
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": k.group, "version": k.version, "kind": k.kind},
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                ],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBERNETES_MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    });
    Some(Json(doc).into_response())
}

fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
    // Wire type 2 (length-delimited); every length here is below 128, so one byte.
    let mut out = vec![(number << 3) | 2, bytes.len() as u8];
    out.extend_from_slice(bytes);
    out
}

fn v2_protobuf() -> Vec<u8> {
    let version = format!("v1.{}.0", super::discovery::KUBERNETES_MINOR);
    let info = [field(1, b"Kubernetes"), field(2, version.as_bytes())].concat();
    [field(1, b"2.0"), field(2, &info), field(8, b"")].concat()
}

/// /openapi/v2: protobuf when asked for (kubectl), JSON otherwise.
pub fn v2(accept: Option<&str>) -> Response {
    if accept.is_some_and(|a| a.contains("protobuf")) {
        return ([(header::CONTENT_TYPE, PROTOBUF)], v2_protobuf()).into_response();
    }
    let version = format!("v1.{}.0", super::discovery::KUBERNETES_MINOR);
    Json(json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {}, "definitions": {}}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_document_bytes() {
        let doc = v2_protobuf();
        assert_eq!(&doc[..5], b"\x0a\x032.0");
        assert_eq!(doc[5], 0x12, "info is field 2");
        assert_eq!(&doc[doc.len() - 2..], b"\x42\x00", "empty paths is field 8");
    }
}
