//! Bad input never panics (issue 14): bounded, deterministic property runs (proptest) of the admission
//! path — create, update, delete and patch in every content type kubectl and clients send — for every
//! served kind, with arbitrary JSON built from the fields Kubernetes objects have (so runs reach past the
//! first checks into defaulting, allocation and validation). Every answer must be a response below 500,
//! and every object then stored must render as a Table row. KUBEBOOT_FUZZ_CASES runs more cases.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};

use super::object_path::ObjectPath;
use super::objects::{write, write_options, ObjectQuery};
use crate::control_plane::registry::{Registry, RegistryError};
use crate::control_plane::store::{RedbStore, Store};
use crate::resources::kinds::{ResourceKind, KINDS};

/// Field names of Kubernetes objects, mixed with arbitrary ones.
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
    "name",
    "namespace",
    "generateName",
    "labels",
    "annotations",
    "finalizers",
    "deletionTimestamp",
    "ownerReferences",
    "uid",
    "resourceVersion",
    "containers",
    "initContainers",
    "image",
    "ports",
    "port",
    "targetPort",
    "nodePort",
    "protocol",
    "selector",
    "matchLabels",
    "template",
    "replicas",
    "strategy",
    "rollingUpdate",
    "maxSurge",
    "type",
    "clusterIP",
    "clusterIPs",
    "sessionAffinity",
    "volumes",
    "persistentVolumeClaim",
    "claimName",
    "hostPath",
    "path",
    "local",
    "nodeAffinity",
    "claimRef",
    "capacity",
    "storage",
    "accessModes",
    "storageClassName",
    "volumeName",
    "resources",
    "requests",
    "limits",
    "cpu",
    "memory",
    "schedule",
    "jobTemplate",
    "completions",
    "parallelism",
    "backoffLimit",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "startingDeadlineSeconds",
    "tolerations",
    "tolerationSeconds",
    "nodeName",
    "data",
    "stringData",
    "holderIdentity",
    "conditions",
    "phase",
    "endpoints",
    "addresses",
    "subsets",
    "op",
    "value",
    "from",
    "provisioner",
    "volumeBindingMode",
    "reclaimPolicy",
    "$patch",
    "$retainKeys",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(FIELDS).prop_map(String::from), 1 => "[a-z/~0-9.$-]{0,6}"]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(-1), Just(0), Just(65536)].prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(1.5e300)),
        "[a-z0-9.:/_-]{0,12}".prop_map(Value::from),
        proptest::sample::select(FIELDS).prop_map(Value::from),
        prop_oneof![Just("1Gi"), Just("10.96.0.1"), Just("None"), Just("ReadWriteOnce"), Just("-5"), Just("1e999")]
            .prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A minimal object of `kind` that the server accepts, so mutations of it reach defaulting, allocation and
/// the kind's own checks.
fn valid(kind: &ResourceKind) -> Value {
    let pod_spec = json!({"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}],
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]});
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec});
    let selector = json!({"matchLabels": {"app": "web"}});
    let mut o = match kind.kind {
        "Pod" => json!({"spec": pod_spec}),
        "Deployment" | "ReplicaSet" | "DaemonSet" => json!({"spec": {"selector": selector, "template": template}}),
        "ReplicationController" => json!({"spec": {"selector": {"app": "web"}, "template": template}}),
        "Job" => json!({"spec": {"template": template}}),
        "CronJob" => json!({"spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": template}}}}),
        "Service" => json!({"spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        "PersistentVolume" => json!({"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/srv"}}}),
        "PersistentVolumeClaim" => json!({"spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}}),
        "StorageClass" => json!({"provisioner": "kubeboot.io/local-path"}),
        _ => json!({}),
    };
    o["metadata"] = json!({"name": "fuzz", "labels": {"app": "web"}});
    o
}

/// `object` with `value` put under `key` in one of its objects (the `pick`-th, counting depth first).
fn mutate(object: &mut Value, pick: usize, key: &str, value: Value) {
    fn objects(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                out.push(at.clone());
                for (k, child) in m {
                    objects(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
                }
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| objects(c, format!("{at}/{i}"), out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    objects(object, String::new(), &mut found);
    let Some(at) = found.get(pick % found.len().max(1)) else { return };
    if let Some(Value::Object(target)) = object.pointer_mut(at) {
        target.insert(key.to_string(), value);
    }
}

/// A valid object with a few random fields set anywhere in it, or sometimes anything at all.
fn body(kind: &'static ResourceKind) -> impl Strategy<Value = Value> {
    let edits = prop::collection::vec((any::<usize>(), key(), json_value()), 0..4);
    prop_oneof![
        4 => edits.prop_map(move |edits| {
            let mut o = valid(kind);
            for (pick, key, value) in edits {
                mutate(&mut o, pick, &key, value);
            }
            o
        }),
        1 => json_value(),
    ]
}

fn path(kind: &'static ResourceKind, name: Option<&str>, subresource: Option<&str>) -> ObjectPath {
    ObjectPath {
        kind,
        namespace: kind.namespaced.then(|| "default".to_string()),
        name: name.map(String::from),
        subresource: subresource.map(String::from),
    }
}

/// Below 500, and whatever is stored for the kind renders as a Table row.
fn check<T>(
    store: &dyn Store,
    kind: &ResourceKind,
    what: &str,
    answer: &Result<T, RegistryError>,
) -> Result<(), TestCaseError> {
    if let Err(e) = answer {
        prop_assert!(e.code() < 500, "{} {what}: {} {e}", kind.kind, e.code());
    }
    let (items, _) = store.list(&kind.prefix(None)).unwrap();
    for item in items {
        let object: Value = serde_json::from_slice(&item.value).unwrap();
        crate::resources::tables::cells(kind.kind, &object, time::OffsetDateTime::now_utc());
    }
    Ok(())
}

fn runner_cases() -> usize {
    std::env::var("KUBEBOOT_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48)
}

fn runner() -> TestRunner {
    let config = Config { cases: runner_cases() as u32, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::XorShift))
}

#[test]
fn admission_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(&dir.path().join("fuzz.redb")).unwrap());
    let registry = Registry::new(store.clone());
    registry.set_service_network("10.96.0.0/16".parse().unwrap());
    registry.ensure_namespaces().unwrap();
    let store = store.as_ref();
    let query = ObjectQuery { field_manager: Some("fuzz".into()), ..ObjectQuery::default() };
    let strict = ObjectQuery {
        field_validation: Some("Strict".into()),
        field_manager: Some("fuzz".into()),
        ..ObjectQuery::default()
    };
    let patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    let stored = std::cell::Cell::new(0usize);
    let counter = std::cell::Cell::new(0usize);
    for kind in KINDS {
        let strategy = (body(kind), body(kind), json_value(), 0..4usize);
        runner()
            .run(&strategy, |(mut first, mut second, patch, patch_type)| {
                // A name per case: objects of earlier cases may stay (finalizers, graceful deletion).
                counter.set(counter.get() + 1);
                let name = format!("fuzz-{}", counter.get());
                for body in [&mut first, &mut second] {
                    if let Some(n) = body.pointer_mut("/metadata/name").filter(|n| *n == "fuzz") {
                        *n = json!(name);
                    }
                }
                let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
                let write = |registry, verb, path: &ObjectPath, q: &ObjectQuery, body: &[u8], content_type| {
                    let options = write_options(verb, q, content_type, "fuzz/1").unwrap();
                    write(registry, verb, path, q, body, content_type, options)
                };
                let q = if patch_type % 2 == 0 { &query } else { &strict };
                let answer = write(&registry, "create", &path(kind, None, None), q, &bytes(&first), "");
                stored.set(stored.get() + usize::from(answer.is_ok()));
                check(store, kind, "create", &answer)?;
                let named = path(kind, Some(&name), None);
                check(store, kind, "update", &write(&registry, "update", &named, q, &bytes(&second), ""))?;
                if kind.status {
                    let status = path(kind, Some(&name), Some("status"));
                    check(store, kind, "status", &write(&registry, "update", &status, q, &bytes(&second), ""))?;
                }
                let content_type = patch_types[patch_type];
                let answer = write(&registry, "patch", &named, q, &bytes(&patch), content_type);
                check(store, kind, content_type, &answer)?;
                check(store, kind, "delete", &write(&registry, "delete", &named, &query, &bytes(&patch), ""))?;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", kind.kind));
    }
    // The corpus reaches past the first checks: most bodies are accepted and stored.
    let stored = stored.get();
    assert!(stored > KINDS.len() * runner_cases() / 3, "only {stored} bodies were stored");
}
