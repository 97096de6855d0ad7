//! Server-side validation of the fields Kubernetes requires, with its messages: a refused object is a 422
//! Invalid whose causes name the field (`spec.selector: Required value`, `spec.template.metadata.labels:
//! Invalid value: …: `selector` does not match template `labels``), which kubectl prints.

use serde_json::Value;

/// One problem: the field path and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn required(errors: &mut Vec<FieldError>, o: &Value, pointer: &str) {
    let missing = match o.pointer(pointer) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    };
    if missing {
        errors.push(FieldError { field: field_path(pointer), message: "Required value".into() });
    }
}

/// `/spec/containers/0/image` -> `spec.containers[0].image`, as Kubernetes names fields.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.trim_start_matches('/').split('/') {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn dns_label_ok(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

fn pod_spec(errors: &mut Vec<FieldError>, o: &Value, base: &str) {
    required(errors, o, &format!("{base}/containers"));
    if let Some(containers) = o.pointer(&format!("{base}/containers")).and_then(Value::as_array) {
        for (i, _) in containers.iter().enumerate() {
            required(errors, o, &format!("{base}/containers/{i}/name"));
            required(errors, o, &format!("{base}/containers/{i}/image"));
        }
    }
}

/// A Job's pods end: their restartPolicy (Always when left out) must be OnFailure or Never.
fn job_restart_policy(errors: &mut Vec<FieldError>, o: &Value, base: &str) {
    let pointer = format!("{base}/restartPolicy");
    let policy = o.pointer(&pointer).and_then(Value::as_str).unwrap_or("Always");
    if !matches!(policy, "OnFailure" | "Never") {
        errors.push(FieldError {
            field: field_path(&pointer),
            message: format!("Unsupported value: {policy:?}: supported values: \"OnFailure\", \"Never\""),
        });
    }
}

/// Does `selector.matchLabels` select `labels`?
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

fn templated(errors: &mut Vec<FieldError>, kind: &str, o: &Value) {
    required(errors, o, "/spec/selector");
    if kind == "ReplicationController" {
        required(errors, o, "/spec/template");
    }
    pod_spec(errors, o, "/spec/template/spec");
    let selector = crate::resources::label_selector::of_workload(kind, o);
    let (Some(selector), Some(labels)) = (selector, o.pointer("/spec/template/metadata/labels")) else {
        return;
    };
    if !selects(&selector, labels) {
        errors.push(FieldError {
            field: "spec.template.metadata.labels".into(),
            message: format!("Invalid value: {labels}: `selector` does not match template `labels`"),
        });
    }
}

pub fn validate(kind: &str, o: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match o.pointer("/metadata/name").and_then(Value::as_str) {
        None | Some("") => required(&mut errors, o, "/metadata/name"),
        Some(name) if !dns_label_ok(name, 253) => errors.push(FieldError {
            field: "metadata.name".into(),
            message: format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                 characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        }),
        _ => {}
    }
    match kind {
        "Pod" => pod_spec(&mut errors, o, "/spec"),
        "Deployment" | "ReplicaSet" | "DaemonSet" | "ReplicationController" => templated(&mut errors, kind, o),
        "Job" => {
            pod_spec(&mut errors, o, "/spec/template/spec");
            job_restart_policy(&mut errors, o, "/spec/template/spec");
        }
        "CronJob" => {
            required(&mut errors, o, "/spec/schedule");
            required(&mut errors, o, "/spec/jobTemplate");
            pod_spec(&mut errors, o, "/spec/jobTemplate/spec/template/spec");
            job_restart_policy(&mut errors, o, "/spec/jobTemplate/spec/template/spec");
        }
        "PersistentVolume" => {
            required(&mut errors, o, "/spec/capacity/storage");
            required(&mut errors, o, "/spec/accessModes");
            let sources = ["hostPath", "local", "nfs", "csi", "iscsi", "fc", "cephfs", "rbd"];
            let given = sources.iter().filter(|s| o.pointer(&format!("/spec/{s}")).is_some()).count();
            if given == 0 {
                errors.push(FieldError {
                    field: "spec".into(),
                    message: "Required value: must specify a volume type".into(),
                });
            } else if given > 1 {
                errors.push(FieldError {
                    field: "spec".into(),
                    message: "Forbidden: may not specify more than 1 volume type".into(),
                });
            }
            if o.pointer("/spec/local").is_some() {
                required(&mut errors, o, "/spec/local/path");
                required(&mut errors, o, "/spec/nodeAffinity");
            }
            if o.pointer("/spec/hostPath").is_some() {
                required(&mut errors, o, "/spec/hostPath/path");
            }
        }
        "PersistentVolumeClaim" => {
            required(&mut errors, o, "/spec/accessModes");
            required(&mut errors, o, "/spec/resources/requests/storage");
        }
        "StorageClass" => required(&mut errors, o, "/provisioner"),
        "StatefulSet" => templated(&mut errors, kind, o),
        "Ingress"
            if o.pointer("/spec/defaultBackend").is_none() && o.pointer("/spec/rules").is_none_or(Value::is_null) =>
        {
            errors.push(FieldError {
                field: "spec".into(),
                message: "Invalid value: either `defaultBackend` or `rules` must be specified".into(),
            });
        }
        "Role" | "ClusterRole" => {
            for (i, _) in o.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
                required(&mut errors, o, &format!("/rules/{i}/verbs"));
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            required(&mut errors, o, "/roleRef/kind");
            required(&mut errors, o, "/roleRef/name");
            for (i, _) in o.get("subjects").and_then(Value::as_array).into_iter().flatten().enumerate() {
                required(&mut errors, o, &format!("/subjects/{i}/kind"));
                required(&mut errors, o, &format!("/subjects/{i}/name"));
            }
        }
        "HorizontalPodAutoscaler" => {
            required(&mut errors, o, "/spec/scaleTargetRef/kind");
            required(&mut errors, o, "/spec/scaleTargetRef/name");
            let max = o.pointer("/spec/maxReplicas").and_then(Value::as_i64).unwrap_or(0);
            if max < 1 {
                errors.push(FieldError {
                    field: "spec.maxReplicas".into(),
                    message: format!("Invalid value: {max}: must be greater than or equal to 1"),
                });
            }
        }
        "PodDisruptionBudget"
            if o.pointer("/spec/minAvailable").is_some() && o.pointer("/spec/maxUnavailable").is_some() =>
        {
            errors.push(FieldError {
                field: "spec".into(),
                message: "Invalid value: minAvailable and maxUnavailable cannot be both set".into(),
            });
        }
        "Service" => {
            if let Some(ports) = o.pointer("/spec/ports").and_then(Value::as_array) {
                for (i, _) in ports.iter().enumerate() {
                    required(&mut errors, o, &format!("/spec/ports/{i}/port"));
                }
            }
        }
        _ => {}
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_selector_must_match_template() {
        let bad = json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let errors = validate("Deployment", &bad);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.template.metadata.labels");
        assert!(errors[0].message.contains("`selector` does not match template `labels`"));
        let mut good = bad.clone();
        good["spec"]["template"]["metadata"]["labels"]["app"] = json!("web");
        assert!(validate("Deployment", &good).is_empty());
    }

    #[test]
    fn the_kinds_without_controllers_are_validated() {
        let fields =
            |kind: &str, o: Value| -> Vec<String> { validate(kind, &o).into_iter().map(|e| e.field).collect() };
        let binding = json!({"metadata": {"name": "b"}, "subjects": [{"kind": "User"}]});
        assert_eq!(fields("RoleBinding", binding), ["roleRef.kind", "roleRef.name", "subjects[0].name"]);
        assert_eq!(
            fields(
                "HorizontalPodAutoscaler",
                json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}}})
            ),
            ["spec.maxReplicas"]
        );
        assert_eq!(fields("Ingress", json!({"metadata": {"name": "i"}, "spec": {}})), ["spec"]);
        assert_eq!(
            fields(
                "PodDisruptionBudget",
                json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "maxUnavailable": 1}})
            ),
            ["spec"]
        );
        assert_eq!(
            fields("ClusterRole", json!({"metadata": {"name": "r"}, "rules": [{"resources": ["pods"]}]})),
            ["rules[0].verbs"]
        );
        assert!(fields("PriorityClass", json!({"metadata": {"name": "high"}, "value": 1000})).is_empty());
    }

    #[test]
    fn job_pods_must_end() {
        let job = |policy: Value| {
            json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": policy,
                "containers": [{"name": "c", "image": "i"}]}}}})
        };
        assert!(validate("Job", &job(json!("Never"))).is_empty());
        let errors = validate("Job", &job(Value::Null));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.template.spec.restartPolicy");
        assert_eq!(errors[0].message, r#"Unsupported value: "Always": supported values: "OnFailure", "Never""#);
    }

    #[test]
    fn required_fields_and_names() {
        let pod = json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c"}]}});
        let fields: Vec<String> = validate("Pod", &pod).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["metadata.name", "spec.containers[0].image"]);
        assert_eq!(validate("ConfigMap", &json!({"metadata": {}}))[0].field, "metadata.name");
    }
}
