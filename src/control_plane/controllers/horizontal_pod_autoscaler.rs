//! Kubernetes' horizontal pod autoscaler controller, for CPU utilization targets (autoscaling/v2
//! `Resource` metrics named `cpu` with an `Utilization` target; v1's one number is stored that way). Every
//! SYNC_PERIOD, and when an HPA changes, it reads the target's scale and pods from the cache and their CPU
//! usage from the last metrics reading (control_plane/resource_metrics.rs, read by the leader while HPAs
//! exist), computes the replicas (replica_calculator.rs), holds them by the behavior's stabilization
//! windows (scale-down five minutes unless set), bounds them by min/max and the default scale-up rate, and
//! scales the target through its spec. Status and conditions are Kubernetes'; a rescale is an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::replica_calculator::{recommend, scale_up_limit, History, PodSample, Recommendation};
use crate::control_plane::resource_metrics::{ResourceMetrics, UsageSample};
use crate::control_plane::runtime::{Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::condition::condition;
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::label_selector;
use crate::resources::meta::{self, parse_rfc3339, rfc3339};
use crate::resources::quantity::cpu_millis;

/// How often each HPA is looked at (kube-controller-manager's --horizontal-pod-autoscaler-sync-period).
pub const SYNC_PERIOD: Duration = Duration::from_secs(15);
/// Scale-down stabilization unless the behavior sets one.
const DEFAULT_DOWN_WINDOW: Duration = Duration::from_secs(300);
/// A metrics reading older than this is not acted on.
const STALE_AFTER: Duration = Duration::from_secs(60);

pub struct HorizontalPodAutoscalerController {
    metrics: Arc<ResourceMetrics>,
    /// Each HPA's recent recommendations (in memory, as Kubernetes keeps them: a new leader starts afresh).
    histories: Mutex<HashMap<String, History>>,
}

impl HorizontalPodAutoscalerController {
    pub fn new(metrics: Arc<ResourceMetrics>) -> Self {
        HorizontalPodAutoscalerController { metrics, histories: Default::default() }
    }
}

pub fn autoscalers() -> &'static ResourceKind {
    kinds::served("autoscaling", "horizontalpodautoscalers")
}

/// The kinds an HPA may scale, by the kind its scaleTargetRef names.
fn scaled_kind(kind: &str) -> Option<&'static ResourceKind> {
    let (group, plural) = match kind {
        "Deployment" => ("apps", "deployments"),
        "ReplicaSet" => ("apps", "replicasets"),
        "StatefulSet" => ("apps", "statefulsets"),
        "ReplicationController" => ("", "replicationcontrollers"),
        _ => return None,
    };
    Some(kinds::served(group, plural))
}

/// The CPU utilization target in percent, when the HPA has one.
fn cpu_target(hpa: &Value) -> Option<i64> {
    hpa.pointer("/spec/metrics")?.as_array()?.iter().find_map(|m| {
        let resource = m.get("resource").filter(|_| m["type"] == "Resource")?;
        let target = resource.get("target").filter(|t| resource["name"] == "cpu" && t["type"] == "Utilization")?;
        target.get("averageUtilization")?.as_i64()
    })
}

fn window(hpa: &Value, direction: &str, default: Duration) -> Duration {
    hpa.pointer(&format!("/spec/behavior/{direction}/stabilizationWindowSeconds"))
        .and_then(Value::as_u64)
        .map_or(default, Duration::from_secs)
}

/// A pod's CPU request and usage in millicores; Err names a container without a CPU request.
fn pod_sample(pod: &Value, usage: &UsageSample) -> Result<PodSample, String> {
    let mut request = 0.0;
    for container in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
        let asked = container.pointer("/resources/requests/cpu").and_then(crate::resources::pod::quantity_text);
        let Some(millis) = asked.as_deref().and_then(cpu_millis) else {
            return Err(format!(
                "missing request for cpu in container {} of Pod {}",
                meta::text(container, "/name"),
                meta::text(pod, "/metadata/name")
            ));
        };
        request += millis as f64;
    }
    let measured = usage.pods.get(meta::text(pod, "/metadata/uid").as_str()).and_then(|stats| {
        let rates: Option<Vec<u64>> =
            stats.containers.iter().map(|c| c.cpu.as_ref().and_then(|cpu| cpu.usage_nano_cores)).collect();
        rates.filter(|r| !r.is_empty()).map(|r| r.iter().sum::<u64>() as f64 / 1_000_000.0)
    });
    Ok(PodSample { usage_millis: measured, request_millis: request, ready: crate::resources::pod::is_ready(pod) })
}

/// What one look at an HPA found, for its status.
struct Outcome {
    current: i64,
    desired: i64,
    measured: Option<Recommendation>,
    conditions: Vec<Value>,
    rescaled: bool,
}

impl Reconciler for HorizontalPodAutoscalerController {
    fn name(&self) -> &'static str {
        "horizontal-pod-autoscaler"
    }

    fn keys_for(&self, change: &Change, _cache: &Cache) -> Vec<String> {
        if change.key.starts_with(&autoscalers().prefix(None)) {
            vec![change.key.clone()]
        } else {
            Vec::new()
        }
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(hpa) = cache.get(key).filter(|h| !meta::is_deleting(h)) else {
            self.histories.lock().expect("histories").remove(key);
            return plan;
        };
        plan.requeue(SYNC_PERIOD);
        let outcome = self.look(key, hpa, cache, now, &mut plan);
        let stamp = rfc3339(now);
        let mut status = json!({
            "currentReplicas": outcome.current,
            "desiredReplicas": outcome.desired,
            "conditions": outcome.conditions,
        });
        if let Some(generation) = hpa.pointer("/metadata/generation") {
            status["observedGeneration"] = generation.clone();
        }
        let last_scale =
            if outcome.rescaled { Some(json!(stamp)) } else { hpa.pointer("/status/lastScaleTime").cloned() };
        if let Some(at) = last_scale.filter(|t| !t.is_null()) {
            status["lastScaleTime"] = at;
        }
        if let Some(found) = outcome.measured {
            status["currentMetrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": found.utilization,
                "averageValue": format!("{}m", found.average_millis.round() as i64),
            }}}]);
        }
        plan.update_status(autoscalers(), hpa, status);
        plan
    }
}

impl HorizontalPodAutoscalerController {
    /// Read the target and its pods, decide, and put the rescale (if any) in `plan`.
    fn look(&self, key: &str, hpa: &Value, cache: &Cache, now: OffsetDateTime, plan: &mut Plan) -> Outcome {
        let stamp = rfc3339(now);
        let kept = |field: &str| hpa.pointer(&format!("/status/{field}")).and_then(Value::as_i64).unwrap_or(0);
        let mut outcome = Outcome {
            current: kept("currentReplicas"),
            desired: kept("desiredReplicas"),
            measured: None,
            conditions: vec![],
            rescaled: false,
        };
        let fail = |mut outcome: Outcome, type_: &str, reason: &str, message: String| {
            outcome.conditions = vec![condition(hpa, type_, "False", reason, &message, &stamp)];
            if type_ == "ScalingActive" {
                outcome.conditions.insert(
                    0,
                    condition(
                        hpa,
                        "AbleToScale",
                        "True",
                        "SucceededGetScale",
                        "the HPA controller was able to get the target's current scale",
                        &stamp,
                    ),
                );
            }
            outcome
        };
        let namespace = meta::text(hpa, "/metadata/namespace");
        let target_kind = meta::text(hpa, "/spec/scaleTargetRef/kind");
        let target_name = meta::text(hpa, "/spec/scaleTargetRef/name");
        let Some(kind) = scaled_kind(&target_kind) else {
            let message = format!(
                "the HPA controller was unable to get the target's current scale: no scale for kind {target_kind:?}"
            );
            return fail(outcome, "AbleToScale", "FailedGetScale", message);
        };
        let Some(target) = cache.get(&kind.key(Some(&namespace), &target_name)) else {
            let message = format!(
                "the HPA controller was unable to get the target's current scale: {}.{} \"{target_name}\" not found",
                kind.plural, kind.group
            );
            return fail(outcome, "AbleToScale", "FailedGetScale", message);
        };
        let current = target.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        outcome.current = target.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(current);
        outcome.desired = current;
        let min = hpa.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1);
        let max = hpa.pointer("/spec/maxReplicas").and_then(Value::as_i64).unwrap_or(min);
        if current == 0 && min != 0 {
            return fail(
                outcome,
                "ScalingActive",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".into(),
            );
        }
        let Some(target_utilization) = cpu_target(hpa) else {
            return fail(
                outcome,
                "ScalingActive",
                "InvalidMetricSourceType",
                "kubeboot's HPA scales on cpu Utilization targets only".into(),
            );
        };
        let usage = self.metrics.latest().filter(|s| s.taken.is_some_and(|t| t.elapsed() < STALE_AFTER));
        let Some(usage) = usage else {
            return fail(
                outcome,
                "ScalingActive",
                "FailedGetResourceMetric",
                "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics read yet".into(),
            );
        };
        let selector = label_selector::of_workload(&target_kind, target);
        let pods = cache.list(kinds::served("", "pods"), Some(&namespace)).filter(|p| {
            label_selector::matches(selector.as_deref(), label_selector::labels(p))
                && !meta::is_deleting(p)
                && !crate::resources::pod::is_terminal(p)
        });
        let samples: Result<Vec<PodSample>, String> = pods.map(|p| pod_sample(p, &usage)).collect();
        let samples = match samples {
            Ok(s) => s,
            Err(e) => {
                return fail(
                    outcome,
                    "ScalingActive",
                    "FailedGetResourceMetric",
                    format!("failed to get cpu utilization: {e}"),
                )
            }
        };
        let Some(found) = recommend(current, &samples, target_utilization) else {
            let message =
                "failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)";
            return fail(outcome, "ScalingActive", "FailedGetResourceMetric", message.into());
        };
        outcome.measured = Some(found);
        let stabilized = self.histories.lock().expect("histories").entry(key.to_string()).or_default().stabilize(
            now,
            current,
            found.replicas,
            window(hpa, "scaleUp", Duration::ZERO),
            window(hpa, "scaleDown", DEFAULT_DOWN_WINDOW),
        );
        let limited = stabilized.min(scale_up_limit(current));
        let desired = limited.clamp(min.min(max), max);
        let limit = if limited > max {
            condition(
                hpa,
                "ScalingLimited",
                "True",
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
                &stamp,
            )
        } else if limited < min {
            condition(
                hpa,
                "ScalingLimited",
                "True",
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
                &stamp,
            )
        } else {
            condition(
                hpa,
                "ScalingLimited",
                "False",
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
                &stamp,
            )
        };
        let active = condition(hpa, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", &stamp);
        // One rescale per period, as the default policies allow.
        let last = hpa.pointer("/status/lastScaleTime").and_then(Value::as_str).and_then(parse_rfc3339);
        let settled = last.is_none_or(|at| (now - at).unsigned_abs() >= SYNC_PERIOD);
        let able = if desired == current {
            condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", &stamp)
        } else if !settled {
            let wait = SYNC_PERIOD.saturating_sub((now - last.unwrap_or(now)).unsigned_abs());
            plan.requeue(wait.max(Duration::from_secs(1)));
            condition(
                hpa,
                "AbleToScale",
                "False",
                "BackoffBoth",
                "the time since the previous scale is still within both the downscale and upscale forbidden windows",
                &stamp,
            )
        } else {
            plan.push(Action::MergePatch {
                kind,
                namespace: Some(namespace.clone()),
                name: target_name.clone(),
                patch: json!({"spec": {"replicas": desired}}),
            });
            let direction = if desired > current { "above" } else { "below" };
            plan.push(Action::Event(EventNote {
                about: hpa.clone(),
                kind: "HorizontalPodAutoscaler",
                warning: false,
                reason: "SuccessfulRescale".into(),
                message: format!(
                    "New size: {desired}; reason: cpu resource utilization (percentage of request) {direction} target"
                ),
            }));
            outcome.rescaled = true;
            condition(
                hpa,
                "AbleToScale",
                "True",
                "SucceededRescale",
                &format!("the HPA controller was able to update the target scale to {desired}"),
                &stamp,
            )
        };
        outcome.desired = if outcome.rescaled || desired == current { desired } else { current };
        outcome.conditions = vec![able, active, limit];
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_target_and_windows_are_read_from_v2() {
        let hpa = json!({"spec": {
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 70}}},
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 20}},
        }});
        assert_eq!(cpu_target(&hpa), Some(50));
        assert_eq!(window(&hpa, "scaleDown", DEFAULT_DOWN_WINDOW), Duration::from_secs(20));
        assert_eq!(window(&hpa, "scaleUp", Duration::ZERO), Duration::ZERO);
        assert_eq!(cpu_target(&json!({"spec": {"metrics": []}})), None);
    }

    #[test]
    fn a_pod_without_a_cpu_request_is_named() {
        let pod = json!({"metadata": {"name": "p1", "uid": "u"}, "spec": {"containers": [{"name": "c1"}]}});
        assert_eq!(
            pod_sample(&pod, &UsageSample::default()).unwrap_err(),
            "missing request for cpu in container c1 of Pod p1"
        );
        let pod = json!({"metadata": {"name": "p1", "uid": "u"}, "spec": {"containers": [{"name": "c1", "resources": {"requests": {"cpu": "250m"}}}]}});
        assert_eq!(
            pod_sample(&pod, &UsageSample::default()).unwrap(),
            PodSample { usage_millis: None, request_millis: 250.0, ready: false }
        );
    }
}
