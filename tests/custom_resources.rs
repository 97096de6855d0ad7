//! CustomResourceDefinitions against an API server the test starts with its controller manager, driven by
//! kubectl 1.33 and Debian's 1.20 and the official Python client: tests/crds/widgets.yaml (two served
//! versions, a structural schema, status and scale subresources, printer columns) becomes Established and
//! is discovered; its objects are defaulted, validated (422 with the field), pruned (or refused with
//! strict field validation), read in both versions, shown with their columns, scaled, explained, selected
//! by label and field, watched, held by finalizers and garbage-collected with their owner; server-side
//! apply merges their map-keyed lists by key; a cluster-scoped definition works too; a clashing
//! definition is not accepted; a definition with a large generated schema (Kubernetes' own PodSpec
//! inlined, as operators' definitions embed it) is served, and so are the real definitions of Dask's
//! Kubernetes operator (its PyPI package's Helm chart, which .ci/setup fetches) with an object from the
//! package's own tests; deleting a namespace deletes the custom
//! objects in it, and deleting a definition deletes its objects, then itself. One server for all checks.

mod common;

use std::path::Path;
use std::time::Duration;

use common::kubectl::Kubectl;
use serde_json::{json, Value};

const GROUP: &str = "kubeboot-test.example.com";

fn crd_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crds").join(name).display().to_string()
}

struct Cluster {
    server: common::api::Server,
    new: Kubectl,
    old: Kubectl,
}

impl Cluster {
    fn start() -> Cluster {
        let server = common::api::start_with_controllers();
        let (conf, _) = server.admin_kubeconfig();
        let home_new = server.dir.path().join("home-1.33");
        let home_old = server.dir.path().join("home-1.20");
        std::fs::create_dir_all(&home_new).unwrap();
        std::fs::create_dir_all(&home_old).unwrap();
        let new = Kubectl::new("kubectl.1.33", &conf).with_home(&home_new);
        let old = Kubectl::new("kubectl 1.20", &conf).with_home(&home_old);
        Cluster { server, new, old }
    }

    /// Write `yaml` to a file and apply it with `kubectl` (and `extra` flags).
    fn apply(&self, kubectl: &Kubectl, name: &str, yaml: &str, extra: &[&str]) -> (bool, String) {
        let file = self.server.file(name, yaml);
        let mut args = vec!["apply", "-f", file.to_str().unwrap()];
        args.extend(extra);
        kubectl.run(&args)
    }

    fn established(&self, crd: &str) {
        self.established_in(crd, GROUP);
    }

    fn established_in(&self, crd: &str, group: &str) {
        let k = &self.new;
        common::wait_for(&format!("{crd} Established"), Duration::from_secs(30), || {
            let (ok, _) = k.run(&["get", "crd", crd]);
            ok && k.json(&["get", "crd", crd])["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
        });
        // Discovery of the new group as each kubectl sees it (they cache it under their HOME).
        for k in [&self.new, &self.old] {
            let plural = crd.split('.').next().unwrap();
            common::wait_for(&format!("{} discovers {plural}", k.label), Duration::from_secs(30), || {
                k.run(&["api-resources", "--api-group", group]).1.contains(plural)
            });
        }
    }
}

fn widget(name: &str, spec: Value) -> String {
    serde_json::to_string(&json!({
        "apiVersion": format!("{GROUP}/v1"), "kind": "Widget",
        "metadata": {"name": name, "labels": {"tier": "front"}}, "spec": spec,
    }))
    .unwrap()
}

#[test]
fn custom_resources_behave_as_built_in_ones() {
    let cluster = Cluster::start();
    definitions_are_established_and_discovered(&cluster);
    objects_are_defaulted_validated_and_pruned(&cluster);
    columns_versions_and_selectors(&cluster);
    status_and_scale_subresources(&cluster);
    explain_reads_the_schema(&cluster);
    server_side_apply_merges_by_the_schemas_keys(&cluster);
    the_python_client_watches_finalizes_and_collects(&cluster);
    a_clashing_definition_is_not_accepted(&cluster);
    a_large_generated_schema_is_served(&cluster);
    real_definitions_from_dask_are_served(&cluster);
    edit_reaches_custom_objects(&cluster);
    deleting_a_namespace_deletes_its_custom_objects(&cluster);
    deleting_a_definition_deletes_its_objects(&cluster);
}

fn definitions_are_established_and_discovered(c: &Cluster) {
    let (ok, out) = c.new.run(&["apply", "-f", &crd_file("widgets.yaml")]);
    assert!(ok, "{out}");
    c.established(&format!("widgets.{GROUP}"));
    // kubectl 1.20 checks a definition against the published schema first: defaults and enums are any
    // JSON value there, as Kubernetes publishes them.
    let (ok, out) = c.old.run(&["apply", "-f", &crd_file("widgets.yaml")]);
    assert!(ok, "{out}");
    let crd = c.new.json(&["get", "crd", &format!("widgets.{GROUP}")]);
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    assert!(crd["metadata"]["finalizers"].to_string().contains("customresourcecleanup.apiextensions.k8s.io"));
    let resources = c.new.ok(&["api-resources", "--api-group", GROUP, "-o", "wide"]);
    assert!(resources.contains("widgets") && resources.contains("wg") && resources.contains("Widget"), "{resources}");
    // The preferred version is v1 (Kubernetes' version priority), though v1beta1 is listed first.
    let group: Value = serde_json::from_str(&c.new.ok(&["get", "--raw", &format!("/apis/{GROUP}")])).unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v1", "{group}");
    let (ok, out) = c.old.run(&["apply", "-f", &crd_file("backends.yaml")]);
    assert!(ok, "{out}");
    c.established(&format!("backends.{GROUP}"));
}

fn objects_are_defaulted_validated_and_pruned(c: &Cluster) {
    let (ok, out) =
        c.apply(&c.new, "w1.json", &widget("w1", json!({"image": "nginx:1.25", "ports": [{"name": "http"}]})), &[]);
    assert!(ok, "{out}");
    let w1 = c.new.json(&["get", "widget", "w1"]);
    assert_eq!(w1["spec"]["replicas"], 1, "defaulted: {w1}");
    assert_eq!(w1["spec"]["color"], "blue");
    assert_eq!(w1["spec"]["ports"], json!([{"name": "http", "port": 80}]));
    assert_eq!(w1["metadata"]["generation"], 1);

    // Refused with the field and the bound, by kube-apiserver's words.
    let (ok, out) =
        c.apply(&c.new, "w2.json", &widget("w2", json!({"image": "nginx", "replicas": 11, "color": "pink"})), &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("The Widget \"w2\" is invalid"), "{out}");
    assert!(
        out.contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
        "{out}"
    );
    assert!(out.contains("spec.color: Unsupported value: \"pink\""), "{out}");
    // kubectl 1.20 checks the published schema itself first, then the server does.
    let (ok, out) = c.apply(&c.old, "w3.json", &widget("w3", json!({"replicas": 2})), &[]);
    assert!(
        !ok && out.contains("missing required field \"image\" in com.example.kubeboot-test.v1.Widget.spec"),
        "{out}"
    );
    let (ok, out) = c.apply(&c.old, "w3.json", &widget("w3", json!({"replicas": 2})), &["--validate=false"]);
    assert!(!ok && out.contains("spec.image: Required value"), "{out}");

    // Unknown fields: refused with kubectl 1.33's strict validation, pruned when not strict.
    let extra = widget("w4", json!({"image": "busybox", "bogus": 1, "settings": {"kept": true}}));
    let (ok, out) = c.apply(&c.new, "w4.json", &extra, &[]);
    assert!(!ok && out.contains("unknown field \"spec.bogus\""), "{out}");
    let (ok, out) = c.apply(&c.new, "w4.json", &extra, &["--validate=false"]);
    assert!(ok, "{out}");
    let w4 = c.new.json(&["get", "widget", "w4"]);
    assert!(w4["spec"].get("bogus").is_none(), "pruned: {w4}");
    assert_eq!(w4["spec"]["settings"], json!({"kept": true}), "kept where the schema preserves unknown fields");
    let (ok, out) = c.apply(&c.old, "w5.json", &widget("w5", json!({"image": "busybox", "port": "http"})), &[]);
    assert!(ok, "int-or-string takes a string: {out}");
}

fn columns_versions_and_selectors(c: &Cluster) {
    let table = c.new.ok(&["get", "wg"]);
    let header = table.lines().next().unwrap_or_default();
    for column in ["NAME", "IMAGE", "REPLICAS", "PHASE", "AGE"] {
        assert!(header.contains(column), "{table}");
    }
    assert!(!header.contains("COLOR"), "priority 1 only with -o wide: {table}");
    assert!(c.new.ok(&["get", "wg", "-o", "wide"]).lines().next().unwrap_or_default().contains("COLOR"));
    let row = table.lines().find(|l| l.starts_with("w1 ")).unwrap_or_default().to_string();
    assert!(row.contains("nginx:1.25") && row.split_whitespace().nth(2) == Some("1"), "{table}");
    assert!(c.old.ok(&["get", "widgets"]).lines().next().unwrap_or_default().contains("IMAGE"));
    // The definition puts widgets in the `all` category.
    assert!(c.new.ok(&["get", "all"]).contains(&format!("widget.{GROUP}/w1")));
    // The same object read through the other served version.
    let beta = c.old.json(&["get", &format!("widgets.v1beta1.{GROUP}"), "w1"]);
    assert_eq!(beta["apiVersion"], format!("{GROUP}/v1beta1"));
    assert_eq!(beta["spec"]["image"], "nginx:1.25");
    let names = |out: String| -> Vec<String> { out.split_whitespace().map(String::from).collect() };
    assert_eq!(names(c.new.ok(&["get", "wg", "-l", "tier=front", "-o", "name"])).len(), 3);
    assert_eq!(
        names(c.new.ok(&["get", "wg", "--field-selector", "metadata.name=w1", "-o", "name"])),
        [format!("widget.{GROUP}/w1")]
    );
    c.new.ok(&["label", "wg", "w5", "tier=back", "--overwrite"]);
    assert_eq!(names(c.old.ok(&["get", "wg", "-l", "tier=back", "-o", "name"])), [format!("widget.{GROUP}/w5")]);
    // Cluster-scoped.
    let backend = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Backend", "metadata": {"name": "db"},
        "spec": {"anything": {"goes": [1, 2]}}});
    let (ok, out) = c.apply(&c.new, "backend.json", &backend.to_string(), &[]);
    assert!(ok, "{out}");
    let db = c.old.json(&["get", "backend", "db"]);
    assert_eq!(db["spec"]["anything"]["goes"], json!([1, 2]));
    assert!(db["metadata"].get("namespace").is_none());
}

fn status_and_scale_subresources(c: &Cluster) {
    // The main resource's writes leave the status alone; the status subresource writes only it.
    let status = r#"{"status": {"phase": "Running", "replicas": 1, "selector": "tier=front"}}"#;
    c.new.ok(&["patch", "wg", "w1", "--subresource=status", "--type=merge", "-p", status]);
    c.new.ok(&[
        "patch",
        "wg",
        "w1",
        "--type=merge",
        "-p",
        r#"{"status": {"phase": "Lost"}, "spec": {"color": "red"}}"#,
    ]);
    let w1 = c.new.json(&["get", "wg", "w1"]);
    assert_eq!(w1["status"]["phase"], "Running", "{w1}");
    assert_eq!(w1["spec"]["color"], "red");
    assert_eq!(w1["metadata"]["generation"], 2, "a spec change counts");
    c.new.ok(&["patch", "wg", "w1", "--subresource=status", "--type=merge", "-p", r#"{"status": {"phase": "Ready"}}"#]);
    assert_eq!(c.new.json(&["get", "wg", "w1"])["metadata"]["generation"], 2, "a status change does not");
    assert!(c.new.ok(&["get", "wg", "w1"]).contains("Ready"), "the printer column follows the status");

    c.old.ok(&["scale", "widget/w1", "--replicas=3"]);
    assert_eq!(c.new.json(&["get", "wg", "w1"])["spec"]["replicas"], 3);
    let scale = c.new.ok(&["get", "--raw", &format!("/apis/{GROUP}/v1/namespaces/default/widgets/w1/scale")]);
    let scale: Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"], json!({"replicas": 1, "selector": "tier=front"}));
    let (ok, out) = c.new.run(&["scale", "widget/w1", "--replicas=30"]);
    assert!(!ok, "the schema's maximum holds through scale too: {out}");
}

fn explain_reads_the_schema(c: &Cluster) {
    for k in [&c.new, &c.old] {
        let out = k.ok(&["explain", "widgets.spec"]);
        assert!(out.contains("replicas") && out.contains("How many copies"), "{}: {out}", k.label);
        let out = k.ok(&["explain", "widgets.spec.image"]);
        assert!(out.contains("The image the widget runs"), "{}: {out}", k.label);
    }
}

fn server_side_apply_merges_by_the_schemas_keys(c: &Cluster) {
    let applied = |manager: &str, spec: Value| {
        let (ok, out) = c.apply(&c.new, "w6.json", &widget("w6", spec), &["--server-side", "--field-manager", manager]);
        assert!(ok, "{manager}: {out}");
    };
    applied("team-a", json!({"image": "busybox", "ports": [{"name": "a", "port": 1}]}));
    applied("team-b", json!({"image": "busybox", "ports": [{"name": "b", "port": 2}]}));
    let ports = |w: Value| -> Vec<String> {
        w["spec"]["ports"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ports(c.new.json(&["get", "wg", "w6"])), ["a", "b"], "each manager's item kept (list-type map by name)");
    // team-a stops naming its port: only that item goes.
    applied("team-a", json!({"image": "busybox"}));
    assert_eq!(ports(c.new.json(&["get", "wg", "w6"])), ["b"]);
    // Another value for a field team-b owns is a conflict.
    let (ok, out) = c.apply(
        &c.new,
        "w6.json",
        &widget("w6", json!({"image": "busybox", "ports": [{"name": "b", "port": 3}]})),
        &["--server-side", "--field-manager", "team-a"],
    );
    assert!(!ok && out.contains("conflict") && out.contains("team-b"), "{out}");
}

fn the_python_client_watches_finalizes_and_collects(c: &Cluster) {
    let (conf, _) = c.server.admin_kubeconfig();
    let home = c.server.dir.path().join("home-python");
    std::fs::create_dir_all(&home).unwrap();
    let passed = common::python_client::run_script("custom_objects.py", &conf, &home);
    assert_eq!(passed.len(), 6, "{passed:?}");
}

fn a_clashing_definition_is_not_accepted(c: &Cluster) {
    let clash = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gadgets.{GROUP}")},
        "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": "gadgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let (ok, out) = c.apply(&c.new, "gadgets.json", &clash.to_string(), &[]);
    assert!(ok, "{out}");
    let name = format!("gadgets.{GROUP}");
    common::wait_for("the clash reported", Duration::from_secs(30), || {
        c.new.json(&["get", "crd", &name])["status"]["conditions"].to_string().contains("KindConflict")
    });
    let crd = c.new.json(&["get", "crd", &name]);
    let conditions = crd["status"]["conditions"].as_array().unwrap();
    let established = conditions.iter().find(|c| c["type"] == "Established").unwrap();
    assert_eq!(established["status"], "False", "{crd}");
    let (ok, out) = c.new.run(&["get", "gadgets"]);
    assert!(!ok, "a definition whose names were not accepted is not served: {out}");
    c.new.ok(&["delete", "crd", &name]);
}

/// A schema as big as operators' definitions carry: Kubernetes' own PodSpec (from the server's OpenAPI
/// document) inlined under spec.template, int-or-string fields and map-keyed lists included.
fn inlined(definitions: &Value, schema: &Value, depth: usize) -> Value {
    assert!(depth < 40, "a reference cycle in PodSpec?");
    match schema {
        Value::Object(fields) => {
            if let Some(name) = fields.get("$ref").and_then(Value::as_str) {
                let name = name.trim_start_matches("#/definitions/");
                let mut out = inlined(definitions, &definitions[name], depth + 1);
                if let (Some(description), Some(out)) = (fields.get("description"), out.as_object_mut()) {
                    out.insert("description".into(), description.clone());
                }
                return out;
            }
            let mut out = serde_json::Map::new();
            for (key, value) in fields {
                if key.starts_with("x-kubernetes-patch")
                    || key == "x-kubernetes-group-version-kind"
                    || key == "x-kubernetes-unions"
                {
                    continue;
                }
                out.insert(key.clone(), inlined(definitions, value, depth + 1));
            }
            if out.get("x-kubernetes-int-or-string") == Some(&json!(true)) {
                out.remove("type");
                out.remove("format");
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inlined(definitions, v, depth + 1)).collect()),
        other => other.clone(),
    }
}

fn a_large_generated_schema_is_served(c: &Cluster) {
    let document: Value = serde_json::from_str(&c.new.ok(&["get", "--raw", "/openapi/v2"])).unwrap();
    let definitions = &document["definitions"];
    let pod_spec = inlined(definitions, &json!({"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}), 0);
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "template": {"type": "object", "properties": {
            "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "spec": pod_spec}}}}}});
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("runners.{GROUP}")},
        "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": "runners", "kind": "Runner"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}});
    let text = crd.to_string();
    assert!(text.len() > 200_000, "the generated definition is large: {} bytes", text.len());
    // As big definitions are installed (a client-side apply's annotation would be too long).
    let (ok, out) = c.apply(&c.new, "runners.json", &text, &["--server-side"]);
    assert!(ok, "{out}");
    c.established(&format!("runners.{GROUP}"));
    let runner = |port: Value| {
        json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Runner", "metadata": {"name": "r1"},
            "spec": {"template": {"metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{
                "name": "web", "image": "nginx", "ports": [{"containerPort": port, "name": "http"}],
                "resources": {"limits": {"cpu": "250m", "memory": 64}},
                "livenessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}}})
        .to_string()
    };
    let (ok, out) = c.apply(&c.new, "r1.json", &runner(json!("eighty")), &["--validate=false"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("spec.template.spec.containers[0].ports[0].containerPort: Invalid value: \"string\""),
        "the error names the deep field: {out}"
    );
    let (ok, out) = c.apply(&c.new, "r1.json", &runner(json!(80)), &[]);
    assert!(ok, "{out}");
    let r1 = c.old.json(&["get", "runner", "r1"]);
    assert_eq!(r1["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(r1["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], 64);
    for k in [&c.new, &c.old] {
        let out = k.ok(&["explain", "runners.spec.template.spec.containers.livenessProbe.httpGet"]);
        assert!(out.contains("port"), "{}: {out}", k.label);
    }
}

fn edit_reaches_custom_objects(c: &Cluster) {
    // kubectl edit with an editor that changes the image in place.
    let editor = "sed -i s/image:\\ nginx:1.25/image:\\ nginx:1.27/";
    let out = c.new.command(&["edit", "widget", "w1"]).env("KUBE_EDITOR", editor).output().unwrap();
    assert!(out.status.success(), "{}", common::kubectl::text(&out));
    assert_eq!(c.new.json(&["get", "wg", "w1"])["spec"]["image"], "nginx:1.27");
}

fn deleting_a_namespace_deletes_its_custom_objects(c: &Cluster) {
    c.new.ok(&["create", "namespace", "doomed"]);
    let doomed = c.new.clone().in_namespace("doomed");
    let (ok, out) = c.apply(&doomed, "d1.json", &widget("d1", json!({"image": "busybox"})), &[]);
    assert!(ok, "{out}");
    c.new.ok(&["delete", "namespace", "doomed", "--timeout=60s"]);
    let left = c.server.state.store.list(&format!("/custom/{GROUP}/widgets/doomed/")).unwrap().0;
    assert!(left.is_empty(), "the namespace's widgets are gone with it");
}

fn deleting_a_definition_deletes_its_objects(c: &Cluster) {
    let before = c.server.state.store.list(&format!("/custom/{GROUP}/widgets/")).unwrap().0;
    assert!(before.len() >= 4, "widgets to delete: {}", before.len());
    c.old.ok(&["delete", "crd", &format!("widgets.{GROUP}"), "--timeout=60s"]);
    let left = c.server.state.store.list(&format!("/custom/{GROUP}/widgets/")).unwrap().0;
    assert!(left.is_empty(), "{} widgets left", left.len());
    let (ok, out) = c.new.run(&["get", &format!("widgets.{GROUP}")]);
    assert!(!ok && out.contains("the server doesn't have a resource type"), "{out}");
    // The other definitions of the group are still served.
    c.new.ok(&["get", "backends"]);
}

/// Where .ci/setup put Dask's Kubernetes operator package (files only).
fn dask_operator() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyclient/dask-kubernetes/dask_kubernetes/operator");
    assert!(root.is_dir(), "no Dask operator package at {} (run .ci/setup)", root.display());
    root
}

fn real_definitions_from_dask_are_served(c: &Cluster) {
    let operator = dask_operator();
    let crds = operator.join("deployment/helm/dask-kubernetes-operator/crds");
    for name in ["daskclusters", "daskjobs", "daskworkergroups", "daskautoscalers"] {
        let file = crds.join(format!("{}.yaml", name.trim_end_matches('s')));
        let (ok, out) = c.new.run(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
        assert!(ok, "{name}: {out}");
        c.established_in(&format!("{name}.kubernetes.dask.org"), "kubernetes.dask.org");
    }
    let tests = operator.join("controller/tests/resources");
    for (k, file) in [(&c.new, "simplecluster.yaml"), (&c.old, "simpleworkergroup.yaml")] {
        let (ok, out) = k.run(&["create", "-f", tests.join(file).to_str().unwrap()]);
        assert!(ok, "{} {file}: {out}", k.label);
    }
    let cluster = c.new.json(&["get", "daskcluster", "simple"]);
    assert_eq!(cluster["spec"]["idleTimeout"], 0, "the definition's default: {cluster}");
    assert_eq!(cluster["spec"]["scheduler"]["service"]["ports"][0]["targetPort"], "tcp-comm");
    let table = c.old.ok(&["get", "daskclusters"]);
    assert!(table.lines().next().unwrap_or_default().contains("WORKERS"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("simple ") && l.split_whitespace().nth(1) == Some("2")), "{table}");
    c.new.ok(&["scale", "daskworkergroup/simple-additional", "--replicas=3"]);
    assert_eq!(c.new.json(&["get", "daskworkergroup", "simple-additional"])["spec"]["worker"]["replicas"], 3);
    let explained = c.new.ok(&["explain", "daskcluster.spec.scheduler.spec.containers.readinessProbe"]);
    assert!(explained.contains("httpGet"), "{explained}");
}
