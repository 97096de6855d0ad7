//! How server-side apply sees the lists and objects of the built-in kinds: Kubernetes' schemas mark each
//! list `x-kubernetes-list-type` atomic (replaced whole, owned as one field), set (primitives, each owned
//! on its own) or map (objects owned item by item, told apart by `x-kubernetes-list-map-keys`), and some
//! objects `x-kubernetes-map-type`/`struct-type: atomic` (a label selector, a pod's nodeSelector, an object
//! reference). Lists the schemas leave unmarked are atomic. The table holds the marks of the fields the
//! served kinds have, by the field's name and the names above it; a custom kind's marks are read from its
//! definition's schema, which the registry puts in scope (`with_schema`) while it works on such an object.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::custom_kinds::CustomVersion;

thread_local! {
    /// The custom kind whose schema the field manager reads on this thread now (None: a built-in kind).
    static IN_SCOPE: RefCell<Option<Arc<CustomVersion>>> = const { RefCell::new(None) };
}

/// Run `work` with `version`'s schema giving the list and map types (restored after, even on a panic).
pub fn with_schema<R>(version: Option<Arc<CustomVersion>>, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<CustomVersion>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_SCOPE.with(|s| *s.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(IN_SCOPE.with(|s| s.replace(version)));
    work()
}

/// `read` of the schema of the field `field` under `parents` in the custom kind in scope (None given when
/// its schema does not say); None when no custom kind is in scope (metadata is the built-in table's in
/// either case).
fn custom_field_schema<R>(parents: &[&str], field: &str, read: impl FnOnce(Option<&Value>) -> R) -> Option<R> {
    if parents.first().is_some_and(|p| *p == "metadata") || (parents.is_empty() && field == "metadata") {
        return None;
    }
    IN_SCOPE.with(|s| {
        let scope = s.borrow();
        let version = scope.as_ref()?;
        let mut at = version.schema.as_ref();
        for name in parents.iter().chain(std::iter::once(&field)) {
            // Names skip list items: step into a list's item schema first.
            while let Some(items) =
                at.filter(|s| s.get("type").and_then(Value::as_str) == Some("array")).and_then(|s| s.get("items"))
            {
                at = Some(items);
            }
            // By key, not by a JSON pointer: a field's name may hold '/' or '~'.
            at = at.and_then(|s| {
                s.get("properties")
                    .and_then(|p| p.get(*name))
                    .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
            });
        }
        Some(read(at))
    })
}

/// The one `&'static` copy of a list's map keys (leaked once per distinct set of keys).
fn interned_keys(keys: Vec<String>) -> &'static [&'static str] {
    static LEAKED: Mutex<Vec<&'static [&'static str]>> = Mutex::new(Vec::new());
    let mut leaked = LEAKED.lock().expect("interned keys");
    if let Some(found) = leaked.iter().find(|k| k.iter().copied().eq(keys.iter().map(String::as_str))) {
        return found;
    }
    let made: &'static [&'static str] =
        Box::leak(keys.into_iter().map(|k| &*Box::leak(k.into_boxed_str())).collect::<Vec<&str>>().into_boxed_slice());
    leaked.push(made);
    made
}

/// A list's merge semantics in server-side apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    Atomic,
    Set,
    Map(&'static [&'static str]),
}

/// Whether a field named so sits inside a container (a container's `ports` are keyed by containerPort).
fn inside_container(parents: &[&str]) -> bool {
    parents.iter().any(|p| matches!(*p, "containers" | "initContainers" | "ephemeralContainers"))
}

/// The list type of the list `field`, under the fields `parents` (outermost first, list items not named).
pub fn list_type(parents: &[&str], field: &str) -> ListType {
    let custom = custom_field_schema(parents, field, |schema| {
        let mark = |name: &str| schema.and_then(|s| s.get(name));
        match mark("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => {
                let keys = mark("x-kubernetes-list-map-keys").and_then(Value::as_array);
                let keys: Vec<String> =
                    keys.into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
                ListType::Map(interned_keys(keys))
            }
            _ => ListType::Atomic,
        }
    });
    if let Some(list) = custom {
        return list;
    }
    ListType::Map(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" | "podIPs" | "hostIPs" => &["ip"],
        "ports" if inside_container(parents) => &["containerPort", "protocol"],
        // A Service's ports (spec.ports); an EndpointSlice's or an Endpoints subset's are atomic.
        "ports" if parents == ["spec"] => &["port", "protocol"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        "finalizers" if parents == ["metadata"] => return ListType::Set,
        _ => return ListType::Atomic,
    })
}

/// Whether the object `field` (under `parents`) is owned as one field (replaced whole by an apply).
pub fn atomic_object(parents: &[&str], field: &str) -> bool {
    let custom = custom_field_schema(parents, field, |schema| {
        ["x-kubernetes-map-type", "x-kubernetes-struct-type"]
            .iter()
            .any(|mark| schema.and_then(|s| s.get(*mark)).and_then(Value::as_str) == Some("atomic"))
    });
    if let Some(atomic) = custom {
        return atomic;
    }
    matches!(
        field,
        "selector"
            | "nodeSelector"
            | "labelSelector"
            | "namespaceSelector"
            | "podSelector"
            | "configMapKeyRef"
            | "secretKeyRef"
            | "fieldRef"
            | "resourceFieldRef"
            | "targetRef"
            | "claimRef"
            | "roleRef"
    )
}

/// The value a map list's key field has when an item leaves it out (the schema's default).
pub fn key_default(key: &str) -> Option<serde_json::Value> {
    (key == "protocol").then(|| serde_json::json!("TCP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_typed_as_kubernetes_schemas_mark_them() {
        assert_eq!(list_type(&["spec", "template", "spec"], "containers"), ListType::Map(&["name"]));
        assert_eq!(
            list_type(&["spec", "template", "spec", "containers"], "ports"),
            ListType::Map(&["containerPort", "protocol"])
        );
        assert_eq!(list_type(&["spec"], "ports"), ListType::Map(&["port", "protocol"]));
        assert_eq!(list_type(&[], "ports"), ListType::Atomic, "an EndpointSlice's ports");
        assert_eq!(list_type(&["metadata"], "finalizers"), ListType::Set);
        assert_eq!(list_type(&["spec", "containers"], "args"), ListType::Atomic);
        assert_eq!(list_type(&["spec"], "tolerations"), ListType::Atomic);
        assert!(atomic_object(&["spec"], "selector") && !atomic_object(&["spec"], "template"));
    }

    #[test]
    fn strategic_merge_keys_are_the_first_apply_keys() {
        for (parents, field, inside) in [
            (&["spec"][..], "containers", false),
            (&["spec", "containers"][..], "ports", true),
            (&["spec", "containers"][..], "env", true),
            (&["spec", "containers"][..], "volumeMounts", true),
            (&["spec"][..], "volumes", false),
            (&["status"][..], "conditions", false),
        ] {
            let ListType::Map(keys) = list_type(parents, field) else { panic!("{field} is a map list") };
            assert_eq!(crate::resources::patch::list_merge_key(field, inside), Some(keys[0]), "{field}");
        }
    }
}
