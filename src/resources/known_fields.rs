//! `fieldValidation=Strict`: the fields each kind has, as far down as kubeboot checks them (object top
//! level, metadata, the pod template, containers, and the specs of the workload kinds and services);
//! below that a field's content is not checked. An unknown field is reported with its path, as the
//! Kubernetes API server's strict decoding does.

use serde_json::Value;

/// What a field holds.
pub enum Shape {
    Any,
    Object(&'static [(&'static str, Shape)]),
    ListOf(&'static Shape),
}

use Shape::{Any, ListOf, Object};

const METADATA: Shape = Object(&[
    ("name", Any),
    ("generateName", Any),
    ("namespace", Any),
    ("selfLink", Any),
    ("uid", Any),
    ("resourceVersion", Any),
    ("generation", Any),
    ("creationTimestamp", Any),
    ("deletionTimestamp", Any),
    ("deletionGracePeriodSeconds", Any),
    ("labels", Any),
    ("annotations", Any),
    ("ownerReferences", Any),
    ("finalizers", Any),
    ("managedFields", Any),
]);

const CONTAINER: Shape = Object(&[
    ("name", Any),
    ("image", Any),
    ("command", Any),
    ("args", Any),
    ("workingDir", Any),
    ("ports", Any),
    ("envFrom", Any),
    ("env", Any),
    ("resources", Any),
    ("resizePolicy", Any),
    ("restartPolicy", Any),
    ("volumeMounts", Any),
    ("volumeDevices", Any),
    ("livenessProbe", Any),
    ("readinessProbe", Any),
    ("startupProbe", Any),
    ("lifecycle", Any),
    ("terminationMessagePath", Any),
    ("terminationMessagePolicy", Any),
    ("imagePullPolicy", Any),
    ("securityContext", Any),
    ("stdin", Any),
    ("stdinOnce", Any),
    ("tty", Any),
]);

const POD_SPEC: Shape = Object(&[
    ("volumes", Any),
    ("initContainers", ListOf(&CONTAINER)),
    ("containers", ListOf(&CONTAINER)),
    ("ephemeralContainers", Any),
    ("restartPolicy", Any),
    ("terminationGracePeriodSeconds", Any),
    ("activeDeadlineSeconds", Any),
    ("dnsPolicy", Any),
    ("nodeSelector", Any),
    ("serviceAccountName", Any),
    ("serviceAccount", Any),
    ("automountServiceAccountToken", Any),
    ("nodeName", Any),
    ("hostNetwork", Any),
    ("hostPID", Any),
    ("hostIPC", Any),
    ("shareProcessNamespace", Any),
    ("securityContext", Any),
    ("imagePullSecrets", Any),
    ("hostname", Any),
    ("subdomain", Any),
    ("affinity", Any),
    ("schedulerName", Any),
    ("tolerations", Any),
    ("hostAliases", Any),
    ("priorityClassName", Any),
    ("priority", Any),
    ("dnsConfig", Any),
    ("readinessGates", Any),
    ("runtimeClassName", Any),
    ("enableServiceLinks", Any),
    ("preemptionPolicy", Any),
    ("overhead", Any),
    ("topologySpreadConstraints", Any),
    ("setHostnameAsFQDN", Any),
    ("os", Any),
    ("hostUsers", Any),
    ("schedulingGates", Any),
    ("resourceClaims", Any),
]);

const POD_TEMPLATE: Shape = Object(&[("metadata", METADATA), ("spec", POD_SPEC)]);

const DEPLOYMENT_SPEC: Shape = Object(&[
    ("replicas", Any),
    ("selector", Any),
    ("template", POD_TEMPLATE),
    ("strategy", Any),
    ("minReadySeconds", Any),
    ("revisionHistoryLimit", Any),
    ("paused", Any),
    ("progressDeadlineSeconds", Any),
]);

const REPLICASET_SPEC: Shape =
    Object(&[("replicas", Any), ("minReadySeconds", Any), ("selector", Any), ("template", POD_TEMPLATE)]);

const JOB_SPEC: Shape = Object(&[
    ("parallelism", Any),
    ("completions", Any),
    ("activeDeadlineSeconds", Any),
    ("podFailurePolicy", Any),
    ("successPolicy", Any),
    ("backoffLimit", Any),
    ("backoffLimitPerIndex", Any),
    ("maxFailedIndexes", Any),
    ("selector", Any),
    ("manualSelector", Any),
    ("template", POD_TEMPLATE),
    ("ttlSecondsAfterFinished", Any),
    ("completionMode", Any),
    ("suspend", Any),
    ("podReplacementPolicy", Any),
    ("managedBy", Any),
]);

const CRONJOB_SPEC: Shape = Object(&[
    ("schedule", Any),
    ("timeZone", Any),
    ("startingDeadlineSeconds", Any),
    ("concurrencyPolicy", Any),
    ("suspend", Any),
    ("jobTemplate", Object(&[("metadata", METADATA), ("spec", JOB_SPEC)])),
    ("successfulJobsHistoryLimit", Any),
    ("failedJobsHistoryLimit", Any),
]);

const SERVICE_SPEC: Shape = Object(&[
    ("ports", Any),
    ("selector", Any),
    ("clusterIP", Any),
    ("clusterIPs", Any),
    ("type", Any),
    ("externalIPs", Any),
    ("sessionAffinity", Any),
    ("loadBalancerIP", Any),
    ("loadBalancerSourceRanges", Any),
    ("externalName", Any),
    ("externalTrafficPolicy", Any),
    ("healthCheckNodePort", Any),
    ("publishNotReadyAddresses", Any),
    ("sessionAffinityConfig", Any),
    ("ipFamilies", Any),
    ("ipFamilyPolicy", Any),
    ("allocateLoadBalancerNodePorts", Any),
    ("loadBalancerClass", Any),
    ("internalTrafficPolicy", Any),
    ("trafficDistribution", Any),
]);

/// The top-level shape of `kind`, or None for kinds whose fields are not checked.
fn top(kind: &str) -> Option<&'static [(&'static str, Shape)]> {
    Some(match kind {
        "Pod" => &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", POD_SPEC), ("status", Any)],
        "Deployment" => {
            &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", DEPLOYMENT_SPEC), ("status", Any)]
        }
        // A ReplicationController's spec has a ReplicaSet's fields (its selector is a label map).
        "ReplicaSet" | "ReplicationController" => {
            &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", REPLICASET_SPEC), ("status", Any)]
        }
        "Job" => &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", JOB_SPEC), ("status", Any)],
        "CronJob" => {
            &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", CRONJOB_SPEC), ("status", Any)]
        }
        "Service" => {
            &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", SERVICE_SPEC), ("status", Any)]
        }
        "ConfigMap" => &[
            ("apiVersion", Any),
            ("kind", Any),
            ("metadata", METADATA),
            ("data", Any),
            ("binaryData", Any),
            ("immutable", Any),
        ],
        "Secret" => &[
            ("apiVersion", Any),
            ("kind", Any),
            ("metadata", METADATA),
            ("data", Any),
            ("stringData", Any),
            ("type", Any),
            ("immutable", Any),
        ],
        "Namespace" | "Node" | "Lease" => {
            &[("apiVersion", Any), ("kind", Any), ("metadata", METADATA), ("spec", Any), ("status", Any)]
        }
        _ => return None,
    })
}

fn walk(value: &Value, shape: &Shape, path: &str, unknown: &mut Vec<String>) {
    match (shape, value) {
        (Object(fields), Value::Object(map)) => {
            for (key, v) in map {
                let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, inner)) => walk(v, inner, &here, unknown),
                    None => unknown.push(here),
                }
            }
        }
        (ListOf(inner), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, inner, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

/// The paths of fields `kind` does not have (empty for kinds not checked).
pub fn unknown_fields(kind: &str, object: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Some(fields) = top(kind) {
        walk(object, &Object(fields), "", &mut unknown);
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_typos_at_their_paths() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "lables": {}},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Always"}]}});
        assert_eq!(unknown_fields("Pod", &pod), ["metadata.lables", "spec.containers[0].imagePullPolicyy"]);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "dataa": {}});
        assert_eq!(unknown_fields("ConfigMap", &cm), ["dataa"]);
        let dep = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}, "replica": 2}});
        assert_eq!(unknown_fields("Deployment", &dep), ["spec.replica"]);
        assert!(unknown_fields("Event", &json!({"anything": 1})).is_empty());
    }
}
