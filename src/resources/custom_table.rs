//! `kubectl get` of a custom kind: Name, then the definition's additionalPrinterColumns (or Age when it
//! declares none), each cell the first value its JSONPath finds, typed as the column says — kube-apiserver's
//! custom resource table convertor. The JSONPath is the simple kind printer columns use: fields,
//! `[N]`, `[*]` and `[?(@.field=="value")]`.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::custom_kinds::{self, PrinterColumn};
use super::kinds::ResourceKind;
use super::table::{column_definition, table_of};

fn age_column() -> PrinterColumn {
    PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }
}

/// The Table for objects of the custom `kind`.
pub fn table(kind: &ResourceKind, objects: &[Value], resource_version: u64, include: Option<&str>) -> Value {
    let mut columns = custom_kinds::version_of(kind).map(|v| v.printer_columns.clone()).unwrap_or_default();
    if columns.is_empty() {
        columns.push(age_column());
    }
    let mut definitions =
        vec![column_definition("Name", "string", "name", "Name must be unique within a namespace.", 0)];
    definitions
        .extend(columns.iter().map(|c| column_definition(&c.name, &c.type_, &c.format, &c.description, c.priority)));
    let now = OffsetDateTime::now_utc();
    let cells = |o: &Value| {
        let mut row = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
        row.extend(columns.iter().map(|c| cell(c, o, now)));
        row
    };
    table_of(definitions, objects, cells, resource_version, include)
}

fn cell(column: &PrinterColumn, object: &Value, now: OffsetDateTime) -> Value {
    let Some(value) = find(object, &column.json_path).into_iter().next() else { return Value::Null };
    match column.type_.as_str() {
        "date" => value
            .as_str()
            .and_then(super::meta::parse_rfc3339)
            .map_or(Value::Null, |t| json!(super::node_table::human_age((now - t).whole_seconds()))),
        "integer" => value.as_i64().map_or(Value::Null, |n| json!(n)),
        "number" => value.as_f64().map_or(Value::Null, |n| json!(n)),
        "boolean" => value.as_bool().map_or(Value::Null, |b| json!(b)),
        _ => match value {
            Value::String(s) => json!(s),
            other => json!(other.to_string()),
        },
    }
}

/// One step of a simple JSONPath.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    Every,
    /// [?(@.field=="value")]
    Where(String, String),
}

fn steps(path: &str) -> Vec<Step> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end > 0 {
                out.push(Step::Field(after[..end].to_string()));
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { break };
            let inside = &after[..end];
            rest = &after[end + 1..];
            if inside == "*" {
                out.push(Step::Every);
            } else if let Ok(i) = inside.parse() {
                out.push(Step::Index(i));
            } else if let Some(filter) = inside.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                if let Some((field, value)) = filter.split_once("==") {
                    out.push(Step::Where(field.trim().to_string(), value.trim().trim_matches(['"', '\'']).to_string()));
                }
            } else {
                out.push(Step::Field(inside.trim_matches(['"', '\'']).to_string()));
            }
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Step::Field(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    out
}

/// Every value `path` finds in `object`, in order.
pub fn find<'a>(object: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut found = vec![object];
    for step in steps(path) {
        found = found
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match (&step, v) {
                    (Step::Field(name), Value::Object(fields)) => fields.get(name).into_iter().collect(),
                    (Step::Index(i), Value::Array(items)) => items.get(*i).into_iter().collect(),
                    (Step::Every, Value::Array(items)) => items.iter().collect(),
                    (Step::Every, Value::Object(fields)) => fields.values().collect(),
                    (Step::Where(field, wanted), Value::Array(items)) => items
                        .iter()
                        .filter(|item| match item.get(field) {
                            Some(Value::String(s)) => s == wanted,
                            Some(other) => serde_json::from_str::<Value>(wanted).is_ok_and(|w| w == *other),
                            None => false,
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths_find_what_kubectl_finds() {
        let o = json!({"spec": {"replicas": 3, "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        assert_eq!(find(&o, ".spec.replicas"), [&json!(3)]);
        assert_eq!(find(&o, ".spec.ports[1].port"), [&json!(81)]);
        assert_eq!(find(&o, ".spec.ports[*].name"), [&json!("a"), &json!("b")]);
        assert_eq!(find(&o, r#".status.conditions[?(@.type=="Synced")].status"#), [&json!("False")]);
        assert!(find(&o, ".spec.missing").is_empty());
        let column = |type_: &str, path: &str| PrinterColumn {
            name: "c".into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: path.into(),
        };
        let now = OffsetDateTime::now_utc();
        assert_eq!(cell(&column("integer", ".spec.replicas"), &o, now), json!(3));
        assert_eq!(cell(&column("string", ".spec.replicas"), &o, now), json!("3"));
        assert_eq!(cell(&column("string", ".spec.nothing"), &o, now), Value::Null);
        let made =
            json!({"metadata": {"creationTimestamp": super::super::meta::rfc3339(now - time::Duration::seconds(90))}});
        assert_eq!(cell(&age_column(), &made, now), json!("90s"));
    }
}
