//! events.k8s.io/v1 Events, served from the core Events the store keeps (kube-apiserver keeps both in
//! one storage too): the same objects under the newer API's field names — `regarding` is core's
//! `involvedObject`, `note` its `message`, `reportingController` its `reportingComponent`, and the
//! fields only core had are `deprecated…`.

use serde_json::{Map, Value};

use super::kinds::ResourceKind;

/// Whether `kind` is events.k8s.io's Event.
pub fn is_events_v1(kind: &ResourceKind) -> bool {
    kind.group == "events.k8s.io" && kind.kind == "Event"
}

/// (core field, events.k8s.io/v1 field): renamed, otherwise the same value.
const RENAMED: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// Fields both versions name alike.
const SAME: [&str; 9] =
    ["metadata", "eventTime", "series", "reportingInstance", "action", "reason", "related", "type", "kind"];

fn rename(object: Value, from_core: bool, api_version: &str) -> Value {
    let Value::Object(map) = object else { return object };
    let mut out = Map::new();
    for (key, value) in map {
        let renamed = RENAMED.iter().find_map(|(core, v1)| match from_core {
            true if key == *core => Some(*v1),
            false if key == *v1 => Some(*core),
            _ => None,
        });
        match renamed {
            Some(name) => {
                out.insert(name.to_string(), value);
            }
            None if SAME.contains(&key.as_str()) => {
                out.insert(key, value);
            }
            // The other version's spelling of a renamed field, or apiVersion: left out.
            None => {}
        }
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    Value::Object(out)
}

/// A stored (core) Event as events.k8s.io/v1 serves it.
pub fn to_v1(core: Value) -> Value {
    rename(core, true, "events.k8s.io/v1")
}

/// An events.k8s.io/v1 Event as the store keeps it (core v1).
pub fn to_core(v1: Value) -> Value {
    rename(v1, false, "v1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_versions_say_the_same_event() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web"}, "message": "Pulled", "reason": "Pulled",
            "source": {"component": "kubelet"}, "count": 3, "firstTimestamp": "2026-12-06T00:00:00Z",
            "type": "Normal", "reportingComponent": "kubelet", "reportingInstance": "lab-node1"});
        let v1 = to_v1(core.clone());
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!((v1["regarding"]["name"].as_str(), v1["note"].as_str()), (Some("web"), Some("Pulled")));
        assert_eq!((v1["deprecatedCount"].as_i64(), v1["reportingController"].as_str()), (Some(3), Some("kubelet")));
        assert!(v1.get("involvedObject").is_none() && v1.get("message").is_none());
        assert_eq!(to_core(v1), core, "and back");
    }
}
