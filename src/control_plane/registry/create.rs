//! Create: a name from generateName, the generic checks (admit.rs), server-set metadata, the kind's
//! defaults, and one create-if-absent write with what the kind allocates.

use serde_json::{json, Value};

use super::admit::{admit, strict_fields, well_formed};
use super::managed_fields::Tracking;
use super::strategy::for_kind;
use super::webhooks::Write;
use super::{client_form, stored_form, Part, Registry, RegistryError, WriteOptions};
use crate::control_plane::admission::Operation;
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

impl Registry {
    /// Create `object` (in `kind`'s served form) in `namespace`; returns it as stored, in that form.
    pub fn create(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        object: Value,
        options: WriteOptions,
    ) -> Result<Value, RegistryError> {
        self.create_tracked(kind, namespace, object, &options, Tracking::Update)
    }

    /// Create, its managed fields those of an update by the writer (`Tracking::Update`) or those an
    /// apply made.
    pub(super) fn create_tracked(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        object: Value,
        options: &WriteOptions,
        tracking: Tracking,
    ) -> Result<Value, RegistryError> {
        let strategy = for_kind(kind);
        let mut object = stored_form(kind, object);
        well_formed(kind, &object)?;
        if meta::name(&object).is_none_or(str::is_empty) {
            if let Some(prefix) = object.pointer("/metadata/generateName").and_then(Value::as_str).map(String::from) {
                object["metadata"]["name"] = json!(format!("{prefix}{}", meta::random_suffix()));
            }
        }
        strict_fields(kind, options.strict_fields, &object)?;
        let mut object = admit(self.store(), kind, strategy, namespace, object, true)?;
        meta::stamp_new(&mut object);
        if strategy.tracks_generation() {
            object["metadata"]["generation"] = json!(1);
        }
        if let Some(m) = object["metadata"].as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        let ctx = self.context();
        strategy.spec_defaults(kind, &mut object);
        strategy.prepare_for_create(&ctx, &mut object);
        // A kind with a status reads its zero status until a controller writes one.
        if strategy.status_is_subresource(kind) && object.get("status").is_none_or(Value::is_null) {
            object["status"] = zero_status(kind);
        }
        let name = meta::name(&object).unwrap_or_default().to_string();
        let in_namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from);
        let write = Write {
            kind,
            namespace: in_namespace.as_deref(),
            name: &name,
            part: Part::Object,
            operation: Operation::Create,
            dry_run: options.dry_run,
            user: options.user.as_ref(),
        };
        self.through_webhooks(&write, strategy, &mut object, None)?;
        self.track(kind, None, &mut object, options, Part::Object, tracking)?;
        if options.dry_run {
            return Ok(client_form(kind, object));
        }
        let key = kind.key(object.pointer("/metadata/namespace").and_then(Value::as_str), &name);
        let (mut object, revision) = self.write_object(kind, &name, &key, object, None, true)?;
        meta::set_resource_version(&mut object, revision);
        Ok(client_form(kind, object))
    }
}

/// A new object's status as kube-apiserver serves it before anyone writes it: Go's zero value of the
/// kind's status, whose fields without `omitempty` read 0 (clients' typed models require them: the
/// Python client refuses a ReplicaSet status without `replicas`).
fn zero_status(kind: &ResourceKind) -> Value {
    match (kind.group, kind.kind) {
        ("apps", "ReplicaSet") | ("", "ReplicationController") => json!({"replicas": 0}),
        ("apps", "StatefulSet") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "DaemonSet") => json!({
            "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0
        }),
        ("policy", "PodDisruptionBudget") => {
            json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0})
        }
        // (v1, served from the same object, requires currentReplicas too.)
        ("autoscaling", "HorizontalPodAutoscaler") => json!({"currentReplicas": 0, "desiredReplicas": 0}),
        ("", "Service") | ("networking.k8s.io", "Ingress") => json!({"loadBalancer": {}}),
        _ => json!({}),
    }
}
