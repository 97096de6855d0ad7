//! Objects of the kinds CustomResourceDefinitions define: pruned, defaulted and validated against their
//! version's structural schema (resources/structural_schema.rs) on every write, kept in the definition's
//! storage version, with a generation that counts every change but to metadata and status — kube-apiserver's
//! custom resource strategy.

use serde_json::{json, Value};

use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::RegistryError;
use crate::resources::custom_kinds;
use crate::resources::kinds::ResourceKind;
use crate::resources::structural_schema;
use crate::resources::validation::FieldError;

pub struct CustomStrategy;

impl Strategy for CustomStrategy {
    /// The schema's defaults are filled in where the object is shaped (conform), before validation.
    fn spec_defaults(&self, _kind: &ResourceKind, _object: &mut Value) {}

    fn tracks_generation(&self) -> bool {
        true
    }

    /// Every change outside metadata and status is a change of what the object asks for.
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        let asked = |o: &Value| {
            let mut o = o.clone();
            if let Some(fields) = o.as_object_mut() {
                fields.remove("metadata");
                fields.remove("status");
            }
            o
        };
        asked(old) != asked(new)
    }
}

/// Shape a written object as its version's schema says: unknown fields pruned, defaults filled in, then
/// validated. Returns the schema's errors; a create of a kind whose definition is going is refused.
pub fn conform(kind: &ResourceKind, object: &mut Value, creating: bool) -> Result<Vec<FieldError>, RegistryError> {
    let Some(version) = custom_kinds::version_of(kind) else {
        return Err(RegistryError::NotFound { kind: static_of(kind), name: String::new() });
    };
    if creating && version.terminating {
        return Err(RegistryError::MethodNotAllowed(
            "create not allowed while custom resource definition is terminating".to_string(),
        ));
    }
    object["apiVersion"] = json!(version.storage_version);
    let Some(schema) = &version.schema else { return Ok(Vec::new()) };
    structural_schema::prune(schema, object);
    structural_schema::default(schema, object);
    Ok(structural_schema::validate(schema, object))
}

/// The fields a strict write names that the schema would prune.
pub fn unknown_fields(kind: &ResourceKind, object: &Value) -> Vec<String> {
    let version = custom_kinds::version_of(kind);
    match version.as_ref().and_then(|v| v.schema.as_ref()) {
        Some(schema) => structural_schema::prune(schema, &mut object.clone()),
        None => Vec::new(),
    }
}

fn static_of(kind: &ResourceKind) -> &'static ResourceKind {
    crate::resources::kinds::find(kind.group, kind.version, kind.plural)
        .unwrap_or_else(|| crate::resources::kinds::served("apiextensions.k8s.io", "customresourcedefinitions"))
}
