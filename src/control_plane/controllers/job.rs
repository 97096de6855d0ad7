//! The Job controller: runs pods from the template until `completions` succeed (or, with parallelism and no
//! completions, until one succeeds and none is left running), at most `parallelism` at a time. Failed pods
//! (and, under restartPolicy OnFailure, container restarts) count against `backoffLimit`; after a failure
//! the next pod waits 10 s doubling up to 6 min. `activeDeadlineSeconds` from the start time fails the
//! Job; a finished Job's running pods are deleted; conditions Complete / Failed as `kubectl wait` reads
//! them; `ttlSecondsAfterFinished` deletes a finished Job (and its pods) after that long.

use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::replica_set::{claim, deleting, is_active, pod_from_template};
use crate::control_plane::runtime::{Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta::{self, parse_rfc3339, rfc3339};
use crate::resources::pod;

pub struct JobController;

pub fn jobs() -> &'static ResourceKind {
    kinds::served("batch", "jobs")
}

fn pods() -> &'static ResourceKind {
    kinds::served("", "pods")
}

const BACKOFF_BASE: i64 = 10;
const BACKOFF_MAX: i64 = 360;

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// The condition of `kind` that is True, if any.
pub fn finished_condition(job: &Value) -> Option<&str> {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c["status"] == "True" && (c["type"] == "Complete" || c["type"] == "Failed"))
        .and_then(|c| c["type"].as_str())
}

/// When the job finished (completionTime, or the Failed condition's time).
fn finished_at(job: &Value) -> Option<OffsetDateTime> {
    let text = job.pointer("/status/completionTime").and_then(Value::as_str).or_else(|| {
        job.pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Failed" && c["status"] == "True")
            .and_then(|c| c["lastTransitionTime"].as_str())
    })?;
    parse_rfc3339(text)
}

/// When a pod finished failing (its containers' finishedAt, else its last transition), for the back-off.
fn failed_at(p: &Value) -> Option<OffsetDateTime> {
    let statuses = p.pointer("/status/containerStatuses").and_then(Value::as_array);
    let finished = statuses
        .into_iter()
        .flatten()
        .filter_map(|c| c.pointer("/state/terminated/finishedAt").and_then(Value::as_str))
        .filter_map(parse_rfc3339)
        .max();
    finished.or_else(|| {
        p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["lastTransitionTime"].as_str().and_then(parse_rfc3339))
            .max()
    })
}

fn restarts(p: &Value) -> i64 {
    p.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|s| s.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

fn note(job: &Value, warning: bool, reason: &str, message: String) -> EventNote {
    EventNote { about: job.clone(), kind: "Job", warning, reason: reason.into(), message }
}

/// The back-off before the next pod after `failures` failures (10 s doubling, 6 min at most).
pub fn backoff(failures: i64) -> time::Duration {
    if failures <= 0 {
        return time::Duration::ZERO;
    }
    let seconds = BACKOFF_BASE.saturating_mul(1 << (failures - 1).min(10)).min(BACKOFF_MAX);
    time::Duration::seconds(seconds)
}

/// Why a job fails now, in Kubernetes' words: too many failures first, then the deadline.
fn failure(over_backoff_limit: bool, past_deadline: bool) -> Option<(&'static str, &'static str)> {
    if over_backoff_limit {
        return Some(("BackoffLimitExceeded", "Job has reached the specified backoff limit"));
    }
    past_deadline.then_some(("DeadlineExceeded", "Job was active longer than specified deadline"))
}

/// Add a True condition (Kubernetes leaves reason and message out of Complete: empty strings here).
fn set_condition(status: &mut Value, kind: &str, reason: &str, message: &str, now: &str) {
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    if !conditions.iter().any(|c| c["type"] == kind && c["status"] == "True") {
        let mut condition = json!({"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now});
        if !reason.is_empty() {
            condition["reason"] = json!(reason);
            condition["message"] = json!(message);
        }
        conditions.push(condition);
    }
    status["conditions"] = json!(conditions);
}

fn delete_pod(p: &Value, job: &Value, plan: &mut Plan) {
    let name = meta::name(p).unwrap_or_default();
    let event = note(job, false, "SuccessfulDelete", format!("Deleted pod: {name}"));
    plan.push(Action::delete(pods(), p, None, Some(event)));
}

impl Reconciler for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        super::own_or_owner_keys(change, cache, &jobs().prefix(None), &pods().prefix(None))
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(job) = cache.get(key) else { return plan };
        let job = job.as_ref();
        let now_text = rfc3339(now);
        let mut status = job.get("status").cloned().filter(Value::is_object).unwrap_or(json!({}));
        let owned = claim(job, jobs(), cache, &mut plan);

        // Finished: its TTL, and no pod left running.
        if finished_condition(job).is_some() {
            for p in owned.iter().filter(|p| is_active(p)) {
                delete_pod(p, job, &mut plan);
            }
            if let (Some(ttl), Some(at)) = (int(job, "/spec/ttlSecondsAfterFinished"), finished_at(job)) {
                let expires = crate::resources::meta::plus_seconds(at, ttl);
                if expires <= now && !deleting(job) {
                    plan.push(Action::delete(jobs(), job, Some("Background"), None));
                } else if expires > now {
                    plan.requeue(
                        Duration::from_secs_f64((expires - now).as_seconds_f64()) + Duration::from_millis(100),
                    );
                }
            }
            return plan;
        }
        if deleting(job) {
            return plan;
        }

        let active: Vec<&Value> = owned.iter().copied().filter(|p| is_active(p)).collect();
        let succeeded_pods = owned.iter().filter(|p| pod::phase(p) == "Succeeded").count() as i64;
        let failed_pods: Vec<&Value> = owned.iter().copied().filter(|p| pod::phase(p) == "Failed").collect();
        // Counts never go down: a finished pod someone deleted still counted.
        let succeeded = succeeded_pods.max(int(&status, "/succeeded").unwrap_or(0));
        let failed = (failed_pods.len() as i64).max(int(&status, "/failed").unwrap_or(0));
        let restart_policy =
            job.pointer("/spec/template/spec/restartPolicy").and_then(Value::as_str).unwrap_or("Never");
        let restarted: i64 = if restart_policy == "OnFailure" { active.iter().map(|p| restarts(p)).sum() } else { 0 };
        if status.get("startTime").is_none() {
            status["startTime"] = json!(now_text);
        }
        let started = status["startTime"].as_str().and_then(parse_rfc3339).unwrap_or(now);
        let completions = int(job, "/spec/completions");
        let parallelism = int(job, "/spec/parallelism").unwrap_or(1).max(0);
        let backoff_limit = int(job, "/spec/backoffLimit").unwrap_or(6);
        let ready = active.iter().filter(|p| super::replica_set::ready_since(p).is_some()).count();

        let complete = match completions {
            Some(n) => succeeded >= n,
            None => succeeded > 0 && active.is_empty(),
        };
        let deadline =
            int(job, "/spec/activeDeadlineSeconds").map(|s| crate::resources::meta::plus_seconds(started, s));
        if complete {
            set_condition(&mut status, "Complete", "", "", &now_text);
            status["completionTime"] = json!(now_text);
            for p in &active {
                delete_pod(p, job, &mut plan);
            }
            plan.push(Action::Event(note(job, false, "Completed", "Job completed".into())));
        } else if let Some((reason, message)) =
            failure(failed + restarted > backoff_limit, deadline.is_some_and(|d| d <= now))
        {
            set_condition(&mut status, "Failed", reason, message, &now_text);
            for p in &active {
                delete_pod(p, job, &mut plan);
            }
            plan.push(Action::Event(note(job, true, reason, message.into())));
        } else if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
            for p in &active {
                delete_pod(p, job, &mut plan);
            }
        } else {
            if let Some(d) = deadline {
                plan.requeue(Duration::from_secs_f64((d - now).as_seconds_f64().max(0.0)) + Duration::from_millis(100));
            }
            let wanted = match completions {
                Some(n) => parallelism.min(n - succeeded),
                None if succeeded > 0 => 0,
                None => parallelism,
            };
            let missing = (wanted - active.len() as i64).max(0);
            let last_failure = failed_pods.iter().filter_map(|p| failed_at(p)).max();
            let wait_until = last_failure.map(|at| at + backoff(failed));
            match wait_until {
                Some(until) if missing > 0 && until > now => {
                    plan.requeue(Duration::from_secs_f64((until - now).as_seconds_f64()) + Duration::from_millis(100));
                }
                _ => {
                    for _ in 0..missing.min(super::replica_set::BURST as i64) {
                        let event = Some(note(job, false, "SuccessfulCreate", "Created pod: {name}".into()));
                        plan.push(Action::Create { kind: pods(), object: pod_from_template(job, jobs()), event });
                    }
                }
            }
            if active.len() as i64 > wanted {
                let surplus = active.len() as i64 - wanted;
                for p in super::replica_set::deletion_order(active.clone()).into_iter().take(surplus as usize) {
                    delete_pod(p, job, &mut plan);
                }
            }
        }
        // A job that finished in this pass has its running pods deleted by it: none count as active.
        let finishing = status["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Complete" || c["type"] == "Failed"));
        let active_now = if finishing { 0 } else { active.len() as i64 };
        for (field, n) in
            [("active", active_now), ("succeeded", succeeded), ("failed", failed), ("ready", ready as i64)]
        {
            match n {
                0 if field != "ready" => {
                    if let Some(m) = status.as_object_mut() {
                        m.remove(field);
                    }
                }
                n => status[field] = json!(n),
            }
        }
        // The status goes first: a pass that dies after creating pods must not lose the start time.
        let mut actions = std::mem::take(&mut plan.actions);
        plan.update_status(jobs(), job, status);
        plan.actions.append(&mut actions);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const NOW: &str = "2026-12-03T10:00:00Z";

    fn job(spec: Value) -> Value {
        let mut j = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "job-1", "namespace": "default", "uid": "j-uid"},
            "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6,
                "selector": {"matchLabels": {"job-name": "job-1"}},
                "template": {"metadata": {"labels": {"job-name": "job-1"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}});
        for (k, v) in spec.as_object().unwrap() {
            j["spec"][k] = v.clone();
        }
        j
    }

    fn pod(name: &str, phase: &str, finished: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"), "labels": {"job-name": "job-1"},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "job-1", "uid": "j-uid", "controller": true}]},
            "status": {"phase": phase, "containerStatuses": [{"restartCount": 0, "state": {"terminated": {"finishedAt": finished}}}]}})
    }

    fn run(job: Value, pods: Vec<Value>, now: &str) -> Plan {
        let mut cache = Cache::default();
        cache.apply("/batch/jobs/default/job-1", Some(Arc::new(job)));
        for p in pods {
            cache.apply(&format!("/pods/default/{}", p["metadata"]["name"].as_str().unwrap()), Some(Arc::new(p)));
        }
        JobController.reconcile("/batch/jobs/default/job-1", &cache, parse_rfc3339(now).unwrap())
    }

    fn creates(plan: &Plan) -> usize {
        plan.actions.iter().filter(|a| matches!(a, Action::Create { .. })).count()
    }

    fn status(plan: &Plan) -> Value {
        plan.actions
            .iter()
            .find_map(|a| match a {
                Action::UpdateStatus { object, .. } => Some(object["status"].clone()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn parallelism_and_completions() {
        let j = job(json!({"completions": 3, "parallelism": 2}));
        assert_eq!(creates(&run(j.clone(), vec![], NOW)), 2);
        // One done, one running: one more may run (2 left, parallelism 2).
        let running = pod("b", "Running", NOW);
        assert_eq!(creates(&run(j.clone(), vec![pod("a", "Succeeded", NOW), running.clone()], NOW)), 1);
        // Two done, one running: nothing more (1 left, it runs).
        assert_eq!(
            creates(&run(j.clone(), vec![pod("a", "Succeeded", NOW), pod("c", "Succeeded", NOW), running], NOW)),
            0
        );
        let done =
            run(j, vec![pod("a", "Succeeded", NOW), pod("b", "Succeeded", NOW), pod("c", "Succeeded", NOW)], NOW);
        let s = status(&done);
        assert_eq!((s["succeeded"].clone(), s["conditions"][0]["type"].clone()), (json!(3), json!("Complete")));
        assert!(s["completionTime"].is_string());
    }

    #[test]
    fn failures_back_off_then_stop_at_the_limit() {
        let j = job(json!({"backoffLimit": 2}));
        // One failure 5 s ago: the next pod waits for the 10 s back-off.
        let plan = run(j.clone(), vec![pod("a", "Failed", "2026-12-03T09:59:55Z")], NOW);
        assert_eq!((creates(&plan), plan.requeue_after.map(|d| d.as_secs())), (0, Some(5)));
        // Two failures, the second 25 s ago: 20 s back-off passed.
        let plan = run(
            j.clone(),
            vec![pod("a", "Failed", "2026-12-03T09:59:00Z"), pod("b", "Failed", "2026-12-03T09:59:35Z")],
            NOW,
        );
        assert_eq!(creates(&plan), 1);
        // Three failures > backoffLimit 2: Failed.
        let three = vec![pod("a", "Failed", NOW), pod("b", "Failed", NOW), pod("c", "Failed", NOW)];
        let s = status(&run(j, three, NOW));
        assert_eq!(
            (s["failed"].clone(), s["conditions"][0]["reason"].clone()),
            (json!(3), json!("BackoffLimitExceeded"))
        );
        assert_eq!((backoff(1).whole_seconds(), backoff(3).whole_seconds(), backoff(9).whole_seconds()), (10, 40, 360));
    }

    #[test]
    fn deadline_and_ttl() {
        let mut j = job(json!({"activeDeadlineSeconds": 30}));
        j["status"] = json!({"startTime": "2026-12-03T09:59:00Z"});
        let plan = run(j, vec![pod("a", "Running", NOW)], NOW);
        assert_eq!(status(&plan)["conditions"][0]["reason"], "DeadlineExceeded");
        assert!(plan.actions.iter().any(|a| matches!(a, Action::Delete { name, .. } if name == "a")));
        let mut finished = job(json!({"ttlSecondsAfterFinished": 60}));
        finished["status"] =
            json!({"completionTime": "2026-12-03T09:58:30Z", "conditions": [{"type": "Complete", "status": "True"}]});
        let plan = run(finished, vec![], NOW);
        assert!(matches!(&plan.actions[..], [Action::Delete { name, .. }] if name == "job-1"), "{plan:?}");
    }
}
