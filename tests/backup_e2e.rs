//! The restore drill on a lab cluster (issue 29): `lab up 2` + `up`, objects of every kind the API serves
//! and a Deployment running on the node, then `kubeboot backup -i`. Refused before any host is touched:
//! a restore while the master serves (without --force), a truncated backup, another cluster's backup.
//! Then the master is wiped (`reset -i --limit lab-master`) and `kubeboot restore -i` brings the cluster
//! back onto it: every object of before with its uid, what was made after the backup gone, both nodes
//! Ready, and the node's pods adopted by its agent: the same containers, never restarted. Last, `restore
//! --force` onto the running cluster replaces its store again, the pods still untouched.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::kubectl::{manifest, Kubectl};
use common::{kubeboot, lab_sh};
use serde_json::Value;

/// Every object the API lists, kind by kind (events aside: they come and go; resource metrics are
/// measurements, not objects): "resource ns/name" -> uid.
fn every_object(k: &Kubectl) -> BTreeMap<String, String> {
    let resources = k.ok(&["api-resources", "--verbs=list", "-o", "name"]);
    let mut objects = BTreeMap::new();
    for resource in resources.lines().filter(|r| !r.starts_with("events") && !r.ends_with(".metrics.k8s.io")) {
        let listed = k.json(&["get", resource, "-A", "-o", "json"]);
        for item in listed["items"].as_array().into_iter().flatten() {
            let meta = &item["metadata"];
            let name =
                format!("{resource} {}/{}", meta["namespace"].as_str().unwrap_or(""), meta["name"].as_str().unwrap());
            objects.insert(name, meta["uid"].as_str().unwrap_or_default().to_string());
        }
    }
    objects
}

/// The steady pods' containers: pod name -> (container id, restarts), from the API.
fn steady_containers(k: &Kubectl) -> BTreeMap<String, (String, i64)> {
    k.pods("app=steady")
        .iter()
        .map(|p| {
            let status = &p["status"]["containerStatuses"][0];
            let id = status["containerID"].as_str().unwrap_or_default().trim_start_matches("docker://").to_string();
            (p["metadata"]["name"].as_str().unwrap().to_string(), (id, status["restartCount"].as_i64().unwrap_or(-1)))
        })
        .collect()
}

/// The running containers on a lab host with the time each started: id -> StartedAt.
fn running_containers(host: &str) -> BTreeMap<String, String> {
    let out = lab_sh(host, "docker inspect --format '{{.Id}} {{.State.StartedAt}}' $(docker ps -q)");
    out.lines().filter_map(|l| l.split_once(' ')).map(|(id, at)| (id.to_string(), at.to_string())).collect()
}

/// Both nodes Ready with a heartbeat at or after `since` (RFC 3339, UTC): a restored Node object says
/// Ready from the backup until the node lifecycle controller sees no heartbeat, so only a heartbeat made
/// after the restore shows the agent is back.
fn all_ready_since(k: &Kubectl, since: &str) -> bool {
    let (ok, out) = k.run(&["get", "nodes", "-o", "json"]);
    let nodes: Value = if ok { serde_json::from_str(&out).unwrap_or(Value::Null) } else { Value::Null };
    nodes["items"].as_array().is_some_and(|items| {
        items.len() == 2
            && items.iter().all(|n| {
                n["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["type"] == "Ready"
                            && c["status"] == "True"
                            && c["lastHeartbeatTime"].as_str().is_some_and(|t| t >= since)
                    })
                })
            })
    })
}

fn now_rfc3339() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A backup of a cluster of its own, made on this machine (another CA).
fn foreign_backup(dir: &Path) -> std::path::PathBuf {
    let (cfg, data, port) = common::init_master(dir, "foreign-master");
    let mut server = common::Stopped(common::start_server(&cfg, &data, &port));
    common::wait_listening(&mut server.0, &data, &port);
    let kubeconfig = cfg.join("admin.conf");
    let out = kubeboot(&["snapshot", "save", "--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json"], &[]);
    assert!(out.status.success(), "snapshot save: {}", String::from_utf8_lossy(&out.stderr));
    let saved: Value = serde_json::from_slice(&out.stdout).unwrap();
    std::path::PathBuf::from(saved["path"].as_str().unwrap())
}

#[test]
fn a_cluster_comes_back_from_its_backup_onto_a_wiped_master_with_its_pods_untouched() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(2, inv);
    let kubeconfig = common::up_with_kubeconfig(inv, work.path());
    let k = Kubectl::new("kubectl.1.33", &kubeconfig);
    k.ok(&["create", "namespace", "drill"]);
    let drill = k.clone().in_namespace("drill");
    for kind in [
        "configmap",
        "cronjob",
        "deployment",
        "hpa",
        "ingress",
        "job",
        "lease",
        "networkpolicy",
        "pdb",
        "pod",
        "replicaset",
        "replicationcontroller",
        "role",
        "rolebinding",
        "secret",
        "service",
        "serviceaccount",
        "statefulset",
    ] {
        drill.ok(&["apply", "-f", &manifest(&format!("tests/manifests/{kind}.yaml"))]);
    }
    k.ok(&["apply", "-f", &manifest("tests/manifests/workloads/steady.yaml")]);
    k.ok(&["rollout", "status", "deploy/steady", "--timeout=180s"]);
    let containers = steady_containers(&k);
    assert!(containers.values().all(|(id, restarts)| !id.is_empty() && *restarts == 0), "{containers:?}");
    let on_node = running_containers("lab-node1");
    assert!(containers.values().all(|(id, _)| on_node.contains_key(id)), "{containers:?} on lab-node1: {on_node:?}");

    // The CronJob (every minute) suspended, so that what is listed below is what the backup holds.
    drill.ok(&["patch", "cronjob", "hello", "-p", r#"{"spec":{"suspend":true}}"#]);
    std::thread::sleep(Duration::from_secs(2));
    let before = every_object(&k);
    assert!(before.len() > 40, "objects of every kind: {before:#?}");
    let backup = work.path().join("cluster.backup");
    let out = kubeboot(&["backup", "-i", inv, "-o", backup.to_str().unwrap()], &[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "backup: {said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("Backed up cluster") && said.contains("from lab-master"), "{said}");
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);

    // Refused before any host is touched.
    let refused = |file: &Path, expected: &str| {
        let out = kubeboot(&["restore", "-i", inv, file.to_str().unwrap()], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected {expected:?}: {err}");
    };
    refused(&backup, "the API server on lab-master answers: a restore replaces every object");
    let bytes = std::fs::read(&backup).unwrap();
    let truncated = work.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    refused(&truncated, "checksum does not match (truncated or altered)");
    let foreign = tempfile::tempdir().unwrap();
    refused(&foreign_backup(foreign.path()), "lab-master: its cluster CA is");
    assert!(all_ready_since(&k, ""), "the refusals changed nothing");

    // Made after the backup: gone after the restore.
    k.ok(&["-n", "drill", "create", "configmap", "after-backup", "--from-literal=a=1"]);

    // The master wiped, then the restore.
    let reset = kubeboot(&["reset", "-i", inv, "--limit", "lab-master"], &[]);
    assert!(reset.status.success(), "reset: {}", String::from_utf8_lossy(&reset.stdout));
    assert_eq!(lab_sh("lab-master", "ls /etc/kubeboot /var/lib/kubeboot 2>&1 | grep -c 'No such'").trim(), "2");
    let (started, since) = (Instant::now(), now_rfc3339());
    let out = kubeboot(&["restore", "-i", inv, backup.to_str().unwrap()], &[]);
    let took = started.elapsed();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "restore: {said}");
    assert!(said.contains("restored onto a master not initialised"), "{said}");
    common::fetch_kubeconfig(inv, &kubeconfig);
    common::wait_for("both nodes heartbeating again", Duration::from_secs(120), || all_ready_since(&k, &since));
    eprintln!(
        "restore onto the wiped master: the command {:.1} s, both nodes heartbeating {:.1} s",
        took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let after = every_object(&k);
    let missing: Vec<String> = before
        .iter()
        .filter(|(name, uid)| after.get(*name) != Some(uid))
        .map(|(name, uid)| format!("{name} (uid {uid}, now {:?})", after.get(name)))
        .collect();
    assert!(missing.is_empty(), "{} objects not back as they were: {missing:#?}", missing.len());
    assert!(!after.contains_key("configmaps drill/after-backup"), "made after the backup, still there");
    assert_eq!(steady_containers(&k), containers, "the steady pods' containers changed or restarted");
    let on_node_after = running_containers("lab-node1");
    for (id, _) in containers.values() {
        assert_eq!(on_node_after.get(id), on_node.get(id), "container {id} on lab-node1 restarted or is gone");
    }

    // --force onto the running cluster: its store replaced again, the pods untouched.
    k.ok(&["-n", "drill", "create", "configmap", "after-restore", "--from-literal=a=1"]);
    let since = now_rfc3339();
    let out = kubeboot(&["restore", "-i", inv, backup.to_str().unwrap(), "--force"], &[]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "restore --force: {said}");
    assert!(said.contains("restored replacing the store"), "{said}");
    common::wait_for("both nodes heartbeating again", Duration::from_secs(120), || all_ready_since(&k, &since));
    let (found, _) = k.run(&["-n", "drill", "get", "configmap", "after-restore"]);
    assert!(!found, "made after the backup, still there after restore --force");
    assert_eq!(steady_containers(&k), containers, "restore --force disturbed the steady pods");
    let kept = lab_sh("lab-master", "ls /var/lib/kubeboot/state.redb.before-restore");
    assert!(kept.contains("before-restore"), "the replaced store is kept: {kept}");

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
