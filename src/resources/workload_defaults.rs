//! What the API server fills into a workload's own spec (apps/v1, batch/v1, autoscaling/v2, networking/v1
//! and scheduling/v1 SetDefaults_*): replicas, update strategies, history limits, deadlines, an
//! autoscaler's CPU target, a network policy's types, a priority class's preemption. Written only where missing, so applying them again changes
//! nothing; pod templates get pod_defaults.

use serde_json::{json, Map, Value};

use super::pod_defaults::set;

/// core/v1's SetDefaults_ReplicationController: an empty selector and empty labels are the template's labels.
/// Applied before validation (which requires a selector), as the API server defaults before it validates.
pub fn replication_controller_labels(object: &mut Value) {
    let Some(labels) = object
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned()
    else {
        return;
    };
    let empty = |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(|m| m.is_empty());
    if empty(object.pointer("/spec/selector")) {
        object["spec"]["selector"] = labels.clone();
    }
    if empty(object.pointer("/metadata/labels")) && object["metadata"].is_object() {
        object["metadata"]["labels"] = labels;
    }
}

/// A RollingUpdate strategy (the default type) gets its rollingUpdate parameters; another type none.
fn rolling(strategy: &mut Map<String, Value>, parameters: Value) {
    set(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type") == Some(&json!("RollingUpdate")) {
        let given = strategy.entry("rollingUpdate").or_insert(json!({}));
        if let (Some(given), Value::Object(defaults)) = (given.as_object_mut(), parameters) {
            for (field, value) in defaults {
                set(given, &field, value);
            }
        }
    }
}

pub fn apply(kind: &str, object: &mut Value) {
    if kind == "PriorityClass" {
        if let Some(class) = object.as_object_mut() {
            set(class, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        return;
    }
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    match kind {
        "Deployment" => {
            set(spec, "replicas", json!(1));
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
            let strategy = spec.entry("strategy").or_insert(json!({}));
            if let Some(s) = strategy.as_object_mut() {
                rolling(s, json!({"maxSurge": "25%", "maxUnavailable": "25%"}));
            }
        }
        "ReplicaSet" | "ReplicationController" => set(spec, "replicas", json!(1)),
        "DaemonSet" => {
            set(spec, "revisionHistoryLimit", json!(10));
            let strategy = spec.entry("updateStrategy").or_insert(json!({}));
            if let Some(s) = strategy.as_object_mut() {
                rolling(s, json!({"maxUnavailable": 1, "maxSurge": 0}));
            }
        }
        "StatefulSet" => {
            set(spec, "replicas", json!(1));
            set(spec, "podManagementPolicy", json!("OrderedReady"));
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
            let strategy = spec.entry("updateStrategy").or_insert(json!({}));
            if let Some(s) = strategy.as_object_mut() {
                rolling(s, json!({"partition": 0}));
            }
        }
        "HorizontalPodAutoscaler" => {
            set(spec, "minReplicas", json!(1));
            let cpu = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]);
            set(spec, "metrics", cpu);
        }
        "NetworkPolicy" => {
            let mut types = vec![json!("Ingress")];
            if spec.get("egress").is_some_and(|e| !e.is_null()) {
                types.push(json!("Egress"));
            }
            set(spec, "policyTypes", Value::Array(types));
        }
        "CronJob" => {
            set(spec, "concurrencyPolicy", json!("Allow"));
            set(spec, "suspend", json!(false));
            set(spec, "successfulJobsHistoryLimit", json!(3));
            set(spec, "failedJobsHistoryLimit", json!(1));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_get_a_25_percent_rolling_update_and_keep_what_is_set() {
        let mut d = json!({"spec": {}});
        apply("Deployment", &mut d);
        assert_eq!(
            d["spec"],
            json!({"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                   "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}})
        );
        let mut recreate = json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}});
        apply("Deployment", &mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(recreate["spec"]["replicas"], 3);
        let mut partial = json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}});
        apply("Deployment", &mut partial);
        assert_eq!(partial["spec"]["strategy"]["rollingUpdate"], json!({"maxSurge": 1, "maxUnavailable": "25%"}));
        let once = partial.clone();
        apply("Deployment", &mut partial);
        assert_eq!(partial, once);
    }

    #[test]
    fn daemon_sets_cron_jobs_and_replica_sets() {
        let mut ds = json!({"spec": {}});
        apply("DaemonSet", &mut ds);
        assert_eq!(ds["spec"]["updateStrategy"]["rollingUpdate"], json!({"maxUnavailable": 1, "maxSurge": 0}));
        let mut cj = json!({"spec": {"schedule": "* * * * *"}});
        apply("CronJob", &mut cj);
        assert_eq!(
            (cj["spec"]["concurrencyPolicy"].as_str(), cj["spec"]["successfulJobsHistoryLimit"].as_i64()),
            (Some("Allow"), Some(3))
        );
        assert_eq!(
            (cj["spec"]["failedJobsHistoryLimit"].as_i64(), cj["spec"]["suspend"].as_bool()),
            (Some(1), Some(false))
        );
        let mut sts = json!({"spec": {}});
        apply("StatefulSet", &mut sts);
        assert_eq!(sts["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        let mut hpa = json!({"spec": {"maxReplicas": 3}});
        apply("HorizontalPodAutoscaler", &mut hpa);
        assert_eq!(hpa.pointer("/spec/metrics/0/resource/target/averageUtilization"), Some(&json!(80)));
        let mut policy = json!({"spec": {"podSelector": {}, "egress": [{}]}});
        apply("NetworkPolicy", &mut policy);
        assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let mut class = json!({"value": 10});
        apply("PriorityClass", &mut class);
        assert_eq!(class["preemptionPolicy"], "PreemptLowerPriority");
        let mut rs = json!({"spec": {}});
        apply("ReplicaSet", &mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
    }

    #[test]
    fn replication_controllers_take_their_templates_labels() {
        let mut rc = json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}}}});
        replication_controller_labels(&mut rc);
        apply("ReplicationController", &mut rc);
        assert_eq!((&rc["spec"]["selector"], &rc["metadata"]["labels"]), (&json!({"app": "x"}), &json!({"app": "x"})));
        assert_eq!(rc["spec"]["replicas"], 1);
        let mut own = json!({"metadata": {"labels": {"tier": "a"}}, "spec": {"selector": {"app": "x"},
            "template": {"metadata": {"labels": {"app": "x", "v": "2"}}}}});
        replication_controller_labels(&mut own);
        assert_eq!(
            (&own["spec"]["selector"], &own["metadata"]["labels"]),
            (&json!({"app": "x"}), &json!({"tier": "a"}))
        );
    }
}
