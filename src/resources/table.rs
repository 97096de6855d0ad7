//! meta.k8s.io/v1 Table: what the server answers when kubectl asks for `as=Table` — column definitions and,
//! per row, the cells and the object (PartialObjectMetadata by default, the whole object when asked with
//! includeObject=Object), so kubectl's -L, --show-labels and -o wide work from the server's columns.

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub format: &'static str,
    /// 0: always shown; 1: only with -o wide.
    pub priority: u8,
    pub description: &'static str,
}

/// Does this Accept header ask for a Table?
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.split(',').any(|part| part.contains("as=Table")))
}

/// The row's object as ?includeObject= says: None, Object, or Metadata (the default). A row's metadata
/// leaves out managedFields (kube-apiserver keeps them there): no Table reader uses them, and at 1000
/// nodes they would be most of what `kubectl get nodes` downloads and decodes.
fn row_object(object: &Value, include: Option<&str>) -> Value {
    match include {
        Some("None") => Value::Null,
        Some("Object") => object.clone(),
        _ => {
            let mut metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
            if let Some(fields) = metadata.as_object_mut() {
                fields.remove("managedFields");
            }
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata})
        }
    }
}

pub fn table(
    columns: &[Column],
    objects: &[Value],
    cells: impl Fn(&Value) -> Vec<Value>,
    resource_version: u64,
    include: Option<&str>,
) -> Value {
    let definitions = columns
        .iter()
        .map(|c| column_definition(c.name, c.kind, c.format, c.description, i64::from(c.priority)))
        .collect();
    table_of(definitions, objects, cells, resource_version, include)
}

/// One TableColumnDefinition.
pub fn column_definition(name: &str, type_: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
}

/// The Table with these column definitions (columns known only at run time: a custom kind's).
pub fn table_of(
    column_definitions: Vec<Value>,
    objects: &[Value],
    cells: impl Fn(&Value) -> Vec<Value>,
    resource_version: u64,
    include: Option<&str>,
) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": column_definitions,
        "rows": objects.iter().map(|o| json!({"cells": cells(o), "object": row_object(o, include)})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shape() {
        assert!(wants_table(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")));
        assert!(!wants_table(Some("application/json")));
        let cols = [Column { name: "Name", kind: "string", format: "name", priority: 0, description: "" }];
        let obj = json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {}});
        let t = table(&cols, std::slice::from_ref(&obj), |o| vec![o["metadata"]["name"].clone()], 7, None);
        assert_eq!(t["rows"][0]["cells"], json!(["a"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["labels"]["x"], "y");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        let full = table(&cols, std::slice::from_ref(&obj), |_| vec![], 7, Some("Object"));
        assert_eq!(full["rows"][0]["object"], obj);
    }
}
