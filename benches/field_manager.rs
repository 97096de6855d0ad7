//! What field management costs one write, in process: a Pod as the walkthrough's deployment makes it
//! (three managers already in its managedFields: the controller manager's create, the agent's status,
//! kubectl's label), then the writes a cluster makes most — the agent's status update (a condition and a
//! container status change) and a label update — each through the registry's own steps (read the
//! entries, compare old and new, write the entries back). The reference in the same run is what every
//! write pays anyway: decoding the stored object and encoding it again. Asserts nothing.
//!
//!     cargo bench --bench field_manager [-- ITERATIONS]

use std::time::{Duration, Instant};

use kubeboot::control_plane::registry::field_manager::{
    after_update_of, entries_of, set_entries, Manager, Operation, Scope,
};
use serde_json::{json, Value};

fn pod() -> Value {
    let container = |name: &str| {
        json!({"name": name, "image": "kubetm/app:v1", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "web"}, {"name": "LEVEL", "value": "info"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"})
    };
    let condition = |kind: &str| {
        json!({"type": kind, "status": "True", "lastProbeTime": null,
            "lastTransitionTime": "2026-12-06T00:00:00Z"})
    };
    let status = |name: &str| {
        json!({"name": name, "ready": true, "restartCount": 0, "image": "kubetm/app:v1",
            "imageID": "docker-pullable://kubetm/app@sha256:0123", "containerID": "docker://abc",
            "started": true, "state": {"running": {"startedAt": "2026-12-06T00:00:01Z"}}})
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "deployment-1-7d9f-abcde", "namespace": "default",
            "generateName": "deployment-1-7d9f-", "uid": "0b6e8f0c", "resourceVersion": "1000",
            "creationTimestamp": "2026-12-06T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d9f"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "deployment-1-7d9f",
                "uid": "1c2d", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"containers": [container("web"), container("sidecar")],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "nodeName": "lab-node1", "schedulerName": "default-scheduler", "enableServiceLinks": true,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Running", "hostIP": "10.0.0.2", "podIP": "10.244.1.5",
            "podIPs": [{"ip": "10.244.1.5"}], "startTime": "2026-12-06T00:00:00Z", "qosClass": "BestEffort",
            "conditions": [condition("Initialized"), condition("Ready"), condition("ContainersReady"),
                condition("PodScheduled")],
            "containerStatuses": [status("web"), status("sidecar")]}
    })
}

fn manager(name: &str, subresource: Option<&str>) -> Manager {
    Manager {
        name: name.into(),
        operation: Operation::Update,
        subresource: subresource.map(String::from),
        api_version: "v1".into(),
    }
}

const NOW: &str = "2026-12-06T00:00:05Z";

/// One write's field management, as registry/managed_fields.rs runs it.
fn track(old: &Value, new: &mut Value, scope: Scope, writer: &Manager) {
    let entries = entries_of(old).unwrap_or_default();
    let entries = after_update_of(entries, Some(old), new, scope, writer, NOW);
    set_entries(new, entries);
}

/// The pod with its three managers' entries, as the cluster leaves it.
fn tracked_pod() -> Value {
    let full = pod();
    let mut created = full.clone();
    created.as_object_mut().unwrap().remove("status");
    let mut tracked = created.clone();
    let entries = after_update_of(
        Vec::new(),
        None,
        &created,
        Scope::Object { status_apart: true },
        &manager("kube-controller-manager", None),
        NOW,
    );
    set_entries(&mut tracked, entries);
    let mut with_status = tracked.clone();
    with_status["status"] = full["status"].clone();
    track(&tracked, &mut with_status, Scope::Status, &manager("kubeboot", Some("status")));
    let mut labelled = with_status.clone();
    labelled["metadata"]["labels"]["tier"] = json!("front");
    track(&with_status, &mut labelled, Scope::Object { status_apart: true }, &manager("kubectl-label", None));
    labelled
}

fn per_write(total: Duration, n: u32) -> String {
    format!("{:.1} µs", total.as_secs_f64() * 1e6 / n as f64)
}

fn main() {
    let iterations: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let old = tracked_pod();
    let entries = old["metadata"]["managedFields"].as_array().map_or(0, Vec::len);

    let mut status_write = old.clone();
    status_write["status"]["conditions"][1]["status"] = json!("False");
    status_write["status"]["conditions"][1]["lastTransitionTime"] = json!(NOW);
    status_write["status"]["containerStatuses"][0]["ready"] = json!(false);
    let mut label_write = old.clone();
    label_write["metadata"]["labels"]["tier"] = json!("back");
    let stored = serde_json::to_vec(&old).unwrap();

    let time = |f: &mut dyn FnMut()| {
        f(); // warm
        let start = Instant::now();
        for _ in 0..iterations {
            f();
        }
        start.elapsed()
    };
    let status = time(&mut || {
        let mut new = status_write.clone();
        track(&old, &mut new, Scope::Status, &manager("kubeboot", Some("status")));
        std::hint::black_box(new);
    });
    let label = time(&mut || {
        let mut new = label_write.clone();
        track(&old, &mut new, Scope::Object { status_apart: true }, &manager("kubectl-label", None));
        std::hint::black_box(new);
    });
    let clone_only = time(&mut || {
        std::hint::black_box(status_write.clone());
    });
    let codec = time(&mut || {
        let value: Value = serde_json::from_slice(&stored).unwrap();
        std::hint::black_box(serde_json::to_vec(&value).unwrap());
    });

    println!(
        "field management per write: a Pod of {} bytes with {entries} managedFields entries, {iterations} writes each",
        stored.len()
    );
    println!(
        "  status update by the agent (a condition, a container status): {}",
        per_write(status.saturating_sub(clone_only), iterations)
    );
    println!(
        "  label update by another manager:                             {}",
        per_write(label.saturating_sub(clone_only), iterations)
    );
    println!("  reference, decode + encode of the stored object:             {}", per_write(codec, iterations));
}
