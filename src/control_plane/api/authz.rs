//! Who may do what (Kubernetes' RBAC defaults and node authorizer, reduced to what kubeboot serves):
//! admins (O=system:masters) everything; a node reads nodes, pods, services and namespaces, writes only its
//! own Node and its own Lease in kube-node-lease, and creates events; anyone else nothing.

use axum::http::StatusCode;
use axum::response::Response;

use super::identity::Identity;
use super::status::{status, unauthorized};
use crate::resources::kinds::ResourceKind;

const READS: [&str; 3] = ["get", "list", "watch"];

/// None when allowed; the 401/403 answer otherwise.
pub fn authorize(
    identity: &Identity,
    verb: &str,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Option<Response> {
    let allowed = match identity {
        Identity::Anonymous => return Some(unauthorized()),
        Identity::Admin { .. } => true,
        Identity::Node { name: own } => match kind.kind {
            "Node" => READS.contains(&verb) || (verb != "delete" && name.is_none_or(|n| n == own)),
            "Pod" | "Service" | "Namespace" => READS.contains(&verb),
            "Lease" => namespace == Some("kube-node-lease") && name.is_none_or(|n| n == own),
            "Event" => ["create", "update", "patch"].contains(&verb),
            _ => false,
        },
        Identity::User { .. } => false,
    };
    if allowed {
        return None;
    }
    let user = match identity {
        Identity::Node { name } => format!("system:node:{name}"),
        Identity::User { user } | Identity::Admin { user } => user.clone(),
        Identity::Anonymous => "system:anonymous".into(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".into(),
    };
    Some(status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!(
            "{} {:?} is forbidden: User {user:?} cannot {verb} resource {:?} in API group {:?} {scope}",
            kind.plural,
            name.unwrap_or(""),
            kind.plural,
            kind.group
        ),
    ))
}
