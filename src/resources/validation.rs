//! Server-side validation of the fields Kubernetes requires, with its messages: a refused object is a 422
//! Invalid whose causes name the field (`spec.selector: Required value`, `spec.template.metadata.labels:
//! Invalid value: …: `selector` does not match template `labels``), which kubectl prints.

use serde_json::Value;

use super::field_rules as rules;

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

fn pod_spec(errors: &mut Vec<FieldError>, o: &Value, base: &str) {
    required(errors, o, &format!("{base}/containers"));
    let mut names = std::collections::BTreeSet::new();
    let mut host_ports = std::collections::BTreeSet::new();
    for list in ["initContainers", "containers"] {
        let Some(containers) = o.pointer(&format!("{base}/{list}")).and_then(Value::as_array) else { continue };
        for (i, container) in containers.iter().enumerate() {
            let at = format!("{base}/{list}/{i}");
            required(errors, o, &format!("{at}/name"));
            if list == "containers" {
                required(errors, o, &format!("{at}/image"));
            }
            if let Some(name) = container.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                let field = field_path(&format!("{at}/name"));
                for message in rules::dns1123_label(name) {
                    errors.push(rules::invalid(&field, &Value::String(name.into()), &message));
                }
                if !names.insert(name.to_string()) {
                    errors.push(rules::duplicate(&field, &Value::String(name.into())));
                }
            }
            for (j, port) in container.get("ports").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let field = |f: &str| field_path(&format!("{at}/ports/{j}/{f}"));
                rules::port_number(errors, port.get("containerPort"), &field("containerPort"), true);
                rules::port_number(errors, port.get("hostPort"), &field("hostPort"), false);
                rules::protocol(errors, port.get("protocol"), &field("protocol"));
                // Two containers of a pod cannot listen on one host port (per protocol).
                if let Some(host_port) = port.get("hostPort").and_then(Value::as_i64).filter(|p| *p > 0) {
                    let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    let taken = format!("{host_port}/{protocol}");
                    if !host_ports.insert(taken.clone()) {
                        errors.push(rules::duplicate(&field("hostPort"), &Value::String(taken)));
                    }
                }
            }
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

/// A CronJob's schedule and time zone, as Kubernetes' cron parser and time zone database read them.
fn cron_job_schedule(errors: &mut Vec<FieldError>, o: &Value) {
    if let Some(schedule) = o.pointer("/spec/schedule").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        if schedule.contains("TZ=") {
            errors.push(rules::invalid(
                "spec.schedule",
                &Value::String(schedule.into()),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        } else if let Err(e) = crate::resources::cron_schedule::Schedule::parse(schedule) {
            errors.push(rules::invalid("spec.schedule", &Value::String(schedule.into()), &e.to_string()));
        }
    }
    if let Some(zone) = o.pointer("/spec/timeZone").and_then(Value::as_str) {
        if let Err(e) = crate::resources::cron_schedule::zone(Some(zone)) {
            errors.push(rules::invalid("spec.timeZone", &Value::String(zone.into()), &e.to_string()));
        }
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
        // Namespaces are RFC 1123 labels, Services RFC 1035 labels, everything else subdomains.
        Some(name) => {
            let problems = match kind {
                "Namespace" => rules::dns1123_label(name),
                "Service" => rules::dns1035_label(name),
                _ => rules::dns1123_subdomain(name),
            };
            for message in problems {
                errors.push(rules::invalid("metadata.name", &Value::String(name.into()), &message));
            }
        }
    }
    rules::labels(&mut errors, o.pointer("/metadata/labels"), "metadata.labels");
    rules::annotations(&mut errors, o.pointer("/metadata/annotations"), "metadata.annotations");
    rules::labels(&mut errors, o.pointer("/spec/template/metadata/labels"), "spec.template.metadata.labels");
    match kind {
        "Pod" => pod_spec(&mut errors, o, "/spec"),
        "Deployment" | "ReplicaSet" | "DaemonSet" | "ReplicationController" => templated(&mut errors, kind, o),
        "Job" => {
            pod_spec(&mut errors, o, "/spec/template/spec");
            job_restart_policy(&mut errors, o, "/spec/template/spec");
        }
        "CronJob" => {
            required(&mut errors, o, "/spec/schedule");
            cron_job_schedule(&mut errors, o);
            required(&mut errors, o, "/spec/jobTemplate");
            pod_spec(&mut errors, o, "/spec/jobTemplate/spec/template/spec");
            job_restart_policy(&mut errors, o, "/spec/jobTemplate/spec/template/spec");
        }
        "CustomResourceDefinition" => errors.extend(super::custom_resource_definition::validate(o)),
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
                let mut names = std::collections::BTreeSet::new();
                for (i, port) in ports.iter().enumerate() {
                    let field = |f: &str| format!("spec.ports[{i}].{f}");
                    rules::port_number(&mut errors, port.get("port"), &field("port"), true);
                    rules::protocol(&mut errors, port.get("protocol"), &field("protocol"));
                    if let Some(target) = port.get("targetPort").filter(|t| t.is_number()) {
                        rules::port_number(&mut errors, Some(target), &field("targetPort"), false);
                    }
                    match port.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                        None if ports.len() > 1 => {
                            errors.push(FieldError { field: field("name"), message: "Required value".into() })
                        }
                        Some(name) if !names.insert(name) => {
                            errors.push(rules::duplicate(&field("name"), &Value::String(name.into())))
                        }
                        _ => {}
                    }
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

    /// (kind, object, the field and message kube-apiserver answers) — messages as its validation tests and
    /// apimachinery's validation package write them.
    #[test]
    fn refusals_read_as_kube_apiserver_words_them() {
        let pod = |containers: Value| json!({"metadata": {"name": "p"}, "spec": {"containers": containers}});
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            ("Service", json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 70000}]}}),
             "spec.ports[0].port", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
            ("Service", json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "protocol": "HTTP"}]}}),
             "spec.ports[0].protocol", "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
            ("Service", json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81}]}}),
             "spec.ports[1].name", "Required value"),
            ("Service", json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}}),
             "spec.ports[1].name", "Duplicate value: \"a\""),
            ("Service", json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
             "metadata.name", "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
            ("Pod", pod(json!([{"name": "web", "image": "i", "ports": [{"containerPort": 0}]}])),
             "spec.containers[0].ports[0].containerPort", "Required value"),
            ("Pod", pod(json!([{"name": "web", "image": "i", "ports": [{"containerPort": 80, "hostPort": 65536}]}])),
             "spec.containers[0].ports[0].hostPort", "Invalid value: 65536: must be between 1 and 65535, inclusive"),
            ("Pod", pod(json!([{"name": "a", "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                               {"name": "b", "image": "i", "ports": [{"containerPort": 81, "hostPort": 8080}]}])),
             "spec.containers[1].ports[0].hostPort", "Duplicate value: \"8080/TCP\""),
            ("Pod", pod(json!([{"name": "web", "image": "i"}, {"name": "web", "image": "j"}])),
             "spec.containers[1].name", "Duplicate value: \"web\""),
            ("Pod", pod(json!([{"name": "Web", "image": "i"}])),
             "spec.containers[0].name", "Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
            ("ConfigMap", json!({"metadata": {"name": "Bad_Name"}}),
             "metadata.name", "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
            ("ConfigMap", json!({"metadata": {"name": "c", "labels": {"bad key!": "v"}}}),
             "metadata.labels", "Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
            ("ConfigMap", json!({"metadata": {"name": "c", "labels": {"app": "-bad"}}}),
             "metadata.labels.app", "Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
            ("ConfigMap", json!({"metadata": {"name": "c", "annotations": {"Example.COM/": "v"}}}),
             "metadata.annotations", "Invalid value: \"Example.COM/\": name part must be non-empty"),
            ("Namespace", json!({"metadata": {"name": "a.b"}}),
             "metadata.name", "Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
            ("CronJob", json!({"metadata": {"name": "c"}, "spec": {"schedule": "TZ=UTC * * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}}),
             "spec.schedule", "Invalid value: \"TZ=UTC * * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
            ("CronJob", json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}}),
             "spec.schedule", "Invalid value: \"* * * *\": expected exactly 5 fields, found 4: [* * * *]"),
            ("CronJob", json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "timeZone": "Mars/Base", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}}),
             "spec.timeZone", "Invalid value: \"Mars/Base\": unknown time zone Mars/Base"),
        ];
        for (kind, object, field, message) in cases {
            let errors = validate(kind, &object);
            assert!(
                errors.iter().any(|e| e.field == field && e.message == message),
                "{kind} {object}: want {field}: {message}, got {errors:?}"
            );
        }
    }

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
