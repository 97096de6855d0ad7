//! Unmodified kubectl binaries against an API server the test starts: every kubectl this machine has
//! (PATH, the versioned builds beside it, Debian's 1.20 that .ci/setup unpacks into target/) runs
//! `get nodes` plain, -o wide, -o yaml, -o json, -l, --show-labels and a single node; then, each in a
//! namespace of its own, applies every manifest under tests/manifests (created, then unchanged), applies a
//! changed pod (configured: the removed env var and the old label are gone), gets with -A, -L and a field
//! selector, patches with each patch type and applies server-side, gets pod,replicaset,deployment and all,
//! watches pods (ADDED, MODIFIED, DELETED), deletes with -f, is refused an invalid Deployment with the
//! server's 422 message and a misspelled field (by the server for 1.27+, by 1.20 from the OpenAPI schema),
//! diffs, and explains kinds at any depth. A missing binary fails the test, named.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::kubectl::Kubectl;
use serde_json::Value;

fn node(name: &str, ip: &str, master: bool) -> Value {
    let mut n = kubeboot::agent::node_info::node_object(name, ip, master);
    let now = time::OffsetDateTime::now_utc();
    kubeboot::resources::node::set_ready(&mut n, "True", "KubeletReady", "ready", Some(now), now);
    n
}

/// An API server with an admin kubeconfig written for kubectl.
fn server_with_kubeconfig() -> (common::api::Server, PathBuf, kubeboot::bootstrap::kubeconfig::Kubeconfig) {
    let server = common::api::start();
    let (admin_conf, conf) = server.admin_kubeconfig();
    (server, admin_conf, conf)
}

/// kubectl against `admin_conf` with `home` as its HOME (kubectl caches discovery there).
fn kubectl(kubectl: &Path, admin_conf: &Path, home: &Path) -> Kubectl {
    Kubectl::at(&kubectl.display().to_string(), kubectl, admin_conf).with_home(home)
}

fn kubectl_in(path: &Path, admin_conf: &Path, home: &Path) -> Command {
    kubectl(path, admin_conf, home).command(&[])
}

/// Run kubectl: its exit code and what it printed (stdout, then stderr).
fn run_in(path: &Path, admin_conf: &Path, home: &Path, args: &[&str]) -> (Option<i32>, String) {
    kubectl(path, admin_conf, home).code(args)
}

/// One kubectl against the test server, with a HOME of its own (each version must do its own discovery)
/// and a namespace of its own.
struct Session<'a> {
    label: &'a str,
    k: Kubectl,
    home: PathBuf,
    ns: String,
}

impl<'a> Session<'a> {
    /// Makes the HOME and creates the namespace `{prefix}-{i}`.
    fn start(
        server: &common::api::Server,
        admin_conf: &'a Path,
        kubectl: (usize, &'a str, &'a Path),
        prefix: &str,
    ) -> Self {
        let (i, label, path) = kubectl;
        let home = server.dir.path().join(format!("{prefix}-home-{i}"));
        std::fs::create_dir_all(&home).unwrap();
        let k = Kubectl::at(label, path, admin_conf).with_home(&home);
        let session = Session { label, k, home, ns: format!("{prefix}-{i}") };
        session.ok(&["create", "namespace", &session.ns]);
        session
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String) {
        self.k.code(args)
    }

    /// Runs kubectl and fails the test unless it succeeds; what it printed.
    fn ok(&self, args: &[&str]) -> String {
        let (code, text) = self.run(args);
        assert_eq!(code, Some(0), "{} {args:?}: {text}", self.label);
        text
    }
}

#[test]
fn kubectl_versions_get_nodes() {
    let (server, admin_conf, conf) = server_with_kubeconfig();
    let client = kubeboot::apiclient::ApiClient::from_kubeconfig(&conf).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for n in [node("k8s-master", "10.0.0.30", true), node("k8s-node1", "10.0.0.31", false)] {
        let body = serde_json::to_vec(&n).unwrap();
        let reply = rt.block_on(client.request("POST", "/api/v1/nodes", Some(body), None)).unwrap();
        assert_eq!(reply.status, 201, "{}", reply.message());
    }

    let binaries = common::kubectls::all();
    assert!(!binaries.is_empty(), "no kubectl at all on this machine");
    for (label, kubectl) in binaries {
        let k = Kubectl::at(&label, &kubectl, &admin_conf).with_home(server.dir.path());
        let run = |args: &[&str]| k.stdout(args);
        let rows = |text: &str| -> Vec<Vec<String>> {
            text.lines().map(|l| l.split_whitespace().map(String::from).collect()).collect()
        };

        let plain = rows(&run(&["get", "nodes"]));
        assert_eq!(plain[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], "{label}");
        assert_eq!(&plain[1][..3], ["k8s-master", "Ready", "master"], "{label}");
        assert_eq!(&plain[2][..3], ["k8s-node1", "Ready", "<none>"], "{label}");

        let wide = rows(&run(&["get", "nodes", "-o", "wide"]));
        assert_eq!(wide[0][5..7], ["INTERNAL-IP", "EXTERNAL-IP"], "{label}");
        assert_eq!(wide[2][5], "10.0.0.31", "{label}");

        let yaml = run(&["get", "nodes", "-o", "yaml"]);
        assert!(yaml.contains("kind: Node\n") && yaml.contains("name: k8s-node1\n"), "{label}: {yaml}");
        let list: Value = serde_json::from_str(&run(&["get", "nodes", "-o", "json"])).unwrap();
        assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{label}");

        let masters = rows(&run(&["get", "nodes", "-l", "node-role.kubernetes.io/master"]));
        assert_eq!(masters.len(), 2, "{label}: header + the master only: {masters:?}");
        let workers = rows(&run(&["get", "no", "-l", "!node-role.kubernetes.io/master"]));
        assert_eq!(workers[1][0], "k8s-node1", "{label}");

        let labelled = run(&["get", "nodes", "--show-labels"]);
        assert!(labelled.contains("kubernetes.io/hostname=k8s-node1"), "{label}: {labelled}");
        let one = rows(&run(&["get", "node", "k8s-node1"]));
        assert_eq!((one.len(), one[1][0].as_str()), (2, "k8s-node1"), "{label}");
        let missing = k.output(&["get", "node", "nope"]);
        assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFound"), "{label}");
        eprintln!("ok: {label}");
    }
}

const MANIFESTS: [&str; 17] = [
    "pod.yaml",
    "deployment.yaml",
    "replicaset.yaml",
    "replicationcontroller.yaml",
    "service.yaml",
    "job.yaml",
    "cronjob.yaml",
    "configmap.yaml",
    "secret.yaml",
    "lease.yaml",
    "statefulset.yaml",
    "ingress.yaml",
    "networkpolicy.yaml",
    "serviceaccount.yaml",
    "role.yaml",
    "rolebinding.yaml",
    "hpa.yaml",
];

#[test]
fn kubectl_versions_apply_get_watch_delete() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    let manifest = |name: &str| manifests.join(name).to_str().unwrap().to_string();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let ns = format!("kc-{i}");
        let kubectl_cmd = || kubectl_in(&kubectl, &admin_conf, server.dir.path());
        let run = |args: &[&str]| run_in(&kubectl, &admin_conf, server.dir.path(), args);
        let ok = |args: &[&str]| {
            let (code, text) = run(args);
            assert_eq!(code, Some(0), "{label} {args:?}: {text}");
            text
        };
        // kubectl's generators (kubectl 1.32+ send their bodies as protobuf; every generator is checked in
        // kubectl_versions_create_generators).
        assert_eq!(ok(&["create", "namespace", &ns]).trim(), format!("namespace/{ns} created"), "{label}");
        ok(&["create", "configmap", "generated", "-n", &ns, "--from-literal=mode=fast", "--from-literal=level=2"]);
        ok(&["create", "secret", "generic", "generated", "-n", &ns, "--from-literal=password=s3cret"]);
        let cm: Value = serde_json::from_str(&ok(&["get", "configmap", "generated", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(cm["data"], serde_json::json!({"mode": "fast", "level": "2"}), "{label}");
        let secret: Value =
            serde_json::from_str(&ok(&["get", "secret", "generated", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(
            (secret["data"]["password"].as_str(), secret["type"].as_str()),
            (Some("czNjcmV0"), Some("Opaque")),
            "{label}"
        );
        for m in MANIFESTS {
            let first = ok(&["apply", "-n", &ns, "-f", &manifest(m)]);
            assert!(first.trim_end().ends_with("created"), "{label} {m}: {first}");
            let again = ok(&["apply", "-n", &ns, "-f", &manifest(m)]);
            assert!(again.trim_end().ends_with("unchanged"), "{label} {m} again: {again}");
        }
        // The server's defaults, as kube-apiserver fills them in; the second apply above left them and the
        // generation as they were.
        let web: Value = serde_json::from_str(&ok(&["get", "deployment", "web", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(web["metadata"]["generation"], 1, "{label}");
        let spec = &web["spec"];
        assert_eq!(
            spec["strategy"],
            serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            "{label}"
        );
        assert_eq!(
            (spec["revisionHistoryLimit"].as_i64(), spec["progressDeadlineSeconds"].as_i64()),
            (Some(10), Some(600))
        );
        let pod_spec = &spec["template"]["spec"];
        assert_eq!(
            (pod_spec["restartPolicy"].as_str(), pod_spec["dnsPolicy"].as_str(), pod_spec["schedulerName"].as_str()),
            (Some("Always"), Some("ClusterFirst"), Some("default-scheduler")),
            "{label}"
        );
        let container = &pod_spec["containers"][0];
        assert_eq!(
            (container["imagePullPolicy"].as_str(), container["ports"][0]["protocol"].as_str()),
            (Some("IfNotPresent"), Some("TCP")),
            "{label}"
        );
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log", "{label}");
        let job: Value = serde_json::from_str(&ok(&["get", "job", "pi", "-n", &ns, "-o", "json"])).unwrap();
        let job = &job["spec"];
        assert_eq!(
            (job["backoffLimit"].as_i64(), job["completions"].as_i64()),
            (Some(4), Some(1)),
            "{label}: kept, filled"
        );
        let cron: Value = serde_json::from_str(&ok(&["get", "cronjob", "hello", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(
            (cron["spec"]["concurrencyPolicy"].as_str(), cron["spec"]["failedJobsHistoryLimit"].as_i64()),
            (Some("Allow"), Some(1)),
            "{label}"
        );

        // (Not in MANIFESTS: kubectl re-sends a PodDisruptionBudget's selector on every apply, its patch
        // strategy being `replace`, so the second apply says "configured" against any server.)
        assert!(ok(&["apply", "-n", &ns, "-f", &manifest("pdb.yaml")]).trim_end().ends_with("created"), "{label}");
        // The kinds served without controllers: listed by api-resources, printed with kubectl's columns.
        let resources = ok(&["api-resources"]);
        for (name, short) in [
            ("statefulsets", "sts"),
            ("ingresses", "ing"),
            ("networkpolicies", "netpol"),
            ("serviceaccounts", "sa"),
            ("horizontalpodautoscalers", "hpa"),
            ("poddisruptionbudgets", "pdb"),
            ("priorityclasses", "pc"),
            ("clusterrolebindings", ""),
            ("roles", ""),
        ] {
            let line = resources.lines().find(|l| l.split_whitespace().next() == Some(name));
            assert!(
                line.is_some_and(|l| short.is_empty() || l.split_whitespace().nth(1) == Some(short)),
                "{label}: {name}: {resources}"
            );
        }
        let header = |what: &str| {
            ok(&["get", what, "-n", &ns]).lines().next().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ")
        };
        assert_eq!(header("sts"), "NAME READY AGE", "{label}");
        assert_eq!(header("ing"), "NAME CLASS HOSTS ADDRESS PORTS AGE", "{label}");
        assert_eq!(header("netpol"), "NAME POD-SELECTOR AGE", "{label}");
        assert_eq!(header("hpa"), "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE", "{label}");
        assert_eq!(header("pdb"), "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE", "{label}");
        assert_eq!(header("rolebinding"), "NAME ROLE AGE", "{label}");
        let binding = ok(&["get", "rolebinding", "read-pods", "-n", &ns, "-o", "wide"]);
        assert!(
            binding.lines().nth(1).is_some_and(|l| l.contains("Role/pod-reader") && l.contains("jane")),
            "{label}: {binding}"
        );
        let invalid_hpa = r#"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"bad"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"},"maxReplicas":0}}"#;
        let bad_file = server.dir.path().join(format!("{ns}-bad-hpa.json"));
        std::fs::write(&bad_file, invalid_hpa).unwrap();
        let (code, text) = run(&["apply", "-n", &ns, "-f", bad_file.to_str().unwrap()]);
        assert!(code != Some(0) && text.contains("spec.maxReplicas: Invalid value: 0"), "{label}: {text}");

        let changed = ok(&["apply", "-n", &ns, "-f", &manifest("pod-changed.yaml")]);
        assert_eq!(changed.trim_end(), "pod/nginx configured", "{label}");
        let pod: Value = serde_json::from_str(&ok(&["get", "pod", "nginx", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(pod["metadata"]["labels"]["tier"], "frontend", "{label}");
        let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
        assert_eq!(env.len(), 1, "{label}: MODE is gone: {env:?}");

        // -A (the NAMESPACE column from the row objects), -L, a field selector.
        let everywhere = ok(&["get", "pods", "-A"]);
        assert!(everywhere.lines().any(|l| l.starts_with(&ns) && l.contains("nginx")), "{label}: {everywhere}");
        let with_label = ok(&["get", "pods", "-n", &ns, "-L", "tier"]);
        assert!(with_label.lines().next().unwrap_or("").ends_with("TIER"), "{label}: {with_label}");
        assert!(with_label.lines().nth(1).unwrap_or("").trim_end().ends_with("frontend"), "{label}: {with_label}");
        let pending = ok(&["get", "pods", "-n", &ns, "--field-selector", "status.phase=Pending", "-o", "name"]);
        assert_eq!(pending.trim(), "pod/nginx", "{label}");
        let running = ok(&["get", "pods", "-n", &ns, "--field-selector", "status.phase=Running", "-o", "name"]);
        assert!(!running.contains("pod/nginx"), "{label}: {running}");

        // Output templates, diff against the server (a server-side dry run), wait.
        let jsonpath = ok(&[
            "get",
            "deployment",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}",
        ]);
        assert_eq!(jsonpath, "2 nginx:1.25", "{label}");
        let custom =
            ok(&["get", "pods", "-n", &ns, "-o", "custom-columns=NAME:.metadata.name,POLICY:.spec.restartPolicy"]);
        assert!(custom.lines().any(|l| l.split_whitespace().eq(["nginx", "Always"])), "{label}: {custom}");
        // (kubectl 1.20 finds dryRun in the OpenAPI v2 document's paths, newer kubectl in the v3 documents.)
        {
            let (code, same) = run(&["diff", "-n", &ns, "-f", &manifest("deployment.yaml")]);
            assert_eq!(code, Some(0), "{label}: no difference: {same}");
            let scaled = std::fs::read_to_string(manifests.join("deployment.yaml"))
                .unwrap()
                .replace("replicas: 2", "replicas: 4");
            let scaled_file = server.dir.path().join(format!("{ns}-scaled.yaml"));
            std::fs::write(&scaled_file, scaled).unwrap();
            let (code, diff) = run(&["diff", "-n", &ns, "-f", scaled_file.to_str().unwrap()]);
            let shown = diff.contains("-  replicas: 2") && diff.contains("+  replicas: 4");
            assert!(code == Some(1) && shown, "{label}: {code:?} {diff}");
            let replicas = ok(&["get", "deployment", "web", "-n", &ns, "-o", "jsonpath={.spec.replicas}"]);
            assert_eq!(replicas, "2", "{label}: diff changed nothing");
        }
        if !label.contains("1.20") {
            // (--for=jsonpath came with kubectl 1.23.)
            let waited =
                ok(&["wait", "-n", &ns, "--for=jsonpath={.data.mode}=fast", "configmap/generated", "--timeout=10s"]);
            assert!(waited.contains("condition met"), "{label}: {waited}");
        }

        // kubectl patch with each patch type, and server-side apply.
        ok(&["patch", "configmap", "settings", "-n", &ns, "--type", "merge", "-p", r#"{"data":{"extra":"1"}}"#]);
        ok(&[
            "patch",
            "configmap",
            "settings",
            "-n",
            &ns,
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/data/greeting"}]"#,
        ]);
        ok(&[
            "patch",
            "deployment",
            "web",
            "-n",
            &ns,
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}"#,
        ]);
        let cm: Value = serde_json::from_str(&ok(&["get", "configmap", "settings", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(cm["data"], serde_json::json!({"log_level": "info", "extra": "1"}), "{label}");
        let dep: Value = serde_json::from_str(&ok(&["get", "deployment", "web", "-n", &ns, "-o", "json"])).unwrap();
        let containers = dep["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!((containers.len(), containers[0]["image"].as_str()), (1, Some("nginx:1.26")), "{label}");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80, "{label}: the strategic merge kept the ports");
        // kubectl scale through the scale subresource (autoscaling/v1 Scale); only spec.replicas changes.
        let scaled = ok(&["scale", "deployment", "web", "-n", &ns, "--replicas", "4"]);
        assert_eq!(scaled.trim_end(), "deployment.apps/web scaled", "{label}");
        let dep: Value = serde_json::from_str(&ok(&["get", "deployment", "web", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(dep["spec"]["replicas"], 4, "{label}");
        assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26", "{label}");
        let (code, refused) =
            run(&["scale", "replicaset", "frontend", "-n", &ns, "--replicas", "2", "--current-replicas", "9"]);
        assert_ne!(code, Some(0), "{label}: a precondition that does not hold: {refused}");
        let ssa = ok(&["apply", "--server-side", "-n", &ns, "-f", &manifest("configmap.yaml")]);
        assert!(ssa.contains("serverside-applied") || ssa.contains("configured"), "{label}: {ssa}");

        // A Secret's stringData is stored base64-encoded in data, as the API server does; /version/ answers.
        let secret_file = server.dir.path().join(format!("{ns}-secret.yaml"));
        std::fs::write(
            &secret_file,
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: s3cret\n",
        )
        .unwrap();
        ok(&["apply", "-n", &ns, "-f", secret_file.to_str().unwrap()]);
        let secret: Value = serde_json::from_str(&ok(&["get", "secret", "creds", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(secret["data"]["password"], "czNjcmV0", "{label}: {secret}");
        assert!(secret.get("stringData").is_none() && secret["type"] == "Opaque", "{label}: {secret}");
        let version: Value = serde_json::from_str(&ok(&["get", "--raw", "/version/"])).unwrap();
        assert_eq!(version["major"], "1", "{label}");

        let listed = ok(&["get", "pod,replicaset,deployment", "-n", &ns]);
        for name in ["pod/nginx", "replicaset.apps/frontend", "deployment.apps/web"] {
            assert!(listed.contains(name), "{label}: {name} in\n{listed}");
        }
        let all = ok(&["get", "all", "-n", &ns]);
        for name in [
            "pod/nginx",
            "service/web",
            "deployment.apps/web",
            "replicaset.apps/frontend",
            "job.batch/pi",
            "cronjob.batch/hello",
        ] {
            assert!(all.contains(name), "{label}: {name} in get all\n{all}");
        }

        // A watch sees the pod changed and deleted; delete -f returns (kubectl waits until the object is gone).
        let mut watch = kubectl_cmd()
            .args(["get", "pods", "-w", "--output-watch-events", "-n", &ns])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        ok(&["label", "pod", "nginx", "watched=yes", "-n", &ns]);
        let started = std::time::Instant::now();
        assert!(ok(&["delete", "-n", &ns, "-f", &manifest("pod.yaml")]).contains("deleted"), "{label}");
        let delete_took = started.elapsed();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = watch.kill();
        let out = watch.wait_with_output().unwrap();
        let events: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect();
        for kind in ["ADDED", "MODIFIED", "DELETED"] {
            assert!(events.iter().any(|e| e == kind), "{label}: no {kind} in {events:?}");
        }

        let (code, refused) = run(&["apply", "-n", &ns, "-f", &manifest("invalid-deployment.yaml")]);
        assert_eq!(code, Some(1), "{label}: {refused}");
        assert!(
            refused.contains("is invalid") && refused.contains("`selector` does not match template `labels`"),
            "{label}: {refused}"
        );
        let (code, typo) = run(&["apply", "-n", &ns, "-f", &manifest("typo-configmap.yaml")]);
        assert_eq!(code, Some(1), "{label}: {typo}");
        if label.contains("1.20") {
            // kubectl 1.20 predates server-side field validation: it validates against the OpenAPI v2 schema.
            let refused = r#"unknown field "dataa" in io.k8s.api.core.v1.ConfigMap"#;
            assert!(typo.contains("ValidationError(ConfigMap)") && typo.contains(refused), "{label}: {typo}");
        } else {
            assert!(typo.contains(r#"strict decoding error: unknown field "dataa""#), "{label}: {typo}");
        }
        assert!(ok(&["delete", "namespace", &ns]).contains("deleted"), "{label}");
        eprintln!("ok: {label} (delete -f took {delete_took:?})");
    }
}

fn event(ns: &str, name: &str, message: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "watched", "namespace": ns},
        "reason": "Checked", "message": message, "type": "Normal", "count": 1,
        "firstTimestamp": "2026-12-04T20:00:00Z", "lastTimestamp": "2026-12-04T20:00:00Z",
        "source": {"component": "kubectl-compat"},
    })
    .to_string()
}

/// `kubectl events --watch` (1.27+) lists and then watches Events through client-go's typed client: kubectl
/// 1.32+ ask for protobuf, so the list and each watch event reach them as protobuf (length-prefixed
/// WatchEvents), the others as JSON. Both show an Event made before they started and one made after.
#[test]
fn kubectl_versions_events_watch() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    let kubectls = common::kubectls::all().into_iter().filter(|(label, _)| !label.contains("1.20"));
    for (i, (label, kubectl)) in kubectls.enumerate() {
        let session = Session::start(&server, &admin_conf, (i, &label, &kubectl), "events");
        let (home, ns) = (&session.home, session.ns.as_str());
        let apply = |json: String| {
            let file = home.join("event.json");
            std::fs::write(&file, json).unwrap();
            session.ok(&["apply", "-f", file.to_str().unwrap()]);
        };
        apply(event(ns, "before", "made before the watch"));
        let mut watch = kubectl_in(&kubectl, &admin_conf, home)
            .args(["events", "-n", ns, "--watch", "-v=8"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let readers: Vec<_> = [
            Box::new(watch.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(watch.stderr.take().unwrap()),
        ]
        .into_iter()
        .map(|stream| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            })
        })
        .collect();
        drop(tx);
        let mut seen = Vec::new();
        let wait_for = |what: &str, seen: &mut Vec<String>| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !seen.iter().any(|l: &String| l.contains(what)) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match lines.recv_timeout(left) {
                    Ok(line) => seen.push(line),
                    Err(_) => panic!("{label}: no {what:?} from kubectl events --watch:\n{}", seen.join("\n")),
                }
            }
        };
        wait_for("made before the watch", &mut seen);
        // The watch starts after the list; an Event made now arrives through it.
        wait_for("watch=true", &mut seen);
        apply(event(ns, "after", "made while watching"));
        wait_for("made while watching", &mut seen);
        let _ = watch.kill();
        let _ = watch.wait();
        for reader in readers {
            let _ = reader.join();
        }
        if label == "kubectl.1.32" || label == "kubectl.1.33" {
            let framed = "Content-Type: application/vnd.kubernetes.protobuf;stream=watch";
            assert!(
                seen.iter().any(|l| l.contains(framed)),
                "{label}: the watch was not protobuf:\n{}",
                seen.join("\n")
            );
        }
        eprintln!("ok: {label}");
    }
}

/// `kubectl auth can-i` (with `--list`) and, where kubectl has it (1.28+ GA), `kubectl auth whoami`,
/// answered from the authorizer the server applies: an admin may do anything, a node what the node
/// authorizer lets it, nobody else anything.
#[test]
fn kubectl_versions_auth_can_i_and_whoami() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    let node = server.state.ca.issue_client("system:node:n1", &["system:nodes"]).unwrap();
    let node_conf = server.dir.path().join("node.conf");
    let conf = kubeboot::bootstrap::kubeconfig::Kubeconfig::with_user(
        "t",
        &format!("https://127.0.0.1:{}", server.port),
        &server.ca_pem,
        "system:node:n1",
        &node.cert_pem,
        &node.key_pem,
    );
    std::fs::write(&node_conf, conf.to_yaml()).unwrap();
    for (label, kubectl) in common::kubectls::all() {
        let run = |conf: &Path, args: &[&str]| {
            let out = kubectl_in(&kubectl, conf, server.dir.path()).args(args).output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let can_i = |conf: &Path, args: &[&str]| {
            let mut all = vec!["auth", "can-i"];
            all.extend_from_slice(args);
            let (code, out, err) = run(conf, &all);
            match (code, out.as_str()) {
                (Some(0), "yes") => true,
                (Some(1), o) if o == "no" || o.starts_with("no - ") => false,
                _ => panic!("{label} {all:?}: {code:?} {out} {err}"),
            }
        };
        let admin = admin_conf.as_path();
        assert!(can_i(admin, &["create", "deployments"]), "{label}");
        assert!(can_i(admin, &["delete", "nodes", "--all-namespaces"]), "{label}");
        assert!(can_i(admin, &["get", "/healthz"]), "{label}");
        let node = node_conf.as_path();
        assert!(can_i(node, &["get", "nodes"]), "{label}: a node reads nodes");
        assert!(can_i(node, &["update", "nodes/n1"]), "{label}: its own Node");
        assert!(!can_i(node, &["update", "nodes/n2"]), "{label}: not another's");
        assert!(!can_i(node, &["create", "deployments"]), "{label}");
        assert!(!can_i(node, &["list", "secrets"]), "{label}: secrets one at a time, never a list");
        assert!(!can_i(node, &["get", "secrets/s1", "-n", "default"]), "{label}: no pod of n1 uses s1");
        assert!(can_i(node, &["get", "/version"]), "{label}");
        assert!(!can_i(node, &["get", "/metrics"]), "{label}");

        let (code, listed, err) = run(admin, &["auth", "can-i", "--list"]);
        assert_eq!(code, Some(0), "{label}: {err}");
        assert!(listed.lines().any(|l| l.split_whitespace().take(3).eq(["*.*", "[]", "[]"])), "{label}: {listed}");
        let (code, listed, err) = run(node, &["auth", "can-i", "--list"]);
        assert_eq!(code, Some(0), "{label}: {err}");
        assert!(listed.lines().any(|l| l.starts_with("pods ") && l.contains("get list watch")), "{label}: {listed}");
        assert!(!listed.contains("deployments"), "{label}: {listed}");

        if !label.contains("1.20") && !label.contains("1.27") {
            let (code, who, err) = run(admin, &["auth", "whoami", "-o", "json"]);
            assert_eq!(code, Some(0), "{label}: {err}");
            let who: Value = serde_json::from_str(&who).unwrap();
            assert_eq!(who["status"]["userInfo"]["username"], "kubernetes-admin", "{label}");
            let (_, who, _) = run(node, &["auth", "whoami"]);
            assert!(who.contains("system:node:n1") && who.contains("system:nodes"), "{label}: {who}");
        }
    }
}

/// kubectl 1.27+ read discovery in two requests (/api and /apis, aggregated) instead of one per
/// group-version; kubectl 1.20, which does not know aggregated discovery, still gets the classic documents.
#[test]
fn kubectl_versions_discover_in_two_requests() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let home = server.dir.path().join(format!("home-{i}")); // no discovery cache
        std::fs::create_dir_all(&home).unwrap();
        let out = kubectl_in(&kubectl, &admin_conf, &home).args(["get", "deployments", "-A", "-v=6"]).output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{label}: {log}");
        // `GET https://…/path?… 200 OK`, or since 1.30 `"Response" verb="GET" url="https://…/path?…"`.
        let paths: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(" GET https://") || (l.contains("\"Response\"") && l.contains("verb=\"GET\"")))
            .filter_map(|l| l.split_once("https://").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_once('/').map(|(_, path)| path.split(['?', ' ', '"']).next().unwrap_or("")))
            .collect();
        let group_versions: Vec<&&str> = paths
            .iter()
            .filter(|p| *p == &"api/v1" || (p.starts_with("apis/") && p.matches('/').count() == 2))
            .collect();
        if label.contains("1.20") {
            assert!(!group_versions.is_empty(), "{label}: the classic documents: {paths:?}");
        } else {
            assert!(group_versions.is_empty(), "{label}: a request per group-version: {paths:?}");
            assert!(paths.contains(&"api") && paths.contains(&"apis"), "{label}: {paths:?}");
        }
    }
}

/// `kubectl explain` reads the served kinds' real schemas (OpenAPI v2 protobuf for 1.20, v3 for 1.27+) at
/// any depth, for the kinds with controllers and those without.
#[test]
fn kubectl_versions_explain() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let home = server.dir.path().join(format!("home-{i}"));
        std::fs::create_dir_all(&home).unwrap();
        let explain = |args: &[&str]| run_in(&kubectl, &admin_conf, &home, &[&["explain"], args].concat());
        let expect = |args: &[&str], wanted: &[&str]| {
            let (code, text) = explain(args);
            assert_eq!(code, Some(0), "{label} explain {args:?}: {text}");
            for w in wanted {
                assert!(text.contains(w), "{label} explain {args:?}: no {w:?} in {text}");
            }
        };
        expect(&["pods"], &["Pod is a collection of containers that can run on a host", "spec\t<"]);
        expect(&["pod.spec.containers.ports.containerPort"], &["containerPort <integer>", "Number of port to expose"]);
        let surge = if label.contains("1.20") { "maxSurge\t<string>" } else { "maxSurge\t<IntOrString>" };
        expect(&["deployments.spec.strategy", "--recursive"], &["rollingUpdate\t<", surge, "type\t<string>"]);
        expect(
            &["cronjobs.spec.jobTemplate.spec.template.spec.restartPolicy"],
            &["restartPolicy <string>", "One of Always, OnFailure"],
        );
        expect(
            &["cronjobs.spec.schedule", "--api-version=batch/v1beta1"],
            &["schedule <string>", "The schedule in Cron format"],
        );
        expect(&["networkpolicy.spec.ingress"], &["ingress is a list of ingress rules"]);
        expect(&["priorityclass.value"], &["value <integer>"]);
        let (code, text) = explain(&["pods.spec.nope"]);
        assert!(code == Some(1) && text.contains(r#"field "nope" does not exist"#), "{label}: {code:?} {text}");
    }
}

/// `kubectl apply --prune -l …`: what the set applied before has and the new one does not is deleted, of the
/// kinds kubectl prunes by default (whose list includes ReplicationController, served for it); objects
/// without the label stay. kubectl 1.20's default list also names extensions/v1beta1 Ingress, which
/// Kubernetes stopped serving in 1.22: there it fails as against any 1.22+ cluster, and
/// `--prune-whitelist` names the kinds instead.
#[test]
fn kubectl_versions_apply_prune() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let session = Session::start(&server, &admin_conf, (i, &label, &kubectl), "prune");
        let (home, ns) = (&session.home, session.ns.as_str());
        let run = |args: &[&str]| session.run(args);
        let ok = |args: &[&str]| session.ok(args);
        ok(&["create", "configmap", "unlabelled", "-n", ns, "--from-literal=k=v"]);
        let labels = "labels: {app: prune-demo}";
        let configmap =
            |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n  {labels}\ndata: {{k: v}}\n");
        let service = format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  {labels}\nspec:\n  selector: {{app: web}}\n  ports: [{{port: 80}}]\n"
        );
        let deployment = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  {labels}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: nginx}}]}}\n"
        );
        let whole = home.join("whole.yaml");
        std::fs::write(
            &whole,
            [configmap("one"), configmap("two"), configmap("three"), service, deployment].join("---\n"),
        )
        .unwrap();
        let smaller = home.join("smaller.yaml");
        std::fs::write(&smaller, configmap("one")).unwrap();
        ok(&["apply", "-n", ns, "-f", whole.to_str().unwrap()]);

        let prune = ["apply", "-n", ns, "--prune", "-l", "app=prune-demo", "-f", smaller.to_str().unwrap()];
        let pruned = if label.contains("1.20") {
            let (code, refused) = run(&prune);
            let gone = r#"no matches for kind "Ingress" in version "extensions/v1beta1""#;
            assert!(code == Some(1) && refused.contains(gone), "{label}: {code:?} {refused}");
            let mut named = prune.to_vec();
            named.extend(["--prune-whitelist=core/v1/ConfigMap", "--prune-whitelist=core/v1/Service"]);
            named.push("--prune-whitelist=apps/v1/Deployment");
            ok(&named)
        } else {
            ok(&prune)
        };
        for gone in
            ["configmap/two pruned", "configmap/three pruned", "service/web pruned", "deployment.apps/web pruned"]
        {
            assert!(pruned.contains(gone), "{label}: no {gone:?} in {pruned}");
        }
        let left = ok(&["get", "configmaps,services,deployments", "-n", ns, "-o", "name"]);
        let mut left: Vec<&str> = left.lines().filter(|l| !l.contains("kube-root-ca")).collect();
        left.sort();
        assert_eq!(left, ["configmap/one", "configmap/unlabelled"], "{label}");
        ok(&["delete", "namespace", ns]);
    }
}

/// A JSON value without what says nothing: null members, and a `metadata` left empty. kubectl's JSON has
/// them (Go's encoder writes a template's `metadata: {creationTimestamp: null}`); protobuf cannot say them.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .filter(|(k, v)| !(k == "metadata" && v.as_object().is_some_and(|m| m.is_empty())))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// `without_nulls`, and without empty objects: a typed Go object prints its empty structs (`status: {}`).
fn without_empties(value: Value) -> Value {
    match without_nulls(value) {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, without_empties(v)))
                .filter(|(_, v)| !v.as_object().is_some_and(|m| m.is_empty()))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_empties).collect()),
        other => other,
    }
}

/// kubectl's generators (`create deployment|service|job|cronjob|serviceaccount|role|rolebinding|
/// poddisruptionbudget|ingress|clusterrole|clusterrolebinding|priorityclass`, `expose`, `run`): each object
/// is created as kubectl built it, on every version. kubectl 1.32+ (and the dispatcher on PATH for some)
/// send most of these bodies only as protobuf: what they stored must equal what 1.31 stored from JSON.
/// kubectl 1.20 builds its PodDisruptionBudget as policy/v1beta1, which Kubernetes stopped serving in 1.25.
#[test]
fn kubectl_versions_create_generators() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    // What each kubectl's generators built, as the server stored it (metadata and status aside): kubectl
    // 1.32+ send these bodies as protobuf, the others as JSON, and both must come out the same.
    let mut built: Vec<(String, Vec<(String, Value)>)> = Vec::new();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let session = Session::start(&server, &admin_conf, (i, &label, &kubectl), "gen");
        let ns = session.ns.as_str();
        let run = |args: &[&str]| session.run(args);
        let is_1_20 = label.contains("1.20");
        let (cr, crb, pc) = (format!("cr-{i}"), format!("crb-{i}"), format!("pc-{i}"));
        let crb_role = format!("--clusterrole={cr}");
        let namespaced: [&[&str]; 12] = [
            &["create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80"],
            &["create", "service", "clusterip", "web", "--tcp=80:8080"],
            &["create", "service", "nodeport", "np", "--tcp=80:8080"],
            &["create", "job", "once", "--image=busybox"],
            &["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *"],
            &["create", "serviceaccount", "robot"],
            &["create", "role", "reader", "--verb=get", "--resource=pods"],
            &["create", "rolebinding", "reader", "--role=reader", "--user=jane"],
            &["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
            &["create", "ingress", "web", "--rule=example.com/=web:80"],
            &["expose", "deployment", "web", "--name=exposed", "--port=81", "--target-port=80"],
            &["run", "solo", "--image=nginx:1.25"],
        ];
        let cluster: [&[&str]; 3] = [
            &["create", "clusterrole", &cr, "--verb=get", "--resource=pods"],
            &["create", "clusterrolebinding", &crb, &crb_role, "--user=jane"],
            &["create", "priorityclass", &pc, "--value=100"],
        ];
        let mut created = Vec::new();
        for (args, in_ns) in namespaced.iter().map(|a| (a, true)).chain(cluster.iter().map(|a| (a, false))) {
            let mut full = args.to_vec();
            if in_ns {
                full.extend(["-n", ns]);
            }
            let (code, text) = run(&full);
            // kubectl 1.20 builds a policy/v1beta1 PDB, which Kubernetes stopped serving in 1.25.
            let refused = is_1_20
                && args[1] == "poddisruptionbudget"
                && text.contains(r#"no matches for kind "PodDisruptionBudget" in version "policy/v1beta1""#);
            assert!(code == Some(0) || refused, "{label} {args:?}: {code:?} {text}");
            if code == Some(0) {
                created.push(args[1]);
            }
        }
        assert_eq!(created.len(), if is_1_20 { 14 } else { 15 }, "{label}: {created:?}");
        let get = |args: &[&str]| run(&[&["get", "-n", ns, "-o"], args].concat()).1;
        assert_eq!(
            get(&["jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}", "deployment", "web"]),
            "2 nginx:1.25",
            "{label}"
        );
        assert_eq!(
            get(&["jsonpath={.spec.type} {.spec.ports[0].targetPort}", "service", "np"]),
            "NodePort 8080",
            "{label}"
        );
        assert_eq!(
            get(&["jsonpath={.spec.ports[0].port} {.spec.selector.app}", "service", "exposed"]),
            "81 web",
            "{label}"
        );
        assert_eq!(get(&["jsonpath={.spec.schedule}", "cronjob", "tick"]), "*/5 * * * *", "{label}");
        assert_eq!(
            get(&["jsonpath={.roleRef.name} {.subjects[0].name}", "rolebinding", "reader"]),
            "reader jane",
            "{label}"
        );
        assert_eq!(get(&["jsonpath={.value}", "priorityclass", &pc]), "100", "{label}");
        // What create prints is the server's answer as kubectl decoded it (protobuf for 1.32+): the stored
        // object. describe reads the Deployment and lists its ReplicaSets and Events, typed too.
        let printed = run(&["create", "deployment", "printed", "--image=nginx:1.25", "-n", ns, "-o", "json"]).1;
        let printed: Value = serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{label}: {e}: {printed}"));
        let stored: Value = serde_json::from_str(&get(&["json", "deployment", "printed"])).unwrap();
        for field in ["/spec", "/metadata/uid", "/metadata/resourceVersion", "/metadata/creationTimestamp"] {
            let (printed, stored) = (printed.pointer(field).cloned(), stored.pointer(field).cloned());
            assert_eq!(printed.map(without_empties), stored.map(without_empties), "{label} {field}");
        }
        // An error comes back as a Status, in protobuf for the clients that ask for it.
        let (code, again) = run(&["create", "deployment", "web", "--image=nginx:1.25", "-n", ns, "-v=8"]);
        assert!(code != Some(0) && again.contains(r#"deployments.apps "web" already exists"#), "{label}: {again}");
        if label == "kubectl.1.32" || label == "kubectl.1.33" {
            assert!(again.contains("Content-Type: application/vnd.kubernetes.protobuf"), "{label}: {again}");
        }
        let (code, described) = run(&["describe", "deployment", "web", "-n", ns, "-v=8"]);
        assert!(code == Some(0) && described.contains("Pod Template:"), "{label}: {described}");
        if label == "kubectl.1.32" || label == "kubectl.1.33" {
            let answered_in_protobuf = "Content-Type: application/vnd.kubernetes.protobuf";
            assert!(described.contains(answered_in_protobuf), "{label} was not answered in protobuf: {described}");
        }
        let objects = [
            ("deployment", "web"),
            ("service", "np"),
            ("job", "once"),
            ("cronjob", "tick"),
            ("role", "reader"),
            ("rolebinding", "reader"),
            ("poddisruptionbudget", "pdb"),
            ("ingress", "web"),
            ("priorityclass", pc.as_str()),
        ];
        let stored = objects
            .iter()
            .filter(|(kind, _)| !(is_1_20 && *kind == "poddisruptionbudget"))
            .map(|(kind, name)| {
                let mut object: Value = serde_json::from_str(&get(&["json", kind, name])).unwrap();
                let object = object.as_object_mut().unwrap();
                object.remove("metadata");
                object.remove("status");
                // Names and values carrying the namespace's index, and the allocated ones, differ by run.
                if *kind == "service" {
                    for field in ["clusterIP", "clusterIPs"] {
                        object["spec"].as_object_mut().unwrap().remove(field);
                    }
                    object["spec"]["ports"][0].as_object_mut().unwrap().remove("nodePort");
                }
                if *kind == "job" {
                    object["spec"].as_object_mut().unwrap().remove("selector");
                    object["spec"]["template"].as_object_mut().unwrap().remove("metadata");
                }
                if *kind == "priorityclass" {
                    object.remove("value");
                }
                (kind.to_string(), without_nulls(Value::Object(object.clone())))
            })
            .collect();
        built.push((label.clone(), stored));
        eprintln!("ok: {label} created {created:?}");
    }
    // kubectl 1.31 is the newest to send JSON; 1.32 and 1.33 build the same objects and send protobuf.
    let json_sent = &built.iter().find(|(label, _)| label == "kubectl.1.31").expect("kubectl.1.31").1;
    for (label, objects) in built.iter().filter(|(label, _)| label == "kubectl.1.32" || label == "kubectl.1.33") {
        for ((kind, from_protobuf), (_, from_json)) in objects.iter().zip(json_sent) {
            assert_eq!(from_protobuf, from_json, "{label} {kind}: sent as protobuf, stored differently than as JSON");
        }
    }
}

/// `kubectl autoscale`: kubectl 1.20–1.32 create autoscaling/v1 HorizontalPodAutoscalers, 1.33 v2; both
/// need the scale subresource in discovery. The object reads the same through either version.
#[test]
fn kubectl_versions_autoscale() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let session = Session::start(&server, &admin_conf, (i, &label, &kubectl), "autoscale");
        let ns = session.ns.as_str();
        let ok = |args: &[&str]| session.ok(args);
        ok(&["create", "deployment", "web", "--image=nginx:1.25", "-n", ns]);
        let made = ok(&["autoscale", "deployment", "web", "--min=2", "--max=4", "--cpu-percent=60", "-n", ns]);
        assert!(made.contains("horizontalpodautoscaler.autoscaling/web autoscaled"), "{label}: {made}");
        let v2 =
            "jsonpath={.spec.minReplicas} {.spec.maxReplicas} {.spec.metrics[0].resource.target.averageUtilization}";
        assert_eq!(
            ok(&["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-n", ns, "-o", v2]),
            "2 4 60",
            "{label}"
        );
        let v1 = "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage} {.spec.scaleTargetRef.name}";
        assert_eq!(
            ok(&["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-n", ns, "-o", v1]),
            "autoscaling/v1 60 web",
            "{label}"
        );
        // An update through v1 keeps what only v2 can say.
        ok(&[
            "patch",
            "horizontalpodautoscalers.v2.autoscaling",
            "web",
            "-n",
            ns,
            "--type=json",
            "-p",
            r#"[{"op": "add", "path": "/spec/behavior", "value": {"scaleDown": {"stabilizationWindowSeconds": 30}}}]"#,
        ]);
        ok(&[
            "patch",
            "horizontalpodautoscalers.v1.autoscaling",
            "web",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec": {"targetCPUUtilizationPercentage": 70}}"#,
        ]);
        let both = "jsonpath={.spec.metrics[0].resource.target.averageUtilization} {.spec.behavior.scaleDown.stabilizationWindowSeconds}";
        assert_eq!(
            ok(&["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-n", ns, "-o", both]),
            "70 30",
            "{label}"
        );
        eprintln!("ok: {label}");
    }
}

/// The managed fields of an object as the server keeps them: manager and operation -> FieldsV1.
fn managed_fields(session: &Session, path: &str) -> Vec<(String, String, Value)> {
    let object: Value = serde_json::from_str(&session.ok(&["get", "--raw", path])).unwrap();
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap().to_string(),
                e["operation"].as_str().unwrap().to_string(),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

#[test]
fn kubectl_versions_server_side_apply() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let session = Session::start(&server, &admin_conf, (i, &label, &kubectl), "ssa");
        let (home, ns) = (&session.home, session.ns.as_str());
        let ok = |args: &[&str]| session.ok(args);
        let deployment = |replicas: u32| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: nginx, ports: [{{containerPort: 80}}]}}]}}\n"
            )
        };
        let file = home.join("web.yaml");
        std::fs::write(&file, deployment(2)).unwrap();
        let apply = ["apply", "--server-side", "-n", ns, "-f", file.to_str().unwrap()];
        let created = ok(&apply);
        assert!(created.contains("deployment.apps/web serverside-applied"), "{label}: {created}");
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/web");
        let fields = managed_fields(&session, &path);
        let (_, _, applied) = fields
            .iter()
            .find(|(m, o, _)| m == "kubectl" && o == "Apply")
            .unwrap_or_else(|| panic!("{label}: {fields:?}"));
        assert_eq!(applied["f:spec"]["f:replicas"], serde_json::json!({}), "{label}: {applied}");
        assert_eq!(
            applied["f:spec"]["f:selector"],
            serde_json::json!({}),
            "{label}: the selector is atomic: {applied}"
        );
        let container = &applied["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"web"}"#];
        assert!(container["f:ports"][r#"k:{"containerPort":80,"protocol":"TCP"}"#].is_object(), "{label}: {applied}");
        ok(&apply);

        ok(&["patch", "deployment", "web", "-n", ns, "--type=merge", "-p", r#"{"spec":{"replicas":3}}"#]);
        std::fs::write(&file, deployment(4)).unwrap();
        let (code, refused) = session.run(&apply);
        assert_eq!(code, Some(1), "{label}: {refused}");
        assert!(
            refused.contains("conflict with \"kubectl") && refused.contains(".spec.replicas"),
            "{label}: {refused}"
        );
        let mut forced = apply.to_vec();
        forced.push("--force-conflicts");
        ok(&forced);
        assert_eq!(ok(&["get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}"]), "4", "{label}");

        // From client-side apply to server-side apply: the fields the last-applied annotation still
        // matches change hands without a conflict, and the annotation follows.
        let configmap =
            |value: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: moved\ndata:\n  k: {value}\n");
        let cm_file = home.join("moved.yaml");
        std::fs::write(&cm_file, configmap("one")).unwrap();
        ok(&["apply", "-n", ns, "-f", cm_file.to_str().unwrap()]);
        std::fs::write(&cm_file, configmap("two")).unwrap();
        let moved = ok(&["apply", "--server-side", "-n", ns, "-f", cm_file.to_str().unwrap()]);
        assert!(moved.contains("configmap/moved serverside-applied"), "{label}: {moved}");
        let cm_path = format!("/api/v1/namespaces/{ns}/configmaps/moved");
        let fields = managed_fields(&session, &cm_path);
        let owner_of_k: Vec<&str> = fields
            .iter()
            .filter(|(_, _, f)| f["f:data"]["f:k"].is_object())
            .map(|(m, o, _)| if o == "Apply" { m.as_str() } else { "an updater" })
            .collect();
        assert_eq!(owner_of_k, ["kubectl"], "{label}: {fields:?}");
        let cm: Value = serde_json::from_str(&ok(&["get", "--raw", &cm_path])).unwrap();
        let last: Value = serde_json::from_str(
            cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!((cm["data"]["k"].as_str(), last["data"]["k"].as_str()), (Some("two"), Some("two")), "{label}");
        ok(&["delete", "namespace", ns]);
    }
}

/// Every walkthrough manifest (examples/) applied twice by every kubectl: `unchanged` the second time,
/// and no warning that the server's OpenAPI v3 cannot say how to patch the kind (kubectl 1.27+ read the
/// path's PATCH request content types for it).
#[test]
fn kubectl_versions_reapply_the_walkthrough_unchanged() {
    let (server, admin_conf, _) = server_with_kubeconfig();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    manifests.sort();
    for (i, (label, kubectl)) in common::kubectls::all().into_iter().enumerate() {
        let session = Session::start(&server, &admin_conf, (i, &label, &kubectl), "walk");
        let ns = session.ns.as_str();
        for m in &manifests {
            let file = m.to_str().unwrap();
            // (A cluster-scoped object, a PersistentVolume, was made by the previous kubectl already.)
            session.ok(&["apply", "-n", ns, "-f", file]);
            let again = session.ok(&["apply", "-n", ns, "-f", file, "-v=5"]);
            // kubectl's result lines (`kind/name unchanged`), not its log lines.
            let mut results = again.lines().filter(|l| l.split(' ').count() == 2 && l.contains('/'));
            let unchanged = results.all(|l| l.ends_with(" unchanged"));
            assert!(!again.contains("does not support strategic merge patch"), "{label} {file}: {again}");
            assert!(unchanged, "{label} {file} again: {again}");
        }
        session.ok(&["delete", "namespace", ns, "--wait=false"]);
    }
}
