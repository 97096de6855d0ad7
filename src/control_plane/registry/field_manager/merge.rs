//! The object an apply makes: the applied configuration merged into the live object as the schema says
//! (objects field by field, map lists item by item by their keys, sets by value, everything else
//! replaced), and the fields an applier stopped stating taken out.

use serde_json::{Map, Value};

use super::field_set::{item_element, node, Node};

/// `config` merged into `live`.
pub fn merge(live: &Map<String, Value>, config: &Map<String, Value>) -> Map<String, Value> {
    merge_fields(live, config, &mut Vec::new())
}

fn merge_fields(live: &Map<String, Value>, config: &Map<String, Value>, names: &mut Vec<String>) -> Map<String, Value> {
    let mut out = live.clone();
    for (key, value) in config {
        names.push(key.clone());
        let merged = match out.get(key) {
            Some(current) => merge_values(current, value, names),
            None => value.clone(),
        };
        out.insert(key.clone(), merged);
        names.pop();
    }
    out
}

fn merge_values(live: &Value, config: &Value, names: &mut Vec<String>) -> Value {
    let view: Vec<&str> = names.iter().map(String::as_str).collect();
    match (node(&view, live), node(&view, config)) {
        (Node::Fields(a), Node::Fields(b)) => Value::Object(merge_fields(a, b, names)),
        (Node::Items(a, list), Node::Items(b, _)) => {
            let mut out: Vec<Value> = a.to_vec();
            for item in b {
                let element = item_element(item, list);
                match out.iter().position(|o| item_element(o, list) == element) {
                    Some(at) => {
                        out[at] = match (out[at].as_object(), item.as_object()) {
                            (Some(x), Some(y)) => Value::Object(merge_fields(x, y, names)),
                            _ => item.clone(),
                        }
                    }
                    None => out.push(item.clone()),
                }
            }
            Value::Array(out)
        }
        _ => config.clone(),
    }
}

/// Take the node at `path` (and everything beneath it) out of `object`; a path that is not there is
/// nothing to do.
pub fn remove(object: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    let Some(name) = first.strip_prefix("f:") else { return };
    if rest.is_empty() {
        object.remove(name);
        return;
    }
    let names = vec![name.to_string()];
    if let Some(child) = object.get_mut(name) {
        remove_in(child, rest, names);
    }
}

fn remove_in(value: &mut Value, path: &[String], mut names: Vec<String>) {
    let Some((first, rest)) = path.split_first() else { return };
    match value {
        Value::Object(map) => {
            if let Some(name) = first.strip_prefix("f:") {
                if rest.is_empty() {
                    map.remove(name);
                } else if let Some(child) = map.get_mut(name) {
                    names.push(name.to_string());
                    remove_in(child, rest, names);
                }
            }
        }
        Value::Array(items) => {
            let view: Vec<&str> = names.iter().map(String::as_str).collect();
            let Node::Items(_, list) = node(&view, &Value::Array(items.clone())) else { return };
            let Some(at) = items.iter().position(|i| &item_element(i, list) == first) else { return };
            if rest.is_empty() {
                items.remove(at);
            } else {
                remove_in(&mut items[at], rest, names);
            }
        }
        _ => {}
    }
}
