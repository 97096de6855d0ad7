//! metav1.LabelSelector as workload objects carry it (`matchLabels` and `matchExpressions` with In, NotIn,
//! Exists, DoesNotExist): all requirements must hold; an empty selector matches everything and a missing
//! one (null) nothing, as Kubernetes' LabelSelectorAsSelector.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

/// A workload's pod selector as a LabelSelector. A ReplicationController's `spec.selector` is a plain
/// label map, which is `matchLabels` in the other kinds' form.
pub fn of_workload<'a>(kind: &str, object: &'a Value) -> Option<Cow<'a, Value>> {
    let selector = object.pointer("/spec/selector")?;
    if kind == "ReplicationController" {
        return Some(Cow::Owned(json!({"matchLabels": selector})));
    }
    Some(Cow::Borrowed(selector))
}

pub fn matches(selector: Option<&Value>, labels: Option<&Map<String, Value>>) -> bool {
    let Some(selector) = selector.filter(|s| s.is_object()) else { return false };
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let exact = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    let expressions = selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().all(|e| {
        let key = e["key"].as_str().unwrap_or("");
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        match e["operator"].as_str() {
            Some("In") => label(key).is_some_and(|v| values.contains(&v)),
            Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    exact && expressions
}

/// The labels of an object (metadata.labels).
pub fn labels(object: &Value) -> Option<&Map<String, Value>> {
    object.pointer("/metadata/labels").and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requirements_as_a_table() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object();
        let table = [
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (json!({}), true),
            (json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}), true),
            (json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}), false),
            (json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}), true),
            (json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}), true),
            (json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}), false),
            (json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]}), false),
        ];
        for (i, (selector, expected)) in table.iter().enumerate() {
            assert_eq!(matches(Some(selector), labels), *expected, "row {i}: {selector}");
        }
        assert!(!matches(None, labels), "no selector selects nothing");
    }
}
