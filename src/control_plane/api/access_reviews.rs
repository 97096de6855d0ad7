//! What a client may ask about itself, answered from the same authorizer its requests meet
//! (`kubectl auth can-i`, `kubectl auth can-i --list`, `kubectl auth whoami`):
//! authorization.k8s.io/v1 SelfSubjectAccessReview and SelfSubjectRulesReview, authentication.k8s.io/v1
//! SelfSubjectReview. Each is create-only and stored nowhere: the answer is the request with its status.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::authz;
use super::identity::Identity;
use super::object_path::ObjectPath;
use super::state::ApiState;
use super::status::status;
use crate::resources::kinds::{self, ResourceKind};

/// The review resources, for discovery: cluster-scoped, create only, never stored.
pub const REVIEW_RESOURCES: [ResourceKind; 3] = [
    review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    review("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
    review("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
];

const fn review(group: &'static str, plural: &'static str, kind: &'static str) -> ResourceKind {
    ResourceKind {
        group,
        version: "v1",
        plural,
        singular: "",
        kind,
        namespaced: false,
        short_names: &[],
        categories: &[],
        status: false,
        custom: false,
    }
}

/// Verbs a node may be asked about when the review names `*`.
const EVERY_VERB: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];

/// The review in the body (JSON, or protobuf as kubectl 1.32+ sends it), or a 415 or 400 answer.
fn parse(headers: &HeaderMap, body: &[u8], kind: &'static str) -> Result<Value, Box<Response>> {
    let media = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let bad = |why: String| Box::new(status(StatusCode::BAD_REQUEST, "BadRequest", why));
    if media.starts_with(super::protobuf::MEDIA_TYPE) {
        let resource = REVIEW_RESOURCES.iter().find(|r| r.kind == kind).expect("a review kind");
        return super::protobuf::object_as_json(body, resource).map_err(|e| bad(e.to_string()));
    }
    if !media.starts_with("application/json") {
        return Err(Box::new(super::status::unsupported_media_type(media)));
    }
    let review: Value = serde_json::from_slice(body).map_err(|e| bad(format!("the body is not a {kind}: {e}")))?;
    if !review.is_object() {
        return Err(bad(format!("the body is not a {kind}")));
    }
    Ok(review)
}

fn answered(mut review: Value, api_version: &str, kind: &str, review_status: Value) -> Response {
    review["apiVersion"] = json!(api_version);
    review["kind"] = json!(kind);
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({});
    }
    review["metadata"]["creationTimestamp"] = Value::Null;
    review["status"] = review_status;
    (StatusCode::CREATED, Json(review)).into_response()
}

/// POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
pub async fn access(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    super::off_workers::off_workers(move || {
        let review = match parse(&headers, &body, "SelfSubjectAccessReview") {
            Ok(r) => r,
            Err(e) => return *e,
        };
        let spec = &review["spec"];
        let (allowed, reason) = if let Some(attributes) = spec.get("resourceAttributes").filter(|a| a.is_object()) {
            resource_allowed(&state, &identity, attributes)
        } else if let Some(attributes) = spec.get("nonResourceAttributes").filter(|a| a.is_object()) {
            non_resource_allowed(&identity, attributes)
        } else {
            return status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "SelfSubjectAccessReview: spec: exactly one of resourceAttributes and nonResourceAttributes is required",
            );
        };
        let mut answer = json!({"allowed": allowed});
        if !reason.is_empty() {
            answer["reason"] = json!(reason);
        }
        answered(review, "authorization.k8s.io/v1", "SelfSubjectAccessReview", answer)
    })
    .await
}

fn text<'a>(attributes: &'a Value, field: &str) -> Option<&'a str> {
    attributes.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Whether the request the attributes describe would pass authorization, and why.
fn resource_allowed(state: &ApiState, identity: &Identity, attributes: &Value) -> (bool, String) {
    let verb = text(attributes, "verb").unwrap_or("");
    let group = text(attributes, "group").unwrap_or("");
    let resource = text(attributes, "resource").unwrap_or("");
    if matches!(identity, Identity::Admin { .. }) {
        return (true, "a member of system:masters may do anything".into());
    }
    let kinds: Vec<&'static ResourceKind> = kinds::all()
        .into_iter()
        .filter(|k| (group == "*" || k.group == group) && (resource == "*" || k.plural == resource))
        .collect();
    if kinds.is_empty() {
        return (false, format!("no rule allows {} on {resource:?} in API group {group:?}", identity.user_name()));
    }
    let verbs: Vec<&str> = if verb == "*" { EVERY_VERB.to_vec() } else { vec![verb] };
    let path = |kind: &'static ResourceKind| ObjectPath {
        kind,
        namespace: text(attributes, "namespace").filter(|_| kind.namespaced).map(String::from),
        name: text(attributes, "name").map(String::from),
        subresource: text(attributes, "subresource").map(String::from),
    };
    let store = state.store.as_ref();
    for kind in kinds {
        let path = path(kind);
        for verb in &verbs {
            let (ns, name, sub) = (path.namespace.as_deref(), path.name.as_deref(), path.subresource.as_deref());
            // The object rules a node meets (its pods, their secrets and claims) apply when an object is named.
            let refused = authz::authorize(identity, verb, kind, ns, name, sub)
                .or_else(|| name.and_then(|_| authz::node_owns_pod(identity, verb, &path, store)))
                .or_else(|| name.and_then(|_| authz::node_object_rules(identity, verb, &path, b"", store)));
            if refused.is_some() {
                return (false, format!("{} may not {verb} {}", identity.user_name(), kind.plural));
            }
        }
    }
    (true, String::new())
}

/// Discovery, /version, health and OpenAPI are open to every authenticated client; anything else to admins.
fn non_resource_allowed(identity: &Identity, attributes: &Value) -> (bool, String) {
    if matches!(identity, Identity::Admin { .. }) {
        return (true, "a member of system:masters may do anything".into());
    }
    let path = text(attributes, "path").unwrap_or("");
    let verb = text(attributes, "verb").unwrap_or("");
    let open = ["/api", "/apis", "/version", "/healthz", "/readyz", "/openapi"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let allowed = verb == "get" && open && identity.is_authenticated();
    (allowed, String::new())
}

/// POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews: admins get `*`; a node gets what its
/// authorizer allows without looking at objects, marked incomplete (as Kubernetes' node authorizer, whose
/// rules depend on the pods bound to the node, marks it).
pub async fn rules(Extension(identity): Extension<Identity>, headers: HeaderMap, body: Bytes) -> Response {
    let review = match parse(&headers, &body, "SelfSubjectRulesReview") {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let namespace = review.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
    let discovery = json!({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/healthz", "/readyz", "/openapi/*"]});
    let self_review = json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]});
    let answer = match &identity {
        Identity::Admin { .. } => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        _ => {
            let mut rules = vec![self_review];
            for kind in kinds::all() {
                let ns = kind.namespaced.then_some(namespace.as_str());
                let verbs: Vec<&str> = EVERY_VERB
                    .iter()
                    .copied()
                    .filter(|verb| authz::authorize(&identity, verb, kind, ns, None, None).is_none())
                    .collect();
                if !verbs.is_empty() {
                    rules.push(json!({"verbs": verbs, "apiGroups": [kind.group], "resources": [kind.plural]}));
                }
            }
            json!({"resourceRules": rules, "nonResourceRules": [discovery], "incomplete": true})
        }
    };
    answered(review, "authorization.k8s.io/v1", "SelfSubjectRulesReview", answer)
}

/// POST /apis/authentication.k8s.io/v1/selfsubjectreviews: who the server takes the client for.
pub async fn whoami(Extension(identity): Extension<Identity>, headers: HeaderMap, body: Bytes) -> Response {
    let review = match parse(&headers, &body, "SelfSubjectReview") {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let user = json!({"username": identity.user_name(), "groups": identity.groups()});
    answered(review, "authentication.k8s.io/v1", "SelfSubjectReview", json!({"userInfo": user}))
}
