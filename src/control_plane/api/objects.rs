//! Every resource kind through one set of HTTP handlers: each request is routed (verb, subresource),
//! authorized, its body decoded, and then handed to the registry (control_plane/registry), which holds
//! what Kubernetes does on create, update, patch and delete. Lists and gets are answered here (selectors,
//! Table answers); watches in watch_stream.rs.

// A handler step's error is the HTTP answer itself; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::authz::authorize;
use super::error_status::error_status;
use super::identity::Identity;
use super::list_pages::{list_metadata, PageError};
use super::list_query::bad_selector;
use super::object_path::ObjectPath;
pub use super::object_query::ObjectQuery;
use super::state::ApiState;
use super::status::status;
use crate::control_plane::registry::{served, DeleteOptions, Part, Registry, RegistryError, WriteOptions};
use crate::resources::kinds::ResourceKind;
use crate::resources::table::wants_table;
use crate::resources::validation::FieldError;
use crate::resources::{meta, patch, tables};

fn header(headers: &HeaderMap, name: axum::http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// One request on an object path. `identity` is already known to be authenticated or not.
///
/// Answered off the async workers (off_workers): writes commit to disk, lists and a watch's first events
/// read and encode whole collections; a watch's stream then runs on them.
pub async fn handle(
    state: Arc<ApiState>,
    identity: Identity,
    method: Method,
    path: ObjectPath,
    query: ObjectQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A watch streams JSON events; every other answer is written as protobuf when the client asks so.
    let accept = (!query.is_watch()).then(|| headers.get(axum::http::header::ACCEPT).cloned()).flatten();
    let answer =
        super::off_workers::off_workers(move || respond(state, identity, method, path, query, headers, body)).await;
    super::protobuf::answer_as_asked(accept, answer).await
}

fn respond(
    state: Arc<ApiState>,
    identity: Identity,
    method: Method,
    path: ObjectPath,
    query: ObjectQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = path.kind;
    // Subresources are routed explicitly: one not served here is a 404, never the parent object.
    match path.subresource.as_deref() {
        None => {}
        Some("status") if kind.status => {}
        Some("binding") if kind.kind == "Pod" && method == Method::POST => {
            return super::binding::create(&state, &identity, &path, &body);
        }
        Some("eviction") if kind.kind == "Pod" && method == Method::POST && path.name.is_some() => {
            return super::eviction::create(&state, &identity, &path, &query, &headers, &body);
        }
        Some("scale") if crate::control_plane::registry::serves_scale(kind) && path.name.is_some() => {
            return scale(&state, &identity, &path, &method, &headers, &body);
        }
        Some(_) => return super::status::not_found(),
    }
    let verb = match (&method, path.name.is_some()) {
        (&Method::GET, false) if query.is_watch() => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) if serves_delete_collection(kind) => "deletecollection",
        _ => {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            )
        }
    };
    let body = match request_body(verb, &headers, body, kind) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let body_name = if verb == "create" {
        serde_json::from_slice::<Value>(&body).ok().and_then(|b| meta::name(&b).map(String::from))
    } else {
        None
    };
    // A list or watch of one object by name is authorized as that object (a node's single-object watches).
    let listed_name = if matches!(verb, "list" | "watch") { query.list.single_name() } else { None };
    let name_for_authz = path.name.clone().or(body_name).or(listed_name.clone());
    if let Some(denied) = authorize(
        &identity,
        verb,
        kind,
        path.namespace.as_deref(),
        name_for_authz.as_deref(),
        path.subresource.as_deref(),
    ) {
        return denied;
    }
    let store = state.store.as_ref();
    if let Some(denied) = super::authz::node_owns_pod(&identity, verb, &path, store) {
        return denied;
    }
    let authz_path = ObjectPath { name: path.name.clone().or(listed_name), ..path.clone() };
    if let Some(denied) = super::authz::node_object_rules(&identity, verb, &authz_path, &body, store) {
        return denied;
    }
    let accept = header(&headers, axum::http::header::ACCEPT);
    let registry = state.registry.as_ref();
    match verb {
        "watch" => match state.watch_quota.take(&identity) {
            Ok(slot) => super::watch_stream::watch(&state, kind, path.namespace.as_deref(), &query, accept, slot),
            Err(refused) => refused.response(),
        },
        "list" => list(&state, kind, path.namespace.as_deref(), &query, accept),
        "get" => get(registry, &path, &query, accept),
        "deletecollection" => match delete_collection(registry, kind, path.namespace.as_deref(), &query, &body) {
            Ok(list) => super::protobuf::answer(accept, StatusCode::OK, list),
            Err(e) => error_status(&e),
        },
        _ => {
            let content_type = header(&headers, axum::http::header::CONTENT_TYPE).unwrap_or("");
            let user_agent = header(&headers, axum::http::header::USER_AGENT).unwrap_or("");
            let user = crate::control_plane::registry::User {
                name: identity.user_name(),
                groups: identity.groups().into_iter().map(String::from).collect(),
            };
            let written = write_options(verb, &query, content_type, user_agent).and_then(|mut options| {
                options.user = Some(user);
                write(registry, verb, &path, &query, &body, content_type, options)
            });
            match written {
                Ok((code, object)) => (code, Json(object)).into_response(),
                Err(e) => error_status(&e),
            }
        }
    }
}

/// The options of a write from its query: who writes (fieldManager, else the User-Agent's product, as
/// kube-apiserver names a manager), dryRun, fieldValidation, force — checked as PatchOptions are.
pub(super) fn write_options(
    verb: &str,
    query: &ObjectQuery,
    content_type: &str,
    user_agent: &str,
) -> Result<WriteOptions, RegistryError> {
    let apply = verb == "patch" && crate::control_plane::registry::is_apply(content_type);
    let force = query.force.is_some();
    if force && !apply {
        return Err(RegistryError::InvalidOptions {
            kind: if verb == "patch" { "PatchOptions" } else { "UpdateOptions" },
            causes: vec![FieldError {
                field: "force".into(),
                message: "Forbidden: may not be specified for non-apply patch".into(),
            }],
        });
    }
    let given = query.field_manager.clone().filter(|m| !m.is_empty());
    if apply && given.is_none() {
        return Err(RegistryError::field_manager_required());
    }
    if given.as_ref().is_some_and(|m| m.len() > 128) {
        return Err(RegistryError::InvalidOptions {
            kind: if verb == "patch" { "PatchOptions" } else { "UpdateOptions" },
            causes: vec![FieldError {
                field: "fieldManager".into(),
                message: "Too long: may not be more than 128 bytes".into(),
            }],
        });
    }
    let product = user_agent.split('/').next().unwrap_or("").trim();
    let field_manager = given.or_else(|| (!product.is_empty()).then(|| product.chars().take(128).collect()));
    Ok(WriteOptions {
        dry_run: query.dry_run.as_deref() == Some("All"),
        strict_fields: query.field_validation.as_deref() == Some("Strict"),
        field_manager,
        force: crate::resources::go_bool::query_flag(query.force.as_deref()),
        user: None,
    })
}

/// A create, update, patch or delete through the registry: the answer's code and object.
pub(super) fn write(
    registry: &Registry,
    verb: &str,
    path: &ObjectPath,
    query: &ObjectQuery,
    body: &[u8],
    content_type: &str,
    options: WriteOptions,
) -> Result<(StatusCode, Value), RegistryError> {
    let (kind, namespace, name) = (path.kind, path.namespace.as_deref(), path.name.as_deref().unwrap_or(""));
    let part = if path.subresource.as_deref() == Some("status") { Part::Status } else { Part::Object };
    match verb {
        "create" => registry.create(kind, namespace, parse_body(body)?, options).map(|o| (StatusCode::CREATED, o)),
        "update" => {
            registry.update(kind, namespace, name, parse_body(body)?, part, options).map(|o| (StatusCode::OK, o))
        }
        "patch" => {
            // Server-side apply of an object not there yet creates it.
            let patched = registry.patch(kind, namespace, name, body, content_type, part, options)?;
            let code = if patched.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((code, patched.object))
        }
        _ => {
            let user = options.user;
            let options = DeleteOptions { user, ..delete_options(query, body) };
            registry.delete(kind, namespace, name, options).map(|o| (StatusCode::OK, o))
        }
    }
}

/// A delete's options: its DeleteOptions body, and what the query says where the body does not.
fn delete_options(query: &ObjectQuery, body: &[u8]) -> DeleteOptions {
    let mut options: DeleteOptions =
        if body.is_empty() { DeleteOptions::default() } else { serde_json::from_slice(body).unwrap_or_default() };
    options.grace_period_seconds = options.grace_period_seconds.or(query.grace_period_seconds);
    options.propagation_policy = options.propagation_policy.or(query.propagation_policy.clone());
    if query.dry_run.is_some() {
        options.dry_run.extend(query.dry_run.clone());
    }
    options
}

/// Whether DELETE on a collection is served for `kind`: as kube-apiserver 1.30, for every kind but
/// namespaces (a namespace is only ever deleted by name) and services.
pub fn serves_delete_collection(kind: &ResourceKind) -> bool {
    !(kind.group.is_empty() && matches!(kind.kind, "Namespace" | "Service"))
}

/// DELETE of a collection: every object the selectors keep, each deleted as a delete by name would
/// delete it (finalizers, graceful deletion, propagation); the answer lists them as deleted or marked.
fn delete_collection(
    registry: &Registry,
    kind: &'static ResourceKind,
    namespace: Option<&str>,
    query: &ObjectQuery,
    body: &[u8],
) -> Result<Value, RegistryError> {
    let filter = query.list.filter().map_err(|e| RegistryError::BadRequest(e.to_string()))?;
    let (items, revision) = registry.list(kind, namespace)?;
    let options = delete_options(query, body);
    let mut deleted = Vec::new();
    for item in items.iter().filter(|o| filter.keeps(o)) {
        let item_namespace = item.pointer("/metadata/namespace").and_then(Value::as_str);
        let name = meta::name(item).unwrap_or_default();
        match registry.delete(kind, item_namespace, name, options.clone()) {
            Ok(object) => deleted.push(object),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json!({
        "apiVersion": kind.api_version(),
        "kind": format!("{}List", kind.kind),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": deleted,
    }))
}

fn parse_body(body: &[u8]) -> Result<Value, RegistryError> {
    serde_json::from_slice(body).map_err(|e| RegistryError::BadRequest(format!("the body is not valid JSON: {e}")))
}

/// A list, in pages when the client asks for a `limit` (list_pages.rs).
fn list(
    state: &ApiState,
    kind: &'static ResourceKind,
    namespace: Option<&str>,
    query: &ObjectQuery,
    accept: Option<&str>,
) -> Response {
    let filter = match query.list.filter() {
        Ok(f) => f,
        Err(e) => return bad_selector(e),
    };
    let selector = |s: &Option<String>| s.clone().unwrap_or_default();
    let (labels, fields) = (selector(&query.list.label_selector), selector(&query.list.field_selector));
    let scope = format!("{}/{}|{}|{labels}|{fields}", kind.group, kind.plural, namespace.unwrap_or(""));
    let counted = labels.is_empty() && fields.is_empty();
    // Only what a selector needs is parsed before paging; the page's items are parsed for the answer.
    let read = || {
        let (items, revision) = state.registry.list_stored(kind, namespace)?;
        let kept = if counted {
            items
        } else {
            items.into_iter().filter(|s| filter.keeps(&served(kind, &s.value, s.revision))).collect()
        };
        Ok::<_, RegistryError>((kept, revision))
    };
    let page = match state.pages.page(&scope, query.limit, query.continue_token.as_deref(), counted, read) {
        Ok(Ok(page)) => page,
        Ok(Err(e @ PageError::Expired)) => return status(StatusCode::GONE, "Expired", e.to_string()),
        Ok(Err(e)) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
        Err(e) => return error_status(&e),
    };
    let objects: Vec<Value> = page.items.iter().map(|s| served(kind, &s.value, s.revision)).collect();
    if wants_table(accept) {
        let mut table = tables::table(kind, &objects, page.revision, query.list.include_object.as_deref());
        table["metadata"] = list_metadata(&page);
        return Json(table).into_response();
    }
    let list = json!({
        "apiVersion": kind.api_version(),
        "kind": format!("{}List", kind.kind),
        "metadata": list_metadata(&page),
        "items": objects,
    });
    super::protobuf::answer(accept, StatusCode::OK, list)
}

fn get(registry: &Registry, path: &ObjectPath, query: &ObjectQuery, accept: Option<&str>) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    match registry.get(kind, path.namespace.as_deref(), name) {
        Ok(object) => {
            if wants_table(accept) {
                let revision = meta::resource_version(&object).unwrap_or(0);
                let table = tables::table(kind, &[object], revision, query.list.include_object.as_deref());
                return Json(table).into_response();
            }
            super::protobuf::answer(accept, StatusCode::OK, object)
        }
        Err(e) => error_status(&e),
    }
}

/// GET, PUT or PATCH of a workload's `scale` subresource.
fn scale(
    state: &ApiState,
    identity: &Identity,
    path: &ObjectPath,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let verb = match *method {
        Method::GET => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        _ => {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            )
        }
    };
    let (kind, namespace, name) = (path.kind, path.namespace.as_deref(), path.name.as_deref().unwrap_or(""));
    if let Some(denied) = authorize(identity, verb, kind, namespace, Some(name), Some("scale")) {
        return denied;
    }
    let answer = match verb {
        "get" => state.registry.scale(kind, namespace, name),
        "update" => {
            let precondition = serde_json::from_slice::<Value>(body).ok().and_then(|b| meta::resource_version(&b));
            state.registry.update_scale(kind, namespace, name, precondition.is_some(), |_| {
                serde_json::from_slice(body)
                    .map_err(|_| RegistryError::BadRequest("the body is not a Scale object".into()))
            })
        }
        _ => {
            let content_type = header(headers, axum::http::header::CONTENT_TYPE).unwrap_or("");
            let precondition = crate::control_plane::registry::patch_has_precondition(body, content_type);
            state.registry.update_scale(kind, namespace, name, precondition, |current| {
                patch::apply(current, body, content_type).map_err(|e| RegistryError::PatchInvalid(e.to_string()))
            })
        }
    };
    match answer {
        Ok(scale) => Json(scale).into_response(),
        Err(e) => error_status(&e),
    }
}

/// A create or update body as JSON: sent so, or as protobuf (kubectl 1.32+'s generators and client-go's
/// default for built-in kinds), read into the JSON every later step reads. Other media get a 415, on
/// which kubectl falls back to JSON.
fn request_body(verb: &str, headers: &HeaderMap, body: Bytes, kind: &ResourceKind) -> Result<Bytes, Box<Response>> {
    if !matches!(verb, "create" | "update") {
        return Ok(body);
    }
    let media = header(headers, axum::http::header::CONTENT_TYPE).unwrap_or("application/json");
    if media.starts_with(super::protobuf::MEDIA_TYPE) {
        return match super::protobuf::object_as_json(&body, kind) {
            Ok(object) => Ok(Bytes::from(serde_json::to_vec(&object).expect("json"))),
            Err(e) => Err(Box::new(status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()))),
        };
    }
    if !media.starts_with("application/json") {
        return Err(Box::new(super::status::unsupported_media_type(media)));
    }
    Ok(body)
}
