//! Growing a running one-master cluster to three masters on fresh lab hosts: a cluster of lab-master and
//! two nodes with a Deployment and ConfigMaps; two more hosts listed as masters; `up --check` says that
//! the objects move into etcd and the two join the control plane, and changes nothing; `up` moves them
//! (k3s's conversion), with every object kept and the pods' containers not restarted; etcd has three
//! members; a rerun changes nothing. Takes the machine's lab down at the end.

mod common;

use std::time::Duration;

use common::kubectl::Kubectl;
use common::{kubeboot, lab_sh, wait_for};
use serde_json::Value;

/// (pod name, uid, container id) of the Deployment's pods.
fn pods(k: &Kubectl) -> Vec<(String, String, String)> {
    let mut pods: Vec<(String, String, String)> = k
        .pods("app=web")
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["metadata"]["uid"].as_str().unwrap().to_string(),
                p["status"]["containerStatuses"][0]["containerID"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    pods.sort();
    pods
}

fn up(inventory: &str, extra: &[&str]) -> (Value, String) {
    let out = kubeboot(&[&["up", "-i", inventory, "--output", "json"], extra].concat(), &[]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "up {extra:?}: {text}");
    (serde_json::from_slice(&out.stdout).unwrap(), text)
}

#[test]
fn a_one_master_cluster_grows_to_three_masters_with_its_objects_and_pods() {
    let work = tempfile::tempdir().unwrap();
    let lab = work.path().join("lab.yaml").display().to_string();
    common::fresh_lab(5, &lab);
    let text = std::fs::read_to_string(&lab).unwrap();
    // One master and two nodes first; lab-node1 and lab-node2 become masters later.
    let one = work.path().join("one.yaml").display().to_string();
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("lab-node1,") && !l.contains("lab-node2,")).collect();
    std::fs::write(&one, lines.join("\n") + "\n").unwrap();
    let three = work.path().join("three.yaml").display().to_string();
    let grown: Vec<String> = text
        .lines()
        .map(|l| {
            if l.contains("lab-node1,") || l.contains("lab-node2,") {
                l.replace("role: node", "role: master")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&three, grown.join("\n") + "\n").unwrap();

    let kubeconfig = common::up_with_kubeconfig(&one, work.path());
    let k = Kubectl::new("kubectl.1.33", &kubeconfig).with_home(work.path());
    k.ok(&["create", "deployment", "web", "--image=kubetm/p8000", "--replicas=2"]);
    for i in 0..20 {
        k.ok(&["create", "configmap", &format!("before-{i}"), &format!("--from-literal=n={i}")]);
    }
    wait_for("web's 2 replicas ready", Duration::from_secs(180), || {
        k.json(&["get", "deployment", "web"])["status"]["readyReplicas"] == 2
    });
    let before = pods(&k);
    assert!(before.iter().all(|(_, _, id)| !id.is_empty()), "{before:?}");

    let (_, plan) = up(&three, &["--check"]);
    assert!(
        plan.contains("move the cluster's objects from this master's own store into a new etcd member"),
        "--check says the objects move: {plan}"
    );
    assert_eq!(plan.matches("join the control plane (etcd member").count(), 2, "{plan}");
    assert_eq!(lab_sh("lab-master", "test -f /var/lib/kubeboot/state.redb && echo redb").trim(), "redb");

    let (grown, _) = up(&three, &[]);
    assert!(grown["hosts"]["lab-master"]["changed"].as_u64().unwrap() > 0);
    let members = lab_sh("lab-master", "ls /var/lib/kubeboot; grep -c 127.0.0.1:2379 /etc/kubeboot/server.yaml");
    assert!(members.contains("state.redb.before-etcd") && members.contains("etcd"), "{members}");
    for master in ["lab-master", "lab-node1", "lab-node2"] {
        assert_eq!(lab_sh(master, "systemctl is-active kubeboot-etcd").trim(), "active", "{master}");
    }
    let names: Vec<String> = k.json(&["get", "configmaps"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str().filter(|n| n.starts_with("before-")).map(String::from))
        .collect();
    assert_eq!(names.len(), 20, "every ConfigMap moved: {names:?}");
    assert_eq!(pods(&k), before, "the same pods, their containers not restarted");
    let ready = k.stdout(&["get", "nodes", "--no-headers"]);
    assert_eq!(ready.lines().filter(|l| l.contains(" Ready ")).count(), 5, "{ready}");
    k.ok(&["scale", "deployment", "web", "--replicas=3"]);
    wait_for("web's 3 replicas ready on etcd", Duration::from_secs(120), || {
        k.json(&["get", "deployment", "web"])["status"]["readyReplicas"] == 3
    });

    let (rerun, _) = up(&three, &[]);
    for (host, result) in rerun["hosts"].as_object().unwrap() {
        assert_eq!(result["changed"], 0, "a rerun changed {host}: {result}");
    }
    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success());
}
