//! How server-side apply sees the lists and objects of the built-in kinds: Kubernetes' schemas mark each
//! list `x-kubernetes-list-type` atomic (replaced whole, owned as one field), set (primitives, each owned
//! on its own) or map (objects owned item by item, told apart by `x-kubernetes-list-map-keys`), and some
//! objects `x-kubernetes-map-type`/`struct-type: atomic` (a label selector, a pod's nodeSelector, an object
//! reference). Lists the schemas leave unmarked are atomic. The table holds the marks of the fields the
//! served kinds have, by the field's name and the names above it.

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

/// Whether the object `field` is owned as one field (replaced whole by an apply).
pub fn atomic_object(field: &str) -> bool {
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
        assert!(atomic_object("selector") && !atomic_object("template"));
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
