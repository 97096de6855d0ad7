//! The controllers' and the scheduler's API: calls into the registry in process — the same admission,
//! defaulting, validation and deletion rules as any client's write, without encoding a request. They run
//! as kube-controller-manager, a member of system:masters here (no finer RBAC yet), so no authorization
//! step stands between. Registry calls block on the store's commit: each runs on the blocking pool.

use std::sync::Arc;

use serde_json::Value;

use crate::control_plane::registry::{DeleteOptions, Part, Preconditions, Registry, RegistryError, WriteOptions};
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

/// The field manager the controllers write as (kube-controller-manager's own name for itself).
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// The user kube-controller-manager runs as (events and leases name it).
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";

#[derive(Clone)]
pub struct LocalApi {
    registry: Arc<Registry>,
}

fn namespace_of(object: &Value) -> Option<String> {
    object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from)
}

impl LocalApi {
    pub fn new(registry: Arc<Registry>) -> Self {
        LocalApi { registry }
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || f(&registry))
            .await
            .unwrap_or_else(|e| Err(RegistryError::Internal(format!("a registry call failed: {e}"))))
    }

    pub async fn create(&self, kind: &'static ResourceKind, object: &Value) -> Result<Value, RegistryError> {
        let object = object.clone();
        self.call(move |r| {
            r.create(kind, namespace_of(&object).as_deref(), object, WriteOptions::by(CONTROLLER_MANAGER))
        })
        .await
    }

    pub async fn get(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, RegistryError> {
        let (namespace, name) = (namespace.map(String::from), name.to_string());
        self.call(move |r| r.get(kind, namespace.as_deref(), &name)).await
    }

    /// Replace the whole object (or its status, `part` Status); its resourceVersion is the precondition.
    pub async fn update(
        &self,
        kind: &'static ResourceKind,
        object: &Value,
        part: Part,
    ) -> Result<Value, RegistryError> {
        let object = object.clone();
        let name = meta::name(&object).unwrap_or_default().to_string();
        self.call(move |r| {
            r.update(kind, namespace_of(&object).as_deref(), &name, object, part, WriteOptions::by(CONTROLLER_MANAGER))
        })
        .await
    }

    /// A JSON merge patch.
    pub async fn merge_patch(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, RegistryError> {
        let (namespace, name) = (namespace.map(String::from), name.to_string());
        let body = serde_json::to_vec(patch).expect("json");
        self.call(move |r| {
            let merge = "application/merge-patch+json";
            r.patch(kind, namespace.as_deref(), &name, &body, merge, Part::Object, WriteOptions::by(CONTROLLER_MANAGER))
                .map(|patched| patched.object)
        })
        .await
    }

    /// Bind an unbound pod to `node` (what POST pods/NAME/binding does); returns the bound pod.
    pub async fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<Value, RegistryError> {
        let (namespace, name, node) = (namespace.to_string(), name.to_string(), node.to_string());
        self.call(move |r| r.bind(&namespace, &name, &node)).await
    }

    /// Delete, with DeleteOptions (`propagationPolicy`, `preconditions`, `gracePeriodSeconds`).
    pub async fn delete(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        options: DeleteOptions,
    ) -> Result<Value, RegistryError> {
        let (namespace, name) = (namespace.map(String::from), name.to_string());
        self.call(move |r| r.delete(kind, namespace.as_deref(), &name, options)).await
    }
}

/// DeleteOptions of a controller's delete: only the object with `uid`, with `propagation`.
pub fn delete_options(uid: Option<String>, propagation: Option<&str>) -> DeleteOptions {
    DeleteOptions {
        preconditions: uid.map(|uid| Preconditions { uid: Some(uid), ..Default::default() }),
        propagation_policy: propagation.map(String::from),
        ..DeleteOptions::default()
    }
}
