//! Every served kind's schema as Kubernetes 1.30 defines it, named as Kubernetes names its definitions
//! (`io.k8s.api.core.v1.Pod`). The fields, types and descriptions come from k8s-openapi, which is generated
//! from Kubernetes' published OpenAPI spec; two things the published spec carries are added here:
//! - each kind's `x-kubernetes-group-version-kind`, by which kubectl finds a kind's schema;
//! - the patch strategy of the lists this server merges by key, from the same table its strategic merge
//!   patch reads (resources::patch), so the patches kubectl computes are the ones merged here.

use std::collections::BTreeSet;

use k8s_openapi::api as k8s;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{json, Map, Value};

use std::sync::Arc;

use crate::resources::custom_kinds::CustomVersion;
use crate::resources::kinds::{ResourceKind, KINDS};
use crate::resources::patch::list_merge_key;

/// Definition name → schema; a schema names another as `{"$ref": "#/definitions/NAME"}` (OpenAPI v2's form).
pub type Definitions = Map<String, Value>;

pub const REF_PREFIX: &str = "#/definitions/";

/// The definitions the operations name besides the kinds: every PATCH body, error and deletecollection
/// answers, the scale subresource's object.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const JSON_VALUE: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";

/// The definitions of every served kind and of everything they use, and which definition each kind is.
pub struct Schemas {
    pub definitions: Definitions,
    pub kinds: Vec<(&'static ResourceKind, String)>,
}

fn generator() -> SchemaGenerator {
    let mut settings = SchemaSettings::openapi3();
    settings.definitions_path = "/definitions".into();
    settings.meta_schema = None;
    // k8s-openapi's schemas are already OpenAPI's; and Kubernetes' v2 document keeps a field's description
    // beside its $ref, which is what kubectl 1.20 reads (a ref wrapped in allOf is "anything" to it).
    settings.transforms.clear();
    settings.into_generator()
}

/// The k8s-openapi type of a served kind. batch/v1beta1 CronJob, served from batch/v1's storage, has
/// batch/v1's fields (k8s-openapi 1.30 no longer carries v1beta1).
fn kind_schema(kind: &ResourceKind, generator: &mut SchemaGenerator) -> Option<schemars::Schema> {
    use k8s::{apps, autoscaling, batch, coordination, core, discovery, networking, policy, rbac, scheduling, storage};
    Some(match (kind.group, kind.kind) {
        ("", "Namespace") => generator.subschema_for::<core::v1::Namespace>(),
        ("", "Node") => generator.subschema_for::<core::v1::Node>(),
        ("", "Pod") => generator.subschema_for::<core::v1::Pod>(),
        ("", "Service") => generator.subschema_for::<core::v1::Service>(),
        ("", "ReplicationController") => generator.subschema_for::<core::v1::ReplicationController>(),
        ("", "ConfigMap") => generator.subschema_for::<core::v1::ConfigMap>(),
        ("", "Secret") => generator.subschema_for::<core::v1::Secret>(),
        ("", "Event") => generator.subschema_for::<core::v1::Event>(),
        ("events.k8s.io", "Event") => generator.subschema_for::<k8s::events::v1::Event>(),
        ("", "Endpoints") => generator.subschema_for::<core::v1::Endpoints>(),
        ("", "PersistentVolume") => generator.subschema_for::<core::v1::PersistentVolume>(),
        ("", "PersistentVolumeClaim") => generator.subschema_for::<core::v1::PersistentVolumeClaim>(),
        ("", "ServiceAccount") => generator.subschema_for::<core::v1::ServiceAccount>(),
        ("apps", "Deployment") => generator.subschema_for::<apps::v1::Deployment>(),
        ("apps", "ReplicaSet") => generator.subschema_for::<apps::v1::ReplicaSet>(),
        ("apps", "DaemonSet") => generator.subschema_for::<apps::v1::DaemonSet>(),
        ("apps", "StatefulSet") => generator.subschema_for::<apps::v1::StatefulSet>(),
        ("batch", "Job") => generator.subschema_for::<batch::v1::Job>(),
        ("batch", "CronJob") => generator.subschema_for::<batch::v1::CronJob>(),
        ("coordination.k8s.io", "Lease") => generator.subschema_for::<coordination::v1::Lease>(),
        ("discovery.k8s.io", "EndpointSlice") => generator.subschema_for::<discovery::v1::EndpointSlice>(),
        ("storage.k8s.io", "StorageClass") => generator.subschema_for::<storage::v1::StorageClass>(),
        ("networking.k8s.io", "Ingress") => generator.subschema_for::<networking::v1::Ingress>(),
        ("networking.k8s.io", "NetworkPolicy") => generator.subschema_for::<networking::v1::NetworkPolicy>(),
        ("rbac.authorization.k8s.io", "Role") => generator.subschema_for::<rbac::v1::Role>(),
        ("rbac.authorization.k8s.io", "RoleBinding") => generator.subschema_for::<rbac::v1::RoleBinding>(),
        ("rbac.authorization.k8s.io", "ClusterRole") => generator.subschema_for::<rbac::v1::ClusterRole>(),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            generator.subschema_for::<rbac::v1::ClusterRoleBinding>()
        }
        ("autoscaling", "HorizontalPodAutoscaler") if kind.version == "v1" => {
            generator.subschema_for::<autoscaling::v1::HorizontalPodAutoscaler>()
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            generator.subschema_for::<autoscaling::v2::HorizontalPodAutoscaler>()
        }
        ("policy", "PodDisruptionBudget") => generator.subschema_for::<policy::v1::PodDisruptionBudget>(),
        ("scheduling.k8s.io", "PriorityClass") => generator.subschema_for::<scheduling::v1::PriorityClass>(),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            generator.subschema_for::<k8s::admissionregistration::v1::MutatingWebhookConfiguration>()
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            generator.subschema_for::<k8s::admissionregistration::v1::ValidatingWebhookConfiguration>()
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => generator.subschema_for::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(),
        _ => return None,
    })
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix(REF_PREFIX)
}

/// `io.k8s.api.batch.v1.CronJob` as the definition of batch/v1beta1's CronJob: `io.k8s.api.batch.v1beta1.CronJob`.
fn name_for_version(name: &str, version: &str) -> String {
    let Some((prefix, kind)) = name.rsplit_once('.') else { return name.to_string() };
    match prefix.rsplit_once('.') {
        Some((base, v)) if v != version => format!("{base}.{version}.{kind}"),
        _ => name.to_string(),
    }
}

/// A custom kind's definition name as kube-apiserver gives it: the group reversed, the version, the kind
/// (`com.example.stable.v1.CronTab`).
fn custom_name(kind: &ResourceKind) -> String {
    let group: Vec<&str> = kind.group.split('.').rev().collect();
    format!("{}.{}.{}", group.join("."), kind.version, kind.kind)
}

/// A custom kind's schema as published: its definition's, with apiVersion, kind and the standard metadata.
fn custom_schema(version: &CustomVersion) -> Value {
    let mut schema = version
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    let text = |description: &str| json!({"type": "string", "description": description});
    if let Some(fields) = schema.as_object_mut() {
        let properties = fields.entry("properties").or_insert_with(|| json!({}));
        properties["apiVersion"] = text("APIVersion defines the versioned schema of this representation of an object.");
        properties["kind"] = text("Kind is a string value representing the REST resource this object represents.");
        properties["metadata"] = json!({"$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            "description": "Standard object's metadata."});
    }
    schema
}

/// Build the definitions of the built-in kinds and of the custom ones given (about a hundred schemas:
/// once per server, and again when the custom kinds change).
pub fn build(custom: &[Arc<CustomVersion>]) -> Schemas {
    let mut generator = generator();
    let mut roots = Vec::new();
    for kind in KINDS {
        let schema = kind_schema(kind, &mut generator).unwrap_or_else(|| panic!("no schema for {}", kind.kind));
        let name = ref_name(schema.as_value()).expect("k8s-openapi names its kinds").to_string();
        roots.push((kind, name));
    }
    generator.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>();
    generator.subschema_for::<k8s::autoscaling::v1::Scale>();
    generator.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta>();
    let mut definitions = generator.take_definitions(false);
    definitions.insert(
        PATCH.into(),
        json!({"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}),
    );
    // Any JSON value (a schema's default, enum, example): Kubernetes publishes it without a type, which
    // k8s-openapi gives as object — kubectl 1.20 then refuses `default: 1` in a definition it applies.
    if let Some(any) = definitions.get_mut(JSON_VALUE).and_then(Value::as_object_mut) {
        any.remove("type");
    }
    for version in custom {
        let name = custom_name(version.kind);
        definitions.insert(name.clone(), custom_schema(version));
        roots.push((version.kind, name));
    }
    let mut kinds = Vec::new();
    for (kind, name) in roots {
        let served_name = name_for_version(&name, kind.version);
        if served_name != name {
            let mut copy = definitions[&name].clone();
            if let Some(copy) = copy.as_object_mut() {
                copy.remove("x-kubernetes-group-version-kind"); // the copy is of another version
            }
            definitions.insert(served_name.clone(), copy);
        }
        let gvk = json!({"group": kind.group, "kind": kind.kind, "version": kind.version});
        if let Some(schema) = definitions.get_mut(&served_name).and_then(Value::as_object_mut) {
            let list = schema.entry("x-kubernetes-group-version-kind").or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(gvk);
            }
        }
        // Its list (PodList, …), as the list operations answer.
        let list = json!({
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "items": {"type": "array", "items": {"$ref": format!("{REF_PREFIX}{served_name}")}},
                "metadata": {"$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")},
            },
            "x-kubernetes-group-version-kind": [{"group": kind.group, "kind": format!("{}List", kind.kind), "version": kind.version}],
        });
        definitions.insert(format!("{served_name}List"), list);
        kinds.push((kind, served_name));
    }
    add_patch_strategies(&mut definitions);
    Schemas { definitions, kinds }
}

/// Mark each list this server merges by key with that key, where the list's items have the key as a field.
fn add_patch_strategies(definitions: &mut Definitions) {
    let mut marks = Vec::new();
    for (name, schema) in definitions.iter() {
        let inside_container = name.ends_with(".Container") || name.ends_with(".EphemeralContainer");
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else { continue };
        for (field, property) in properties {
            let Some(item) = property.get("items").and_then(ref_name) else { continue };
            let Some(key) = list_merge_key(field, inside_container) else { continue };
            let item_has_key =
                definitions.get(item).and_then(|d| d.get("properties")).is_some_and(|p| p.get(key).is_some());
            if item_has_key {
                marks.push((name.clone(), field.clone(), key));
            }
        }
    }
    for (name, field, key) in marks {
        if let Some(property) = definitions[&name]["properties"].get_mut(&field).and_then(Value::as_object_mut) {
            property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
            property.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
    }
}

/// The definitions `roots` use, directly or through others, with the roots themselves.
pub fn reachable(definitions: &Definitions, roots: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = definitions.get(&name) {
            collect_refs(schema, &mut todo);
        }
    }
    seen
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = ref_name(value) {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_has_its_schema_and_group_version_kind() {
        let schemas = build(&[]);
        assert_eq!(schemas.kinds.len(), KINDS.len());
        for (kind, name) in &schemas.kinds {
            let gvks = &schemas.definitions[name]["x-kubernetes-group-version-kind"];
            let want = json!({"group": kind.group, "kind": kind.kind, "version": kind.version});
            assert!(gvks.as_array().unwrap().contains(&want), "{name}: {gvks}");
        }
        let beta = &schemas.definitions["io.k8s.api.batch.v1beta1.CronJob"];
        assert_eq!(
            beta["x-kubernetes-group-version-kind"],
            json!([{"group": "batch", "kind": "CronJob", "version": "v1beta1"}])
        );
    }

    #[test]
    fn lists_merged_by_key_say_so() {
        let defs = build(&[]).definitions;
        let spec = &defs["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(spec["volumes"]["x-kubernetes-patch-strategy"], "merge");
        let container = &defs["io.k8s.api.core.v1.Container"]["properties"];
        assert_eq!(container["ports"]["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(container["volumeMounts"]["x-kubernetes-patch-merge-key"], "mountPath");
        assert_eq!(
            defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]["x-kubernetes-patch-merge-key"],
            "port"
        );
        assert!(container["args"].get("x-kubernetes-patch-strategy").is_none(), "args are replaced whole");
    }

    #[test]
    fn reachable_follows_references() {
        let defs = build(&[]).definitions;
        let used = reachable(&defs, ["io.k8s.api.apps.v1.Deployment".to_string()]);
        assert!(used.contains("io.k8s.api.core.v1.Container"));
        assert!(used.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert!(!used.contains("io.k8s.api.core.v1.NodeSpec"));
    }
}
