//! Pods on Docker end to end, on one lab cluster built as the README does (`lab up 3` + `up`), driven by
//! the real kubectl on this machine: the walkthrough's pod-1 runs 2/2 on a worker and answers on both
//! ports from the other worker by its IP (its containers reach each other on localhost), containers are
//! named and labelled as kubelet's dockershim names them, a nodeSelector is honoured and an unsatisfiable
//! one reported as kube-scheduler reports it, a crashing container goes into CrashLoopBackOff with a
//! growing restart count, emptyDir is shared and hostPath kept, an agent restart adopts running pods, a
//! Docker restart is recovered from, delete removes every container. Takes the lab down at the end.

mod common;

use std::path::Path;
use std::time::Duration;

use common::kubectl::Kubectl;
use common::{kubeboot, lab_sh};
use serde_json::Value;

fn running_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c["ready"] == true))
}

fn manifest(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

/// pod-1 as the later checks find it.
struct PodOne {
    node: String,
    other: String,
}

/// pod-1 of the walkthrough: where it runs, its columns and events, both ports from elsewhere, Docker's names.
fn walkthrough_pod_checks(k: &Kubectl) -> PodOne {
    // 1. pod-1 of the walkthrough, unmodified: 2/2 Running on a worker, kubectl's columns as on kubeadm.
    k.ok(&["apply", "-f", &manifest("examples/pod-1.yaml")]);
    common::wait_for("pod-1 Running and Ready", Duration::from_secs(120), || {
        running_ready(&k.json(&["get", "pod", "pod-1"]))
    });
    let pod = k.json(&["get", "pod", "pod-1"]);
    let node = pod["spec"]["nodeName"].as_str().unwrap().to_string();
    assert_ne!(node, "lab-master", "the master's taint keeps pods off it");
    let ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.244."), "{ip}");
    let wide = k.ok(&["get", "pods", "-o", "wide", "--no-headers"]);
    let row: Vec<&str> = wide.lines().find(|l| l.starts_with("pod-1 ")).unwrap().split_whitespace().collect();
    assert_eq!((row[1], row[2], row[3], row[5], row[6]), ("2/2", "Running", "0", ip.as_str(), node.as_str()), "{wide}");
    assert_eq!(pod["status"]["qosClass"], "BestEffort");
    assert!(pod["status"]["containerStatuses"][0]["containerID"].as_str().unwrap().starts_with("docker://"));

    // kubelet's events, as `kubectl describe pod` shows them.
    let described = k.ok(&["describe", "pod", "pod-1"]);
    for reason in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(
            described.lines().any(|l| l.trim_start().starts_with("Normal") && l.contains(reason)),
            "{reason}: {described}"
        );
    }
    assert!(described.contains("Started container container2"), "{described}");

    // 2. Both ports answer by pod IP from the other worker and from the master; localhost inside the pod.
    let other = if node == "lab-node1" { "lab-node2" } else { "lab-node1" };
    for from in [other, "lab-master"] {
        assert_eq!(lab_sh(from, &format!("curl -s -m 5 {ip}:8000")).trim(), "containerPort : 8000", "from {from}");
        assert_eq!(lab_sh(from, &format!("curl -s -m 5 {ip}:8080")).trim(), "containerPort : 8080", "from {from}");
    }
    let local =
        lab_sh(&node, "docker exec $(docker ps -q -f name=k8s_container1_pod-1_default_) wget -qO- localhost:8080");
    assert_eq!(local.trim(), "containerPort : 8080");

    // 3. Docker reads as on a kubeadm node: dockershim's names and labels, a sandbox per pod.
    let names = lab_sh(&node, "docker ps --format '{{.Names}} {{.Label \"io.kubernetes.pod.name\"}} {{.Label \"io.kubernetes.container.name\"}}'");
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    for c in ["container1", "container2"] {
        assert!(names.contains(&format!("k8s_{c}_pod-1_default_{uid}_0 pod-1 {c}")), "{names}");
    }
    assert!(names.contains(&format!("k8s_POD_pod-1_default_{uid}_0 pod-1")), "{names}");
    PodOne { node, other: other.to_string() }
}

/// A nodeSelector honoured; one no node satisfies reported as kube-scheduler does.
fn scheduling_checks(k: &Kubectl) {
    // 4. Scheduling: a nodeSelector is honoured; one no node satisfies is reported as kube-scheduler does.
    k.ok(&[
        "apply",
        "-f",
        &manifest("examples/pod-volume-3.yaml"),
        "-f",
        &manifest("tests/manifests/workloads/nowhere.yaml"),
    ]);
    common::wait_for("pod-volume-3 Running", Duration::from_secs(60), || {
        running_ready(&k.json(&["get", "pod", "pod-volume-3"]))
    });
    assert_eq!(k.json(&["get", "pod", "pod-volume-3"])["spec"]["nodeName"], "lab-node1");
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't match Pod's node affinity/selector.";
    common::wait_for("nowhere is unschedulable", Duration::from_secs(30), || {
        k.json(&["get", "pod", "nowhere"])["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| c["type"] == "PodScheduled" && c["reason"] == "Unschedulable" && c["message"] == expected)
        })
    });
    let events = k.ok(&["get", "events", "--field-selector", "involvedObject.name=nowhere"]);
    assert!(events.contains("FailedScheduling") && events.contains(expected), "{events}");
}

/// A crashing container: CrashLoopBackOff, a growing restart count, its last exit kept.
fn crash_loop_checks(k: &Kubectl) {
    // 5. A crashing container: CrashLoopBackOff and a growing restart count, its last exit kept.
    k.ok(&["apply", "-f", &manifest("tests/manifests/workloads/crasher.yaml")]);
    common::wait_for("crasher restarted twice", Duration::from_secs(90), || {
        k.json(&["get", "pod", "crasher"])["status"]["containerStatuses"][0]["restartCount"].as_i64().unwrap_or(0) >= 2
    });
    common::wait_for("crasher in CrashLoopBackOff", Duration::from_secs(30), || {
        k.ok(&["get", "pod", "crasher", "--no-headers"]).contains("CrashLoopBackOff")
    });
    common::wait_for("a BackOff event for crasher", Duration::from_secs(30), || {
        k.ok(&["get", "events", "--field-selector", "involvedObject.name=crasher,reason=BackOff"])
            .contains("Back-off restarting failed container crash")
    });
    let crash = &k.json(&["get", "pod", "crasher"])["status"]["containerStatuses"][0];
    assert_eq!(crash["lastState"]["terminated"]["exitCode"], 3, "{crash}");
}

/// Readiness and liveness probes; a missing image.
fn probe_and_pull_checks(k: &Kubectl) {
    // 5b. Probes: readiness gates Ready, a failing liveness probe restarts its container; a missing image
    // is ErrImagePull, then ImagePullBackOff.
    k.ok(&[
        "apply",
        "-f",
        &manifest("tests/manifests/workloads/probes.yaml"),
        "-f",
        &manifest("tests/manifests/workloads/no-image.yaml"),
    ]);
    common::wait_for("probed: web ready, never-ready not, dies restarted", Duration::from_secs(90), || {
        let pod = k.json(&["get", "pod", "probed"]);
        let status = |name: &str| {
            pod["status"]["containerStatuses"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["name"] == name).cloned())
                .unwrap_or_default()
        };
        status("web")["ready"] == true
            && status("never-ready")["ready"] == false
            && status("never-ready")["state"]["running"].is_object()
            && status("dies")["restartCount"].as_i64().unwrap_or(0) >= 1
    });
    let row = k.ok(&["get", "pod", "probed", "--no-headers"]);
    assert!(row.split_whitespace().nth(1).is_some_and(|r| r != "3/3"), "not every container is ready: {row}");
    common::wait_for("no-image in ImagePullBackOff", Duration::from_secs(60), || {
        let out = k.ok(&["get", "pod", "no-image", "--no-headers"]);
        out.contains("ImagePullBackOff") || out.contains("ErrImagePull")
    });
}

/// cordon keeps new pods off a node; uncordon lets them back.
fn cordon_checks(k: &Kubectl) {
    // 5c. cordon keeps new pods off a node; uncordon lets them back.
    k.ok(&["cordon", "lab-node1"]);
    let cordoned = k.ok(&["get", "nodes", "lab-node1", "--no-headers"]);
    assert!(cordoned.contains("SchedulingDisabled"), "{cordoned}");
    k.ok(&["apply", "-f", &manifest("tests/manifests/workloads/pinned.yaml")]);
    common::wait_for("pinned waits for the cordoned node", Duration::from_secs(30), || {
        k.json(&["get", "pod", "pinned"])["status"]["conditions"].to_string().contains("1 node(s) were unschedulable")
    });
    k.ok(&["uncordon", "lab-node1"]);
    common::wait_for("pinned runs once uncordoned", Duration::from_secs(60), || {
        running_ready(&k.json(&["get", "pod", "pinned"]))
    });
    k.ok(&["delete", "pod", "pinned"]);
}

/// emptyDir shared, hostPath kept, the pod's folder removed with it.
fn volume_checks(k: &Kubectl) {
    // 6. emptyDir shared by the pod's containers; hostPath kept on the node after the pod is gone.
    k.ok(&["apply", "-f", &manifest("examples/pod-volume-1.yaml")]);
    common::wait_for("pod-volume-1 Running", Duration::from_secs(60), || {
        running_ready(&k.json(&["get", "pod", "pod-volume-1"]))
    });
    let vnode = k.json(&["get", "pod", "pod-volume-1"])["spec"]["nodeName"].as_str().unwrap().to_string();
    lab_sh(
        &vnode,
        "docker exec $(docker ps -q -f name=k8s_container1_pod-volume-1_) sh -c 'echo shared > /mount1/file'",
    );
    let shared = lab_sh(&vnode, "docker exec $(docker ps -q -f name=k8s_container2_pod-volume-1_) cat /mount2/file");
    assert_eq!(shared.trim(), "shared");
    lab_sh(
        "lab-node1",
        "docker exec $(docker ps -q -f name=k8s_container_pod-volume-3_) sh -c 'echo kept > /mount1/f'",
    );
    let vuid = k.json(&["get", "pod", "pod-volume-1"])["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(lab_sh(&vnode, &format!("ls -d /var/lib/kubeboot/pods/{vuid} | wc -l")).trim(), "1");
    k.ok(&["delete", "pod", "pod-volume-3", "pod-volume-1"]);
    assert_eq!(lab_sh("lab-node1", "cat /node-v/f").trim(), "kept", "hostPath stays");
    // The pod's folder (its emptyDir, resolv.conf) goes with it; other pods' folders stay.
    assert_eq!(
        lab_sh(
            &vnode,
            &format!(
                "ls -d /var/lib/kubeboot/pods/{vuid} 2>/dev/null | wc -l; docker ps -aq -f name=pod-volume | wc -l"
            )
        )
        .split_whitespace()
        .collect::<Vec<_>>(),
        ["0", "0"]
    );
}

/// Init containers first; a configMap in env and files; fieldRef; an emptyDir in memory.
fn init_and_config_checks(k: &Kubectl) {
    // 6b. Init containers run first (Init:0/1 meanwhile), a configMap reaches env and files, fieldRef the
    // pod's name, an emptyDir in memory is shared with the init container.
    k.ok(&["apply", "-f", &manifest("tests/manifests/workloads/init-and-config.yaml")]);
    common::wait_for("init-pod initializing", Duration::from_secs(60), || {
        k.ok(&["get", "pod", "init-pod", "--no-headers"]).contains("Init:0/1")
    });
    common::wait_for("init-pod Running", Duration::from_secs(60), || {
        running_ready(&k.json(&["get", "pod", "init-pod"]))
    });
    let init = k.json(&["get", "pod", "init-pod"]);
    assert_eq!(init["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    let inode = init["spec"]["nodeName"].as_str().unwrap().to_string();
    let app = "$(docker ps -q -f name=k8s_app_init-pod_)";
    let seen = lab_sh(
        &inode,
        &format!("docker exec {app} sh -c 'cat marker; echo $GREETING; cat /config/greeting; echo; echo $MY_POD; mount | grep -c \" /work type tmpfs\"'"),
    );
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        ["init-done", "hello from a configmap", "hello from a configmap", "init-pod", "1"],
        "{seen}"
    );
    k.ok(&["delete", "pod", "init-pod"]);
    k.ok(&["delete", "configmap", "app-config"]);
}

/// An agent restart adopts the running pod.
fn agent_restart_checks(k: &Kubectl, pod: &PodOne) {
    let node = pod.node.as_str();
    // 7. An agent restart adopts the running pod: the same containers, still Running.
    let before = lab_sh(node, "docker ps -q -f name=_pod-1_ | sort");
    lab_sh(node, "systemctl restart kubeboot-agent");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(lab_sh(node, "docker ps -q -f name=_pod-1_ | sort"), before, "nothing restarted");
    assert!(running_ready(&k.json(&["get", "pod", "pod-1"])));
}

/// A Docker restart is survived.
fn docker_restart_checks(k: &Kubectl, pod: &PodOne) {
    let (node, other) = (pod.node.as_str(), pod.other.as_str());
    // 8. A Docker restart is survived: pod-1 comes back (restartPolicy Always) and answers again.
    lab_sh(node, "systemctl restart docker");
    common::wait_for("pod-1 back after a Docker restart", Duration::from_secs(90), || {
        running_ready(&k.json(&["get", "pod", "pod-1"]))
            && lab_sh(
                other,
                &format!(
                    "curl -s -m 2 {}:8000",
                    k.json(&["get", "pod", "pod-1"])["status"]["podIP"].as_str().unwrap_or("")
                ),
            )
            .contains("8000")
    });
}

/// Graceful and forced deletion leave no container behind.
fn deletion_checks(k: &Kubectl, pod: &PodOne) {
    let node = pod.node.as_str();
    // 9. Delete is graceful and complete: kubectl waits, and no container of the pod is left.
    k.ok(&["delete", "pod", "pod-1", "crasher", "nowhere", "probed"]);
    // A forced delete removes the object at once; the agent then removes the containers of a pod that is gone.
    let inode = k.json(&["get", "pod", "no-image"])["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    k.ok(&["delete", "pod", "no-image", "--force", "--grace-period=0"]);
    common::wait_for("the forced pod's sandbox removed", Duration::from_secs(30), || {
        lab_sh(&inode, "docker ps -aq -f name=_no-image_ | wc -l").trim() == "0"
    });
    assert!(!k.run(&["get", "pod", "pod-1"]).0, "pod-1 is gone once delete returns");
    assert_eq!(lab_sh(node, "docker ps -aq -f name=_pod-1_ | wc -l").trim(), "0");
}

/// A deleted Node is registered again by its running agent, as kubelet does.
fn node_reregistration_checks(k: &Kubectl) {
    // 10. `kubectl delete node`: the running agent registers its Node again, as kubelet does.
    k.ok(&["delete", "node", "lab-node2"]);
    common::wait_for("lab-node2 registered again and Ready", Duration::from_secs(60), || {
        k.run(&["get", "node", "lab-node2", "--no-headers"]).1.split_whitespace().nth(1) == Some("Ready")
    });
}

#[test]
fn pods_run_on_docker_across_the_lab() {
    let work = tempfile::tempdir().unwrap();
    let inv_path = work.path().join("lab.yaml");
    let inv = inv_path.to_str().unwrap();
    common::fresh_lab(3, inv);

    // The lab's pod range is private and the walkthrough's public one is nowhere; the bridge drops what is
    // not for the lab or a package mirror.
    let inventory = std::fs::read_to_string(&inv_path).unwrap();
    assert!(inventory.contains("pod_network_cidr: 10.244.0.0/16"), "{inventory}");
    assert!(!inventory.contains("pod_network_cidr: 20.96"), "{inventory}");
    let forward = common::run("iptables", &["-S", "FORWARD"]);
    assert!(forward.contains("-i kblab0 -m comment --comment kubeboot-lab -j DROP"), "{forward}");

    let kubeconfig = common::up_with_kubeconfig(inv, work.path());
    let k = Kubectl::new("kubectl (PATH)", &kubeconfig);

    let pod_one = walkthrough_pod_checks(&k);
    scheduling_checks(&k);
    crash_loop_checks(&k);
    probe_and_pull_checks(&k);
    cordon_checks(&k);
    volume_checks(&k);
    init_and_config_checks(&k);
    agent_restart_checks(&k, &pod_one);
    docker_restart_checks(&k, &pod_one);
    deletion_checks(&k, &pod_one);
    node_reregistration_checks(&k);

    let down = kubeboot(&["lab", "down"], &[]);
    assert!(down.status.success(), "lab down: {}", String::from_utf8_lossy(&down.stderr));
}
