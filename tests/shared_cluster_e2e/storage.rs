//! Persistent volumes end to end on the shared lab cluster, with real Docker and kubectl 1.20
//! and 1.33: the default StorageClass `local-path` (k3s' model) gives a claim without a class a folder on
//! the node its first pod goes to, and the data outlives the pod; a claim in use is kept until its pod is
//! gone, then its volume and folder are deleted (Delete policy); the walkthrough's `local` volume pv-03 binds
//! pvc-01 at once and pins pod-volume-4 to its node, and is Released (data kept) when the claim goes
//! (Retain); `kubectl get pv,pvc,sc` reads as on kubeadm.

use std::time::Duration;

use crate::common::kubectl::{manifest, ready, Kubectl, LabCluster};
use crate::common::{self, lab_sh};

fn phase(k: &Kubectl, what: &[&str]) -> String {
    let mut args = vec!["get"];
    args.extend(what);
    k.json(&args)["status"]["phase"].as_str().unwrap_or("").to_string()
}

fn running(k: &Kubectl, pod: &str) -> bool {
    ready(&k.json(&["get", "pod", pod]))
}

/// The first line of `kubectl get` without headers whose first cell is `name`, split into cells.
fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cells| cells.first().is_some_and(|c| c == name || c.ends_with(&format!("/{name}"))))
        .unwrap_or_else(|| panic!("no row {name} in:\n{table}"))
}

fn events_of(k: &Kubectl, name: &str) -> String {
    k.ok(&["get", "events", "--field-selector", &format!("involvedObject.name={name}")])
}

/// A claim without a class gets the default class, waits for its pod, is provisioned on that pod's node,
/// keeps its data across the pod's deletion, and is deleted (folder included) once no pod uses it.
fn local_path_checks(k: &Kubectl) {
    let classes = k.ok(&["get", "sc", "--no-headers"]);
    assert_eq!(
        &row(&classes, "local-path")[..6],
        ["local-path", "(default)", "kubeboot.io/local-path", "Delete", "WaitForFirstConsumer", "false"],
        "{classes}"
    );
    let path = manifest("examples/pvc-local-path.yaml");
    k.ok(&["apply", "-f", &path]);
    let claim = k.json(&["get", "pvc", "data"]);
    assert_eq!(claim["spec"]["storageClassName"], "local-path", "the default class is filled in");
    assert!(
        claim["metadata"]["finalizers"].as_array().unwrap().iter().any(|f| f == "kubernetes.io/pvc-protection"),
        "{claim}"
    );
    let took =
        common::wait_for("writer running on its provisioned volume", Duration::from_secs(120), || running(k, "writer"));
    eprintln!("writer (claim provisioned and bound on its node) running {took:?} after apply");
    assert!(events_of(k, "data").contains("ProvisioningSucceeded"), "{}", events_of(k, "data"));
    let claim = k.json(&["get", "pvc", "data"]);
    assert_eq!(claim["status"]["phase"], "Bound");
    let volume = claim["spec"]["volumeName"].as_str().unwrap().to_string();
    assert_eq!(volume, format!("pvc-{}", claim["metadata"]["uid"].as_str().unwrap()));
    let node = k.json(&["get", "pod", "writer"])["spec"]["nodeName"].as_str().unwrap().to_string();
    let pv = k.json(&["get", "pv", &volume]);
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0],
        node.as_str(),
        "the volume is pinned to the pod's node"
    );
    let folder = pv["spec"]["hostPath"]["path"].as_str().unwrap().to_string();
    assert_eq!(folder, format!("/var/lib/kubeboot/storage/{volume}_default_data"));

    k.ok(&["exec", "writer", "--", "sh", "-c", "echo kept > /data/f"]);
    assert_eq!(lab_sh(&node, &format!("cat {folder}/f")).trim(), "kept", "the data is in the node's folder");
    k.ok(&["delete", "pod", "writer"]);
    k.ok(&["apply", "-f", &path]);
    common::wait_for("writer running again", Duration::from_secs(90), || running(k, "writer"));
    assert_eq!(k.json(&["get", "pod", "writer"])["spec"]["nodeName"], node.as_str(), "back on the volume's node");
    assert_eq!(k.ok(&["exec", "writer", "--", "cat", "/data/f"]).trim(), "kept", "the data survived the pod");

    // In use: deleting the claim leaves it Terminating until its pod is gone, then the volume and its folder go.
    k.ok(&["delete", "pvc", "data", "--wait=false"]);
    std::thread::sleep(Duration::from_secs(3));
    let table = k.ok(&["get", "pvc", "data", "--no-headers"]);
    assert_eq!(row(&table, "data")[1], "Terminating", "{table}");
    assert_eq!(k.ok(&["exec", "writer", "--", "cat", "/data/f"]).trim(), "kept", "still there for its pod");
    k.ok(&["delete", "pod", "writer"]);
    common::wait_for("the claim and its volume deleted", Duration::from_secs(60), || {
        !k.run(&["get", "pvc", "data"]).0 && !k.run(&["get", "pv", &volume]).0
    });
    assert_eq!(lab_sh(&node, &format!("ls -d {folder} 2>/dev/null | wc -l")).trim(), "0", "the folder is removed");
}

/// The walkthrough's pv-03 (`local`, on lab-node1), pvc-01 (no class: bound at once) and pod-volume-4.
fn static_volume_checks(k20: &Kubectl, k33: &Kubectl) {
    lab_sh("lab-node1", "mkdir -p /node-v");
    for file in ["examples/pv-03.yaml", "examples/pvc-01.yaml"] {
        k33.ok(&["apply", "-f", &manifest(file)]);
    }
    let took = common::wait_for("pvc-01 bound to pv-03", Duration::from_secs(30), || {
        phase(k33, &["pvc", "pvc-01"]) == "Bound" && phase(k33, &["pv", "pv-03"]) == "Bound"
    });
    eprintln!("pvc-01 and pv-03 Bound {took:?} after apply");
    k33.ok(&["apply", "-f", &manifest("examples/pod-volume-4.yaml")]);
    common::wait_for("pod-volume-4 running", Duration::from_secs(90), || running(k33, "pod-volume-4"));
    assert_eq!(k33.json(&["get", "pod", "pod-volume-4"])["spec"]["nodeName"], "lab-node1", "pinned by the volume");
    k33.ok(&["exec", "pod-volume-4", "--", "sh", "-c", "echo local > /mount3/f"]);
    assert_eq!(lab_sh("lab-node1", "cat /node-v/f").trim(), "local");

    for k in [k20, k33] {
        let table = k.ok(&["get", "pv,pvc,sc"]);
        let pv = row(&table, "pv-03");
        assert_eq!(
            &pv[..7],
            ["persistentvolume/pv-03", "2G", "RWO", "Retain", "Bound", "default/pvc-01", "<unset>"],
            "{}: {table}",
            k.label
        );
        let pvc = row(&table, "pvc-01");
        assert_eq!(
            &pvc[..6],
            ["persistentvolumeclaim/pvc-01", "Bound", "pv-03", "2G", "RWO", "<unset>"],
            "{}: {table}",
            k.label
        );
        assert!(table.contains("storageclass.storage.k8s.io/local-path (default)"), "{}: {table}", k.label);
        let headers = k.ok(&["get", "pv"]);
        assert!(
            headers.lines().next().unwrap().split_whitespace().collect::<Vec<_>>().starts_with(&[
                "NAME",
                "CAPACITY",
                "ACCESS",
                "MODES",
                "RECLAIM",
                "POLICY",
                "STATUS",
                "CLAIM",
                "STORAGECLASS"
            ]),
            "{}: {headers}",
            k.label
        );
    }

    // A claim of a missing class waits, with the reason in an event; a pod on a missing claim is not scheduled.
    let missing = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"no-claim"},"spec":{
        "containers":[{"name":"c","image":"kubetm/init"}],
        "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"nope"}}]}}"#;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), missing).unwrap();
    k33.ok(&["create", "-f", file.path().to_str().unwrap()]);
    common::wait_for("no-claim unschedulable", Duration::from_secs(30), || {
        events_of(k33, "no-claim").contains("persistentvolumeclaim \"nope\" not found")
    });
    k33.ok(&["delete", "pod", "no-claim"]);

    // Retain: the claim deleted, the volume is Released and the data stays on the node.
    k33.ok(&["delete", "pod", "pod-volume-4"]);
    k33.ok(&["delete", "pvc", "pvc-01"]);
    common::wait_for("pv-03 Released", Duration::from_secs(30), || phase(k33, &["pv", "pv-03"]) == "Released");
    assert_eq!(lab_sh("lab-node1", "cat /node-v/f").trim(), "local", "Retain keeps the data");
    k33.ok(&["delete", "pv", "pv-03"]);
}

pub fn checks(cluster: &LabCluster) {
    local_path_checks(&cluster.k33);
    static_volume_checks(&cluster.k20, &cluster.k33);
}
