//! autoscaling/v1 HorizontalPodAutoscaler (what `kubectl autoscale` 1.20–1.32 creates), served from the
//! autoscaling/v2 objects the store keeps, as Kubernetes keeps v2. v1 has one metric, a CPU utilization
//! target; everything v2 has beyond it rides in annotations on the v1 object (Kubernetes' own annotation
//! names, holding v2's JSON here), so a v1 client's update keeps it.

use serde_json::{json, Map, Value};

use super::kinds::ResourceKind;

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";

/// Whether `kind` is the v1 HorizontalPodAutoscaler.
pub fn is_v1(kind: &ResourceKind) -> bool {
    kind.group == "autoscaling" && kind.version == "v1" && kind.kind == "HorizontalPodAutoscaler"
}

/// The version the store keeps.
pub const STORED_API_VERSION: &str = "autoscaling/v2";

/// An object with an object (or no) metadata: anything else is left as it is, for the caller to refuse.
fn well_shaped(object: &Value) -> bool {
    object.is_object() && matches!(object.get("metadata"), None | Some(Value::Object(_)))
}

/// What v1 and v2 say differently in one section (spec or status): v2's metric list, whose CPU entry is v1's
/// one number, and one more v2 field (behavior, conditions); the rest rides in annotations on v1.
struct Section {
    name: &'static str,
    metrics: &'static str,
    v1_field: &'static str,
    /// Where the number is in the CPU metric.
    number_at: &'static str,
    is_cpu: fn(&Value) -> bool,
    cpu_metric: fn(Value) -> Value,
    metrics_annotation: &'static str,
    other: &'static str,
    other_annotation: &'static str,
}

const SECTIONS: [Section; 2] = [
    Section {
        name: "spec",
        metrics: "metrics",
        v1_field: "targetCPUUtilizationPercentage",
        number_at: "/resource/target/averageUtilization",
        is_cpu: |m| {
            m["type"] == "Resource"
                && m.pointer("/resource/name") == Some(&json!("cpu"))
                && m.pointer("/resource/target/type") == Some(&json!("Utilization"))
        },
        cpu_metric: |target| {
            let target = json!({"type": "Utilization", "averageUtilization": target});
            json!({"type": "Resource", "resource": {"name": "cpu", "target": target}})
        },
        metrics_annotation: METRICS,
        other: "behavior",
        other_annotation: BEHAVIOR,
    },
    Section {
        name: "status",
        metrics: "currentMetrics",
        v1_field: "currentCPUUtilizationPercentage",
        number_at: "/resource/current/averageUtilization",
        is_cpu: |m| m["type"] == "Resource" && m.pointer("/resource/name") == Some(&json!("cpu")),
        cpu_metric: |used| json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": used}}}),
        metrics_annotation: CURRENT_METRICS,
        other: "conditions",
        other_annotation: CONDITIONS,
    },
];

fn annotations(object: &mut Value) -> &mut Map<String, Value> {
    if !object.pointer("/metadata/annotations").is_some_and(Value::is_object) {
        object["metadata"]["annotations"] = json!({});
    }
    object["metadata"]["annotations"].as_object_mut().expect("an object")
}

/// Moves `value` (when there is something in it) into the annotation `name` as JSON text.
fn stash(object: &mut Value, name: &str, value: Option<Value>) {
    let keep = value.filter(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    if let Some(value) = keep {
        annotations(object).insert(name.into(), json!(value.to_string()));
    }
}

/// Takes the annotation `name` back out, parsed.
fn unstash(object: &mut Value, name: &str) -> Option<Value> {
    let annotations = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut)?;
    let text = annotations.remove(name)?;
    if annotations.is_empty() {
        object["metadata"].as_object_mut().map(|m| m.remove("annotations"));
    }
    serde_json::from_str(text.as_str()?).ok()
}

/// The stored v2 object as a v1 client sees it.
pub fn to_v1(mut object: Value) -> Value {
    if !well_shaped(&object) {
        return object;
    }
    for section in &SECTIONS {
        let Some(fields) = object.get_mut(section.name).and_then(Value::as_object_mut) else { continue };
        let metrics = fields.remove(section.metrics).and_then(|m| m.as_array().cloned()).unwrap_or_default();
        let other = fields.remove(section.other);
        let (cpu, rest): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(section.is_cpu);
        if let Some(number) = cpu.first().and_then(|m| m.pointer(section.number_at)) {
            fields.insert(section.v1_field.into(), number.clone());
        }
        stash(&mut object, section.metrics_annotation, Some(Value::Array(rest)));
        stash(&mut object, section.other_annotation, other);
    }
    object["apiVersion"] = json!("autoscaling/v1");
    object
}

/// A v1 client's object as the v2 object to store. Without a CPU target the metrics stay unset, and v2's
/// defaulting gives the same 80% Kubernetes' v1 defaulting gives.
pub fn to_v2(mut object: Value) -> Value {
    if !well_shaped(&object) {
        return object;
    }
    for section in &SECTIONS {
        let rest = unstash(&mut object, section.metrics_annotation);
        let other = unstash(&mut object, section.other_annotation);
        let Some(fields) = object.get_mut(section.name).and_then(Value::as_object_mut) else { continue };
        let mut metrics = Vec::new();
        if let Some(number) = fields.remove(section.v1_field).filter(|n| !n.is_null()) {
            metrics.push((section.cpu_metric)(number));
        }
        metrics.extend(rest.and_then(|r| r.as_array().cloned()).unwrap_or_default());
        if !metrics.is_empty() {
            fields.insert(section.metrics.into(), Value::Array(metrics));
        }
        if let Some(other) = other {
            fields.insert(section.other.into(), other);
        }
    }
    object["apiVersion"] = json!(STORED_API_VERSION);
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2() -> Value {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}},
            },
            "status": {
                "currentReplicas": 2,
                "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}],
            },
        })
    }

    #[test]
    fn v1_shows_the_cpu_target_and_keeps_the_rest_in_annotations() {
        let v1 = to_v1(v2());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 42);
        assert!(v1["spec"].get("metrics").is_none() && v1["spec"].get("behavior").is_none());
        let stashed = v1["metadata"]["annotations"][METRICS].as_str().unwrap();
        assert!(stashed.contains("memory"), "{stashed}");
        assert_eq!(to_v2(v1), v2(), "a v1 round trip loses nothing");
    }

    #[test]
    fn a_v1_object_without_a_target_leaves_v2_to_default_it() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3},
        });
        let stored = to_v2(v1);
        assert_eq!(stored["apiVersion"], STORED_API_VERSION);
        assert!(stored["spec"].get("metrics").is_none());
        assert!(stored["metadata"].get("annotations").is_none());
        for odd in [json!([]), json!({"metadata": "x"}), json!("text")] {
            assert_eq!(to_v2(odd.clone()), odd, "left for the caller to refuse");
        }
    }
}
