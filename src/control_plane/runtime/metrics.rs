//! What the controllers did, counted as kube-controller-manager's /metrics counts it (reconciles, time
//! spent computing plans, writes, failures), registered with the API server's request metrics and served
//! with them on /metrics (admins only). Process-wide: one controller manager per process.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{CounterVec, IntCounterVec, Opts};

use crate::control_plane::api::request_metrics::registered;

struct Counters {
    reconciles: IntCounterVec,
    reconcile_seconds: CounterVec,
    actions: IntCounterVec,
    failures: IntCounterVec,
}

fn counters() -> &'static Counters {
    static COUNTERS: OnceLock<Counters> = OnceLock::new();
    COUNTERS.get_or_init(|| {
        let int = |name: &str, help: &str| {
            registered(IntCounterVec::new(Opts::new(name, help), &["controller"]).expect("metric"))
        };
        let seconds = Opts::new(
            "kubeboot_controller_reconcile_seconds_total",
            "Time spent computing plans (reconciler CPU; writes excluded), per controller.",
        );
        Counters {
            reconciles: int("kubeboot_controller_reconciles_total", "Reconciles run, per controller."),
            reconcile_seconds: registered(CounterVec::new(seconds, &["controller"]).expect("metric")),
            actions: int("kubeboot_controller_actions_total", "Writes planned, per controller."),
            failures: int("kubeboot_controller_failures_total", "Passes whose plan failed (retried), per controller."),
        }
    })
}

/// One pass of `controller`: how long the reconciler computed, how many actions it planned, whether one failed.
pub fn record(controller: &'static str, took: Duration, actions: usize, failed: bool) {
    let c = counters();
    c.reconciles.with_label_values(&[controller]).inc();
    c.reconcile_seconds.with_label_values(&[controller]).inc_by(took.as_secs_f64());
    c.actions.with_label_values(&[controller]).inc_by(actions as u64);
    c.failures.with_label_values(&[controller]).inc_by(failed as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text() {
        record("test-controller", Duration::from_millis(3), 2, false);
        record("test-controller", Duration::from_millis(1), 0, true);
        let text = crate::control_plane::api::request_metrics::render();
        assert!(text.contains("kubeboot_controller_reconciles_total{controller=\"test-controller\"} 2\n"), "{text}");
        assert!(text.contains("kubeboot_controller_reconcile_seconds_total{controller=\"test-controller\"} 0.004\n"));
        assert!(text.contains("kubeboot_controller_actions_total{controller=\"test-controller\"} 2\n"));
        assert!(text.contains("kubeboot_controller_failures_total{controller=\"test-controller\"} 1\n"));
    }
}
