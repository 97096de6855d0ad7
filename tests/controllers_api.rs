//! The controller manager against an API server the test starts (no nodes: pods stay Pending, so this is
//! about the API side of the controllers), driven by Debian's kubectl 1.20 and kubectl 1.33, each in a
//! namespace of its own: a ReplicaSet keeps its replicas through a deleted pod and `kubectl scale`, adopts a
//! matching orphan, reports status at the observed generation, and records events; delete cascades
//! Background (pods go), Orphan (pods stay, released) and Foreground (the owner waits, with the
//! foregroundDeletion finalizer, for a dependent a finalizer holds). The controller manager holds its Lease.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

struct Kubectl<'a> {
    path: PathBuf,
    label: String,
    conf: &'a Path,
    home: &'a Path,
    namespace: String,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.path)
            .args(["-n", &self.namespace])
            .args(args)
            .env("KUBECONFIG", self.conf)
            .env("HOME", self.home)
            .output()
            .unwrap();
        assert!(out.status.success(), "{} {args:?}: {}", self.label, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.run(&all)).unwrap()
    }

    fn apply(&self, yaml: &str) {
        let file = self.home.join(format!("{}.yaml", self.namespace));
        std::fs::write(&file, yaml).unwrap();
        self.run(&["apply", "-f", file.to_str().unwrap()]);
    }

    /// The pods of the namespace: (name, controller owner uid).
    fn pods(&self) -> Vec<(String, Option<String>)> {
        let list = self.json(&["get", "pods"]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                let owner = p["metadata"]["ownerReferences"]
                    .as_array()
                    .and_then(|r| r.iter().find(|o| o["controller"] == true))
                    .and_then(|o| o["uid"].as_str())
                    .map(String::from);
                (p["metadata"]["name"].as_str().unwrap().to_string(), owner)
            })
            .collect()
    }

    fn wait_pods(&self, what: &str, check: impl Fn(&[(String, Option<String>)]) -> bool) {
        let label = format!("{}: {what}", self.label);
        common::wait_for(&label, Duration::from_secs(20), || check(&self.pods()));
    }
}

fn replica_set(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      type: {name}\n  template:\n    metadata:\n      labels:\n        type: {name}\n    spec:\n      containers:\n      - name: container\n        image: kubetm/app:v1\n"
    )
}

fn checks(k: &Kubectl) {
    let label = &k.label;
    // (apply, not `create namespace`/`run`: kubectl 1.32+ generators send protobuf, not served yet.)
    k.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n", k.namespace));
    k.apply(&replica_set("replica1", 3));
    let rs = k.json(&["get", "rs", "replica1"]);
    let uid = rs["metadata"]["uid"].as_str().unwrap().to_string();
    let ours = |pods: &[(String, Option<String>)], n: usize| {
        pods.len() == n
            && pods.iter().all(|(name, owner)| name.starts_with("replica1-") && owner.as_deref() == Some(uid.as_str()))
    };
    k.wait_pods("3 pods owned by replica1", |p| ours(p, 3));

    // A deleted pod is replaced.
    let victim = k.pods()[0].0.clone();
    k.run(&["delete", "pod", &victim]);
    k.wait_pods("a replacement for the deleted pod", |p| ours(p, 3) && p.iter().all(|(n, _)| *n != victim));

    // kubectl scale (the scale subresource): up, then down; the status follows at the new generation.
    k.run(&["scale", "rs", "replica1", "--replicas=5"]);
    k.wait_pods("5 pods after scale up", |p| ours(p, 5));
    k.run(&["scale", "rs", "replica1", "--replicas=2"]);
    k.wait_pods("2 pods after scale down", |p| ours(p, 2));
    common::wait_for(&format!("{label}: status at the observed generation"), Duration::from_secs(20), || {
        let rs = k.json(&["get", "rs", "replica1"]);
        rs["status"]["replicas"] == 2 && rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
    });
    let rs = k.json(&["get", "rs", "replica1"]);
    assert_eq!(rs["metadata"]["generation"], 3, "{label}: created (1), scaled twice");

    // An orphan with matching labels is adopted (and, one too many, a pod goes).
    k.apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n  labels:\n    type: replica1\nspec:\n  containers:\n  - name: c\n    image: kubetm/app:v1\n");
    k.wait_pods("the stray pod adopted, 2 pods kept", |p| {
        p.len() == 2 && p.iter().all(|(_, owner)| owner.as_deref() == Some(uid.as_str()))
    });

    // Events, as kubectl describe reads them.
    let events = k.run(&["get", "events", "--field-selector", "involvedObject.name=replica1"]);
    assert!(events.contains("SuccessfulCreate") && events.contains("SuccessfulDelete"), "{label}: {events}");

    // Orphan: the pods stay, released.
    k.run(&["delete", "rs", "replica1", "--cascade=orphan"]);
    k.wait_pods("pods kept without an owner", |p| p.len() == 2 && p.iter().all(|(_, o)| o.is_none()));

    // A new ReplicaSet with the same selector adopts them; Background deletion takes them with it.
    k.apply(&replica_set("replica1", 2));
    let uid2 = k.json(&["get", "rs", "replica1"])["metadata"]["uid"].as_str().unwrap().to_string();
    k.wait_pods("the orphans adopted by the new ReplicaSet", |p| {
        p.len() == 2 && p.iter().all(|(_, o)| o.as_deref() == Some(uid2.as_str()))
    });
    k.run(&["delete", "rs", "replica1"]);
    k.wait_pods("pods gone with their ReplicaSet (background)", |p| p.is_empty());

    // Foreground: a pod held by a finalizer holds its ReplicaSet (foregroundDeletion) until it goes.
    k.apply(&replica_set("replica2", 1));
    k.wait_pods("replica2's pod", |p| p.len() == 1);
    let held = k.pods()[0].0.clone();
    k.run(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    k.run(&["delete", "rs", "replica2", "--cascade=foreground", "--wait=false"]);
    common::wait_for(&format!("{label}: the pod marked for deletion"), Duration::from_secs(20), || {
        !k.json(&["get", "pod", &held])["metadata"]["deletionTimestamp"].is_null()
    });
    let rs = k.json(&["get", "rs", "replica2"]);
    assert_eq!(rs["metadata"]["finalizers"], serde_json::json!(["foregroundDeletion"]), "{label}: {rs}");
    assert!(!rs["metadata"]["deletionTimestamp"].is_null(), "{label}");
    k.run(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    common::wait_for(&format!("{label}: replica2 deleted after its pod"), Duration::from_secs(20), || {
        k.run(&["get", "rs", "--ignore-not-found"]).trim().is_empty()
    });
    assert!(k.pods().is_empty(), "{label}");
}

#[test]
fn replica_sets_and_garbage_collection_through_kubectl() {
    let server = common::api::start_with_controllers();
    let (conf_path, _) = server.admin_kubeconfig();
    for (label, namespace) in [("kubectl 1.20", "k120"), ("kubectl.1.33", "k133")] {
        let k = Kubectl {
            path: common::kubectls::by_label(label),
            label: label.into(),
            conf: &conf_path,
            home: server.dir.path(),
            namespace: namespace.into(),
        };
        checks(&k);
    }
    let lease = Command::new(common::kubectls::by_label("kubectl.1.33"))
        .args(["-n", "kube-system", "get", "lease", "kube-controller-manager", "-o", "json"])
        .env("KUBECONFIG", &conf_path)
        .env("HOME", server.dir.path())
        .output()
        .unwrap();
    let lease: Value = serde_json::from_slice(&lease.stdout).expect("the controller manager's Lease");
    assert!(lease["spec"]["holderIdentity"].as_str().is_some_and(|h| !h.is_empty()), "{lease}");
}
