//! What the API server fills into a pod spec that a client left out (Kubernetes' SetDefaults_PodSpec,
//! SetDefaults_Container, SetDefaults_Volume and probe defaults), for a Pod and for the pod template of every
//! workload alike; and, for a Pod only, what the Priority admission plugin adds. Each default is written
//! only where the field is missing, so applying them again changes nothing.

use serde_json::{json, Map, Value};

/// Where each served kind keeps its pod spec.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment" | "ReplicaSet" | "ReplicationController" | "DaemonSet" | "StatefulSet" | "Job" => {
            Some("/spec/template/spec")
        }
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// The defaults of `kind`'s pod spec, if it has one.
pub fn apply(kind: &str, object: &mut Value) {
    let Some(pointer) = pod_spec_pointer(kind) else { return };
    let Some(spec) = object.pointer_mut(pointer).and_then(Value::as_object_mut) else { return };
    pod_spec(spec);
    if kind == "Pod" {
        // The Priority admission plugin, with no PriorityClass named and none marked default.
        if !spec.contains_key("priorityClassName") {
            spec.entry("priority").or_insert(json!(0));
        }
        spec.entry("preemptionPolicy").or_insert(json!("PreemptLowerPriority"));
    }
}

/// `field` = `value` unless the client gave it (null counts as not given).
pub(crate) fn set(map: &mut Map<String, Value>, field: &str, value: Value) {
    if map.get(field).is_none_or(Value::is_null) {
        map.insert(field.into(), value);
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "securityContext", json!({}));
    set(spec, "enableServiceLinks", json!(true));
    for list in ["containers", "initContainers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(c) = container.as_object_mut() {
                self::container(c);
            }
        }
    }
    for volume in spec.get_mut("volumes").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(v) = volume.as_object_mut() {
            self::volume(v);
        }
    }
}

/// Always for `:latest` or no tag (a digest pins the image: IfNotPresent), as kubelet's API defaults say.
pub fn pull_policy_for(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn container(c: &mut Map<String, Value>) {
    if let Some(image) = c.get("image").and_then(Value::as_str) {
        let policy = pull_policy_for(image);
        set(c, "imagePullPolicy", json!(policy));
    }
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    set(c, "resources", json!({}));
    for port in c.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(p) = port.as_object_mut() {
            set(p, "protocol", json!("TCP"));
        }
    }
    for env in c.get_mut("env").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(field_ref) = env.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut) {
            set(field_ref, "apiVersion", json!("v1"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set(p, "timeoutSeconds", json!(1));
            set(p, "periodSeconds", json!(10));
            set(p, "successThreshold", json!(1));
            set(p, "failureThreshold", json!(3));
            if let Some(get) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set(get, "path", json!("/"));
                set(get, "scheme", json!("HTTP"));
            }
        }
    }
}

fn volume(v: &mut Map<String, Value>) {
    const SOURCES: [&str; 12] = [
        "emptyDir",
        "hostPath",
        "configMap",
        "secret",
        "persistentVolumeClaim",
        "downwardAPI",
        "projected",
        "nfs",
        "csi",
        "local",
        "ephemeral",
        "iscsi",
    ];
    if !SOURCES.iter().any(|s| v.contains_key(*s)) {
        v.insert("emptyDir".into(), json!({}));
    }
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
            set(s, "defaultMode", json!(420));
        }
    }
    if let Some(h) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        set(h, "type", json!(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_pod_gets_what_kube_apiserver_fills_in() {
        let mut pod = json!({"spec": {
            "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "readinessProbe": {"httpGet": {"port": 80}}}],
            "initContainers": [{"name": "i", "image": "busybox:1.36"}],
            "volumes": [{"name": "scratch"}, {"name": "conf", "configMap": {"name": "c"}}, {"name": "h", "hostPath": {"path": "/x"}}],
        }});
        apply("Pod", &mut pod);
        let s = &pod["spec"];
        assert_eq!((s["restartPolicy"].as_str(), s["dnsPolicy"].as_str()), (Some("Always"), Some("ClusterFirst")));
        assert_eq!(
            (s["schedulerName"].as_str(), s["terminationGracePeriodSeconds"].as_i64()),
            (Some("default-scheduler"), Some(30))
        );
        assert_eq!((s["priority"].as_i64(), s["preemptionPolicy"].as_str()), (Some(0), Some("PreemptLowerPriority")));
        let c = &s["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(s["initContainers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            (c["terminationMessagePath"].as_str(), c["terminationMessagePolicy"].as_str()),
            (Some("/dev/termination-log"), Some("File"))
        );
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(c["readinessProbe"]["failureThreshold"], 3);
        assert_eq!(s["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(s["volumes"][1]["configMap"]["defaultMode"], 420);
        assert_eq!(s["volumes"][2]["hostPath"]["type"], "");
        let once = pod.clone();
        apply("Pod", &mut pod);
        assert_eq!(pod, once, "applying again changes nothing");
    }

    #[test]
    fn what_the_client_set_is_kept_and_templates_get_no_priority() {
        let mut job = json!({"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "r/app:v1", "imagePullPolicy": "Never"}]}}}});
        apply("Job", &mut job);
        let s = &job["spec"]["template"]["spec"];
        assert_eq!(
            (s["restartPolicy"].as_str(), s["containers"][0]["imagePullPolicy"].as_str()),
            (Some("Never"), Some("Never"))
        );
        assert!(s.get("priority").is_none());
        let mut cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "r@sha256:00"}]}}}}}});
        apply("CronJob", &mut cron);
        assert_eq!(
            cron.pointer("/spec/jobTemplate/spec/template/spec/containers/0/imagePullPolicy"),
            Some(&json!("IfNotPresent"))
        );
    }

    #[test]
    fn pull_policy_from_the_tag() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v2", "IfNotPresent"),
            ("app@sha256:abc", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy_for(image), policy, "{image}");
        }
    }
}
