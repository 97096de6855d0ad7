//! PodDisruptionBudget (policy/v1) as the disruption controller and the eviction subresource read it:
//! which pods a budget covers, which of them count as healthy, and how many healthy pods it requires.

use serde_json::Value;

use super::int_or_percent::scaled_value;
use super::label_selector::{labels, matches};
use super::pod;

/// Whether `pdb` covers `pod`: same namespace, and its selector selects the pod's labels (an empty
/// selector selects every pod of the namespace, a missing one none, as policy/v1 defines it).
pub fn covers(pdb: &Value, pod: &Value) -> bool {
    let namespace = |o: &Value| o.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from);
    namespace(pdb) == namespace(pod) && matches(pdb.pointer("/spec/selector"), labels(pod))
}

/// A pod that counts toward a budget's currentHealthy: Ready and not being deleted.
pub fn healthy(pod: &Value) -> bool {
    pod::is_ready(pod) && !super::meta::is_deleting(pod)
}

/// How many healthy pods `pdb` requires of `expected` (minAvailable, or expected - maxUnavailable; a
/// percent of the expected pods rounded up either way, as Kubernetes rounds it).
pub fn desired_healthy(pdb: &Value, expected: i64) -> i64 {
    let spec = &pdb["spec"];
    let scaled = |v: &Value| scaled_value(Some(v), "0", expected, true);
    match (spec.get("minAvailable"), spec.get("maxUnavailable")) {
        (_, Some(max)) if !max.is_null() => (expected - scaled(max)).max(0),
        (Some(min), _) if !min.is_null() => scaled(min),
        _ => 0,
    }
}

/// Whether the expected pod count comes from the pods' controllers (a percent, or maxUnavailable) rather
/// than from the pods there are (minAvailable as a number).
pub fn counts_controllers(pdb: &Value) -> bool {
    let spec = &pdb["spec"];
    let set = |f: &str| spec.get(f).is_some_and(|v| !v.is_null());
    set("maxUnavailable") || spec.get("minAvailable").is_some_and(Value::is_string)
}

/// Whether an unhealthy pod may go whatever the budget says (unhealthyPodEvictionPolicy AlwaysAllow),
/// or only while the budget is met (IfHealthyBudget, the default).
pub fn always_allow_unhealthy(pdb: &Value) -> bool {
    pdb.pointer("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str) == Some("AlwaysAllow")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn desired_healthy_as_the_disruption_controller_counts_it() {
        let pdb = |spec: Value| json!({"spec": spec});
        assert_eq!(desired_healthy(&pdb(json!({"minAvailable": 2})), 4), 2);
        assert_eq!(desired_healthy(&pdb(json!({"minAvailable": "50%"})), 5), 3, "a percent rounds up");
        assert_eq!(desired_healthy(&pdb(json!({"maxUnavailable": 1})), 4), 3);
        assert_eq!(desired_healthy(&pdb(json!({"maxUnavailable": "30%"})), 5), 3, "2 unavailable (1.5 up)");
        assert_eq!(desired_healthy(&pdb(json!({"maxUnavailable": 9})), 4), 0);
        assert!(!counts_controllers(&pdb(json!({"minAvailable": 2}))));
        assert!(counts_controllers(&pdb(json!({"minAvailable": "50%"}))));
        assert!(counts_controllers(&pdb(json!({"maxUnavailable": 0}))));
    }

    #[test]
    fn a_budget_covers_the_pods_its_selector_selects_in_its_namespace() {
        let pdb = json!({"metadata": {"namespace": "a"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let pod = |ns: &str, app: &str| json!({"metadata": {"namespace": ns, "labels": {"app": app}}});
        assert!(covers(&pdb, &pod("a", "web")));
        assert!(!covers(&pdb, &pod("b", "web")));
        assert!(!covers(&pdb, &pod("a", "db")));
        let all = json!({"metadata": {"namespace": "a"}, "spec": {"selector": {}}});
        assert!(covers(&all, &pod("a", "db")));
        let none = json!({"metadata": {"namespace": "a"}, "spec": {}});
        assert!(!covers(&none, &pod("a", "db")));
    }
}
