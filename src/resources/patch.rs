//! PATCH bodies: JSON patch (RFC 6902) and JSON merge patch (RFC 7386) by the json-patch crate, and
//! Kubernetes' strategic merge patch, which kubectl apply sends, written here (no Rust crate does it): lists
//! of named things merge by their key (containers and env by name, volumeMounts by mountPath, ports by
//! containerPort or port, …), with the directives $patch (replace/delete/merge), $setElementOrder/<list>,
//! $retainKeys and $deleteFromPrimitiveList/<list>.

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the patch is not valid JSON: {0}")]
    Json(String),
    #[error("the JSON patch cannot be applied: {0}")]
    JsonPatch(String),
    #[error("unsupported patch type {0:?}")]
    Unsupported(String),
}

/// Apply `body` (of `content_type`) to `object`.
pub fn apply(object: &Value, body: &[u8], content_type: &str) -> Result<Value, PatchError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let patch: Value = if media == "application/apply-patch+yaml" {
        crate::yaml::from_str(&String::from_utf8_lossy(body)).map_err(|e| PatchError::Json(e.to_string()))?
    } else {
        serde_json::from_slice(body).map_err(|e| PatchError::Json(e.to_string()))?
    };
    let mut doc = object.clone();
    match media {
        "application/json-patch+json" => {
            let ops: json_patch::Patch =
                serde_json::from_value(patch).map_err(|e| PatchError::JsonPatch(e.to_string()))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| PatchError::JsonPatch(e.to_string()))?;
        }
        // Server-side apply is served as create-or-merge: the applied fields win.
        "application/merge-patch+json" | "application/apply-patch+yaml" => json_patch::merge(&mut doc, &patch),
        "application/strategic-merge-patch+json" => doc = strategic_merge(&doc, &patch, &mut Vec::new()),
        other => return Err(PatchError::Unsupported(other.to_string())),
    }
    Ok(doc)
}

/// The key a list of objects merges by, from the list's field name and where it is.
fn merge_key(path: &[String], field: &str) -> Option<&'static str> {
    list_merge_key(field, path.iter().any(|p| p.ends_with("ontainers")))
}

/// The key a list of objects named `field` merges by (ports differ inside a container). The OpenAPI
/// documents publish this same table, so kubectl computes the patches this server merges.
pub fn list_merge_key(field: &str, inside_container: bool) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" if inside_container => "containerPort",
        "ports" => "port",
        "hostAliases" => "ip",
        "conditions" => "type",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

fn strategic_merge(original: &Value, patch: &Value, path: &mut Vec<String>) -> Value {
    let (Value::Object(orig), Value::Object(p)) = (original, patch) else { return patch.clone() };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => return Value::Object(without_directives(p)),
        Some("delete") => return Value::Null,
        _ => {}
    }
    let mut out = orig.clone();
    for (field, value) in p {
        if field.starts_with('$') {
            continue;
        }
        if value.is_null() {
            out.remove(field);
            continue;
        }
        path.push(field.clone());
        let merged = match (out.get(field), value) {
            (Some(current @ Value::Object(_)), Value::Object(_)) => strategic_merge(current, value, path),
            (Some(Value::Array(current)), Value::Array(items)) => {
                let order = p.get(&format!("$setElementOrder/{field}")).and_then(Value::as_array);
                merge_list(current, items, order, path)
            }
            (_, Value::Object(_)) => strategic_merge(&Value::Object(Map::new()), value, path),
            (_, Value::Array(items)) => {
                let order = p.get(&format!("$setElementOrder/{field}")).and_then(Value::as_array);
                merge_list(&[], items, order, path)
            }
            _ => value.clone(),
        };
        path.pop();
        out.insert(field.clone(), merged);
    }
    // Directives that act on a list the patch does not carry itself.
    for (directive, value) in p {
        if let Some(field) = directive.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(gone)) = (out.get_mut(field), value.as_array()) {
                items.retain(|i| !gone.contains(i));
            }
        } else if let Some(field) = directive.strip_prefix("$setElementOrder/") {
            if !p.contains_key(field) {
                if let (Some(Value::Array(items)), Some(order)) = (out.get(field).cloned(), value.as_array()) {
                    path.push(field.to_string());
                    out.insert(field.to_string(), Value::Array(reorder(items, order, merge_key(path, field))));
                    path.pop();
                }
            }
        }
    }
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        out.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    Value::Object(out)
}

fn without_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn merge_list(current: &[Value], items: &[Value], order: Option<&Vec<Value>>, path: &mut Vec<String>) -> Value {
    let field = path.last().cloned().unwrap_or_default();
    if items.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        let kept: Vec<Value> = items.iter().filter(|i| i.get("$patch").is_none()).cloned().collect();
        return Value::Array(kept);
    }
    let Some(key) = merge_key(path, &field).filter(|_| items.iter().all(Value::is_object)) else {
        return Value::Array(items.to_vec()); // lists without a merge key are replaced whole
    };
    let mut out: Vec<Value> = current.to_vec();
    for item in items {
        let id = item.get(key);
        let at = out.iter().position(|o| o.get(key) == id && id.is_some());
        let deleting = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (at, deleting) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => out[i] = strategic_merge(&out[i], item, path),
            (None, false) => out.push(strategic_merge(&Value::Object(Map::new()), item, path)),
        }
    }
    match order {
        Some(order) => Value::Array(reorder(out, order, Some(key))),
        None => Value::Array(out),
    }
}

/// Items named in `order` first, in that order; the others after, as they were.
fn reorder(items: Vec<Value>, order: &[Value], key: Option<&str>) -> Vec<Value> {
    let Some(key) = key else { return items };
    let position = |item: &Value| order.iter().position(|o| o.get(key).is_some() && o.get(key) == item.get(key));
    let (mut named, rest): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|i| position(i).is_some());
    named.sort_by_key(|i| position(i).unwrap_or(usize::MAX));
    named.extend(rest);
    named
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(original: Value, patch: Value) -> Value {
        apply(&original, patch.to_string().as_bytes(), "application/strategic-merge-patch+json").unwrap()
    }

    #[test]
    fn containers_and_env_merge_by_name() {
        let pod = json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "side", "image": "busybox"}
        ]}});
        let patched = smp(
            pod,
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                "containers": [{"name": "web", "image": "nginx:2",
                                "$setElementOrder/env": [{"name": "A"}],
                                "env": [{"name": "B", "$patch": "delete"}]}]
            }}),
        );
        assert_eq!(patched["spec"]["containers"][0]["image"], "nginx:2");
        assert_eq!(patched["spec"]["containers"][0]["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(patched["spec"]["containers"][1]["name"], "side", "the other container is kept");
    }

    #[test]
    fn ports_mounts_nulls_and_directives() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"ports": [{"port": 80, "name": "http"}],
                     "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}],
                        "volumeMounts": [{"mountPath": "/a", "name": "x"}]}]}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                     "finalizers": ["x", "y"], "args": ["1", "2"]}});
        let patched = smp(
            obj,
            json!({"metadata": {"labels": {"b": null}},
                "spec": {"ports": [{"port": 443}],
                         "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}],
                            "volumeMounts": [{"mountPath": "/a", "readOnly": true}]}]}},
                         "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                         "$deleteFromPrimitiveList/finalizers": ["x"], "args": ["3"]}}),
        );
        assert_eq!(patched["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(patched["spec"]["ports"], json!([{"port": 80, "name": "http"}, {"port": 443}]));
        let c = &patched["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["ports"], json!([{"containerPort": 80}, {"containerPort": 8080}]));
        assert_eq!(c["volumeMounts"], json!([{"mountPath": "/a", "name": "x", "readOnly": true}]));
        assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(patched["spec"]["finalizers"], json!(["y"]));
        assert_eq!(patched["spec"]["args"], json!(["3"]), "lists without a merge key are replaced");
    }

    #[test]
    fn json_and_merge_patches() {
        let obj = json!({"a": {"b": 1, "c": 2}});
        let merged = apply(&obj, br#"{"a": {"c": null, "d": 3}}"#, "application/merge-patch+json").unwrap();
        assert_eq!(merged, json!({"a": {"b": 1, "d": 3}}));
        let ops = br#"[{"op": "replace", "path": "/a/b", "value": 5}, {"op": "remove", "path": "/a/c"}]"#;
        assert_eq!(apply(&obj, ops, "application/json-patch+json").unwrap(), json!({"a": {"b": 5}}));
        assert!(apply(&obj, br#"[{"op": "remove", "path": "/x"}]"#, "application/json-patch+json").is_err());
        assert!(apply(&obj, b"{}", "text/plain").is_err());
    }
}
