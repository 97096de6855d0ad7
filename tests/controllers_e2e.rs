//! The controllers end to end on one lab cluster (`lab up 3` + `up`: a master and two workers, pod eviction
//! timeout 20 s), with real Docker and kubectl 1.20 and 1.33: the walkthrough's replicaset-1 keeps 3 pods
//! through a deleted pod and `kubectl scale`, as a ReplicationController keeps 2 through a scale to 1 and
//! takes its pod with it when deleted; deployment-2 rolls v1 -> v2 (RollingUpdate, minReadySeconds)
//! never below replicas - maxUnavailable ready pods (watched throughout) and `rollout undo` brings v1 back;
//! deployment-1 (Recreate) shows the gap; deleting deployments removes their ReplicaSets and pods (Background
//! and Foreground); job-1 completes (`kubectl wait --for=condition=complete`), a Job of 3 completions runs
//! 2 at a time, a failing one stops at its backoffLimit; cron-job (batch/v1beta1) starts a Job each minute
//! and cron-limited keeps one successful Job; a DaemonSet puts one pod on each worker; a worker whose agent
//! stops has its pods running on the other worker within the eviction timeout (after the 40 s the node
//! takes to be marked) + 30 s, and when it comes back its evicted pods' containers are removed; `kubectl
//! drain` (1.33, then 1.20) of each worker evicts its pods through the eviction subresource while a
//! PodDisruptionBudget keeps 3 of 4 ready, and a budget that allows nothing stops a drain.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kubectl::{image, manifest, ready, Kubectl};
use common::{kubeboot, lab_sh};
use serde_json::Value;

fn node_of(pod: &Value) -> String {
    pod["spec"]["nodeName"].as_str().unwrap_or("").to_string()
}

/// Sample the pods of `selector` every ~150 ms on a thread until told to stop; returns the samples.
fn watch_pods(k: &Kubectl, selector: &str) -> (Arc<AtomicBool>, std::thread::JoinHandle<Vec<Vec<Value>>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (k, selector, flag) = (k.clone(), selector.to_string(), stop.clone());
    let handle = std::thread::spawn(move || {
        let mut samples = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            samples.push(k.pods(&selector));
            std::thread::sleep(Duration::from_millis(150));
        }
        samples
    });
    (stop, handle)
}

fn replica_set_checks(k: &Kubectl) {
    k.ok(&["apply", "-f", &manifest("examples/replicaset-1.yaml")]);
    let running =
        |n: usize| k.pods("type=web").iter().filter(|p| ready(p)).count() == n && k.pods("type=web").len() == n;
    common::wait_for("replica1: 3 pods Running and Ready", Duration::from_secs(120), || running(3));
    let victim = k.pods("type=web")[0]["metadata"]["name"].as_str().unwrap().to_string();
    k.ok(&["delete", "pod", &victim]);
    common::wait_for("replica1: the deleted pod replaced", Duration::from_secs(60), || {
        running(3) && k.pods("type=web").iter().all(|p| p["metadata"]["name"] != victim.as_str())
    });
    k.ok(&["scale", "rs", "replica1", "--replicas=5"]);
    common::wait_for("replica1: 5 pods after scale", Duration::from_secs(60), || running(5));
    k.ok(&["scale", "rs", "replica1", "--replicas=3"]);
    common::wait_for("replica1: 3 pods after scale down", Duration::from_secs(60), || running(3));
    let workers: std::collections::BTreeSet<String> = k.pods("type=web").iter().map(node_of).collect();
    assert!(!workers.contains("lab-master"), "{workers:?}");
}

fn rolling_update_checks(k: &Kubectl) {
    k.ok(&["apply", "-f", &manifest("examples/deployment-2.yaml")]);
    k.ok(&["rollout", "status", "deploy/deployment-2", "--timeout=180s"]);
    // replicas 2: maxSurge 25% -> 1, maxUnavailable 25% -> 0: never fewer than 2 ready pods.
    let (stop, watcher) = watch_pods(k, "type=app2");
    k.ok(&["set", "image", "deploy/deployment-2", "container=kubetm/app:v2"]);
    k.ok(&["rollout", "status", "deploy/deployment-2", "--timeout=180s"]);
    stop.store(true, Ordering::Relaxed);
    let samples = watcher.join().unwrap();
    let fewest = samples.iter().map(|s| s.iter().filter(|p| ready(p)).count()).min().unwrap();
    assert!(fewest >= 2, "{}: a sample had {fewest} ready pods of 2 (maxUnavailable 0)", k.label);
    assert!(samples.iter().any(|s| s.len() == 3), "{}: the surge pod was never seen", k.label);
    let images: Vec<String> = k.pods("type=app2").iter().map(image).collect();
    assert_eq!(images, ["kubetm/app:v2", "kubetm/app:v2"], "{}", k.label);
    let history = k.ok(&["rollout", "history", "deploy/deployment-2"]);
    assert!(history.lines().any(|l| l.starts_with("2 ")), "{history}");

    k.ok(&["rollout", "undo", "deploy/deployment-2"]);
    k.ok(&["rollout", "status", "deploy/deployment-2", "--timeout=180s"]);
    common::wait_for("deployment-2 back on v1", Duration::from_secs(60), || {
        let images: Vec<String> = k.pods("type=app2").iter().map(image).collect();
        images == ["kubetm/app:v1", "kubetm/app:v1"]
    });
    let rs = k.json(&["get", "rs", "-l", "type=app2"]);
    let revisions: Vec<&str> = rs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str())
        .collect();
    assert!(revisions.contains(&"3") && revisions.contains(&"2") && !revisions.contains(&"1"), "{revisions:?}");
    k.ok(&["delete", "deploy", "deployment-2"]);
    common::wait_for("deployment-2's ReplicaSets and pods gone (background)", Duration::from_secs(60), || {
        k.pods("type=app2").is_empty()
            && k.json(&["get", "rs", "-l", "type=app2"])["items"].as_array().is_some_and(Vec::is_empty)
    });
}

fn recreate_checks(k: &Kubectl) {
    k.ok(&["apply", "-f", &manifest("examples/deployment-1.yaml")]);
    k.ok(&["rollout", "status", "deploy/deployment-1", "--timeout=180s"]);
    let (stop, watcher) = watch_pods(k, "type=app");
    k.ok(&["set", "image", "deploy/deployment-1", "container=kubetm/app:v2"]);
    k.ok(&["rollout", "status", "deploy/deployment-1", "--timeout=180s"]);
    common::wait_for("deployment-1 on v2", Duration::from_secs(60), || {
        let images: Vec<String> = k.pods("type=app").iter().filter(|p| ready(p)).map(image).collect();
        images == ["kubetm/app:v2", "kubetm/app:v2"]
    });
    stop.store(true, Ordering::Relaxed);
    let samples = watcher.join().unwrap();
    let mixed = samples.iter().find(|s| {
        let running: Vec<String> = s.iter().filter(|p| p["status"]["phase"] == "Running").map(image).collect();
        running.iter().any(|i| i.ends_with("v1")) && running.iter().any(|i| i.ends_with("v2"))
    });
    assert!(mixed.is_none(), "Recreate ran v1 and v2 together");
    assert!(samples.iter().any(|s| s.iter().all(|p| p["status"]["phase"] != "Running")), "no gap was seen");
    // revisionHistoryLimit 1: the v1 ReplicaSet is kept (one old revision).
    assert_eq!(k.json(&["get", "rs", "-l", "type=app"])["items"].as_array().map(Vec::len), Some(2));
    k.ok(&["delete", "deploy", "deployment-1", "--cascade=foreground"]);
    assert!(k.pods("type=app").is_empty(), "foreground: the pods went before the deployment");
    assert!(k.json(&["get", "rs", "-l", "type=app"])["items"].as_array().is_some_and(Vec::is_empty));
}

fn job_checks(k20: &Kubectl, k33: &Kubectl) {
    for k in [k20, k33] {
        k.ok(&["wait", "--for=condition=complete", "job/job-1", "--timeout=180s"]);
        k.ok(&["wait", "--for=condition=complete", "job/parallel", "--timeout=180s"]);
        k.ok(&["wait", "--for=condition=failed", "job/failing", "--timeout=180s"]);
    }
    let logs = k33.ok(&["logs", "job/job-1"]);
    assert!(logs.contains("job start") && logs.contains("job end"), "{logs}");
    let parallel = k33.json(&["get", "job", "parallel"]);
    assert_eq!(parallel["status"]["succeeded"], 3, "{parallel}");
    let pods = k33.json(&["get", "pods", "-l", "job-name=parallel"]);
    let starts: Vec<&str> =
        pods["items"].as_array().unwrap().iter().filter_map(|p| p["status"]["startTime"].as_str()).collect();
    assert_eq!(starts.len(), 3, "{pods}");
    let failing = k33.json(&["get", "job", "failing"]);
    assert_eq!(failing["status"]["failed"], 3, "backoffLimit 2: three tries: {failing}");
    assert_eq!(failing["status"]["conditions"][0]["reason"], "BackoffLimitExceeded");
    let described = k33.ok(&["describe", "job", "failing"]);
    assert!(described.contains("BackoffLimitExceeded"), "{described}");
    let table = k20.ok(&["get", "jobs"]);
    assert!(table.lines().any(|l| l.starts_with("job-1 ") && l.contains("1/1")), "{table}");
}

fn cron_job_checks(k: &Kubectl, started: Instant) {
    // Two scheduled minutes must pass: one job each; cron-limited keeps only the newest successful one.
    let mut seen = std::collections::BTreeSet::new();
    let limit = Duration::from_secs(200).saturating_sub(started.elapsed()).max(Duration::from_secs(90));
    common::wait_for("cron-limited: two jobs started, one kept", limit, || {
        let jobs = k.json(&["get", "jobs"]);
        let mine: Vec<Value> = jobs["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|j| j["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("cron-limited-")))
            .collect();
        seen.extend(mine.iter().filter_map(|j| j["metadata"]["name"].as_str().map(String::from)));
        let complete = mine.iter().filter(|j| j["status"]["succeeded"] == 1).count();
        seen.len() >= 2 && complete == 1 && mine.len() == 1
    });
    let cron = k.json(&["get", "cronjob", "cron-job"]);
    assert!(cron["status"]["lastScheduleTime"].is_string(), "{cron}");
    let jobs = k.ok(&["get", "jobs"]);
    assert!(jobs.lines().any(|l| l.starts_with("cron-job-")), "{jobs}");
    let names: Vec<&String> = seen.iter().collect();
    for name in names {
        let minutes: i64 = name.trim_start_matches("cron-limited-").parse().expect("named by the scheduled minute");
        assert!(minutes > 29_000_000, "{name}");
    }
}

/// A ReplicationController (selector defaulted from its template) keeps its pods, scales, and takes them
/// with it when deleted.
fn replication_controller_checks(k: &Kubectl) {
    k.ok(&["apply", "-f", &manifest("tests/manifests/replicationcontroller.yaml")]);
    let running = |n: usize| {
        let pods = k.pods("app=legacy");
        pods.len() == n && pods.iter().all(ready)
    };
    common::wait_for("legacy: 2 pods Running and Ready", Duration::from_secs(120), || running(2));
    let rc = k.ok(&["get", "rc", "legacy", "-o", "wide"]);
    let row: Vec<&str> = rc.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[1..4], ["2", "2", "2"], "{rc}");
    assert_eq!(row.last(), Some(&"app=legacy"), "{rc}");
    k.ok(&["scale", "rc", "legacy", "--replicas=1"]);
    common::wait_for("legacy: 1 pod after scale", Duration::from_secs(60), || running(1));
    k.ok(&["delete", "rc", "legacy"]);
    common::wait_for("legacy: its pod deleted with it", Duration::from_secs(60), || k.pods("app=legacy").is_empty());
}

fn daemon_set_checks(k: &Kubectl) {
    common::wait_for("node-agent on each worker", Duration::from_secs(120), || {
        let pods = k.pods("app=node-agent");
        let nodes: std::collections::BTreeSet<String> = pods.iter().filter(|p| ready(p)).map(node_of).collect();
        pods.len() == 2 && nodes.len() == 2 && !nodes.contains("lab-master")
    });
    let ds = k.ok(&["get", "ds", "node-agent"]);
    let row: Vec<&str> = ds.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[1..6], ["2", "2", "2", "2", "2"], "{ds}");
}

fn node_loss_checks(k: &Kubectl) {
    let pods = k.pods("type=web");
    let mut per_node: std::collections::BTreeMap<String, usize> = Default::default();
    for p in &pods {
        *per_node.entry(node_of(p)).or_default() += 1;
    }
    let (lost, _) = per_node.iter().max_by_key(|(_, n)| **n).map(|(n, c)| (n.clone(), *c)).unwrap();
    let other = if lost == "lab-node1" { "lab-node2" } else { "lab-node1" };
    let evicted: Vec<String> = pods
        .iter()
        .filter(|p| node_of(p) == lost)
        .map(|p| p["metadata"]["uid"].as_str().unwrap().to_string())
        .collect();
    lab_sh(&lost, "systemctl stop kubeboot-agent");
    let stopped = Instant::now();
    common::wait_for(&format!("{lost} marked not Ready"), Duration::from_secs(90), || {
        k.ok(&["get", "node", &lost, "--no-headers"]).contains("NotReady")
    });
    let marked = stopped.elapsed();
    // Eviction timeout 20 s + 30 s.
    let moved = common::wait_for("replica1's pods all Running on the other worker", Duration::from_secs(50), || {
        let pods = k.pods("type=web");
        pods.len() == 3 && pods.iter().all(|p| node_of(p) == other && ready(p))
    });
    eprintln!("node loss: {lost} NotReady after {marked:?}, pods running elsewhere {moved:?} later");
    let node = k.json(&["get", "node", &lost]);
    let taints = node["spec"]["taints"].to_string();
    assert!(taints.contains("node.kubernetes.io/unreachable") && taints.contains("NoExecute"), "{taints}");

    lab_sh(&lost, "systemctl start kubeboot-agent");
    common::wait_for(&format!("{lost} Ready again, untainted"), Duration::from_secs(90), || {
        let node = k.json(&["get", "node", &lost]);
        !node["spec"]["taints"].to_string().contains("unreachable")
            && node["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    });
    common::wait_for("the evicted pods' containers removed from the returning node", Duration::from_secs(90), || {
        let listed = lab_sh(&lost, "docker ps -a --format '{{.Label \"io.kubernetes.pod.uid\"}}'");
        evicted.iter().all(|uid| !listed.contains(uid.as_str()))
    });
    let all = k.json(&["get", "pods", "-l", "type=web"]);
    assert!(all["items"].as_array().unwrap().iter().all(|p| node_of(p) == other), "{all}");
}

/// The drained workers' pods of `app=drained`, by node.
fn drained_nodes(k: &Kubectl) -> Vec<String> {
    let mut nodes: Vec<String> = k.pods("app=drained").iter().filter(|p| ready(p)).map(node_of).collect();
    nodes.sort();
    nodes
}

/// `kubectl drain` of `node` by `k`, while the ready pods of the budget are sampled: it evicts (never
/// deletes) through the eviction subresource, the budget (maxUnavailable 1 of 4) holds throughout, and
/// every pod ends on the other worker. The node is uncordoned after.
fn drain_one(k: &Kubectl, node: &str, other: &str) {
    let (stop, watcher) = watch_pods(k, "app=drained");
    let out = k.ok(&["drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=180s"]);
    stop.store(true, Ordering::Relaxed);
    let samples = watcher.join().unwrap();
    assert!(out.contains("evicting pod"), "{}: drain did not evict: {out}", k.label);
    let fewest = samples.iter().map(|s| s.iter().filter(|p| ready(p)).count()).min().unwrap();
    assert!(fewest >= 3, "{}: a sample had {fewest} ready pods of 4 (the budget allows 1 down)", k.label);
    let unschedulable = k.json(&["get", "node", node])["spec"]["unschedulable"].clone();
    assert_eq!(unschedulable, serde_json::json!(true), "{}: {node} not cordoned", k.label);
    common::wait_for(&format!("drained's 4 pods ready on {other}"), Duration::from_secs(120), || {
        drained_nodes(k) == [other; 4]
    });
    let left = k.json(&["get", "pods", "--all-namespaces", "--field-selector", &format!("spec.nodeName={node}")]);
    let daemons_only = left["items"].as_array().unwrap().iter().all(|p| {
        p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet" || !p["metadata"]["deletionTimestamp"].is_null()
    });
    assert!(daemons_only, "{}: pods other than DaemonSets' left on {node}: {left}", k.label);
    eprintln!("{}: drained {node}: {}", k.label, out.lines().filter(|l| l.contains("evict")).count());
    k.ok(&["uncordon", node]);
}

fn drain_checks(k20: &Kubectl, k33: &Kubectl) {
    k33.ok(&["apply", "-f", &manifest("tests/manifests/workloads/drained.yaml")]);
    k33.ok(&["rollout", "status", "deploy/drained", "--timeout=180s"]);
    common::wait_for("the budget counts 4 healthy pods, 1 disruption allowed", Duration::from_secs(60), || {
        let status = &k33.json(&["get", "pdb", "drained"])["status"];
        status["currentHealthy"] == 4 && status["desiredHealthy"] == 3 && status["disruptionsAllowed"] == 1
    });
    drain_one(k33, "lab-node1", "lab-node2");
    drain_one(k20, "lab-node2", "lab-node1");
    // A budget that allows nothing: the drain stops at its time limit, naming the budget's refusal.
    k33.ok(&["patch", "pdb", "drained", "--type=merge", "-p", r#"{"spec": {"maxUnavailable": 0}}"#]);
    common::wait_for("the budget at 0 disruptions allowed", Duration::from_secs(60), || {
        let pdb = k33.json(&["get", "pdb", "drained"]);
        pdb["status"]["observedGeneration"] == pdb["metadata"]["generation"] && pdb["status"]["disruptionsAllowed"] == 0
    });
    let (ok, out) = k33.run(&["drain", "lab-node1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=12s"]);
    assert!(!ok && out.contains("Cannot evict pod as it would violate the pod's disruption budget"), "{out}");
    assert_eq!(drained_nodes(k33), ["lab-node1"; 4], "the blocked drain took a pod: {out}");
    k33.ok(&["uncordon", "lab-node1"]);
    k33.ok(&["delete", "-f", &manifest("tests/manifests/workloads/drained.yaml")]);
}

#[test]
fn controllers_run_the_walkthroughs_workloads_on_the_lab() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);
    common::add_cluster_setting(&inv_path, "pod_eviction_timeout: 20s");
    let kubeconfig = common::up_with_kubeconfig(inv, work.path());
    let (k20, k33) = (Kubectl::new("kubectl 1.20", &kubeconfig), Kubectl::new("kubectl.1.33", &kubeconfig));

    // The slow ones first, checked last: the cron jobs and the jobs run while the rest is checked.
    let started = Instant::now();
    k33.ok(&["apply", "-f", &manifest("examples/cron-job.yaml")]);
    k33.ok(&["apply", "-f", &manifest("examples/job-1.yaml")]);
    k33.ok(&["apply", "-f", &manifest("tests/manifests/workloads/jobs.yaml")]);

    replica_set_checks(&k20);
    replication_controller_checks(&k33);
    rolling_update_checks(&k33);
    recreate_checks(&k20);
    job_checks(&k20, &k33);
    daemon_set_checks(&k33);
    cron_job_checks(&k33, started);
    let lease = k33.json(&["-n", "kube-system", "get", "lease", "kube-controller-manager"]);
    assert!(lease["spec"]["holderIdentity"].as_str().is_some_and(|h| h.starts_with("lab-master_")), "{lease}");
    drain_checks(&k20, &k33);
    node_loss_checks(&k33);

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
