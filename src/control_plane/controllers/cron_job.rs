//! The CronJob controller (batch/v1, and the walkthrough's batch/v1beta1 which shares its storage): at each
//! scheduled time (Kubernetes' cron syntax, in `timeZone`) a Job from `jobTemplate`, named
//! `<cronjob>-<scheduled time in minutes since the epoch>` as Kubernetes names it (so a time is never run
//! twice), owned by the CronJob. concurrencyPolicy Allow / Forbid (skip while one runs) / Replace (delete
//! the running ones first), startingDeadlineSeconds (older missed times are not run), suspend, the
//! successful / failed history limits, status.active, lastScheduleTime and lastSuccessfulTime.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::garbage_collector::controller_reference;
use super::job::{finished_condition, jobs};
use super::replica_set::deleting;
use crate::control_plane::runtime::{cache, Action, Cache, Change, EventNote, Plan, Reconciler};
use crate::resources::cron_schedule::{zone, Schedule};
use crate::resources::kinds::{self, ResourceKind};
use crate::resources::meta::{self, parse_rfc3339, rfc3339};
use crate::resources::pod;

pub struct CronJobController;

pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed times than this are not counted one by one (Kubernetes warns and runs the latest).
const MISSED_LIMIT: usize = 100;

pub fn cron_jobs() -> &'static ResourceKind {
    kinds::served("batch", "cronjobs")
}

fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

fn note(cj: &Value, warning: bool, reason: &str, message: String) -> EventNote {
    EventNote { about: cj.clone(), kind: "CronJob", warning, reason: reason.into(), message }
}

fn to_jiff(t: OffsetDateTime) -> Timestamp {
    Timestamp::from_second(t.unix_timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn from_jiff(t: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.as_second()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The job for the time `scheduled`.
pub fn job_name(cron_job: &str, scheduled: OffsetDateTime) -> String {
    format!("{cron_job}-{}", scheduled.unix_timestamp().div_euclid(60))
}

/// The latest scheduled time in (from, now] (with how many there were, capped) and the next one after now.
pub fn due(
    schedule: &Schedule,
    zone: &jiff::tz::TimeZone,
    from: OffsetDateTime,
    now: OffsetDateTime,
) -> (Option<OffsetDateTime>, usize, Option<OffsetDateTime>) {
    let (mut latest, mut count) = (None, 0);
    let mut cursor = to_jiff(from);
    let now_j = to_jiff(now);
    loop {
        match schedule.next_after(cursor, zone) {
            Some(t) if t <= now_j => {
                latest = Some(t);
                count += 1;
                cursor = t;
                if count > MISSED_LIMIT {
                    // Jump: only the most recent of the many missed times matters.
                    cursor = now_j.checked_sub(jiff::SignedDuration::from_secs(60)).unwrap_or(now_j).max(cursor);
                }
            }
            next => return (latest.map(from_jiff), count, next.map(from_jiff)),
        }
    }
}

fn reference(job: &Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "name": meta::name(job), "namespace": namespace(job),
        "uid": cache::uid(job), "resourceVersion": job.pointer("/metadata/resourceVersion")})
}

fn delete_job(job: &Value, cj: &Value, plan: &mut Plan) {
    let name = meta::name(job).unwrap_or_default();
    let event = note(cj, false, "SuccessfulDelete", format!("Deleted job {name}"));
    plan.push(Action::delete(jobs(), job, Some("Background"), Some(event)));
}

impl Reconciler for CronJobController {
    fn name(&self) -> &'static str {
        "cronjob"
    }

    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String> {
        super::own_or_owner_keys(change, cache, &cron_jobs().prefix(None), &jobs().prefix(None))
    }

    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan {
        let mut plan = Plan::default();
        let Some(cj) = cache.get(key) else { return plan };
        let cj = cj.as_ref();
        if deleting(cj) {
            return plan;
        }
        let uid = cache::uid(cj).unwrap_or_default();
        let name = meta::name(cj).unwrap_or_default();
        let mut owned: Vec<&Value> = cache
            .list(jobs(), namespace(cj))
            .map(|j| j.as_ref())
            .filter(|j| pod::controller_uid(j) == Some(uid))
            .collect();
        owned.sort_by_key(|j| {
            j.pointer("/status/startTime")
                .or(j.pointer("/metadata/creationTimestamp"))
                .and_then(Value::as_str)
                .map(String::from)
        });
        let mut status = cj.get("status").cloned().filter(Value::is_object).unwrap_or(json!({}));
        let was_active: Vec<String> = status["active"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str().map(String::from))
            .collect();

        // Finished jobs: said once, counted for lastSuccessfulTime, trimmed to the history limits.
        for job in owned.iter().filter(|j| finished_condition(j).is_some()) {
            let outcome = finished_condition(job).unwrap_or_default();
            if was_active.iter().any(|u| Some(u.as_str()) == cache::uid(job)) {
                let job_name = meta::name(job).unwrap_or_default();
                plan.push(Action::Event(note(
                    cj,
                    false,
                    "SawCompletedJob",
                    format!("Saw completed job: {job_name}, status: {outcome}"),
                )));
            }
            // Only a Job of its own schedule counts: one made by hand from it (`kubectl create job
            // --from=cronjob/…`) says nothing about the schedule.
            let scheduled =
                job.pointer(&format!("/metadata/annotations/{}", SCHEDULED_TIMESTAMP.replace('/', "~1"))).is_some();
            if outcome == "Complete" && scheduled {
                if let Some(done) = job.pointer("/status/completionTime").filter(|t| t.is_string()) {
                    let later = status["lastSuccessfulTime"].as_str().is_none_or(|t| Some(t) < done.as_str());
                    if later {
                        status["lastSuccessfulTime"] = done.clone();
                    }
                }
            }
        }
        for (outcome, field, default) in
            [("Complete", "successfulJobsHistoryLimit", 3), ("Failed", "failedJobsHistoryLimit", 1)]
        {
            let limit =
                cj.pointer(&format!("/spec/{field}")).and_then(Value::as_i64).unwrap_or(default).max(0) as usize;
            let finished: Vec<&&Value> =
                owned.iter().filter(|j| finished_condition(j) == Some(outcome) && !deleting(j)).collect();
            for job in finished.iter().take(finished.len().saturating_sub(limit)) {
                delete_job(job, cj, &mut plan);
            }
        }
        let active: Vec<&Value> =
            owned.iter().copied().filter(|j| finished_condition(j).is_none() && !deleting(j)).collect();
        let refs: Vec<Value> = active.iter().map(|j| reference(j)).collect();
        if refs.is_empty() {
            if let Some(m) = status.as_object_mut() {
                m.remove("active");
            }
        } else {
            status["active"] = json!(refs);
        }

        let suspended = cj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
        let schedule_text = cj.pointer("/spec/schedule").and_then(Value::as_str).unwrap_or("");
        let parsed = Schedule::parse(schedule_text)
            .and_then(|s| zone(cj.pointer("/spec/timeZone").and_then(Value::as_str)).map(|z| (s, z)));
        match parsed {
            _ if suspended => {}
            Err(e) => plan.push(Action::Event(note(
                cj,
                true,
                "UnparseableSchedule",
                format!("unparseable schedule: {schedule_text:?} : {e}"),
            ))),
            Ok((schedule, tz)) => {
                let created = cj
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339)
                    .unwrap_or(now);
                let mut from = status["lastScheduleTime"].as_str().and_then(parse_rfc3339).unwrap_or(created);
                let deadline = cj.pointer("/spec/startingDeadlineSeconds").and_then(Value::as_i64);
                if let Some(d) = deadline {
                    from = from.max(crate::resources::meta::plus_seconds(now, d.saturating_neg()));
                }
                let (latest, missed, next) = due(&schedule, &tz, from, now);
                if let Some(next) = next {
                    plan.requeue(
                        Duration::from_secs_f64((next - now).as_seconds_f64().max(0.0)) + Duration::from_millis(200),
                    );
                }
                if missed > MISSED_LIMIT {
                    plan.push(Action::Event(note(cj, true, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into())));
                }
                if let Some(scheduled) = latest {
                    let job_name = job_name(name, scheduled);
                    let exists = owned.iter().any(|j| meta::name(j) == Some(job_name.as_str()));
                    let policy = cj.pointer("/spec/concurrencyPolicy").and_then(Value::as_str).unwrap_or("Allow");
                    if exists {
                        status["lastScheduleTime"] = json!(rfc3339(scheduled));
                    } else if policy == "Forbid" && !active.is_empty() {
                        plan.push(Action::Event(note(
                            cj,
                            false,
                            "JobAlreadyActive",
                            "Not starting job because prior execution is running and concurrency policy is Forbid"
                                .into(),
                        )));
                    } else {
                        if policy == "Replace" {
                            for job in &active {
                                delete_job(job, cj, &mut plan);
                            }
                        }
                        let template = &cj["spec"]["jobTemplate"];
                        let mut metadata = json!({"name": job_name, "namespace": namespace(cj).unwrap_or("default"),
                            "ownerReferences": [controller_reference(cj, cron_jobs())]});
                        if let Some(labels) = template.pointer("/metadata/labels").filter(|l| l.is_object()) {
                            metadata["labels"] = labels.clone();
                        }
                        let mut annotations = template
                            .pointer("/metadata/annotations")
                            .filter(|a| a.is_object())
                            .cloned()
                            .unwrap_or(json!({}));
                        annotations[SCHEDULED_TIMESTAMP] = json!(rfc3339(scheduled));
                        metadata["annotations"] = annotations;
                        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"].clone()});
                        let event = Some(note(cj, false, "SuccessfulCreate", format!("Created job {job_name}")));
                        plan.push(Action::Create { kind: jobs(), object: job, event });
                        status["lastScheduleTime"] = json!(rfc3339(scheduled));
                    }
                }
            }
        }
        // The job first, then the status that says it was started: a pass that fails in between retries
        // the same name and finds it.
        plan.update_status(cron_jobs(), cj, status);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn cron_job(spec: Value, status: Value) -> Value {
        let mut cj = json!({"apiVersion": "batch/v1beta1", "kind": "CronJob",
            "metadata": {"name": "cron-job", "namespace": "default", "uid": "cj-uid", "creationTimestamp": "2026-12-03T09:00:30Z"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}},
            "status": status});
        for (k, v) in spec.as_object().unwrap() {
            cj["spec"][k] = v.clone();
        }
        cj
    }

    fn job(name: &str, finished: Option<&str>, start: &str) -> Value {
        let mut j = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cron-job", "uid": "cj-uid", "controller": true}]},
            "status": {"startTime": start}});
        if let Some(outcome) = finished {
            j["status"]["conditions"] = json!([{"type": outcome, "status": "True"}]);
            j["status"]["completionTime"] = json!(start);
        }
        j
    }

    fn run(cj: Value, jobs: Vec<Value>, now: &str) -> Plan {
        let mut cache = Cache::default();
        cache.apply("/batch/cronjobs/default/cron-job", Some(Arc::new(cj)));
        for j in jobs {
            cache.apply(&format!("/batch/jobs/default/{}", j["metadata"]["name"].as_str().unwrap()), Some(Arc::new(j)));
        }
        CronJobController.reconcile("/batch/cronjobs/default/cron-job", &cache, parse_rfc3339(now).unwrap())
    }

    fn summary(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::Create { object, .. } => {
                    Some(format!("create {}", object["metadata"]["name"].as_str().unwrap()))
                }
                Action::Delete { name, .. } => Some(format!("delete {name}")),
                Action::Event(n) if n.reason == "JobAlreadyActive" => Some("forbidden".into()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_job_per_scheduled_minute_named_by_it() {
        let plan = run(cron_job(json!({}), json!({})), vec![], "2026-12-03T10:00:10Z");
        // 10:00 is the latest time due; its name counts minutes since the epoch.
        let minutes = parse_rfc3339("2026-12-03T10:00:00Z").unwrap().unix_timestamp() / 60;
        assert_eq!(summary(&plan), [format!("create cron-job-{minutes}")]);
        assert_eq!(plan.requeue_after.map(|d| d.as_secs()), Some(50));
        let Some(Action::UpdateStatus { object, .. }) = plan.actions.last() else { panic!() };
        assert_eq!(object["status"]["lastScheduleTime"], "2026-12-03T10:00:00Z");
        // Again in the same minute: the job exists (by name), nothing new.
        let existing = job(&format!("cron-job-{minutes}"), None, "2026-12-03T10:00:01Z");
        let again = cron_job(json!({}), json!({"lastScheduleTime": "2026-12-03T09:59:00Z"}));
        assert!(summary(&run(again, vec![existing], "2026-12-03T10:00:20Z")).is_empty());
    }

    #[test]
    fn concurrency_policies_and_deadlines() {
        let running = job("cron-job-1", None, "2026-12-03T09:59:00Z");
        let status = json!({"lastScheduleTime": "2026-12-03T09:59:00Z"});
        let forbid = cron_job(json!({"concurrencyPolicy": "Forbid"}), status.clone());
        assert_eq!(summary(&run(forbid, vec![running.clone()], "2026-12-03T10:00:05Z")), ["forbidden"]);
        let replace = cron_job(json!({"concurrencyPolicy": "Replace"}), status.clone());
        let s = summary(&run(replace, vec![running], "2026-12-03T10:00:05Z"));
        assert_eq!((s.len(), s[0].as_str()), (2, "delete cron-job-1"));
        // Missed by more than startingDeadlineSeconds: not run late.
        let late = cron_job(
            json!({"schedule": "0 * * * *", "startingDeadlineSeconds": 60}),
            json!({"lastScheduleTime": "2026-12-03T09:00:00Z"}),
        );
        assert!(summary(&run(late, vec![], "2026-12-03T10:05:00Z")).is_empty());
        let suspended = cron_job(json!({"suspend": true}), json!({}));
        assert!(summary(&run(suspended, vec![], "2026-12-03T10:05:00Z")).is_empty());
    }

    #[test]
    fn last_successful_time_counts_only_its_own_schedule() {
        let mut scheduled = job("cron-job-1", Some("Complete"), "2026-12-03T09:58:00Z");
        scheduled["metadata"]["annotations"] = json!({SCHEDULED_TIMESTAMP: "2026-12-03T09:58:00Z"});
        let by_hand = job("manual", Some("Complete"), "2026-12-03T09:59:30Z");
        let cj = cron_job(json!({"suspend": true}), json!({}));
        let plan = run(cj, vec![scheduled, by_hand], "2026-12-03T10:00:00Z");
        let Some(Action::UpdateStatus { object, .. }) = plan.actions.last() else { panic!("{:?}", plan.actions) };
        assert_eq!(object["status"]["lastSuccessfulTime"], "2026-12-03T09:58:00Z", "not the one made by hand");
    }

    #[test]
    fn history_limits_keep_the_newest() {
        let done: Vec<Value> =
            (1..=5).map(|i| job(&format!("ok-{i}"), Some("Complete"), &format!("2026-12-03T09:5{i}:00Z"))).collect();
        let failed: Vec<Value> =
            (1..=2).map(|i| job(&format!("bad-{i}"), Some("Failed"), &format!("2026-12-03T09:4{i}:00Z"))).collect();
        let cj = cron_job(json!({"suspend": true}), json!({}));
        let plan = run(cj, done.into_iter().chain(failed).collect(), "2026-12-03T10:00:00Z");
        assert_eq!(summary(&plan), ["delete ok-1", "delete ok-2", "delete bad-1"]);
    }
}
