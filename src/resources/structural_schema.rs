//! A CustomResourceDefinition's structural schema applied to its objects as kube-apiserver applies it:
//! unknown fields pruned (unless `x-kubernetes-preserve-unknown-fields`), defaults filled in, then the
//! value validated (types, `x-kubernetes-int-or-string`, enum, bounds, lengths, patterns, required,
//! list types), errors named by field path and worded as Kubernetes words them.
//!
//! Hand-written on serde_json::Value rather than a JSON Schema crate: those validate, but none prunes or
//! defaults with Kubernetes' rules (embedded resources, preserve-unknown-fields at any depth, defaults
//! under `additionalProperties`), and their error wording is their own, not the one clients match on.

use serde_json::{Map, Value};

use super::field_rules::invalid;
use super::validation::FieldError;

/// Fields every object keeps, whatever its schema says.
const OBJECT_ROOT: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Remove what `schema` does not declare from `object` (a whole custom object); returns the removed
/// fields' paths (`spec.extra`), which a strict write refuses instead.
pub fn prune(schema: &Value, object: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_at(schema, object, "", true, &mut pruned);
    pruned
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn prune_at(schema: &Value, value: &mut Value, path: &str, root: bool, pruned: &mut Vec<String>) {
    let embedded = root || flag(schema, "x-kubernetes-embedded-resource");
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let keeps_unknown = flag(schema, "x-kubernetes-preserve-unknown-fields")
                || schema.get("additionalProperties").and_then(Value::as_bool) == Some(true);
            let names: Vec<String> = fields.keys().cloned().collect();
            for name in names {
                let at = join(path, &name);
                // An object's apiVersion, kind and metadata are every object's, whatever the schema says of them
                // (definitions commonly declare `metadata: {type: object}` and nothing under it).
                if embedded && OBJECT_ROOT.contains(&name.as_str()) {
                    continue;
                }
                let field_schema = properties.and_then(|p| p.get(&name)).or(additional);
                match field_schema {
                    Some(s) => prune_at(s, fields.get_mut(&name).expect("a field"), &at, false, pruned),
                    None if keeps_unknown => {}
                    None => {
                        fields.remove(&name);
                        pruned.push(at);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(item_schema, item, &format!("{path}[{i}]"), false, pruned);
                }
            }
        }
        _ => {}
    }
}

/// Fill in the defaults `schema` declares for fields `object` leaves out, at every depth it has.
/// A field written as null where its schema does not take null (not `nullable`) is defaulted when the
/// schema has a default and dropped when it has none, as kube-apiserver does before validating.
pub fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let properties = schema.get("properties").and_then(Value::as_object);
            let names: Vec<String> = fields.keys().cloned().collect();
            for name in names {
                let Some(field_schema) = properties.and_then(|p| p.get(&name)).or(additional) else { continue };
                if fields[&name].is_null() && !flag(field_schema, "nullable") {
                    match field_schema.get("default") {
                        Some(default) => fields.insert(name.clone(), default.clone()),
                        None => fields.remove(&name),
                    };
                }
            }
            for (name, field_schema) in properties.into_iter().flatten() {
                if let (false, Some(default)) = (fields.contains_key(name), field_schema.get("default")) {
                    fields.insert(name.clone(), default.clone());
                }
                if let Some(field) = fields.get_mut(name) {
                    default(field_schema, field);
                }
            }
            if let Some(additional) = additional {
                for (name, field) in fields.iter_mut() {
                    if properties.is_none_or(|p| !p.contains_key(name)) {
                        default(additional, field);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for item in items {
                    default(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// Check `object` (a whole custom object) against `schema`: every error, by field path.
pub fn validate(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut root = object.clone();
    // metadata is checked as every object's metadata is (validation.rs), not by the schema.
    if let Some(fields) = root.as_object_mut() {
        for name in OBJECT_ROOT {
            fields.remove(name);
        }
    }
    validate_at(schema, &root, "", &mut errors);
    errors
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn of_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => type_name(value) == other,
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "<root>"
    } else {
        path
    }
}

fn validate_at(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let field = shown(path);
    if value.is_null() {
        if !flag(schema, "nullable") && schema.get("type").is_some() {
            let wanted = schema["type"].as_str().unwrap_or_default();
            errors.push(invalid(
                field,
                &Value::String("null".into()),
                &format!("{field} in body must be of type {wanted}: \"null\""),
            ));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(of_type(value, "integer") || value.is_string()) {
            errors.push(invalid(
                field,
                value,
                &format!("{field} in body must be of type integer,string: {:?}", type_name(value)),
            ));
            return;
        }
    } else if let Some(wanted) = schema.get("type").and_then(Value::as_str) {
        if !of_type(value, wanted) {
            let got = type_name(value);
            errors.push(invalid(
                field,
                &Value::String(got.into()),
                &format!("{field} in body must be of type {wanted}: {got:?}"),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            let supported: Vec<String> = options.iter().map(|o| o.to_string()).collect();
            let got = match value {
                Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            };
            errors.push(FieldError {
                field: field.into(),
                message: format!("Unsupported value: {got}: supported values: {}", supported.join(", ")),
            });
        }
    }
    bounds(schema, value, field, errors);
    combinators(schema, value, path, errors);
    match value {
        Value::Object(fields) => object_fields(schema, fields, path, errors),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
            list_type(schema, items, path, errors);
        }
        _ => {}
    }
}

fn number(schema: &Value, name: &str) -> Option<f64> {
    schema.get(name).and_then(Value::as_f64)
}

/// Numeric bounds, lengths, patterns and counts.
fn bounds(schema: &Value, value: &Value, field: &str, errors: &mut Vec<FieldError>) {
    let mut fail = |message: String| errors.push(invalid(field, value, &message));
    if let Some(n) = value.as_f64() {
        if let Some(min) = number(schema, "minimum") {
            if flag(schema, "exclusiveMinimum") && n <= min {
                fail(format!("{field} in body should be greater than {min}"));
            } else if n < min {
                fail(format!("{field} in body should be greater than or equal to {min}"));
            }
        }
        if let Some(max) = number(schema, "maximum") {
            if flag(schema, "exclusiveMaximum") && n >= max {
                fail(format!("{field} in body should be less than {max}"));
            } else if n > max {
                fail(format!("{field} in body should be less than or equal to {max}"));
            }
        }
        if let Some(step) = number(schema, "multipleOf").filter(|s| *s > 0.0) {
            if (n / step).fract() != 0.0 {
                fail(format!("{field} in body should be a multiple of {step}"));
            }
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        if value.as_str().is_some_and(|s| matches(pattern, s) == Some(false)) {
            fail(format!("{field} in body should match '{pattern}'"));
        }
    }
    // A string's length, a list's items and an object's properties, each bounded both ways.
    let counted = match value {
        Value::String(s) => Some((s.chars().count(), "maxLength", "minLength", "be", " chars long")),
        Value::Array(items) => Some((items.len(), "maxItems", "minItems", "have", " items")),
        Value::Object(fields) => Some((fields.len(), "maxProperties", "minProperties", "have", " properties")),
        _ => None,
    };
    if let Some((count, max_key, min_key, verb, unit)) = counted {
        let count = count as f64;
        if let Some(max) = number(schema, max_key).filter(|max| count > *max) {
            fail(format!("{field} in body should {verb} at most {max}{unit}"));
        }
        if let Some(min) = number(schema, min_key).filter(|min| count < *min) {
            fail(format!("{field} in body should {verb} at least {min}{unit}"));
        }
    }
}

/// Whether `text` matches `pattern` (None: not a pattern regex reads). Each pattern is compiled once:
/// the schemas' patterns are few, the values checked against them many.
fn matches(pattern: &str, text: &str) -> Option<bool> {
    type Compiled = std::collections::HashMap<String, Option<regex::Regex>>;
    static COMPILED: std::sync::LazyLock<std::sync::Mutex<Compiled>> = std::sync::LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().expect("compiled patterns");
    let regex = compiled.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
    regex.as_ref().map(|re| re.is_match(text))
}

/// allOf, anyOf, oneOf and not: value validations only (a structural schema declares no types there).
fn combinators(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let field = shown(path);
    let holds = |s: &Value| {
        let mut found = Vec::new();
        validate_at(s, value, path, &mut found);
        found.is_empty()
    };
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate_at(s, value, path, errors);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(holds) {
            errors.push(invalid(field, value, &format!("{field} in body must match at least one schema (anyOf)")));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        if one.iter().filter(|s| holds(s)).count() != 1 {
            errors.push(invalid(field, value, &format!("{field} in body must match exactly one schema (oneOf)")));
        }
    }
    if let Some(not) = schema.get("not").filter(|n| n.is_object()) {
        if holds(not) {
            errors.push(invalid(field, value, &format!("{field} in body must not match the schema (not)")));
        }
    }
}

fn object_fields(schema: &Value, fields: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                errors.push(FieldError { field: join(path, name), message: "Required value".into() });
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    let embedded = flag(schema, "x-kubernetes-embedded-resource");
    for (name, field) in fields {
        if embedded && OBJECT_ROOT.contains(&name.as_str()) {
            continue;
        }
        if let Some(field_schema) = properties.and_then(|p| p.get(name)).or(additional) {
            validate_at(field_schema, field, &join(path, name), errors);
        }
    }
    if embedded {
        for name in ["apiVersion", "kind"] {
            if fields.get(name).and_then(Value::as_str).is_none_or(str::is_empty) {
                errors
                    .push(FieldError { field: join(path, name), message: "Required value: must not be empty".into() });
            }
        }
    }
}

/// x-kubernetes-list-type set (no item twice) and map (no two items with the same keys).
fn list_type(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errors.push(FieldError {
                        field: format!("{path}[{i}]"),
                        message: format!("Duplicate value: {item}"),
                    });
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key_of = |item: &Value| -> Vec<Value> {
                keys.iter().map(|k| item.get(*k).cloned().unwrap_or(Value::Null)).collect()
            };
            for (i, item) in items.iter().enumerate() {
                let key = key_of(item);
                if items[..i].iter().any(|earlier| key_of(earlier) == key) {
                    let shown: Map<String, Value> =
                        keys.iter().map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null))).collect();
                    errors.push(FieldError {
                        field: format!("{path}[{i}]"),
                        message: format!("Duplicate value: {}", Value::Object(shown)),
                    });
                }
            }
        }
        _ => {}
    }
}

/// What is wrong with `schema` as a structural schema, by path under `at` (the CRD's field holding it):
/// every node says its type (unless it only preserves unknown fields or is int-or-string), and the root
/// is an object.
pub fn structural_problems(schema: &Value, at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        errors.push(FieldError {
            field: format!("{at}.type"),
            message: "Required value: must be object at the root".into(),
        });
    }
    typed_children(schema, at, &mut errors);
    errors
}

fn typed_nodes(schema: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let typed = schema.get("type").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
    if !typed && !flag(schema, "x-kubernetes-int-or-string") && !flag(schema, "x-kubernetes-preserve-unknown-fields") {
        errors.push(FieldError {
            field: format!("{at}.type"),
            message: "Required value: must not be empty for specified object fields".into(),
        });
    }
    typed_children(schema, at, errors);
}

fn typed_children(schema: &Value, at: &str, errors: &mut Vec<FieldError>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, s) in properties {
            typed_nodes(s, &format!("{at}.properties[{name}]"), errors);
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        typed_nodes(items, &format!("{at}.items"), errors);
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        typed_nodes(additional, &format!("{at}.additionalProperties"), errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "metadata": {"type": "object"},
            "spec": {"type": "object", "required": ["image"], "properties": {
                "image": {"type": "string", "pattern": "^[a-z/:.0-9]+$"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "port": {"x-kubernetes-int-or-string": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                             "x-kubernetes-preserve-unknown-fields": true},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {"name": {"type": "string"},
                                    "port": {"type": "integer", "default": 80}}}},
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        }})
    }

    #[test]
    fn unknown_fields_are_pruned_except_where_kept() {
        let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "junk": 1, "spec": {"image": "nginx", "bogus": true, "extra": {"anything": [1]},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
            "ports": [{"name": "a", "nope": 1}]}});
        let pruned = prune(&schema(), &mut object);
        assert_eq!(pruned, ["junk", "spec.bogus", "spec.ports[0].nope"]);
        assert_eq!(object["spec"]["extra"], json!({"anything": [1]}));
        assert_eq!(object["spec"]["template"]["metadata"]["name"], "p");
        assert_eq!(object["metadata"]["name"], "w");
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let mut object = json!({"spec": {"image": "nginx", "ports": [{"name": "a"}, {"name": "b", "port": 8}]}});
        default(&schema(), &mut object);
        assert_eq!(object["spec"]["replicas"], 1);
        // Nulls where the schema takes none: defaulted when it has a default, dropped when not.
        let mut nulls = json!({"spec": {"image": "nginx", "replicas": null, "color": null}, "status": null});
        default(&schema(), &mut nulls);
        assert_eq!(nulls["spec"]["replicas"], 1);
        assert!(nulls["spec"].get("color").is_none() && nulls.get("status").is_none(), "{nulls}");
        assert!(validate(&schema(), &nulls).is_empty());
        assert_eq!(object["spec"]["ports"], json!([{"name": "a", "port": 80}, {"name": "b", "port": 8}]));
    }

    #[test]
    fn errors_name_the_field_as_kubernetes_does() {
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"replicas": "three", "color": "pink", "port": true, "labels": {"a": 1},
                     "template": {"metadata": {}}, "ports": [{"name": "a"}, {"name": "a"}]}});
        let errors: Vec<String> =
            validate(&schema(), &object).iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        assert_eq!(
            errors,
            [
                "spec.image: Required value",
                "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
                "spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\"",
                "spec.port: Invalid value: true: spec.port in body must be of type integer,string: \"boolean\"",
                "spec.ports[1]: Duplicate value: {\"name\":\"a\"}",
                "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
                "spec.template.apiVersion: Required value: must not be empty",
                "spec.template.kind: Required value: must not be empty",
            ]
        );
        let bounded = json!({"spec": {"image": "UPPER", "replicas": 11, "port": "http"}});
        let errors: Vec<String> = validate(&schema(), &bounded).iter().map(|e| e.message.clone()).collect();
        assert_eq!(
            errors,
            [
                "Invalid value: \"UPPER\": spec.image in body should match '^[a-z/:.0-9]+$'",
                "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
            ]
        );
    }

    #[test]
    fn a_schema_is_structural_when_every_node_has_a_type() {
        assert!(structural_problems(&schema(), "spec.versions[0].schema.openAPIV3Schema").is_empty());
        let loose = json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}});
        let problems = structural_problems(&loose, "s");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "s.properties[spec].type");
    }
}
