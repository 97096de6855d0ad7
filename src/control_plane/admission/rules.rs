//! Whether a webhook is called for a request: its rules (operation, group, version, resource and
//! subresource, scope) and its selectors (the namespace's labels, the object's), as Kubernetes matches them.

use serde_json::Value;

use super::configuration::{Rule, Webhook};
use super::Attributes;
use crate::resources::label_selector;

fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// `pods` and `*` name a resource, `pods/status`, `*/status`, `pods/*` and `*/*` its subresources too.
fn resource_listed(list: &[String], resource: &str, subresource: &str) -> bool {
    list.iter().any(|entry| {
        let (r, s) = entry.split_once('/').unwrap_or((entry, ""));
        (r == "*" || r == resource) && (s == subresource || (s == "*" && !subresource.is_empty()) || entry == "*/*")
    })
}

fn rule_matches(rule: &Rule, request: &Attributes) -> bool {
    let scope_matches = match rule.scope.as_str() {
        "Cluster" => !request.kind.namespaced,
        "Namespaced" => request.kind.namespaced,
        _ => true,
    };
    scope_matches
        && listed(&rule.operations, request.operation.as_str())
        && listed(&rule.groups, request.kind.group)
        && listed(&rule.versions, request.kind.version)
        && resource_listed(&rule.resources, request.kind.plural, request.subresource)
}

/// Whether `webhook` is called for `request` on `object` (and `old`), the namespace's labels given.
pub fn applies(
    webhook: &Webhook,
    request: &Attributes,
    object: Option<&Value>,
    old: Option<&Value>,
    namespace_labels: Option<&serde_json::Map<String, Value>>,
) -> bool {
    if !webhook.rules.iter().any(|r| rule_matches(r, request)) {
        return false;
    }
    // A cluster-scoped object's namespace selector is its own labels when it is a Namespace, else ignored.
    let namespace_matches = if request.kind.namespaced {
        label_selector::matches(Some(&webhook.namespace_selector), namespace_labels)
    } else if request.kind.group.is_empty() && request.kind.kind == "Namespace" {
        [object, old]
            .into_iter()
            .flatten()
            .any(|o| label_selector::matches(Some(&webhook.namespace_selector), label_selector::labels(o)))
    } else {
        true
    };
    let object_matches = [object, old]
        .into_iter()
        .flatten()
        .any(|o| label_selector::matches(Some(&webhook.object_selector), label_selector::labels(o)));
    namespace_matches && object_matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_subresources_match_as_kubernetes_matches_them() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(resource_listed(&names(&["pods"]), "pods", ""));
        assert!(!resource_listed(&names(&["pods"]), "pods", "status"));
        assert!(resource_listed(&names(&["pods/status"]), "pods", "status"));
        assert!(resource_listed(&names(&["*"]), "configmaps", ""));
        assert!(!resource_listed(&names(&["*"]), "pods", "status"));
        assert!(resource_listed(&names(&["*/*"]), "pods", "status"));
        assert!(resource_listed(&names(&["*/*"]), "pods", ""));
        assert!(resource_listed(&names(&["*/status"]), "deployments", "status"));
        assert!(resource_listed(&names(&["pods/*"]), "pods", "eviction"));
    }
}
