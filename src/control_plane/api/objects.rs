//! Every resource kind through one set of handlers, with Kubernetes' semantics: create (uid, timestamps,
//! generateName, namespace checks, validation), get and list (selectors, Table answers), update (optimistic
//! concurrency on resourceVersion, status kept apart from the main resource), patch (JSON, merge,
//! strategic merge, apply), delete, and watch (watch_stream.rs).

// A handler step's error is the HTTP answer itself; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::authz::authorize;
use super::identity::Identity;
use super::list_query::bad_selector;
use super::object_path::ObjectPath;
pub use super::object_query::ObjectQuery;
pub use super::served_form::served;
use super::served_form::{client_form, stored_form};
use super::service_allocation;
use super::state::ApiState;
use super::status::{status, status_object};
pub use super::store_errors::store_error;
use crate::control_plane::store::{Store, StoreError};
use crate::resources::kinds::ResourceKind;
use crate::resources::table::wants_table;
use crate::resources::{hpa_v1, meta, patch, tables, validation};

fn header(headers: &HeaderMap, name: axum::http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn invalid(kind: &ResourceKind, name: &str, errors: Vec<validation::FieldError>) -> Response {
    let causes: Vec<Value> =
        errors.iter().map(|e| json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.field})).collect();
    let joined: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
    let code = StatusCode::UNPROCESSABLE_ENTITY;
    let mut body = status_object(code, "Invalid", format!("{} {name:?} is invalid: {}", kind.kind, joined.join(", ")));
    body["details"] = json!({"name": name, "group": kind.group, "kind": kind.kind, "causes": causes});
    (code, Json(body)).into_response()
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
        Some("scale") if super::scale::serves(kind.kind) && path.name.is_some() => {
            let verb = match method {
                Method::GET => "get",
                Method::PUT => "update",
                _ => "patch",
            };
            let (ns, name) = (path.namespace.as_deref(), path.name.as_deref());
            if let Some(denied) = authorize(&identity, verb, kind, ns, name, Some("scale")) {
                return denied;
            }
            return super::scale::handle(state.store.as_ref(), &path, &method, &headers, &body);
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
    let body = &body;
    match verb {
        "watch" => match state.watch_quota.take(&identity) {
            Ok(slot) => super::watch_stream::watch(&state, kind, path.namespace.as_deref(), &query, accept, slot),
            Err(refused) => refused.response(),
        },
        "list" => list(store, kind, path.namespace.as_deref(), &query, accept),
        "get" => get(store, &path, &query, accept),
        "create" => create(store, &path, &query, body, &admission(&state)),
        "update" => update(store, &path, &query, body, &admission(&state)),
        "patch" => {
            let content_type = header(&headers, axum::http::header::CONTENT_TYPE).unwrap_or("");
            patch_object(store, &path, &query, body, content_type, &admission(&state))
        }
        _ => delete(store, &path, &query, body),
    }
}

fn list(
    store: &dyn Store,
    kind: &ResourceKind,
    namespace: Option<&str>,
    query: &ObjectQuery,
    accept: Option<&str>,
) -> Response {
    let filter = match query.list.filter() {
        Ok(f) => f,
        Err(e) => return bad_selector(e),
    };
    let (items, revision) = match store.list(&kind.prefix(namespace)) {
        Ok(r) => r,
        Err(e) => return store_error(kind, "", e),
    };
    let objects: Vec<Value> =
        items.iter().map(|s| served(kind, &s.value, s.revision)).filter(|o| filter.keeps(o)).collect();
    if wants_table(accept) {
        return Json(tables::table(kind.kind, &objects, revision, query.list.include_object.as_deref()))
            .into_response();
    }
    let list = json!({
        "apiVersion": kind.api_version(),
        "kind": format!("{}List", kind.kind),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": objects,
    });
    super::protobuf::answer(accept, StatusCode::OK, list)
}

fn get(store: &dyn Store, path: &ObjectPath, query: &ObjectQuery, accept: Option<&str>) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    match store.get(&kind.key(path.namespace.as_deref(), name)) {
        Ok(Some(s)) => {
            let object = served(kind, &s.value, s.revision);
            if wants_table(accept) {
                let table = tables::table(kind.kind, &[object], s.revision, query.list.include_object.as_deref());
                return Json(table).into_response();
            }
            super::protobuf::answer(accept, StatusCode::OK, object)
        }
        Ok(None) => store_error(kind, name, StoreError::NotFound(String::new())),
        Err(e) => store_error(kind, name, e),
    }
}

/// With `fieldValidation=Strict`, a field the kind does not have is a 400, worded as Kubernetes words it.
fn strict_fields(kind: &ResourceKind, query: &ObjectQuery, object: &Value) -> Result<(), Response> {
    if query.field_validation.as_deref() != Some("Strict") {
        return Ok(());
    }
    let unknown = crate::resources::known_fields::unknown_fields(kind.kind, object);
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    Err(status(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            kind.kind,
            kind.version,
            kind.kind,
            fields.join(", ")
        ),
    ))
}

/// The checks every object passes before it is stored: its namespace (must match the URL and exist),
/// the required fields. Returns the object ready to store.
fn admit(store: &dyn Store, path: &ObjectPath, mut object: Value) -> Result<Value, Response> {
    let kind = path.kind;
    if !object.is_object() {
        return Err(status(StatusCode::BAD_REQUEST, "BadRequest", "the body is not a JSON object"));
    }
    if object.get("metadata").is_none_or(|m| !m.is_object()) {
        object["metadata"] = json!({});
    }
    if kind.namespaced {
        let ns = path.namespace.clone().unwrap_or_else(|| "default".into());
        match object.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(given) if given != ns => {
                return Err(status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => object["metadata"]["namespace"] = json!(ns),
        }
        let namespaces = crate::resources::kinds::find("", "v1", "namespaces").expect("namespaces are served");
        match store.get(&namespaces.key(None, &ns)) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(store_error(namespaces, &ns, StoreError::NotFound(String::new()))),
            Err(e) => return Err(store_error(namespaces, &ns, e)),
        }
    }
    object["apiVersion"] = match hpa_v1::is_v1(kind) {
        true => json!(hpa_v1::STORED_API_VERSION),
        false => json!(kind.api_version()),
    };
    object["kind"] = json!(kind.kind);
    if kind.kind == "Secret" {
        crate::resources::secret::normalize(&mut object);
    }
    if kind.kind == "ReplicationController" {
        crate::resources::workload_defaults::replication_controller_labels(&mut object);
    }
    let errors = validation::validate(kind.kind, &object);
    if !errors.is_empty() {
        return Err(invalid(kind, meta::name(&object).unwrap_or(""), errors));
    }
    meta::strip_resource_version(&mut object);
    Ok(object)
}

fn parse_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|e| status(StatusCode::BAD_REQUEST, "BadRequest", format!("the body is not valid JSON: {e}")))
}

fn dry_run(query: &ObjectQuery) -> bool {
    query.dry_run.as_deref() == Some("All")
}

/// The server's settings that defaulting on create needs.
pub struct Admission {
    /// tolerationSeconds of the default not-ready/unreachable NoExecute tolerations.
    pub toleration_seconds: u64,
    /// Where Services' ClusterIPs come from.
    pub service_network: ipnet::Ipv4Net,
}

fn admission(state: &ApiState) -> Admission {
    Admission {
        toleration_seconds: state.pod_eviction_timeout_seconds.load(std::sync::atomic::Ordering::Relaxed),
        service_network: state.service_network(),
    }
}

pub(super) fn create(
    store: &dyn Store,
    path: &ObjectPath,
    query: &ObjectQuery,
    body: &[u8],
    admission: &Admission,
) -> Response {
    let kind = path.kind;
    let mut object = match parse_body(body) {
        Ok(o) => stored_form(kind, o),
        Err(r) => return r,
    };
    if meta::name(&object).is_none_or(str::is_empty) {
        if let Some(prefix) = object.pointer("/metadata/generateName").and_then(Value::as_str).map(String::from) {
            object["metadata"]["name"] = json!(format!("{prefix}{}", meta::random_suffix()));
        }
    }
    if let Err(r) = well_formed(kind, &object).and_then(|_| strict_fields(kind, query, &object)) {
        return r;
    }
    let mut object = match admit(store, path, object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    meta::stamp_new(&mut object);
    if tracks_generation(kind) {
        object["metadata"]["generation"] = json!(1);
    }
    for field in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
        if let Some(m) = object["metadata"].as_object_mut() {
            m.remove(field);
        }
    }
    defaults(kind, &mut object);
    if kind.kind == "PersistentVolumeClaim" {
        crate::resources::storage_defaults::default_class(&mut object, &storage_classes(store));
    }
    if kind.kind == "Pod" {
        crate::resources::pod::add_default_tolerations(&mut object, admission.toleration_seconds);
    }
    let name = meta::name(&object).unwrap_or_default().to_string();
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from);
    if dry_run(query) {
        return (StatusCode::CREATED, Json(client_form(kind, object))).into_response();
    }
    let key = kind.key(namespace.as_deref(), &name);
    let allocated = if kind.kind == "Service" {
        match service_allocation::prepare(store, admission.service_network, &key, &mut object, None) {
            Ok(a) => Some(a),
            Err(errors) => return invalid(kind, &name, errors),
        }
    } else {
        None
    };
    match store.create(&key, &serde_json::to_vec(&object).expect("json")) {
        Ok(revision) => {
            meta::set_resource_version(&mut object, revision);
            (StatusCode::CREATED, Json(client_form(kind, object))).into_response()
        }
        Err(e) => {
            if let Some(a) = allocated {
                a.undo(store);
            }
            store_error(kind, &name, e)
        }
    }
}

/// Every StorageClass, for the DefaultStorageClass admission of a new claim.
fn storage_classes(store: &dyn Store) -> Vec<Value> {
    let classes = crate::resources::kinds::served("storage.k8s.io", "storageclasses");
    store
        .list(&classes.prefix(None))
        .map(|(items, _)| items.iter().filter_map(|s| serde_json::from_slice(&s.value).ok()).collect())
        .unwrap_or_default()
}

/// Kinds whose metadata.generation counts spec changes (their controllers report status.observedGeneration).
fn tracks_generation(kind: &ResourceKind) -> bool {
    matches!(kind.group, "apps" | "batch") || kind.kind == "ReplicationController"
}

/// What the server fills into a spec a client wrote, on create and on every update of the main resource (so
/// a client that leaves the defaults out, as `kubectl apply` does, changes nothing and keeps them).
fn spec_defaults(kind: &ResourceKind, object: &mut Value) {
    crate::resources::workload_defaults::apply(kind.kind, object);
    crate::resources::pod_defaults::apply(kind.kind, object);
}

/// What the server fills in that clients leave out.
fn defaults(kind: &ResourceKind, object: &mut Value) {
    spec_defaults(kind, object);
    if kind.kind == "Job" {
        crate::resources::job_defaults::apply(object);
    }
    if kind.kind == "Service" {
        service_defaults(object);
    }
    if matches!(kind.kind, "PersistentVolume" | "PersistentVolumeClaim" | "StorageClass") {
        crate::resources::storage_defaults::apply(kind.kind, object);
    }
    match kind.kind {
        "Namespace" if object.pointer("/status/phase").is_none() => object["status"] = json!({"phase": "Active"}),
        "Pod" if object.pointer("/status/phase").is_none() => object["status"] = json!({"phase": "Pending"}),
        _ => {}
    }
}

/// What the API server fills in on a Service (allocation aside): type, affinity, traffic policies, and per
/// port the protocol and the targetPort (the port itself).
fn service_defaults(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let ty = spec.entry("type").or_insert(json!("ClusterIP")).as_str().unwrap_or("ClusterIP").to_string();
    if ty == "ExternalName" {
        return;
    }
    spec.entry("sessionAffinity").or_insert(json!("None"));
    spec.entry("internalTrafficPolicy").or_insert(json!("Cluster"));
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        spec.entry("externalTrafficPolicy").or_insert(json!("Cluster"));
    }
    if spec.get("sessionAffinity") == Some(&json!("ClientIP")) {
        spec.entry("sessionAffinityConfig").or_insert(json!({"clientIP": {"timeoutSeconds": 10800}}));
    }
    for port in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(p) = port.as_object_mut() {
            p.entry("protocol").or_insert(json!("TCP"));
            if let Some(number) = p.get("port").cloned() {
                p.entry("targetPort").or_insert(number);
            }
        }
    }
    if ty == "LoadBalancer" && object.pointer("/status/loadBalancer").is_none() {
        object["status"] = json!({"loadBalancer": {}});
    }
}

/// An object whose metadata, spec or status is not an object (`{"metadata":"x"}`, `{"spec":[]}`, from a
/// body or a patch) is refused before anything indexes into it, as Kubernetes' decoder refuses it.
fn well_formed(kind: &ResourceKind, object: &Value) -> Result<(), Response> {
    if !object.is_object() {
        return Err(status(StatusCode::BAD_REQUEST, "BadRequest", "the body is not a JSON object"));
    }
    if !matches!(object.get("metadata"), None | Some(Value::Object(_))) {
        return Err(invalid(
            kind,
            "",
            vec![validation::FieldError {
                field: "metadata".into(),
                message: "Invalid value: must be an object".into(),
            }],
        ));
    }
    for field in ["spec", "status"] {
        if !matches!(object.get(field), None | Some(Value::Null) | Some(Value::Object(_))) {
            return Err(status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "{} in version {:?} cannot be handled as a {}: json: cannot unmarshal {} into Go struct field {}.{field}",
                    kind.kind,
                    kind.version,
                    kind.kind,
                    json_type(&object[field]),
                    kind.kind
                ),
            ));
        }
    }
    Ok(())
}

/// Go's name for a JSON value's type, as its decoder words a mismatch.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Merge what an update may change into the stored object: on /status only the status; on the main
/// resource everything but the status (for kinds with a status subresource), and never uid or
/// creationTimestamp.
fn merge_update(kind: &ResourceKind, old: &Value, mut new: Value, subresource: Option<&str>) -> Value {
    if subresource == Some("status") {
        let mut merged = old.clone();
        merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        return merged;
    }
    // Set by the server only: what the client sent for these is replaced by what is stored.
    for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old.pointer(&format!("/metadata/{field}")) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    spec_defaults(kind, &mut new);
    if tracks_generation(kind) && old.get("spec") != new.get("spec") {
        let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        new["metadata"]["generation"] = json!(generation + 1);
    }
    if kind.status && kind.kind != "Node" {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    new
}

#[allow(clippy::too_many_arguments)]
fn write_update(
    store: &dyn Store,
    path: &ObjectPath,
    query: &ObjectQuery,
    old: &Value,
    merged: Value,
    expected: u64,
    unchanged: bool,
    admission: &Admission,
) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    if meta::name(&merged) != Some(name) {
        let error = validation::FieldError { field: "metadata.name".into(), message: "field is immutable".into() };
        return invalid(kind, name, vec![error]);
    }
    let mut object = match admit(store, path, merged) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let deleting = object.pointer("/metadata/deletionTimestamp").is_some();
    if deleting {
        if let Some(added) = added_finalizer(&old_finalizers(store, path), &object) {
            let error = validation::FieldError {
                field: "metadata.finalizers".into(),
                message: format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [{added}]"),
            };
            return invalid(kind, name, vec![error]);
        }
    }
    // The last finalizer of an object being deleted is gone: the deletion completes now (a pod in graceful
    // deletion, grace > 0, is left to its node's agent).
    let grace = object.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0);
    if deleting && grace == 0 && finalizers(&object).is_empty() && !dry_run(query) {
        return match store.delete(&kind.key(path.namespace.as_deref(), name), Some(expected)) {
            Ok(old) => {
                after_delete(store, kind, &old);
                Json(served(kind, &old.value, old.revision)).into_response()
            }
            Err(e) => store_error(kind, name, e),
        };
    }
    if unchanged || dry_run(query) {
        meta::set_resource_version(&mut object, expected);
        return Json(client_form(kind, object)).into_response();
    }
    let key = kind.key(path.namespace.as_deref(), name);
    let allocated = if kind.kind == "Service" && path.subresource.is_none() {
        service_defaults(&mut object);
        match service_allocation::prepare(store, admission.service_network, &key, &mut object, Some(old)) {
            Ok(a) => Some(a),
            Err(errors) => return invalid(kind, name, errors),
        }
    } else {
        None
    };
    match store.update(&key, &serde_json::to_vec(&object).expect("json"), Some(expected)) {
        Ok(revision) => {
            if allocated.is_some() {
                service_allocation::release_unused(store, &key, old, Some(&object));
            }
            meta::set_resource_version(&mut object, revision);
            Json(client_form(kind, object)).into_response()
        }
        Err(e) => {
            if let Some(a) = allocated {
                a.undo(store);
            }
            store_error(kind, name, e)
        }
    }
}

fn finalizers(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn old_finalizers(store: &dyn Store, path: &ObjectPath) -> Vec<String> {
    let key = path.kind.key(path.namespace.as_deref(), path.name.as_deref().unwrap_or(""));
    let old: Value = match store.get(&key) {
        Ok(Some(s)) => serde_json::from_slice(&s.value).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    finalizers(&old).into_iter().map(String::from).collect()
}

fn added_finalizer(old: &[String], new: &Value) -> Option<String> {
    finalizers(new).into_iter().find(|f| !old.iter().any(|o| o == f)).map(String::from)
}

pub(super) fn update(
    store: &dyn Store,
    path: &ObjectPath,
    query: &ObjectQuery,
    body: &[u8],
    admission: &Admission,
) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    let new = match parse_body(body) {
        Ok(o) => stored_form(kind, o),
        Err(r) => return r,
    };
    if meta::name(&new) != Some(name) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the name of the object does not match the name on the URL",
        );
    }
    let existing = match store.get(&kind.key(path.namespace.as_deref(), name)) {
        Ok(Some(s)) => s,
        Ok(None) => return store_error(kind, name, StoreError::NotFound(String::new())),
        Err(e) => return store_error(kind, name, e),
    };
    let expected = meta::resource_version(&new).unwrap_or(existing.revision);
    if expected != existing.revision {
        return store_error(
            kind,
            name,
            StoreError::Conflict { key: String::new(), expected, actual: existing.revision },
        );
    }
    let old: Value = serde_json::from_slice(&existing.value).unwrap_or(Value::Null);
    if let Err(r) = well_formed(kind, &new).and_then(|_| strict_fields(kind, query, &new)) {
        return r;
    }
    let merged = merge_update(kind, &old, new, path.subresource.as_deref());
    write_update(store, path, query, &old, merged, existing.revision, false, admission)
}

pub(super) fn patch_object(
    store: &dyn Store,
    path: &ObjectPath,
    query: &ObjectQuery,
    body: &[u8],
    content_type: &str,
    admission: &Admission,
) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    let existing = match store.get(&kind.key(path.namespace.as_deref(), name)) {
        Ok(Some(s)) => s,
        // Server-side apply creates what is not there yet.
        Ok(None) if content_type.starts_with("application/apply-patch+yaml") => {
            let mut object = match patch::apply(&json!({}), body, content_type) {
                Ok(o) => o,
                Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
            };
            if let Err(r) = well_formed(kind, &object) {
                return r;
            }
            // The object is the one the URL names (and was authorized for), whatever the body says.
            if meta::name(&object).is_some_and(|n| n != name) {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the name of the object does not match the name on the URL",
                );
            }
            object["metadata"]["name"] = json!(name);
            return create(store, path, query, &serde_json::to_vec(&object).expect("json"), admission);
        }
        Ok(None) => return store_error(kind, name, StoreError::NotFound(String::new())),
        Err(e) => return store_error(kind, name, e),
    };
    let old = served(kind, &existing.value, existing.revision);
    let patched = match patch::apply(&old, body, content_type) {
        Ok(p) => p,
        Err(patch::PatchError::Unsupported(t)) => {
            return status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("the patch type {t:?} is not supported"),
            )
        }
        Err(e) => return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e.to_string()),
    };
    if let Some(given) = meta::resource_version(&patched) {
        if given != existing.revision {
            return store_error(
                kind,
                name,
                StoreError::Conflict { key: String::new(), expected: given, actual: existing.revision },
            );
        }
    }
    // The patch applies to what the client reads; the result is checked and merged as the store keeps it.
    let (old, patched) = (stored_form(kind, old), stored_form(kind, patched));
    if let Err(r) = well_formed(kind, &patched).and_then(|_| strict_fields(kind, query, &patched)) {
        return r;
    }
    let merged = merge_update(kind, &old, patched, path.subresource.as_deref());
    let unchanged = {
        let (mut a, mut b) = (old.clone(), merged.clone());
        meta::strip_resource_version(&mut a);
        meta::strip_resource_version(&mut b);
        a == b
    };
    write_update(store, path, query, &old, merged, existing.revision, unchanged, admission)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteOptions {
    grace_period_seconds: Option<i64>,
    preconditions: Option<Preconditions>,
    propagation_policy: Option<String>,
    /// The pre-1.7 spelling of propagationPolicy Orphan (true) / Background (false).
    orphan_dependents: Option<bool>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Preconditions {
    uid: Option<String>,
}

pub(super) fn delete(store: &dyn Store, path: &ObjectPath, query: &ObjectQuery, body: &[u8]) -> Response {
    let (kind, name) = (path.kind, path.name.as_deref().unwrap_or(""));
    let key = kind.key(path.namespace.as_deref(), name);
    if dry_run(query) {
        return get(store, path, query, None);
    }
    let options: DeleteOptions =
        if body.is_empty() { DeleteOptions::default() } else { serde_json::from_slice(body).unwrap_or_default() };
    let existing = match store.get(&key) {
        Ok(Some(s)) => s,
        Ok(None) => return store_error(kind, name, StoreError::NotFound(String::new())),
        Err(e) => return store_error(kind, name, e),
    };
    let object: Value = serde_json::from_slice(&existing.value).unwrap_or(Value::Null);
    if let Some(uid) = options.preconditions.and_then(|p| p.uid) {
        if object.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("")
                ),
            );
        }
    }
    let grace = options.grace_period_seconds.or(query.grace_period_seconds);
    if kind.kind == "Pod" {
        if let Some(marked) = graceful_pod_deletion(&object, grace) {
            return write_marked(store, kind, name, &existing, &object, marked);
        }
    }
    let policy = options
        .propagation_policy
        .or(query.propagation_policy.clone())
        .or(options.orphan_dependents.map(|o| if o { "Orphan".into() } else { "Background".into() }))
        .unwrap_or_else(|| default_propagation(kind).into());
    let finalizer = match policy.as_str() {
        "Foreground" => Some(FOREGROUND_FINALIZER),
        "Orphan" => Some(ORPHAN_FINALIZER),
        "Background" => None,
        other => {
            return invalid(
                kind,
                name,
                vec![validation::FieldError {
                    field: "propagationPolicy".into(),
                    message: format!(
                        "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    ),
                }],
            )
        }
    };
    // Finalizers hold the object (marked) until the controllers that own them let go.
    let mut marked = object.clone();
    if let Some(f) = finalizer {
        meta::add_finalizer(&mut marked, f);
    }
    if !finalizers(&marked).is_empty() {
        if marked.pointer("/metadata/deletionTimestamp").is_none() {
            marked["metadata"]["deletionTimestamp"] = json!(meta::now_rfc3339());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        return write_marked(store, kind, name, &existing, &object, marked);
    }
    match store.delete(&key, Some(existing.revision)) {
        Ok(old) => {
            after_delete(store, kind, &old);
            Json(served(kind, &old.value, old.revision)).into_response()
        }
        Err(e) => store_error(kind, name, e),
    }
}

/// A deletion that only marks the object (graceful pod deletion, finalizers): the marked object is
/// written, or, when it is already marked so, answered as it is with nothing written.
fn write_marked(
    store: &dyn Store,
    kind: &ResourceKind,
    name: &str,
    existing: &crate::control_plane::store::Stored,
    object: &Value,
    marked: Value,
) -> Response {
    if marked == *object {
        return Json(served(kind, &existing.value, existing.revision)).into_response();
    }
    let bytes = serde_json::to_vec(&marked).expect("json");
    match store.update(&existing.key, &bytes, Some(existing.revision)) {
        Ok(revision) => Json(served(kind, &bytes, revision)).into_response(),
        Err(e) => store_error(kind, name, e),
    }
}

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Kubernetes' default when DeleteOptions name no policy: Orphan for batch/v1 Jobs (kept for old clients;
/// kubectl always sends Background), Background for everything else.
fn default_propagation(kind: &ResourceKind) -> &'static str {
    if kind.kind == "Job" {
        "Orphan"
    } else {
        "Background"
    }
}

fn after_delete(store: &dyn Store, kind: &ResourceKind, old: &crate::control_plane::store::Stored) {
    let object: Value = serde_json::from_slice(&old.value).unwrap_or(Value::Null);
    match kind.kind {
        "Namespace" => delete_namespace_contents(store, meta::name(&object).unwrap_or_default()),
        "Service" => service_allocation::release_unused(store, &old.key, &object, None),
        _ => {}
    }
}

/// Kubernetes' graceful pod deletion: a pod on a node is only marked (deletionTimestamp = now + grace,
/// deletionGracePeriodSeconds) and its node's agent stops the containers and deletes the object with grace
/// 0. A pod no node runs, a grace of 0 (`--force --grace-period=0`) or a shorter grace on an already
/// marked pod's last step deletes at once. None = delete now.
fn graceful_pod_deletion(pod: &Value, requested: Option<i64>) -> Option<Value> {
    crate::resources::pod::node_name(pod)?;
    if crate::resources::pod::is_terminal(pod) && !crate::resources::pod::is_deleting(pod) {
        return None;
    }
    let default = pod.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
    let grace = requested.unwrap_or(default).max(0);
    if grace == 0 {
        return None;
    }
    let current = pod.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64);
    if current.is_some_and(|c| c <= grace) {
        return Some(pod.clone());
    }
    let mut marked = pod.clone();
    let deadline = meta::plus_seconds(time::OffsetDateTime::now_utc(), grace);
    marked["metadata"]["deletionTimestamp"] = json!(meta::rfc3339(deadline));
    marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
    Some(marked)
}

/// A namespace's objects go with it (at once: there are no finalizers here).
fn delete_namespace_contents(store: &dyn Store, namespace: &str) {
    for kind in crate::resources::kinds::KINDS.iter().filter(|k| k.namespaced) {
        if let Ok((items, _)) = store.list(&kind.prefix(Some(namespace))) {
            for item in items {
                if let Ok(old) = store.delete(&item.key, None) {
                    after_delete(store, kind, &old);
                }
            }
        }
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
