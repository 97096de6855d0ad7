//! The controller manager against an API server the test starts (no nodes: pods stay Pending, so this is
//! about the API side of the controllers), driven by Debian's kubectl 1.20 and kubectl 1.33, each in a
//! namespace of its own: a ReplicaSet keeps its replicas through a deleted pod and `kubectl scale`, adopts a
//! matching orphan, reports status at the observed generation, and records events; delete cascades
//! Background (pods go), Orphan (pods stay, released) and Foreground (the owner waits, with the
//! foregroundDeletion finalizer, for a dependent a finalizer holds). The controller manager holds its Lease.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// kubectl in a namespace of its own, with the pod helpers these checks use.
struct Kubectl<'a> {
    k: common::kubectl::Kubectl,
    home: &'a Path,
    namespace: String,
    label: String,
}

impl<'a> Kubectl<'a> {
    fn new(label: &str, namespace: &str, conf: &'a Path, home: &'a Path) -> Self {
        let k = common::kubectl::Kubectl::new(label, conf).with_home(home).in_namespace(namespace);
        Kubectl { k, home, namespace: namespace.into(), label: label.into() }
    }

    fn run(&self, args: &[&str]) -> String {
        self.k.stdout(args)
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

fn deployment(name: &str, image: &str, strategy: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  strategy:\n    type: {strategy}\n  selector:\n    matchLabels:\n      type: {name}\n  template:\n    metadata:\n      labels:\n        type: {name}\n    spec:\n      containers:\n      - name: container\n        image: {image}\n"
    )
}

/// (name, revision, spec replicas) of the namespace's ReplicaSets, by revision.
fn replica_sets(k: &Kubectl) -> Vec<(String, u64, u64)> {
    let list = k.json(&["get", "rs"]);
    let mut out: Vec<(String, u64, u64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            let revision = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().unwrap_or("0");
            (
                rs["metadata"]["name"].as_str().unwrap().to_string(),
                revision.parse().unwrap(),
                rs["spec"]["replicas"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort_by_key(|r| r.1);
    out
}

fn pod_images(k: &Kubectl) -> Vec<String> {
    let list = k.json(&["get", "pods"]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap().to_string())
        .collect()
}

fn deployment_checks(k: &Kubectl) {
    let label = &k.label;
    let rollout_done = || {
        k.run(&["rollout", "status", "deploy/deployment-1", "--timeout=60s"]);
    };
    k.apply(&deployment("deployment-1", "kubetm/app:v1", "RollingUpdate"));
    rollout_done();
    let first = replica_sets(k);
    assert_eq!(first.len(), 1, "{label}: {first:?}");
    assert!(first[0].0.starts_with("deployment-1-") && first[0].1 == 1 && first[0].2 == 2, "{label}: {first:?}");

    k.run(&["set", "image", "deploy/deployment-1", "container=kubetm/app:v2"]);
    rollout_done();
    common::wait_for(&format!("{label}: only v2 pods"), Duration::from_secs(20), || {
        pod_images(k) == ["kubetm/app:v2", "kubetm/app:v2"]
    });
    let rolled = replica_sets(k);
    assert_eq!(rolled.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(), [(1, 0), (2, 2)], "{label}: {rolled:?}");
    let history = k.run(&["rollout", "history", "deploy/deployment-1"]);
    assert!(
        history.lines().any(|l| l.starts_with("1 ")) && history.lines().any(|l| l.starts_with("2 ")),
        "{label}: {history}"
    );

    // Undo: v1's ReplicaSet comes back as revision 3.
    k.run(&["rollout", "undo", "deploy/deployment-1"]);
    rollout_done();
    common::wait_for(&format!("{label}: v1 pods again"), Duration::from_secs(20), || {
        pod_images(k) == ["kubetm/app:v1", "kubetm/app:v1"]
    });
    let undone = replica_sets(k);
    assert_eq!(
        undone.iter().map(|r| (r.0.as_str(), r.1)).collect::<Vec<_>>(),
        [(rolled[1].0.as_str(), 2), (first[0].0.as_str(), 3)],
        "{label}"
    );

    // Restart: a new template (restartedAt), a new ReplicaSet at revision 4; scale follows.
    k.run(&["rollout", "restart", "deploy/deployment-1"]);
    rollout_done();
    assert_eq!(replica_sets(k).last().map(|r| (r.1, r.2)), Some((4, 2)), "{label}");
    // Paused: a new template waits; resumed, it rolls.
    k.run(&["rollout", "pause", "deploy/deployment-1"]);
    k.run(&["set", "image", "deploy/deployment-1", "container=kubetm/app:v3"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(replica_sets(k).len(), 3, "{label}: no new ReplicaSet while paused (history limit 10)");
    let paused = k.json(&["get", "deploy", "deployment-1"]);
    let progressing =
        paused["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Progressing").cloned();
    assert_eq!(progressing.map(|c| c["reason"].clone()), Some(serde_json::json!("DeploymentPaused")), "{label}");
    k.run(&["rollout", "resume", "deploy/deployment-1"]);
    rollout_done();
    assert_eq!(replica_sets(k).last().map(|r| (r.1, r.2)), Some((5, 2)), "{label}");
    k.run(&["scale", "deploy/deployment-1", "--replicas=3"]);
    rollout_done();
    k.wait_pods("3 pods after scaling the deployment", |p| p.len() == 3);
    let status = k.json(&["get", "deploy", "deployment-1"])["status"].clone();
    assert_eq!(
        (status["replicas"].as_u64(), status["availableReplicas"].as_u64(), status["updatedReplicas"].as_u64()),
        (Some(3), Some(3), Some(3)),
        "{label}: {status}"
    );

    k.run(&["delete", "deploy", "deployment-1"]);
    common::wait_for(
        &format!("{label}: ReplicaSets and pods gone with the deployment"),
        Duration::from_secs(30),
        || replica_sets(k).is_empty() && k.pods().is_empty(),
    );

    // Recreate: the old ReplicaSet is emptied before the new one grows.
    k.apply(&deployment("deployment-1", "kubetm/app:v1", "Recreate"));
    rollout_done();
    // Watched while it rolls: never a v1 and a v2 pod at once.
    k.run(&["set", "image", "deploy/deployment-1", "container=kubetm/app:v2"]);
    let mut seen = Vec::new();
    common::wait_for(&format!("{label}: Recreate reaches v2"), Duration::from_secs(60), || {
        let images = pod_images(k);
        seen.push(images.clone());
        !images.is_empty() && images.iter().all(|i| i == "kubetm/app:v2")
    });
    rollout_done();
    let mixed =
        seen.iter().find(|images| images.iter().any(|i| i.ends_with("v1")) && images.iter().any(|i| i.ends_with("v2")));
    assert!(mixed.is_none(), "{label}: Recreate ran old and new pods together: {mixed:?} in {seen:?}");
    let events = k.run(&["get", "events", "--field-selector", "involvedObject.kind=Deployment"]);
    assert!(events.contains("to 0 from 2"), "{label}: no scale down to 0: {events}");
    k.run(&["delete", "deploy", "deployment-1", "--cascade=foreground"]);
    assert!(replica_sets(k).is_empty() && k.pods().is_empty(), "{label}: foreground deletion waits for its dependents");
}

/// What an agent would do, for a test without nodes: every pod of the test's namespaces Running and Ready.
fn stand_in_kubelet(
    conf: kubeboot::bootstrap::kubeconfig::Kubeconfig,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let client = kubeboot::apiclient::ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let reply = rt.block_on(client.request("GET", "/api/v1/pods", None, None)).unwrap();
        for mut pod in reply.json()["items"].as_array().cloned().unwrap_or_default() {
            if pod["status"]["phase"] == "Running" || !pod["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let now = kubeboot::resources::meta::now_rfc3339();
            pod["status"] = serde_json::json!({"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now}]});
            let path = format!(
                "/api/v1/namespaces/{}/pods/{}/status",
                pod["metadata"]["namespace"].as_str().unwrap(),
                pod["metadata"]["name"].as_str().unwrap()
            );
            let _ = rt.block_on(client.request("PUT", &path, Some(serde_json::to_vec(&pod).unwrap()), None));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn checks(k: &Kubectl) {
    let label = &k.label;
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
    let (conf_path, conf) = server.admin_kubeconfig();
    for (label, namespace) in [("kubectl 1.20", "k120"), ("kubectl.1.33", "k133")] {
        let k = Kubectl::new(label, namespace, &conf_path, server.dir.path());
        checks(&k);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kubelet = {
        let stop = stop.clone();
        std::thread::spawn(move || stand_in_kubelet(conf, stop))
    };
    for (label, namespace) in [("kubectl 1.20", "d120"), ("kubectl.1.33", "d133")] {
        let k = Kubectl::new(label, namespace, &conf_path, server.dir.path());
        k.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"));
        deployment_checks(&k);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    kubelet.join().unwrap();
    let k33 = common::kubectl::Kubectl::new("kubectl.1.33", &conf_path).with_home(server.dir.path());
    let lease: Value = serde_json::from_str(&k33.stdout(&[
        "-n",
        "kube-system",
        "get",
        "lease",
        "kube-controller-manager",
        "-o",
        "json",
    ]))
    .expect("the controller manager's Lease");
    let metrics = k33.stdout(&["get", "--raw", "/metrics"]);
    let reconciles = |controller: &str| -> u64 {
        let prefix = format!("kubeboot_controller_reconciles_total{{controller=\"{controller}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    assert!(reconciles("replicaset") > 10 && reconciles("deployment") > 10, "{metrics}");
    assert!(lease["spec"]["holderIdentity"].as_str().is_some_and(|h| !h.is_empty()), "{lease}");
}
