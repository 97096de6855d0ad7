//! Admission webhooks against an API server the test starts, with the test webhook
//! (tests/tools/admission_webhook.rs) serving HTTPS on loopback under a CA of its own, given as the
//! configurations' caBundle; driven by kubectl 1.33 and 1.20 and the Python client: a mutating webhook
//! labels ConfigMaps in namespaces its namespaceSelector picks (and only there), one called before it with
//! reinvocationPolicy IfNeeded is called again and sees the label, a validating one refuses a
//! name with Kubernetes' message and the webhook's code, for creates and deletes; a server-side dry run
//! reaches webhooks without side effects; a webhook that is down refuses writes under failurePolicy Fail
//! and lets them through under Ignore; one slower than its timeout does the same.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::kubectl::Kubectl;
use common::webhook::TestWebhook;
use serde_json::{json, Value};

fn configuration(kind: &str, name: &str, webhooks: Vec<Value>) -> Value {
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name}, "webhooks": webhooks})
}

fn rule(operations: &[&str], resources: &[&str]) -> Value {
    json!([{"operations": operations, "apiGroups": [""], "apiVersions": ["v1"], "resources": resources}])
}

struct Setup {
    server: common::api::Server,
    new: Kubectl,
    old: Kubectl,
    webhook: TestWebhook,
}

impl Setup {
    fn apply(&self, name: &str, object: &Value) {
        let file = self.server.file(name, &object.to_string());
        self.new.ok(&["apply", "-f", file.to_str().unwrap()]);
    }

    /// Wait until the server calls the webhooks just configured (every API server follows the
    /// configurations through its watch).
    fn settle(&self, probe: impl FnMut() -> bool) {
        common::wait_for("the webhook configuration in effect", Duration::from_secs(20), probe);
    }
}

#[test]
fn admission_webhooks_mutate_validate_and_fail_as_configured() {
    let server = common::api::start();
    let (conf, _) = server.admin_kubeconfig();
    let home: PathBuf = server.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let webhook = TestWebhook::start(server.dir.path());
    let new = Kubectl::new("kubectl.1.33", &conf).with_home(&home);
    let old = Kubectl::new("kubectl 1.20", &conf).with_home(&home.join("old"));
    let setup = Setup { server, new, old, webhook };

    mutating_and_validating(&setup);
    failure_policies(&setup);
    the_python_client_gets_the_refusal(&setup, &conf, &home);
}

fn mutating_and_validating(s: &Setup) {
    s.new.ok(&["create", "namespace", "hooked"]);
    s.new.ok(&["label", "namespace", "hooked", "webhooks=on"]);
    let mutating = configuration(
        "MutatingWebhookConfiguration",
        "label-configmaps",
        vec![json!({"name": "label.kubeboot.test", "clientConfig": s.webhook.client_config("/mutate"),
            "rules": rule(&["CREATE", "UPDATE"], &["configmaps"]),
            "namespaceSelector": {"matchLabels": {"webhooks": "on"}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"]})],
    );
    s.apply("mutating.json", &mutating);
    // Called before the labelling webhook (configuration names order them), it finds nothing to copy; it
    // asks to be called again when a later webhook changes the object, and then copies the label.
    let copying = configuration(
        "MutatingWebhookConfiguration",
        "a-copy-labels",
        vec![json!({"name": "copy.kubeboot.test", "clientConfig": s.webhook.client_config("/copy"),
            "rules": rule(&["CREATE"], &["configmaps"]), "reinvocationPolicy": "IfNeeded",
            "namespaceSelector": {"matchLabels": {"webhooks": "on"}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"]})],
    );
    s.apply("copying.json", &copying);
    let validating = configuration(
        "ValidatingWebhookConfiguration",
        "names",
        vec![json!({"name": "names.kubeboot.test", "clientConfig": s.webhook.client_config("/validate"),
            "rules": rule(&["CREATE", "UPDATE", "DELETE"], &["configmaps"]),
            "sideEffects": "None", "admissionReviewVersions": ["v1"]})],
    );
    s.apply("validating.json", &validating);
    let hooked = s.new.clone().in_namespace("hooked");
    let mut probe = 0;
    s.settle(|| {
        probe += 1;
        let name = format!("probe-{probe}");
        hooked.ok(&["create", "configmap", &name]);
        let labels = &hooked.json(&["get", "configmap", &name])["metadata"]["labels"];
        labels["admission.kubeboot.test/mutated"] == "true" && labels["admission.kubeboot.test/copied"] == "true"
    });

    // The mutating webhook's label, in the namespace its selector picks and nowhere else.
    hooked.ok(&["create", "configmap", "settings", "--from-literal=a=b"]);
    let settings = hooked.json(&["get", "configmap", "settings"]);
    assert_eq!(settings["metadata"]["labels"]["admission.kubeboot.test/mutated"], "true", "{settings}");
    assert_eq!(settings["metadata"]["labels"]["admission.kubeboot.test/copied"], "true", "reinvoked: {settings}");
    s.new.ok(&["create", "configmap", "elsewhere"]);
    assert!(s.new.json(&["get", "configmap", "elsewhere"])["metadata"]["labels"].is_null());
    // An update passes it too: a label the webhook puts back.
    hooked.ok(&["label", "configmap", "settings", "admission.kubeboot.test/mutated-"]);
    let settings = hooked.json(&["get", "configmap", "settings"]);
    assert_eq!(settings["metadata"]["labels"]["admission.kubeboot.test/mutated"], "true", "{settings}");

    // The validating webhook refuses a name, with Kubernetes' words and the webhook's code.
    let forbidden = s
        .server
        .file("forbidden.json", r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "forbidden-one"}}"#);
    for k in [&hooked, &s.old.clone().in_namespace("hooked")] {
        let (ok, out) = k.run(&["apply", "-f", forbidden.to_str().unwrap()]);
        assert!(!ok, "{out}");
        assert!(
            out.contains("Error from server (Forbidden)")
                && out.contains("admission webhook \"names.kubeboot.test\" denied the request: the name \"forbidden-one\" is refused by the test webhook"),
            "{}: {out}",
            k.label
        );
    }
    assert!(!hooked.run(&["get", "configmap", "forbidden-one"]).0, "nothing was stored");
    // A server-side dry run reaches webhooks without side effects.
    let dry = hooked.ok(&["create", "configmap", "dry", "--dry-run=server", "-o", "json"]);
    let dry: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["metadata"]["labels"]["admission.kubeboot.test/mutated"], "true");
    assert!(!hooked.run(&["get", "configmap", "dry"]).0);
    // Deletes are validated too (the test webhook reads the old object's name).
    let (ok, out) = s.new.run(&["delete", "validatingwebhookconfiguration", "names"]);
    assert!(ok, "{out}");
    s.settle(|| hooked.run(&["create", "configmap", "forbidden-later"]).0);
    s.apply("validating.json", &validating);
    s.settle(|| !hooked.run(&["create", "configmap", &format!("forbidden-{}", rand_suffix())]).0);
    let (ok, out) = hooked.run(&["delete", "configmap", "forbidden-later"]);
    assert!(!ok && out.contains("denied the request"), "{out}");
}

fn rand_suffix() -> String {
    kubeboot::resources::meta::random_suffix()
}

fn failure_policies(s: &Setup) {
    // A webhook nobody answers: Fail refuses, Ignore lets the write through.
    let closed = common::free_port();
    let down = |policy: &str| {
        configuration(
            "ValidatingWebhookConfiguration",
            "down",
            vec![json!({"name": "down.kubeboot.test",
                "clientConfig": {"url": format!("https://127.0.0.1:{closed}/validate"), "caBundle": s.webhook.ca_bundle},
                "rules": rule(&["CREATE"], &["secrets"]), "failurePolicy": policy, "timeoutSeconds": 2,
                "sideEffects": "None", "admissionReviewVersions": ["v1"]})],
        )
    };
    s.apply("down.json", &down("Fail"));
    s.settle(|| !s.new.run(&["create", "secret", "generic", &format!("probe-{}", rand_suffix())]).0);
    let (ok, out) = s.new.run(&["create", "secret", "generic", "refused"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("Internal error occurred: failed calling webhook \"down.kubeboot.test\"")
            && out.contains("connection refused"),
        "{out}"
    );
    s.apply("down.json", &down("Ignore"));
    s.settle(|| s.new.run(&["create", "secret", "generic", &format!("probe-{}", rand_suffix())]).0);
    s.new.ok(&["create", "secret", "generic", "let-through"]);

    // A webhook slower than its timeout (1 s; it answers after 5): the same two ways.
    let slow = |policy: &str| {
        configuration(
            "MutatingWebhookConfiguration",
            "slow",
            vec![json!({"name": "slow.kubeboot.test", "clientConfig": s.webhook.client_config("/slow"),
                "rules": rule(&["CREATE"], &["serviceaccounts"]), "failurePolicy": policy, "timeoutSeconds": 1,
                "sideEffects": "None", "admissionReviewVersions": ["v1"]})],
        )
    };
    s.apply("slow.json", &slow("Fail"));
    s.settle(|| !s.new.run(&["create", "serviceaccount", &format!("probe-{}", rand_suffix())]).0);
    let (ok, out) = s.new.run(&["create", "serviceaccount", "late"]);
    assert!(!ok && out.contains("failed calling webhook \"slow.kubeboot.test\"") && out.contains("deadline"), "{out}");
    s.apply("slow.json", &slow("Ignore"));
    s.settle(|| s.new.run(&["create", "serviceaccount", &format!("probe-{}", rand_suffix())]).0);
    let started = Instant::now();
    s.new.ok(&["create", "serviceaccount", "on-time"]);
    eprintln!("a create past a 1 s webhook that does not answer in time (Ignore): {:?}", started.elapsed());
}

fn the_python_client_gets_the_refusal(s: &Setup, conf: &std::path::Path, home: &std::path::Path) {
    let script = "from kubernetes import client, config\n\
        api = client.CoreV1Api(config.new_client_from_config(config_file=__import__('sys').argv[1]))\n\
        try:\n    api.create_namespaced_config_map('hooked', {'metadata': {'name': 'forbidden-py'}})\n    print('created')\n\
        except client.exceptions.ApiException as e:\n    print(e.status, e.reason)\n";
    let file = s.server.file("refusal.py", script);
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyclient/bin/python");
    assert!(python.is_file(), "no Python client venv at {} (run .ci/setup)", python.display());
    let out = Command::new(python).arg(file).arg(conf).env("HOME", home).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "403 Forbidden", "{text}{}", String::from_utf8_lossy(&out.stderr));
}
