//! Who may do what (Kubernetes' RBAC defaults and node authorizer, reduced to what kubeboot serves):
//! admins (O=system:masters) everything; a node reads nodes, pods, services and namespaces, gets single
//! configmaps and secrets (its pods' volumes and env), writes only its own Node, its own Lease in
//! kube-node-lease and the status of pods bound to it, deletes pods bound to it (the last step of graceful
//! deletion), and creates events; anyone else nothing.

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
    subresource: Option<&str>,
) -> Option<Response> {
    let allowed = match identity {
        Identity::Anonymous => return Some(unauthorized()),
        Identity::Admin { .. } => true,
        Identity::Node { name: own } => match kind.kind {
            "Node" => READS.contains(&verb) || (verb != "delete" && name.is_none_or(|n| n == own)),
            // Writes to pods are further held to pods bound to this node (node_owns_pod).
            "Pod" => {
                READS.contains(&verb)
                    || (matches!(verb, "update" | "patch") && subresource == Some("status"))
                    || verb == "delete"
            }
            "Service" | "Namespace" => READS.contains(&verb),
            // What a pod's volumes and environment read, one object at a time (never a list of secrets).
            "ConfigMap" | "Secret" => verb == "get",
            "Lease" => namespace == Some("kube-node-lease") && name.is_none_or(|n| n == own),
            "Event" => ["get", "create", "update", "patch"].contains(&verb),
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

/// A node writes only pods bound to it: checked against the stored pod (the URL alone does not say).
pub fn node_owns_pod(
    identity: &Identity,
    verb: &str,
    path: &super::object_path::ObjectPath,
    store: &dyn crate::control_plane::store::Store,
) -> Option<Response> {
    let Identity::Node { name: own } = identity else { return None };
    if path.kind.kind != "Pod" || READS.contains(&verb) {
        return None;
    }
    let name = path.name.as_deref().unwrap_or("");
    let key = path.kind.key(path.namespace.as_deref(), name);
    let bound = store
        .get(&key)
        .ok()
        .flatten()
        .and_then(|s| serde_json::from_slice::<serde_json::Value>(&s.value).ok())
        .is_some_and(|pod| crate::resources::pod::node_name(&pod) == Some(own.as_str()));
    if bound {
        return None;
    }
    Some(status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!("pods {name:?} is forbidden: node {own:?} can only {verb} pods bound to it"),
    ))
}
