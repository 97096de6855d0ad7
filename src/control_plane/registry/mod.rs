//! The registry: the one path every write to an API object takes, whoever makes it — the HTTP handlers
//! (api/objects.rs), the controllers and the scheduler (runtime/local_api.rs, in process), the server's
//! own objects at start (the `kubernetes` and kube-dns Services, the standard namespaces, the default
//! StorageClass). It is kube-apiserver's generic registry: create (generateName, namespace checks,
//! defaults, validation, allocation), update and patch (optimistic concurrency on resourceVersion, the
//! status kept apart from the main resource), delete (graceful deletion, finalizers, propagation), each
//! step a kind adds declared in its strategy (strategy.rs, kinds/). Errors are Kubernetes' (error.rs);
//! authentication, authorization and encodings stay with the HTTP layer.

mod admit;
mod apply;
pub mod bind;
mod create;
mod delete;
mod error;
mod evict;
pub mod field_manager;
mod guaranteed;
pub mod kinds;
mod managed_fields;
mod scale;
pub mod served_form;
pub mod service_allocation;
pub mod strategy;
mod update;
mod webhooks;
mod write;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ipnet::Ipv4Net;
use serde_json::{json, Value};

use crate::control_plane::store::{Store, StoreError};
use crate::resources::kinds::ResourceKind;

pub use crate::control_plane::admission::User;
pub use apply::is_apply;
pub use delete::{DeleteOptions, Preconditions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
pub use error::RegistryError;
pub use guaranteed::patch_has_precondition;
pub use scale::serves as serves_scale;
pub use served_form::{client_form, served, stored_form};
pub use update::{Part, Patched};

/// kubeadm's service-cidr default.
pub const DEFAULT_SERVICE_NETWORK: &str = "10.96.0.0/12";

/// How a write is made: `dry_run` checks and answers without storing; `strict_fields` refuses fields
/// the kind does not have (fieldValidation=Strict); `field_manager` is who writes (the request's
/// fieldManager or its User-Agent's product; the server's own writes at start name none and are not
/// tracked); `force` lets an apply take fields other managers own; `user` is who asks.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub strict_fields: bool,
    pub field_manager: Option<String>,
    pub force: bool,
    /// Who makes the write (None: the server itself), for the admission webhooks' reviews.
    pub user: Option<User>,
}

impl WriteOptions {
    /// The options of a writer that names itself `manager`.
    pub fn by(manager: &str) -> Self {
        WriteOptions { field_manager: Some(manager.to_string()), ..Default::default() }
    }
}

/// What a strategy's hooks may read: the store and the server's admission settings.
pub struct Context<'a> {
    pub store: &'a dyn Store,
    /// tolerationSeconds of the default not-ready/unreachable NoExecute tolerations.
    pub toleration_seconds: u64,
    /// Where Services' ClusterIPs come from.
    pub service_network: Ipv4Net,
}

pub struct Registry {
    store: Arc<dyn Store>,
    /// Pods tolerate a not-ready or unreachable node this long before they are evicted (server.yaml).
    toleration_seconds: AtomicU64,
    /// The Services' ClusterIP range (server.yaml; kubeadm's 10.96.0.0/12 until set).
    service_network: RwLock<Ipv4Net>,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry {
            store,
            toleration_seconds: AtomicU64::new(300),
            service_network: RwLock::new(DEFAULT_SERVICE_NETWORK.parse().expect("a network")),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn service_network(&self) -> Ipv4Net {
        *self.service_network.read().expect("service network")
    }

    pub fn set_service_network(&self, network: Ipv4Net) {
        *self.service_network.write().expect("service network") = network;
    }

    pub fn toleration_seconds(&self) -> u64 {
        self.toleration_seconds.load(Ordering::Relaxed)
    }

    pub fn set_toleration_seconds(&self, seconds: u64) {
        self.toleration_seconds.store(seconds, Ordering::Relaxed);
    }

    fn context(&self) -> Context<'_> {
        Context {
            store: self.store.as_ref(),
            toleration_seconds: self.toleration_seconds(),
            service_network: self.service_network(),
        }
    }

    /// The object as a client of `kind`'s version reads it, with its resourceVersion.
    pub fn get(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, RegistryError> {
        self.existing(kind, namespace, name).map(|s| served(kind, &s.value, s.revision))
    }

    /// Every object of `kind` (in `namespace`, or all), as served, and the revision the list was read at.
    pub fn list(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
    ) -> Result<(Vec<Value>, u64), RegistryError> {
        let (items, revision) =
            self.store.list(&kind.prefix(namespace)).map_err(|e| RegistryError::from_store(kind, "", e))?;
        Ok((items.iter().map(|s| served(kind, &s.value, s.revision)).collect(), revision))
    }

    /// Every stored object of `kind` (in `namespace`, or all), unparsed, in key order, and the revision
    /// the list was read at: for answers that parse only what they serve (a list's page).
    pub fn list_stored(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
    ) -> Result<(Vec<crate::control_plane::store::Stored>, u64), RegistryError> {
        self.store.list(&kind.prefix(namespace)).map_err(|e| RegistryError::from_store(kind, "", e))
    }

    /// The namespaces every cluster has, made when missing.
    pub fn ensure_namespaces(&self) -> Result<(), RegistryError> {
        let namespaces = crate::resources::kinds::served("", "namespaces");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            self.create_if_missing(namespaces, None, namespace)?;
        }
        Ok(())
    }

    /// Create `object` unless its name is taken; either way the stored object.
    pub fn create_if_missing(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        object: Value,
    ) -> Result<Value, RegistryError> {
        let name = crate::resources::meta::name(&object).unwrap_or_default().to_string();
        if let Ok(existing) = self.get(kind, namespace, &name) {
            return Ok(existing);
        }
        match self.create(kind, namespace, object, WriteOptions::default()) {
            Err(e) if e.already_exists() => self.get(kind, namespace, &name),
            other => other,
        }
    }
}

impl From<StoreError> for RegistryError {
    /// A store error not about one object (a list, a key of the server's own).
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSpace(m) => RegistryError::NoSpace(m),
            other => RegistryError::Internal(other.to_string()),
        }
    }
}
