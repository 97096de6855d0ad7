//! Node selector terms (a pod's required node affinity, a PersistentVolume's node affinity): terms ORed,
//! the requirements within a term ANDed, matchExpressions against the node's labels and matchFields
//! against its name.

use serde_json::Value;

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn array<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer).and_then(Value::as_array).into_iter().flatten()
}

fn requirement_matches(requirement: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = array(requirement, "/values").filter_map(Value::as_str).collect();
    let number = |s: &str| s.parse::<i64>().ok();
    match str_at(requirement, "/operator") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => matches!((value.and_then(number), values.first().and_then(|v| number(v))), (Some(a), Some(b)) if a > b),
        "Lt" => matches!((value.and_then(number), values.first().and_then(|v| number(v))), (Some(a), Some(b)) if a < b),
        _ => false,
    }
}

/// Any of `terms` matches `node`.
pub fn matches_terms(terms: &[Value], node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels");
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let name = super::meta::name(node);
    terms.iter().any(|term| {
        array(term, "/matchExpressions").all(|r| requirement_matches(r, label(str_at(r, "/key"))))
            && array(term, "/matchFields").all(|r| str_at(r, "/key") == "metadata.name" && requirement_matches(r, name))
    })
}
