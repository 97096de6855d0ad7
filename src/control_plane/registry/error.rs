//! What a registry operation refuses, as Kubernetes' API errors: each carries the Status reason and code
//! a client gets (the HTTP layer writes them out; in-process callers match on them).

use serde_json::{json, Value};

use crate::control_plane::store::StoreError;
use crate::resources::kinds::ResourceKind;
use crate::resources::validation::FieldError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// A request the server will not act on as sent (a body that is not an object, a name that does not
    /// match, a field strict decoding does not know).
    #[error("{0}")]
    BadRequest(String),
    /// Field validation failed.
    #[error("{} {name:?} is invalid: {}", qualified(kind), joined(causes))]
    Invalid { kind: &'static ResourceKind, name: String, causes: Vec<FieldError> },
    /// A patch that could not be applied to the object.
    #[error("{0}")]
    PatchInvalid(String),
    /// An admission webhook refused the write (its code, at least 400).
    #[error("{message}")]
    Admission { code: u16, message: String },
    /// A verb the resource does not take now (a create of a custom kind whose definition is being deleted).
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the patch type {0:?} is not supported")]
    UnsupportedPatch(String),
    #[error("{} not found", describe(kind, name))]
    NotFound { kind: &'static ResourceKind, name: String },
    #[error("{} already exists", describe(kind, name))]
    AlreadyExists { kind: &'static ResourceKind, name: String },
    /// The object changed since the resourceVersion the write was based on.
    #[error(
        "Operation cannot be fulfilled on {}: the object has been modified; please apply your changes to the \
         latest version and try again",
        describe(kind, name)
    )]
    Conflict { kind: &'static ResourceKind, name: String },
    /// An apply would change fields other managers own (server-side apply's conflict).
    #[error("{}", .0.message())]
    ApplyConflict(super::field_manager::Conflicts),
    /// The request's options (PatchOptions, …) are invalid: `kind` names them.
    #[error("{kind}.meta.k8s.io \"\" is invalid: {}", joined(causes))]
    InvalidOptions { kind: &'static str, causes: Vec<FieldError> },
    /// A create in a namespace being deleted.
    #[error(
        "{} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
        describe(kind, name)
    )]
    NamespaceTerminating { kind: &'static ResourceKind, name: String, namespace: String },
    /// A precondition other than the resourceVersion failed (a uid, a pod already bound).
    #[error("{0}")]
    Precondition(String),
    /// An eviction the pod's PodDisruptionBudget does not allow now (the cause says why).
    #[error("Cannot evict pod as it would violate the pod's disruption budget.")]
    DisruptionBudget(String),
    #[error("the store has no space left on its device; the write was not made ({0})")]
    NoSpace(String),
    #[error("{0}")]
    Internal(String),
}

fn joined(causes: &[FieldError]) -> String {
    causes.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join(", ")
}

/// A kind as an invalid object's message names it: built-in kinds by their kind alone, custom ones with
/// their group (`Widget.example.com`), as kube-apiserver's custom resource handler words it.
fn qualified(kind: &ResourceKind) -> String {
    if kind.custom {
        format!("{}.{}", kind.kind, kind.group)
    } else {
        kind.kind.to_string()
    }
}

/// How Kubernetes names an object of a kind in its messages: `pods "web"`, `deployments.apps "web"`.
pub fn describe(kind: &ResourceKind, name: &str) -> String {
    if kind.group.is_empty() {
        format!("{} {name:?}", kind.plural)
    } else {
        format!("{}.{} {name:?}", kind.plural, kind.group)
    }
}

impl RegistryError {
    /// A store error about `name` of `kind`.
    pub fn from_store(kind: &'static ResourceKind, name: &str, e: StoreError) -> Self {
        let name = name.to_string();
        match e {
            StoreError::NotFound(_) => RegistryError::NotFound { kind, name },
            StoreError::AlreadyExists(_) => RegistryError::AlreadyExists { kind, name },
            StoreError::Conflict { .. } => RegistryError::Conflict { kind, name },
            StoreError::NoSpace(m) => RegistryError::NoSpace(m),
            StoreError::Backend(m) => RegistryError::Internal(m),
        }
    }

    pub fn invalid(kind: &'static ResourceKind, name: &str, field: &str, message: impl Into<String>) -> Self {
        let causes = vec![FieldError { field: field.into(), message: message.into() }];
        RegistryError::Invalid { kind, name: name.into(), causes }
    }

    /// The HTTP status code of the Status a client gets.
    pub fn code(&self) -> u16 {
        match self {
            RegistryError::BadRequest(_) => 400,
            RegistryError::NotFound { .. } => 404,
            RegistryError::AlreadyExists { .. }
            | RegistryError::Conflict { .. }
            | RegistryError::Precondition(_)
            | RegistryError::ApplyConflict(_) => 409,
            RegistryError::InvalidOptions { .. } => 422,
            RegistryError::NamespaceTerminating { .. } => 403,
            RegistryError::UnsupportedPatch(_) => 415,
            RegistryError::MethodNotAllowed(_) => 405,
            RegistryError::Admission { code, .. } => *code,
            RegistryError::Invalid { .. } | RegistryError::PatchInvalid(_) => 422,
            RegistryError::DisruptionBudget(_) => 429,
            RegistryError::NoSpace(_) => 507,
            RegistryError::Internal(_) => 500,
        }
    }

    /// The Status reason (metav1.StatusReason).
    pub fn reason(&self) -> &'static str {
        match self {
            RegistryError::BadRequest(_) => "BadRequest",
            RegistryError::NotFound { .. } => "NotFound",
            RegistryError::AlreadyExists { .. } => "AlreadyExists",
            RegistryError::Conflict { .. } | RegistryError::Precondition(_) | RegistryError::ApplyConflict(_) => {
                "Conflict"
            }
            RegistryError::InvalidOptions { .. } => "Invalid",
            RegistryError::NamespaceTerminating { .. } => "Forbidden",
            RegistryError::UnsupportedPatch(_) => "UnsupportedMediaType",
            RegistryError::MethodNotAllowed(_) => "MethodNotAllowed",
            // The reason a webhook's code stands for (its own reason is not a &'static str).
            RegistryError::Admission { code, .. } => match code {
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                422 => "Invalid",
                429 => "TooManyRequests",
                500.. => "InternalError",
                _ => "BadRequest",
            },
            RegistryError::Invalid { .. } | RegistryError::PatchInvalid(_) => "Invalid",
            RegistryError::DisruptionBudget(_) => "TooManyRequests",
            RegistryError::NoSpace(_) => "InsufficientStorage",
            RegistryError::Internal(_) => "InternalError",
        }
    }

    /// The Status' details: for a validation failure, the object and each field's cause.
    pub fn details(&self) -> Option<Value> {
        if let RegistryError::DisruptionBudget(cause) = self {
            return Some(json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]}));
        }
        if let RegistryError::ApplyConflict(conflicts) = self {
            let causes: Vec<Value> = conflicts
                .0
                .iter()
                .map(|(manager, field)| {
                    json!({"type": "FieldManagerConflict", "message": format!("conflict with {manager}"), "field": field})
                })
                .collect();
            return Some(json!({"causes": causes}));
        }
        if let RegistryError::NamespaceTerminating { kind, name, namespace } = self {
            let cause = json!({"type": "NamespaceTerminating", "message": format!("namespace {namespace} is being terminated"), "field": "metadata.namespace"});
            return Some(json!({"name": name, "group": kind.group, "kind": kind.plural, "causes": [cause]}));
        }
        if let RegistryError::InvalidOptions { kind, causes } = self {
            let causes: Vec<Value> = causes
                .iter()
                .map(|e| json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.field}))
                .collect();
            return Some(json!({"group": "meta.k8s.io", "kind": kind, "causes": causes}));
        }
        let RegistryError::Invalid { kind, name, causes } = self else { return None };
        let causes: Vec<Value> = causes
            .iter()
            .map(|e| json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.field}))
            .collect();
        Some(json!({"name": name, "group": kind.group, "kind": kind.kind, "causes": causes}))
    }

    /// An apply without a fieldManager: kube-apiserver's PatchOptions validation.
    pub fn field_manager_required() -> Self {
        RegistryError::InvalidOptions {
            kind: "PatchOptions",
            causes: vec![FieldError {
                field: "fieldManager".into(),
                message: "Required value: is required for apply patch".into(),
            }],
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::NotFound { .. })
    }

    /// The object was modified since it was read (retry on a fresh copy).
    pub fn is_conflict(&self) -> bool {
        matches!(self, RegistryError::Conflict { .. })
    }

    pub fn already_exists(&self) -> bool {
        matches!(self, RegistryError::AlreadyExists { .. })
    }

    /// A precondition (uid) failed: the name now belongs to another object.
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, RegistryError::Precondition(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_reasons_are_kubernetes_own() {
        let deployments = crate::resources::kinds::served("apps", "deployments");
        let e = RegistryError::from_store(
            deployments,
            "web",
            StoreError::Conflict { key: "k".into(), expected: 1, actual: 2 },
        );
        assert_eq!((e.code(), e.reason()), (409, "Conflict"));
        assert!(e.to_string().starts_with("Operation cannot be fulfilled on deployments.apps \"web\""));
        let pods = crate::resources::kinds::served("", "pods");
        let e = RegistryError::from_store(pods, "p", StoreError::NotFound("k".into()));
        assert_eq!(e.to_string(), "pods \"p\" not found");
        let e = RegistryError::invalid(pods, "p", "spec.containers", "Required value");
        assert_eq!(e.to_string(), "Pod \"p\" is invalid: spec.containers: Required value");
        assert_eq!(e.details().unwrap()["causes"][0]["field"], "spec.containers");
        assert_eq!(RegistryError::from_store(pods, "p", StoreError::NoSpace("full".into())).code(), 507);
    }
}
