//! The checks every written object passes, whatever its kind: its shape (metadata, spec and status are
//! objects), strict field decoding, its namespace (must match the request's and exist), apiVersion and
//! kind, the kind's canonical form and field validation.

use serde_json::{json, Value};

use super::strategy::Strategy;
use super::RegistryError;
use crate::control_plane::store::Store;
use crate::resources::kinds::ResourceKind;
use crate::resources::{hpa_v1, meta, validation};

/// An object whose metadata, spec or status is not an object (`{"metadata":"x"}`, `{"spec":[]}`, from a
/// body or a patch) is refused before anything indexes into it, as Kubernetes' decoder refuses it.
pub fn well_formed(kind: &'static ResourceKind, object: &Value) -> Result<(), RegistryError> {
    if !object.is_object() {
        return Err(RegistryError::BadRequest("the body is not a JSON object".into()));
    }
    if !matches!(object.get("metadata"), None | Some(Value::Object(_))) {
        return Err(RegistryError::invalid(kind, "", "metadata", "Invalid value: must be an object"));
    }
    for field in ["spec", "status"] {
        if !matches!(object.get(field), None | Some(Value::Null) | Some(Value::Object(_))) {
            return Err(RegistryError::BadRequest(format!(
                "{} in version {:?} cannot be handled as a {}: json: cannot unmarshal {} into Go struct field {}.{field}",
                kind.kind,
                kind.version,
                kind.kind,
                json_type(&object[field]),
                kind.kind
            )));
        }
    }
    Ok(())
}

/// Go's name for a JSON value's type, as its decoder words a mismatch.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// With strict field validation, a field the kind does not have is refused, worded as Kubernetes words it.
pub fn strict_fields(kind: &ResourceKind, strict: bool, object: &Value) -> Result<(), RegistryError> {
    if !strict {
        return Ok(());
    }
    let unknown = if kind.custom {
        super::kinds::custom::unknown_fields(kind, object)
    } else {
        crate::resources::known_fields::unknown_fields(kind.kind, object)
    };
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    Err(RegistryError::BadRequest(format!(
        "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
        kind.kind,
        kind.version,
        kind.kind,
        fields.join(", ")
    )))
}

/// The checks every object passes before it is stored (`creating`: a new object, which a namespace being
/// deleted refuses, as kube-apiserver's NamespaceLifecycle admission does). Returns the object ready to
/// store.
pub fn admit(
    store: &dyn Store,
    kind: &'static ResourceKind,
    strategy: &dyn Strategy,
    namespace: Option<&str>,
    mut object: Value,
    creating: bool,
) -> Result<Value, RegistryError> {
    if !object.is_object() {
        return Err(RegistryError::BadRequest("the body is not a JSON object".into()));
    }
    if object.get("metadata").is_none_or(|m| !m.is_object()) {
        object["metadata"] = json!({});
    }
    if kind.namespaced {
        let ns = namespace.unwrap_or("default");
        match object.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(given) if given != ns => {
                return Err(RegistryError::BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ))
            }
            _ => object["metadata"]["namespace"] = json!(ns),
        }
        let namespaces = crate::resources::kinds::served("", "namespaces");
        match store.get(&namespaces.key(None, ns)) {
            Ok(Some(stored)) => {
                let namespace: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
                if creating && super::kinds::namespace::is_terminating(&namespace) {
                    let name = meta::name(&object).unwrap_or("").to_string();
                    return Err(RegistryError::NamespaceTerminating { kind, name, namespace: ns.into() });
                }
            }
            Ok(None) => return Err(RegistryError::NotFound { kind: namespaces, name: ns.into() }),
            Err(e) => return Err(RegistryError::from_store(namespaces, ns, e)),
        }
    }
    // The version the store keeps the kind in.
    object["apiVersion"] = if hpa_v1::is_v1(kind) {
        json!(hpa_v1::STORED_API_VERSION)
    } else if crate::resources::event_v1::is_events_v1(kind) {
        json!("v1")
    } else {
        json!(kind.api_version())
    };
    object["kind"] = json!(kind.kind);
    strategy.canonicalize(&mut object);
    let errors = if kind.custom {
        // Only what every object's metadata must hold, beside the schema's checks.
        let mut errors = super::kinds::custom::conform(kind, &mut object, creating)?;
        errors.extend(validation::validate("", &object));
        errors
    } else {
        validation::validate(kind.kind, &object)
    };
    if !errors.is_empty() {
        let name = meta::name(&object).unwrap_or("").to_string();
        return Err(RegistryError::Invalid { kind, name, causes: errors });
    }
    meta::strip_resource_version(&mut object);
    Ok(object)
}

pub fn finalizers(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
