//! What a kind adds to the registry's generic create, update and delete steps — kube-apiserver's
//! per-resource strategies (PrepareForCreate, PrepareForUpdate, Validate, the deletion hooks). Each kind's
//! strategy is declared once in `for_kind`; a kind without one behaves as every hook's default says.

use serde_json::Value;

use super::kinds;
use super::Context;
use crate::control_plane::store::{Stored, Txn};
use crate::resources::kinds::ResourceKind;
use crate::resources::validation::FieldError;

pub trait Strategy: Sync {
    /// Rewrite what a client may write in two spellings into the one kept (Secret stringData, a
    /// ReplicationController's labels), on every write.
    fn canonicalize(&self, _object: &mut Value) {}

    /// What the server fills into a spec a client wrote, on create and on every update of the main
    /// resource (so a client that leaves defaults out, as `kubectl apply` does, changes nothing).
    fn spec_defaults(&self, kind: &ResourceKind, object: &mut Value) {
        crate::resources::workload_defaults::apply(kind.kind, object);
        crate::resources::pod_defaults::apply(kind.kind, object);
    }

    /// Server-set fields of a new object beyond the spec defaults (status, admission defaults).
    fn prepare_for_create(&self, _ctx: &Context, _object: &mut Value) {}

    /// Defaults an update of the main resource fills in again (beyond the spec defaults).
    fn prepare_for_update(&self, _object: &mut Value) {}

    /// Whether metadata.generation counts spec changes (the controllers report status.observedGeneration).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether an update changes what the object asks for (the generation counts it).
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        old.get("spec") != new.get("spec")
    }

    /// Whether an update of the main resource keeps the stored status (kinds with a status subresource,
    /// but a Node's status is also written with the node).
    fn status_is_subresource(&self, kind: &ResourceKind) -> bool {
        kind.status
    }

    /// Allocate what the object holds apart from itself (a Service's ClusterIP and NodePorts), keeping
    /// what `old` holds: the transaction part that claims it and frees what `old` held and the object no
    /// longer does, made with the object's own write.
    fn allocate(
        &self,
        _ctx: &Context,
        _key: &str,
        _object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<Txn, Vec<FieldError>> {
        Ok(Txn::default())
    }

    /// What deleting `old` frees, made with the deletion.
    fn released(&self, _old: &Value) -> Txn {
        Txn::default()
    }

    /// After the object left the store.
    fn after_delete(&self, _ctx: &Context, _old: &Stored) {}

    /// A deletion that only marks the object, to be finished by whoever holds it (a pod on a node): the
    /// marked object, or None to delete now.
    fn graceful_deletion(&self, _object: &Value, _requested_grace: Option<i64>) -> Option<Value> {
        None
    }

    /// Whether something of the kind's own (a namespace's spec.finalizers) still holds a deletion that
    /// no metadata finalizer holds.
    fn holds_deletion(&self, _object: &Value) -> bool {
        false
    }

    /// The propagation policy when DeleteOptions name none.
    fn default_propagation(&self) -> &'static str {
        "Background"
    }
}

/// A kind with no hooks of its own.
struct Plain;
impl Strategy for Plain {}

/// The strategy declared for `kind`.
pub fn for_kind(kind: &ResourceKind) -> &'static dyn Strategy {
    if kind.custom {
        return &kinds::custom::CustomStrategy;
    }
    match kind.kind {
        "CustomResourceDefinition" => &kinds::custom_resource_definition::DefinitionStrategy,
        "Pod" => &kinds::pod::PodStrategy,
        "Service" => &kinds::service::ServiceStrategy,
        "Namespace" => &kinds::namespace::NamespaceStrategy,
        "Node" => &kinds::node::NodeStrategy,
        "Secret" => &kinds::secret::SecretStrategy,
        "Job" => &kinds::workload::JOB,
        "ReplicationController" => &kinds::workload::REPLICATION_CONTROLLER,
        "PersistentVolume" | "PersistentVolumeClaim" | "StorageClass" => &kinds::storage::StorageStrategy,
        _ if matches!(kind.group, "apps" | "batch" | "policy") => &kinds::workload::WORKLOAD,
        _ => &Plain,
    }
}
