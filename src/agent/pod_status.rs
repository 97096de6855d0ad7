//! A pod's status as kubelet reports it, computed from what Docker has (a pure function, tested as data):
//! phase, conditions, init and container statuses (waiting / running / terminated, lastState,
//! restartCount, imageID, containerID), podIP(s), hostIP, startTime, qosClass.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::runtime::{Instance, RunState};
use crate::resources::pod::{qos_class, set_condition};

/// What the sync knows beyond the instances: why a container is not running (pull errors, back-off), and
/// readiness from probes (a running container without a readiness probe is ready).
#[derive(Default)]
pub struct Observed {
    pub instances: Vec<Instance>,
    pub pod_ip: Option<String>,
    pub host_ip: String,
    pub waiting: HashMap<String, (String, String)>,
    pub not_ready: Vec<String>,
}

fn names(pod: &Value, field: &str) -> Vec<(String, String)> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (c["name"].as_str().unwrap_or("").to_string(), c["image"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// The latest and the one before of a container (by attempt).
pub fn latest<'a>(instances: &'a [Instance], name: &str, init: bool) -> (Option<&'a Instance>, Option<&'a Instance>) {
    let mut mine: Vec<&Instance> = instances.iter().filter(|i| i.container == name && i.init == init).collect();
    mine.sort_by_key(|i| i.attempt);
    let last = mine.pop();
    (last, mine.pop())
}

fn terminated(i: &Instance) -> Value {
    let reason = if i.oom_killed {
        "OOMKilled"
    } else if i.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    json!({"terminated": {"exitCode": i.exit_code, "reason": reason, "startedAt": i.started_at, "finishedAt": i.finished_at, "containerID": format!("docker://{}", i.id)}})
}

fn container_status(name: &str, image: &str, observed: &Observed, init: bool) -> Value {
    let (last, previous) = latest(&observed.instances, name, init);
    let waiting = observed.waiting.get(name);
    let mut status = json!({"name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0, "started": false, "lastState": {}});
    if let Some(i) = last {
        status["restartCount"] = json!(i.attempt);
        status["containerID"] = json!(format!("docker://{}", i.id));
        status["imageID"] = json!(format!("docker://{}", i.image_id));
    }
    let state = match (last, waiting) {
        (Some(i), _) if i.state == RunState::Running => {
            status["ready"] = json!(!init && !observed.not_ready.iter().any(|n| n == name));
            status["started"] = json!(true);
            json!({"running": {"startedAt": i.started_at}})
        }
        (_, Some((reason, message))) => json!({"waiting": {"reason": reason, "message": message}}),
        (Some(i), None) if i.state == RunState::Exited => terminated(i),
        _ => json!({"waiting": {"reason": if init { "PodInitializing" } else { "ContainerCreating" }}}),
    };
    // The instance before a running or waiting one is lastState; a terminated current one keeps its own.
    let last_state = match (last, &state) {
        (Some(i), s) if s.get("waiting").is_some() && i.state == RunState::Exited => Some(terminated(i)),
        (Some(_), _) => previous.filter(|p| p.state == RunState::Exited).map(terminated),
        _ => None,
    };
    if let Some(l) = last_state {
        status["lastState"] = l;
    }
    status["state"] = state;
    status
}

/// Will this container run again under the pod's restartPolicy?
pub fn restarts(policy: &str, exit_code: i64) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// The pod's status (merged into the stored status by the caller).
pub fn compute(pod: &Value, observed: &Observed, now: &str) -> Value {
    let policy = pod.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or("Always");
    let inits = names(pod, "initContainers");
    let apps = names(pod, "containers");
    let init_statuses: Vec<Value> = inits.iter().map(|(n, i)| container_status(n, i, observed, true)).collect();
    let app_statuses: Vec<Value> = apps.iter().map(|(n, i)| container_status(n, i, observed, false)).collect();
    let init_done = inits.iter().all(|(n, _)| {
        latest(&observed.instances, n, true).0.is_some_and(|i| i.state == RunState::Exited && i.exit_code == 0)
    });
    let init_failed = policy == "Never"
        && inits.iter().any(|(n, _)| {
            latest(&observed.instances, n, true).0.is_some_and(|i| i.state == RunState::Exited && i.exit_code != 0)
        });
    let finished: Vec<&Instance> = apps
        .iter()
        .filter_map(|(n, _)| latest(&observed.instances, n, false).0)
        .filter(|i| {
            i.state == RunState::Exited
                && !restarts(policy, i.exit_code)
                && !observed.waiting.contains_key(&i.container)
        })
        .collect();
    let all_finished = init_done && finished.len() == apps.len() && !apps.is_empty();
    let any_started = apps.iter().any(|(n, _)| latest(&observed.instances, n, false).0.is_some());
    let phase = if init_failed || (all_finished && finished.iter().any(|i| i.exit_code != 0)) {
        "Failed"
    } else if all_finished {
        "Succeeded"
    } else if init_done && any_started && observed.pod_ip.is_some() {
        "Running"
    } else {
        "Pending"
    };
    let mut out = pod.clone();
    let unready: Vec<&str> =
        app_statuses.iter().filter(|s| s["ready"] != json!(true)).filter_map(|s| s["name"].as_str()).collect();
    let incomplete: Vec<&str> = inits
        .iter()
        .filter(|(n, _)| {
            !latest(&observed.instances, n, true).0.is_some_and(|i| i.state == RunState::Exited && i.exit_code == 0)
        })
        .map(|(n, _)| n.as_str())
        .collect();
    set_condition(&mut out, "PodScheduled", "True", None, None, now);
    if incomplete.is_empty() {
        set_condition(&mut out, "Initialized", "True", None, None, now);
    } else {
        let message = format!("containers with incomplete status: [{}]", incomplete.join(" "));
        set_condition(&mut out, "Initialized", "False", Some("ContainersNotInitialized"), Some(&message), now);
    }
    let (ready, reason, message) = if matches!(phase, "Succeeded" | "Failed") {
        ("False", Some("PodCompleted"), None)
    } else if unready.is_empty() {
        ("True", None, None)
    } else {
        ("False", Some("ContainersNotReady"), Some(format!("containers with unready status: [{}]", unready.join(" "))))
    };
    set_condition(&mut out, "ContainersReady", ready, reason, message.as_deref(), now);
    set_condition(&mut out, "Ready", ready, reason, message.as_deref(), now);
    let mut status = out["status"].clone();
    status["phase"] = json!(phase);
    status["hostIP"] = json!(observed.host_ip);
    status["hostIPs"] = json!([{"ip": observed.host_ip}]);
    if let Some(ip) = &observed.pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    if status.get("startTime").is_none_or(Value::is_null) {
        status["startTime"] = json!(now);
    }
    status["qosClass"] = json!(qos_class(pod));
    status["containerStatuses"] = json!(app_statuses);
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    } else if let Some(map) = status.as_object_mut() {
        map.remove("initContainerStatuses");
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, attempt: u32, state: RunState, exit: i64, init: bool) -> Instance {
        Instance {
            id: format!("{name}-{attempt}"),
            pod_uid: "u".into(),
            pod_name: "p".into(),
            pod_namespace: "default".into(),
            container: name.into(),
            attempt,
            init,
            sandbox_id: "sb".into(),
            spec_hash: String::new(),
            state,
            exit_code: exit,
            oom_killed: false,
            started_at: Some("2026-12-03T08:00:00Z".into()),
            finished_at: (state == RunState::Exited).then(|| "2026-12-03T08:00:05Z".into()),
            image: "img".into(),
            image_id: "sha256:abc".into(),
            pid: 1,
        }
    }

    fn pod(policy: &str, inits: &[&str], apps: &[&str]) -> Value {
        let c = |n: &&str| json!({"name": n, "image": "img"});
        json!({"metadata": {"name": "p"}, "spec": {"restartPolicy": policy,
            "initContainers": inits.iter().map(c).collect::<Vec<_>>(), "containers": apps.iter().map(c).collect::<Vec<_>>()}})
    }

    fn observed(instances: Vec<Instance>) -> Observed {
        Observed { instances, pod_ip: Some("10.244.1.2".into()), host_ip: "10.88.0.11".into(), ..Default::default() }
    }

    #[test]
    fn phases_and_states_as_a_table() {
        let r = RunState::Running;
        let e = RunState::Exited;
        let cases: Vec<(&str, Value, Observed, &str)> = vec![
            ("nothing yet", pod("Always", &[], &["a"]), Observed { pod_ip: None, ..Default::default() }, "Pending"),
            (
                "both running",
                pod("Always", &[], &["a", "b"]),
                observed(vec![instance("a", 0, r, 0, false), instance("b", 0, r, 0, false)]),
                "Running",
            ),
            ("init running", pod("Always", &["i"], &["a"]), observed(vec![instance("i", 0, r, 0, true)]), "Pending"),
            (
                "init done, app running",
                pod("Always", &["i"], &["a"]),
                observed(vec![instance("i", 0, e, 0, true), instance("a", 0, r, 0, false)]),
                "Running",
            ),
            ("Never: exit 0", pod("Never", &[], &["a"]), observed(vec![instance("a", 0, e, 0, false)]), "Succeeded"),
            ("Never: exit 1", pod("Never", &[], &["a"]), observed(vec![instance("a", 0, e, 1, false)]), "Failed"),
            (
                "OnFailure: exit 0",
                pod("OnFailure", &[], &["a"]),
                observed(vec![instance("a", 0, e, 0, false)]),
                "Succeeded",
            ),
            (
                "Never: init failed",
                pod("Never", &["i"], &["a"]),
                observed(vec![instance("i", 0, e, 2, true)]),
                "Failed",
            ),
        ];
        for (what, pod, obs, phase) in cases {
            assert_eq!(compute(&pod, &obs, "t")["phase"], phase, "{what}");
        }
    }

    #[test]
    fn crash_loop_shows_waiting_restart_count_and_last_state() {
        let p = pod("Always", &[], &["a"]);
        let mut obs =
            observed(vec![instance("a", 2, RunState::Exited, 1, false), instance("a", 1, RunState::Exited, 1, false)]);
        obs.waiting.insert(
            "a".into(),
            ("CrashLoopBackOff".into(), "back-off 20s restarting failed container=a pod=p_default(u)".into()),
        );
        let status = compute(&p, &obs, "t");
        let c = &status["containerStatuses"][0];
        assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(c["restartCount"], 2);
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(c["lastState"]["terminated"]["reason"], "Error");
        assert_eq!(status["phase"], "Running");
        let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!(ready["message"], "containers with unready status: [a]");
    }

    #[test]
    fn running_pod_is_ready_with_ids() {
        let status =
            compute(&pod("Always", &[], &["a"]), &observed(vec![instance("a", 0, RunState::Running, 0, false)]), "t");
        let c = &status["containerStatuses"][0];
        assert_eq!((c["ready"].clone(), c["containerID"].clone()), (json!(true), json!("docker://a-0")));
        assert_eq!(status["podIP"], "10.244.1.2");
        assert_eq!(status["qosClass"], "BestEffort");
    }
}
