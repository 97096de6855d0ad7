//! Who may do what (Kubernetes' RBAC defaults and node authorizer, reduced to what kubeboot serves):
//! admins (O=system:masters) everything; a node reads nodes, pods, services, namespaces and
//! PersistentVolumes, gets (or lists and watches by name) single configmaps, secrets and claims (its pods'
//! volumes and env), writes only
//! the local-path volumes provisioned on it, its own Node, its own Lease in
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
            // Its own Node only, named (no generateName): checked against the name it will be stored under.
            "Node" => READS.contains(&verb) || (verb != "delete" && name == Some(own.as_str())),
            // Writes to pods are further held to pods bound to this node (node_owns_pod).
            "Pod" => {
                READS.contains(&verb)
                    || (matches!(verb, "update" | "patch") && subresource == Some("status"))
                    || verb == "delete"
            }
            // The agent is also the node's kube-proxy (system:node-proxier reads these).
            "Service" | "Namespace" | "Endpoints" | "EndpointSlice" => READS.contains(&verb),
            // What its pods' volumes and environment read, one object at a time (a get, or a list or watch
            // of one name), and only those a pod bound to it refers to (node_object_rules).
            "ConfigMap" | "Secret" | "PersistentVolumeClaim" => {
                verb == "get" || (matches!(verb, "list" | "watch") && name.is_some())
            }
            // Volumes are read for mounts and for the local-path folders to remove; a volume provisioned
            // on this node is written (its finalizer dropped once the folder is gone), held to that by
            // node_object_rules.
            "PersistentVolume" => READS.contains(&verb) || matches!(verb, "update" | "patch"),
            "Lease" => namespace == Some("kube-node-lease") && name == Some(own.as_str()),
            // About its own objects: held to the event's involvedObject by node_object_rules.
            "Event" => ["get", "create", "update"].contains(&verb),
            _ => false,
        },
        Identity::User { .. } => false,
    };
    if allowed {
        return None;
    }
    Some(forbidden(identity, verb, kind, namespace, name, subresource))
}

/// Kubernetes' 403 wording: who, which verb, which resource (with its subresource), where.
pub fn forbidden(
    identity: &Identity,
    verb: &str,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: Option<&str>,
    subresource: Option<&str>,
) -> Response {
    let user = identity.user_name();
    let scope = match namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".into(),
    };
    let resource = match subresource {
        Some(sub) => format!("{}/{sub}", kind.plural),
        None => kind.plural.to_string(),
    };
    status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!(
            "{} {:?} is forbidden: User {user:?} cannot {verb} resource {resource:?} in API group {:?} {scope}",
            kind.plural,
            name.unwrap_or(""),
            kind.group
        ),
    )
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

fn pods_bound_to(
    store: &dyn crate::control_plane::store::Store,
    namespace: &str,
    node: &str,
) -> Vec<serde_json::Value> {
    store
        .list(&format!("/pods/{namespace}/"))
        .map(|(items, _)| items)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| serde_json::from_slice::<serde_json::Value>(&s.value).ok())
        .filter(|pod| crate::resources::pod::node_name(pod) == Some(node))
        .collect()
}

/// Kubernetes' node authorizer, for what the URL alone does not say: a node gets a configmap, secret or
/// claim only when a pod bound to it refers to it, writes a volume only when it was provisioned on it, and writes events only about its own Node or pods bound to it.
pub fn node_object_rules(
    identity: &Identity,
    verb: &str,
    path: &super::object_path::ObjectPath,
    body: &[u8],
    store: &dyn crate::control_plane::store::Store,
) -> Option<Response> {
    let Identity::Node { name: own } = identity else { return None };
    let namespace = path.namespace.as_deref().unwrap_or("default");
    let allowed = match path.kind.kind {
        "ConfigMap" | "Secret" if READS.contains(&verb) => {
            let wanted = path.name.as_deref().unwrap_or("");
            pods_bound_to(store, namespace, own).iter().any(|pod| {
                let (config_maps, secrets) = crate::resources::pod::referenced_objects(pod);
                let names = if path.kind.kind == "ConfigMap" { config_maps } else { secrets };
                names.iter().any(|n| n == wanted)
            })
        }
        "PersistentVolumeClaim" if READS.contains(&verb) => {
            let wanted = path.name.as_deref().unwrap_or("");
            pods_bound_to(store, namespace, own)
                .iter()
                .any(|pod| crate::resources::storage::pod_claims(pod).iter().any(|c| c == wanted))
        }
        "PersistentVolume" if matches!(verb, "update" | "patch") => {
            let key = path.kind.key(None, path.name.as_deref().unwrap_or(""));
            store
                .get(&key)
                .ok()
                .flatten()
                .and_then(|s| serde_json::from_slice::<serde_json::Value>(&s.value).ok())
                .is_some_and(|pv| {
                    crate::resources::storage::is_local_path(&pv)
                        && crate::resources::storage::pinned_node(&pv) == Some(own.as_str())
                })
        }
        "Event" if matches!(verb, "create" | "update") => {
            let event: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let involved =
                |field: &str| event.pointer(&format!("/involvedObject/{field}")).and_then(serde_json::Value::as_str);
            match involved("kind") {
                Some("Node") => involved("name") == Some(own.as_str()),
                Some("Pod") => {
                    involved("namespace").is_none_or(|ns| ns == namespace)
                        && pods_bound_to(store, namespace, own)
                            .iter()
                            .any(|p| crate::resources::meta::name(p) == involved("name"))
                }
                _ => false,
            }
        }
        _ => true,
    };
    if allowed {
        return None;
    }
    Some(status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!(
            "{} {:?} is forbidden: User \"system:node:{own}\" cannot {verb} resource {:?} in API group {:?} in the namespace {namespace:?}: no relationship found between node {own:?} and this object",
            path.kind.plural,
            path.name.as_deref().unwrap_or(""),
            path.kind.plural,
            path.kind.group
        ),
    ))
}
