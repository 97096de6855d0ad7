//! The eviction subresource (POST pods/NAME/eviction, a policy/v1 Eviction), as kube-apiserver's
//! eviction REST does it: a delete of the pod that first takes one disruption from the
//! PodDisruptionBudget covering it. No budget, or a pod that is not running (pending, finished, being
//! deleted): deleted at once. A budget with no disruption allowed: 429 TooManyRequests, which
//! `kubectl drain` retries. A budget the disruption controller has not seen at its generation yet: 429
//! too. Two budgets: 500, as Kubernetes refuses it.

use serde_json::{json, Value};

use super::delete::{DeleteOptions, Preconditions};
use super::{Part, Registry, RegistryError, WriteOptions};
use crate::resources::disruption_budget::{always_allow_unhealthy, covers, healthy};
use crate::resources::kinds::{served, ResourceKind};
use crate::resources::meta::{self, now_rfc3339};
use crate::resources::pod;

/// Attempts at taking a disruption from a budget other evictions are also taking from.
const BUDGET_ATTEMPTS: usize = 16;

fn pods() -> &'static ResourceKind {
    served("", "pods")
}

fn budgets() -> &'static ResourceKind {
    served("policy", "poddisruptionbudgets")
}

/// A pod whose eviction needs no budget: it is not running (pending or finished) or already going.
fn disrupts_nothing(pod: &Value) -> bool {
    matches!(pod::phase(pod), "Pending" | "Succeeded" | "Failed") || meta::is_deleting(pod)
}

impl Registry {
    /// Evict `namespace/name` with the Eviction's `options` (its deleteOptions), by `writer`; a dry run
    /// when either says so.
    pub fn evict(
        &self,
        namespace: &str,
        name: &str,
        mut options: DeleteOptions,
        writer: &WriteOptions,
    ) -> Result<(), RegistryError> {
        let pod = self.get(pods(), Some(namespace), name)?;
        // The pod the budget was checked for is the one deleted, not a namesake made since.
        let uid = pod.pointer("/metadata/uid").and_then(Value::as_str).map(String::from);
        let preconditions = options.preconditions.get_or_insert_with(Preconditions::default);
        if preconditions.uid.is_none() {
            preconditions.uid = uid;
        }
        let dry_run = writer.dry_run || options.dry_run.iter().any(|d| d == "All");
        if dry_run {
            options.dry_run = vec!["All".into()];
        }
        if !disrupts_nothing(&pod) {
            self.take_disruption(namespace, &pod, &WriteOptions { dry_run, ..writer.clone() })?;
        }
        self.delete(pods(), Some(namespace), name, options).map(|_| ())
    }

    /// Take one disruption from the budget covering `pod` (none: nothing to take), or refuse.
    fn take_disruption(&self, namespace: &str, pod: &Value, writer: &WriteOptions) -> Result<(), RegistryError> {
        let name = meta::name(pod).unwrap_or_default();
        for _ in 0..BUDGET_ATTEMPTS {
            let (listed, _) = self.list(budgets(), Some(namespace))?;
            let covering: Vec<&Value> = listed.iter().filter(|b| covers(b, pod)).collect();
            let mut pdb = match covering.as_slice() {
                [] => return Ok(()),
                [one] => (*one).clone(),
                _ => return Err(RegistryError::Internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
                        .into(),
                )),
            };
            let budget = meta::name(&pdb).unwrap_or_default().to_string();
            let number = |field: &str| pdb.pointer(&format!("/status/{field}")).and_then(Value::as_i64).unwrap_or(0);
            let generation = pdb.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            if number("observedGeneration") < generation {
                return Err(RegistryError::DisruptionBudget(format!(
                    "The disruption budget {budget} is still being processed by the server."
                )));
            }
            // An unhealthy pod adds no disruption to an application that is within its budget.
            let within_budget = number("currentHealthy") >= number("desiredHealthy");
            if !healthy(pod) && (always_allow_unhealthy(&pdb) || within_budget) {
                return Ok(());
            }
            if number("disruptionsAllowed") <= 0 {
                return Err(RegistryError::DisruptionBudget(format!(
                    "The disruption budget {budget} needs {} healthy pods and has {} currently",
                    number("desiredHealthy"),
                    number("currentHealthy")
                )));
            }
            if writer.dry_run {
                return Ok(());
            }
            pdb["status"]["disruptionsAllowed"] = json!(number("disruptionsAllowed") - 1);
            let disrupted = &mut pdb["status"]["disruptedPods"];
            if !disrupted.is_object() {
                *disrupted = json!({});
            }
            disrupted[name] = json!(now_rfc3339());
            match self.update(budgets(), Some(namespace), &budget, pdb, Part::Status, writer.clone()) {
                Ok(_) => return Ok(()),
                // Another eviction took one meanwhile: look at the budget again.
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(RegistryError::DisruptionBudget(
            "The disruption budget is being changed by other evictions; try again.".into(),
        ))
    }
}
