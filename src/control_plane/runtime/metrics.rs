//! What the controllers did, counted as kube-controller-manager's /metrics counts it (reconciles, time
//! spent computing plans, writes, failures), served in Prometheus' text format on the API server's
//! /metrics (admins only). Process-wide: one controller manager per process.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

#[derive(Default, Clone, Copy)]
struct Counts {
    reconciles: u64,
    reconcile_time: Duration,
    actions: u64,
    failures: u64,
}

fn registry() -> &'static Mutex<BTreeMap<&'static str, Counts>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<&'static str, Counts>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// One pass of `controller`: how long the reconciler computed, how many actions it planned, whether one failed.
pub fn record(controller: &'static str, took: Duration, actions: usize, failed: bool) {
    let mut registry = registry().lock().expect("metrics");
    let counts = registry.entry(controller).or_default();
    counts.reconciles += 1;
    counts.reconcile_time += took;
    counts.actions += actions as u64;
    counts.failures += failed as u64;
}

/// A metric family: name, type, help, the value of one controller's counts.
type Family = (&'static str, &'static str, &'static str, fn(&Counts) -> String);

/// The counters in Prometheus' text exposition format.
pub fn render() -> String {
    let registry = registry().lock().expect("metrics");
    let mut out = String::new();
    let families: [Family; 4] = [
        ("kubeboot_controller_reconciles_total", "counter", "Reconciles run, per controller.", |c| {
            c.reconciles.to_string()
        }),
        (
            "kubeboot_controller_reconcile_seconds_total",
            "counter",
            "Time spent computing plans (reconciler CPU; writes excluded), per controller.",
            |c| format!("{:.6}", c.reconcile_time.as_secs_f64()),
        ),
        ("kubeboot_controller_actions_total", "counter", "Writes planned, per controller.", |c| c.actions.to_string()),
        ("kubeboot_controller_failures_total", "counter", "Passes whose plan failed (retried), per controller.", |c| {
            c.failures.to_string()
        }),
    ];
    for (name, kind, help, value) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (controller, counts) in registry.iter() {
            out.push_str(&format!("{name}{{controller=\"{controller}\"}} {}\n", value(counts)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text() {
        record("test-controller", Duration::from_millis(3), 2, false);
        record("test-controller", Duration::from_millis(1), 0, true);
        let text = render();
        assert!(text.contains("kubeboot_controller_reconciles_total{controller=\"test-controller\"} 2\n"), "{text}");
        assert!(text.contains("kubeboot_controller_reconcile_seconds_total{controller=\"test-controller\"} 0.004000\n"));
        assert!(text.contains("kubeboot_controller_actions_total{controller=\"test-controller\"} 2\n"));
        assert!(text.contains("kubeboot_controller_failures_total{controller=\"test-controller\"} 1\n"));
    }
}
