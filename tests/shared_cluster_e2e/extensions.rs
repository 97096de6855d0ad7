//! What other people's software needs of a cluster, on the shared lab cluster (real Docker,
//! kubectl 1.20 and 1.33): an operator written with kopf (PyPI), run beside the cluster as operators run
//! in development, reconciles the Widgets of tests/crds/widgets.yaml into Deployments whose pods run on the
//! nodes, reports their readiness in the Widgets' status, follows `kubectl scale` of a Widget, and holds a
//! deleted Widget with its finalizer until its cleanup ran; the Deployment goes with its Widget (owner
//! reference), and deleting the definition deletes what is left of its kind. The test's admission webhook
//! (tests/tools/admission_webhook.rs, in an image of its own pushed to the lab registry) runs as a pod
//! behind a Service that the webhook configurations name: the API server reaches it through its ClusterIP
//! over TLS (caBundle, certificate for admission.hooks.svc); pods in a labelled namespace are labelled by
//! the mutating webhook and a name is refused by the validating one; with the webhook scaled to zero,
//! failurePolicy Fail refuses pods and Ignore lets them through. Resource metrics: `kubectl top nodes` and
//! `kubectl top pods --containers` (1.33 and 1.20) read metrics.k8s.io, and an HPA on CPU utilization
//! scales a CPU-burning Deployment (tests/manifests/workloads/burner.yaml) from 1 to at least 2 replicas,
//! then, once its pods are idle, back to 1.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common;
use crate::common::kubectl::{Kubectl, LabCluster};
use serde_json::Value;

const GROUP: &str = "kubeboot-test.example.com";

pub fn checks(lab: &LabCluster) {
    an_operator_reconciles_custom_objects(lab);
    admission_webhooks_run_as_pods(lab);
    resource_metrics_and_autoscaling(lab);
}

/// Rows of `kubectl top` output (header skipped), split on whitespace.
fn top_rows(k: &Kubectl, args: &[&str]) -> Option<Vec<Vec<String>>> {
    let (ok, out) = k.run(args);
    ok.then(|| out.lines().skip(1).map(|l| l.split_whitespace().map(String::from).collect()).collect())
}

/// Millicores of a `kubectl top` CPU cell ("199m", or "1" core).
fn millicores(cell: &str) -> u64 {
    cell.strip_suffix('m').map_or_else(|| cell.parse::<u64>().unwrap_or(0) * 1000, |m| m.parse().unwrap_or(0))
}

fn resource_metrics_and_autoscaling(lab: &LabCluster) {
    let k = &lab.k33;
    let nodes = ["lab-master", "lab-node1", "lab-node2"];
    let mut seen = Vec::new();
    common::wait_for("kubectl top nodes listing every node", Duration::from_secs(60), || {
        seen = top_rows(k, &["top", "nodes"]).unwrap_or_default();
        let listed = nodes.iter().all(|n| seen.iter().any(|row| row.first().map(String::as_str) == Some(*n)));
        if !listed {
            std::thread::sleep(Duration::from_secs(2));
        }
        listed
    });
    // NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%), each with a measured value.
    assert!(seen.iter().all(|row| row.len() == 5 && row[1].ends_with('m') && row[3].ends_with("Mi")), "{seen:?}");

    k.ok(&["create", "namespace", "autoscale"]);
    let scaled = k.clone().in_namespace("autoscale");
    scaled.ok(&["apply", "-f", &common::kubectl::manifest("tests/manifests/workloads/burner.yaml")]);
    let mut burning = Vec::new();
    common::wait_for("the burner's container in kubectl top pods --containers", Duration::from_secs(120), || {
        burning = top_rows(&scaled, &["top", "pods", "--containers", "-l", "app=burner"]).unwrap_or_default();
        // POD NAME CPU(cores) MEMORY(bytes): the container held near its 200m limit.
        let hot = burning.iter().any(|row| row.len() == 4 && row[1] == "burn" && millicores(&row[2]) >= 120);
        if !hot {
            std::thread::sleep(Duration::from_secs(2));
        }
        hot
    });
    // kubectl 1.20 reads the same API.
    let old = lab.k20.clone().in_namespace("autoscale");
    let rows = top_rows(&old, &["top", "pods"]).expect("kubectl 1.20 top pods");
    assert!(rows.iter().any(|row| row[0].starts_with("burner-") && millicores(&row[1]) > 0), "{rows:?}");

    let replicas = |what: &str| scaled.json(&["get", "deployment", "burner", "-o", "json"])["spec"][what].as_i64();
    let up = common::wait_for("the HPA scaling the burner up to at least 2", Duration::from_secs(120), || {
        let more = replicas("replicas").unwrap_or(0) >= 2;
        if !more {
            std::thread::sleep(Duration::from_secs(2));
        }
        more
    });
    let hpa = scaled.json(&["get", "hpa", "burner", "-o", "json"]);
    let utilization = hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"].as_i64();
    assert!(utilization.is_some_and(|u| u > 100), "{hpa:#}");
    let table = scaled.ok(&["get", "hpa", "burner"]);
    assert!(table.contains("%/50%"), "{table}");
    scaled.ok(&["rollout", "status", "deployment/burner", "--timeout=120s"]);

    // Idle pods: back to one after the 30 s scale-down window.
    let idle =
        r#"[{"op": "replace", "path": "/spec/template/spec/containers/0/command", "value": ["sleep", "100000"]}]"#;
    scaled.ok(&["patch", "deployment", "burner", "--type=json", "-p", idle]);
    let down = common::wait_for("the HPA scaling the idle burner back to 1", Duration::from_secs(240), || {
        let one = replicas("replicas") == Some(1);
        if !one {
            std::thread::sleep(Duration::from_secs(2));
        }
        one
    });
    let events = scaled.ok(&["get", "events", "--field-selector", "involvedObject.name=burner"]);
    assert!(events.contains("SuccessfulRescale") && events.contains("New size: 1"), "{events}");
    eprintln!("autoscaling: scaled up {up:?} after the pod burned, down {down:?} after it idled (30 s window)");
    k.ok(&["delete", "namespace", "autoscale", "--wait=false"]);
}

/// The test webhook's binary (stripped) and the libraries it loads, as an image in the lab registry.
fn push_webhook_image(work: &Path) -> &'static str {
    use kubeboot::image_archive::{docker_archive, Entry, ImageConfig};
    const IMAGE: &str = "kubeboot-test/admission-webhook:latest";
    let stripped = work.join("test-admission-webhook");
    let status = Command::new("objcopy")
        .args(["--strip-debug", env!("CARGO_BIN_EXE_test-admission-webhook")])
        .arg(&stripped)
        .status()
        .expect("objcopy (binutils)");
    assert!(status.success());
    let mut entries = vec![
        Entry::Dir { path: "/lib".into(), mode: 0o755 },
        Entry::Dir { path: "/lib/x86_64-linux-gnu".into(), mode: 0o755 },
        Entry::Dir { path: "/lib64".into(), mode: 0o755 },
        Entry::File {
            path: "/test-admission-webhook".into(),
            contents: std::fs::read(&stripped).unwrap(),
            mode: 0o755,
        },
    ];
    let ldd = common::run("ldd", &[stripped.to_str().unwrap()]);
    for library in ldd.lines().filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/'))) {
        entries.push(Entry::File { path: library.into(), contents: std::fs::read(library).unwrap(), mode: 0o755 });
    }
    let config = ImageConfig { entrypoint: vec!["/test-admission-webhook".into()], ..Default::default() };
    let archive = work.join("webhook-image.tar");
    std::fs::write(&archive, docker_archive(IMAGE, &entries, &config).unwrap()).unwrap();
    let destination = format!("docker://10.88.0.1:5000/{IMAGE}");
    common::run(
        "skopeo",
        &["copy", "--quiet", "--dest-tls-verify=false", &format!("docker-archive:{}", archive.display()), &destination],
    );
    IMAGE
}

fn admission_webhooks_run_as_pods(lab: &LabCluster) {
    let work = lab.work.path();
    let image = push_webhook_image(work);
    let (ca, _) = kubeboot::bootstrap::pki::ClusterCa::generate("test-webhook-ca").unwrap();
    let serving = ca.issue_serving("admission.hooks.svc", &["admission.hooks.svc".into()]).unwrap();
    std::fs::write(work.join("tls.crt"), &serving.cert_pem).unwrap();
    std::fs::write(work.join("tls.key"), &serving.key_pem).unwrap();
    let k = &lab.k33;
    k.ok(&["create", "namespace", "hooks"]);
    let hooks = k.clone().in_namespace("hooks");
    let (crt, key) = (work.join("tls.crt"), work.join("tls.key"));
    hooks.ok(&[
        "create",
        "secret",
        "tls",
        "admission-tls",
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ]);
    let server = format!(
        r#"{{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": "admission"}},
        "spec": {{"replicas": 1, "selector": {{"matchLabels": {{"app": "admission"}}}},
          "template": {{"metadata": {{"labels": {{"app": "admission"}}}}, "spec": {{
            "containers": [{{"name": "webhook", "image": "{image}",
              "args": ["0.0.0.0:8443", "/tls/tls.crt", "/tls/tls.key"],
              "ports": [{{"containerPort": 8443}}],
              "volumeMounts": [{{"name": "tls", "mountPath": "/tls"}}]}}],
            "volumes": [{{"name": "tls", "secret": {{"secretName": "admission-tls"}}}}]}}}}}}}}"#
    );
    let file = work.join("webhook-server.json");
    std::fs::write(&file, server).unwrap();
    hooks.ok(&["apply", "-f", file.to_str().unwrap()]);
    hooks.ok(&["expose", "deployment", "admission", "--port=443", "--target-port=8443"]);
    common::wait_for("the webhook pod ready", Duration::from_secs(180), || {
        hooks.json(&["get", "deployment", "admission"])["status"]["readyReplicas"] == 1
    });

    let ca_bundle = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(ca.cert_pem())
    };
    let webhook = |name: &str, path: &str, policy: &str| {
        serde_json::json!({"name": name,
            "clientConfig": {"service": {"namespace": "hooks", "name": "admission", "path": path}, "caBundle": ca_bundle},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "namespaceSelector": {"matchLabels": {"webhooks": "on"}}, "failurePolicy": policy, "timeoutSeconds": 3,
            "sideEffects": "None", "admissionReviewVersions": ["v1"]})
    };
    let configure = |kind: &str, name: &str, hooks: Value| {
        let object = serde_json::json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name}, "webhooks": [hooks]});
        let file = work.join(format!("{name}.json"));
        std::fs::write(&file, object.to_string()).unwrap();
        lab.k20.ok(&["apply", "-f", file.to_str().unwrap()]);
    };
    configure("MutatingWebhookConfiguration", "label-pods", webhook("label.kubeboot.test", "/mutate", "Fail"));
    configure("ValidatingWebhookConfiguration", "pod-names", webhook("names.kubeboot.test", "/validate", "Fail"));
    k.ok(&["create", "namespace", "guarded"]);
    k.ok(&["label", "namespace", "guarded", "webhooks=on"]);
    let guarded = k.clone().in_namespace("guarded");
    guarded.ok(&["run", "labelled", "--image=kubetm/app:v1"]);
    let pod = guarded.json(&["get", "pod", "labelled"]);
    assert_eq!(pod["metadata"]["labels"]["admission.kubeboot.test/mutated"], "true", "{pod}");
    common::wait_for("the labelled pod running", Duration::from_secs(120), || {
        common::kubectl::ready(&guarded.json(&["get", "pod", "labelled"]))
    });
    let (ok, out) = guarded.run(&["run", "forbidden-pod", "--image=kubetm/app:v1"]);
    assert!(!ok && out.contains("admission webhook \"names.kubeboot.test\" denied the request"), "{out}");
    // Outside the selected namespace the webhooks are not called.
    k.ok(&["run", "plain", "--image=kubetm/app:v1"]);
    assert!(k.json(&["get", "pod", "plain"])["metadata"]["labels"]["admission.kubeboot.test/mutated"].is_null());

    // The webhook gone: Fail refuses pods, Ignore lets them through after at most the timeout.
    hooks.ok(&["scale", "deployment", "admission", "--replicas=0"]);
    common::wait_for("the webhook pod gone", Duration::from_secs(120), || hooks.pods("app=admission").is_empty());
    // (The master's Service rules follow the endpoints within moments: until then a pod may still pass.)
    // While the pod goes, one call may still reach it and the next not (the validating webhook refusing
    // alone); the webhook is down once the first one called, the mutating one, fails too.
    let mut refusals = Vec::new();
    common::wait_for("pods refused with the webhook down (Fail)", Duration::from_secs(60), || {
        let (ok, out) = guarded.run(&[
            "run",
            &format!("refused-{}", kubeboot::resources::meta::random_suffix()),
            "--image=kubetm/app:v1",
        ]);
        let down = !ok && out.contains("failed calling webhook \"label.kubeboot.test\"");
        refusals.push(out);
        down
    });
    let last = refusals.last().map(String::as_str).unwrap_or_default();
    assert!(last.contains("Internal error occurred: failed calling webhook"), "{refusals:#?}");
    configure("MutatingWebhookConfiguration", "label-pods", webhook("label.kubeboot.test", "/mutate", "Ignore"));
    configure("ValidatingWebhookConfiguration", "pod-names", webhook("names.kubeboot.test", "/validate", "Ignore"));
    common::wait_for("pods let through with the webhook down (Ignore)", Duration::from_secs(60), || {
        guarded
            .run(&["run", &format!("through-{}", kubeboot::resources::meta::random_suffix()), "--image=kubetm/app:v1"])
            .0
    });
    // The next checks share the cluster: no webhook, and none of these pods, left behind.
    k.ok(&["delete", "mutatingwebhookconfiguration", "label-pods"]);
    k.ok(&["delete", "validatingwebhookconfiguration", "pod-names"]);
    k.ok(&["delete", "namespace", "guarded", "hooks", "--wait=false"]);
    k.ok(&["delete", "pod", "plain", "--wait=false"]);
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
