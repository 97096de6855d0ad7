//! What admission webhooks cost a write, in process through the registry on a redb store: N ConfigMaps
//! created with no webhook, then past the test webhook (tests/tools/admission_webhook.rs, over HTTPS on
//! loopback) as one mutating and one validating webhook, then past a webhook that is down
//! (connection refused) and one that never answers, both failurePolicy Ignore with a 1 s timeout. The peer
//! in the same run is the write with no webhook. Asserts nothing.
//!
//!     cargo bench --bench admission [-- N]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::webhook::TestWebhook;
use kubeboot::control_plane::admission::configuration::{set_configuration, webhooks_of, Phase};
use kubeboot::control_plane::registry::{Registry, WriteOptions};
use kubeboot::control_plane::store::{RedbStore, Store};
use kubeboot::resources::kinds::served;
use serde_json::{json, Value};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median create of `n` ConfigMaps named `prefix-i`.
fn creates(registry: &Registry, prefix: &str, n: usize) -> Duration {
    let configmaps = served("", "configmaps");
    let samples = (0..n)
        .map(|i| {
            let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{prefix}-{i}")},
                "data": {"a": "b"}});
            let started = Instant::now();
            registry.create(configmaps, Some("default"), object, WriteOptions::by("bench")).expect("create");
            started.elapsed()
        })
        .collect();
    median(samples)
}

fn webhook(name: &str, url: &str, ca_bundle: &str, policy: &str, timeout: u64) -> Value {
    json!({"name": name, "clientConfig": {"url": url, "caBundle": ca_bundle},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
        "failurePolicy": policy, "timeoutSeconds": timeout, "sideEffects": "None", "admissionReviewVersions": ["v1"]})
}

fn configure(phase: Phase, hooks: Vec<Value>) {
    let configuration = json!({"metadata": {"name": "bench"}, "webhooks": hooks});
    set_configuration(phase, "bench", webhooks_of(phase, &configuration));
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("state.redb")).unwrap());
    let registry = Registry::new(store);
    registry.ensure_namespaces().unwrap();

    let server = TestWebhook::start(dir.path());
    let ca_bundle = &server.ca_bundle;
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", server.port);

    let none = creates(&registry, "plain", n);
    configure(Phase::Mutating, vec![webhook("label.bench", &url("/mutate"), ca_bundle, "Fail", 10)]);
    configure(Phase::Validating, vec![webhook("names.bench", &url("/validate"), ca_bundle, "Fail", 10)]);
    let both = creates(&registry, "hooked", n);
    configure(Phase::Mutating, vec![]);
    let closed = format!("https://127.0.0.1:{}/validate", common::free_port());
    configure(Phase::Validating, vec![webhook("down.bench", &closed, ca_bundle, "Ignore", 1)]);
    let down = creates(&registry, "down", n.min(50));
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("https://127.0.0.1:{}/validate", silent.local_addr().unwrap().port());
    configure(Phase::Validating, vec![webhook("silent.bench", &silent_url, ca_bundle, "Ignore", 1)]);
    let unanswered = creates(&registry, "silent", 5);
    drop(server);

    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    println!("ConfigMap creates through the registry (redb, fsync per write), median ms");
    println!("| webhooks | create median ms |");
    println!("|---|---|");
    println!("| none ({n}) | {} |", ms(none));
    println!("| one mutating + one validating, HTTPS on loopback ({n}) | {} |", ms(both));
    println!("| one validating, down (connection refused), Ignore ({}) | {} |", n.min(50), ms(down));
    println!("| one validating that never answers, Ignore, timeoutSeconds 1 (5) | {} |", ms(unanswered));
}
