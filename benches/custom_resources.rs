//! What a custom object's write costs against a built-in one's, in process through the registry (the path
//! every write takes) on a redb store: N DaskClusters (Dask's real definition: 280 KB of YAML, an 85 KB schema as JSON,
//! with Kubernetes' PodSpec inlined twice; the object from Dask's own tests) created and then patched, against N Deployments
//! with the same pod spec. Also the schema's own step alone (prune, default, validate one object) against
//! what every write pays anyway (decoding and encoding the object). Asserts nothing.
//!
//!     bash .ci/setup    # Dask's operator package, for its definitions
//!     cargo bench --bench custom_resources [-- N]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kubeboot::control_plane::registry::{Part, Registry, WriteOptions};
use kubeboot::control_plane::store::{RedbStore, Store};
use kubeboot::resources::kinds::{find, served};
use kubeboot::resources::structural_schema;
use serde_json::{json, Value};

fn dask(path: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyclient/dask-kubernetes/dask_kubernetes/operator");
    let text = std::fs::read_to_string(root.join(path))
        .unwrap_or_else(|e| panic!("{path}: {e} (bash .ci/setup installs Dask's operator package)"));
    kubeboot::yaml::from_str(&text).expect("YAML")
}

/// The definition stored and Established, as the controller leaves it, and served by this process.
fn define(registry: &Registry, store: &dyn Store) -> Value {
    let crds = served("apiextensions.k8s.io", "customresourcedefinitions");
    let crd = dask("deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml");
    let mut made = registry.create(crds, None, crd, WriteOptions::default()).expect("the definition");
    let name = made["metadata"]["name"].as_str().unwrap().to_string();
    made["status"]["conditions"] = json!([{"type": "Established", "status": "True"}]);
    registry.update(crds, None, &name, made, Part::Status, WriteOptions::default()).expect("established");
    kubeboot::control_plane::api_extensions::load(store).expect("served");
    dask("controller/tests/resources/simplecluster.yaml")
}

/// A Deployment with the Dask cluster's scheduler pod spec.
fn deployment(name: &str, cluster: &Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": cluster["spec"]["scheduler"]["spec"].clone()}}})
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// (median create, median patch, total seconds) for N objects made by `object(i)`.
fn writes(
    registry: &Registry,
    kind: &'static kubeboot::resources::kinds::ResourceKind,
    n: usize,
    object: impl Fn(usize) -> Value,
) -> (Duration, Duration, f64) {
    let started = Instant::now();
    let mut creates = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        registry.create(kind, Some("default"), object(i), WriteOptions::by("bench")).expect("create");
        creates.push(t.elapsed());
    }
    let mut patches = Vec::new();
    for i in 0..n {
        let name = object(i)["metadata"]["name"].as_str().unwrap().to_string();
        let body =
            if kind.custom { json!({"spec": {"worker": {"replicas": 3}}}) } else { json!({"spec": {"replicas": 3}}) };
        let t = Instant::now();
        registry
            .patch(
                kind,
                Some("default"),
                &name,
                body.to_string().as_bytes(),
                "application/merge-patch+json",
                Part::Object,
                WriteOptions::by("bench"),
            )
            .expect("patch");
        patches.push(t.elapsed());
    }
    (median(creates), median(patches), started.elapsed().as_secs_f64())
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("state.redb")).unwrap());
    let registry = Registry::new(store.clone());
    registry.ensure_namespaces().unwrap();
    let cluster = define(&registry, store.as_ref());
    let dask_clusters = find("kubernetes.dask.org", "v1", "daskclusters").expect("served");
    let deployments = served("apps", "deployments");

    // The schema's step alone, on one object, against decoding and encoding it.
    let schema = kubeboot::resources::custom_kinds::version_of(dask_clusters).and_then(|v| v.schema.clone()).unwrap();
    let rounds = 2000;
    let t = Instant::now();
    for _ in 0..rounds {
        let mut object = cluster.clone();
        structural_schema::prune(&schema, &mut object);
        structural_schema::default(&schema, &mut object);
        assert!(structural_schema::validate(&schema, &object).is_empty());
    }
    let schema_step = t.elapsed() / rounds;
    let bytes = serde_json::to_vec(&cluster).unwrap();
    let t = Instant::now();
    for _ in 0..rounds {
        let object: Value = serde_json::from_slice(&bytes).unwrap();
        std::hint::black_box(serde_json::to_vec(&object).unwrap());
    }
    let codec = t.elapsed() / rounds;

    let named = |prefix: &str, i: usize, mut object: Value| {
        object["metadata"]["name"] = json!(format!("{prefix}-{i}"));
        object
    };
    let (c_create, c_patch, c_total) = writes(&registry, dask_clusters, n, |i| named("dask", i, cluster.clone()));
    let (d_create, d_patch, d_total) =
        writes(&registry, deployments, n, |i| deployment(&format!("deploy-{i}"), &cluster));
    println!("{n} objects of each kind, one at a time through the registry (redb store, fsync per write)");
    println!("| kind | create median ms | patch median ms | all {n} creates and patches s |");
    println!("|---|---|---|---|");
    println!(
        "| DaskCluster (custom, {} KB schema) | {} | {} | {c_total:.2} |",
        schema.to_string().len() / 1024,
        ms(c_create),
        ms(c_patch)
    );
    println!("| Deployment (built in) | {} | {} | {d_total:.2} |", ms(d_create), ms(d_patch));
    println!(
        "schema step alone (prune, default, validate one DaskCluster): {} ms; decode and encode it: {} ms",
        ms(schema_step),
        ms(codec)
    );
}
