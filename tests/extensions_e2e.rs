//! What other people's software needs of a cluster, on one lab cluster (`lab up 3` + `up`, real Docker,
//! kubectl 1.20 and 1.33): an operator written with kopf (PyPI), run beside the cluster as operators run
//! in development, reconciles the Widgets of tests/crds/widgets.yaml into Deployments whose pods run on the
//! nodes, reports their readiness in the Widgets' status, follows `kubectl scale` of a Widget, and holds a
//! deleted Widget with its finalizer until its cleanup ran; the Deployment goes with its Widget (owner
//! reference), and deleting the definition deletes what is left of its kind.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::kubectl::{lab_cluster, Kubectl, LabCluster};
use serde_json::Value;

const GROUP: &str = "kubeboot-test.example.com";

#[test]
fn extensions_on_the_lab() {
    let lab = lab_cluster();
    an_operator_reconciles_custom_objects(&lab);
}

/// The kopf operator, started by this test (and ended by it, by its pid).
struct Operator {
    child: Child,
    log: std::path::PathBuf,
}

impl Operator {
    fn start(kubeconfig: &Path, namespace: &str, work: &Path) -> Operator {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/pyclient/bin/python");
        let has_kopf = Command::new(&python).args(["-c", "import kopf"]).status().is_ok_and(|s| s.success());
        assert!(has_kopf, "no kopf in {} (run .ci/setup)", python.display());
        let log = work.join("operator.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&python)
            .args(["-m", "kopf", "run", "--standalone", "--verbose", "-n", namespace])
            .arg(root.join("tests/python/widget_operator.py"))
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", work)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Operator { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn widget_status(k: &Kubectl, name: &str) -> Value {
    k.json(&["get", "widget", name])["status"].clone()
}

fn an_operator_reconciles_custom_objects(lab: &LabCluster) {
    let crd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crds/widgets.yaml");
    let crd = crd.to_str().unwrap();
    lab.k33.ok(&["apply", "-f", crd]);
    lab.k33.ok(&["wait", "--for=condition=Established", "--timeout=60s", &format!("crd/widgets.{GROUP}")]);
    // kubectl 1.20 applies the same file over it: nothing to change.
    let again = lab.k20.ok(&["apply", "-f", crd]);
    assert!(again.contains("unchanged") || again.contains("configured"), "{again}");
    lab.k33.ok(&["create", "namespace", "ops"]);
    let k33 = lab.k33.clone().in_namespace("ops");
    let k20 = lab.k20.clone().in_namespace("ops");
    let operator = Operator::start(&lab.k33.kubeconfig, "ops", lab.work.path());

    let web = lab.work.path().join("widget-web.yaml");
    std::fs::write(
        &web,
        format!(
            "apiVersion: {GROUP}/v1\nkind: Widget\nmetadata:\n  name: web\nspec:\n  image: kubetm/app:v1\n  replicas: 2\n"
        ),
    )
    .unwrap();
    k33.ok(&["apply", "-f", web.to_str().unwrap()]);
    let took =
        common::wait_for("the operator's Deployment ready, in the Widget's status", Duration::from_secs(180), || {
            let status = widget_status(&k33, "web");
            status["phase"] == "Deployed" && status["readyReplicas"] == 2
        });
    eprintln!("Widget web: 2 pods ready through the operator {took:?} after apply");
    let deployment = k33.json(&["get", "deployment", "web-app"]);
    let widget = k33.json(&["get", "widget", "web"]);
    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Widget", "{deployment}");
    assert_eq!(owner["uid"], widget["metadata"]["uid"]);
    assert!(
        widget["metadata"]["finalizers"].to_string().contains(&format!("{GROUP}/widget-operator")),
        "kopf's finalizer: {widget}"
    );
    let table = k20.ok(&["get", "widgets"]);
    assert!(table.contains("Deployed") && table.contains("kubetm/app:v1"), "{table}");

    // Scaling the Widget is a spec change the operator carries to its Deployment.
    k20.ok(&["scale", "widget/web", "--replicas=1"]);
    common::wait_for("the Deployment scaled down by the operator", Duration::from_secs(120), || {
        k33.json(&["get", "deployment", "web-app"])["spec"]["replicas"] == 1
            && widget_status(&k33, "web")["readyReplicas"] == 1
    });

    // Deleting the Widget: kopf's finalizer holds it until the cleanup handler ran; the Deployment follows.
    k33.ok(&["delete", "widget", "web", "--timeout=120s"]);
    let cleaned = k33.json(&["get", "configmap", "web-cleaned"]);
    assert_eq!(cleaned["data"]["by"], "kopf", "the cleanup ran before the Widget went");
    common::wait_for("the Deployment garbage-collected with its Widget", Duration::from_secs(60), || {
        !k33.run(&["get", "deployment", "web-app"]).0
    });
    let log = operator.log();
    assert!(log.contains("deployed web-app"), "{log}");
    drop(operator);

    // The definition goes with the objects still of its kind.
    k33.ok(&["apply", "-f", web.to_str().unwrap()]);
    k33.ok(&["patch", "widget", "web", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    lab.k33.ok(&["delete", "crd", &format!("widgets.{GROUP}"), "--timeout=120s"]);
    let (ok, out) = k33.run(&["get", &format!("widgets.{GROUP}")]);
    assert!(!ok && out.contains("the server doesn't have a resource type"), "{out}");
}
