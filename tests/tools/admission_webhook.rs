//! A small admission webhook for the tests (tests/admission_webhooks.rs in process, extensions_e2e as a pod
//! on the lab): AdmissionReview v1 over HTTPS.
//!   POST /mutate    allows, with a JSONPatch adding the label `admission.kubeboot.test/mutated: "true"`
//!   POST /copy      allows; when the object has the `mutated` label, adds `admission.kubeboot.test/copied`
//!   POST /validate  refuses objects whose name starts with `forbidden-` (403), allows the rest
//!   POST /slow      answers after 5 s (a webhook slower than its timeout)
//!   GET  /healthz   ok
//!
//!     test-admission-webhook LISTEN_ADDR CERT_PEM_FILE KEY_PEM_FILE
//!
//! A test fixture, not part of kubeboot: built as a binary of this package only so that the integration
//! tests can find it (CARGO_BIN_EXE_test-admission-webhook) and the lab can run it in an image.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

fn answer(review: &Value, allowed: bool, status: Option<Value>, patch: Option<Value>) -> Json<Value> {
    let mut response =
        json!({"uid": review.pointer("/request/uid").cloned().unwrap_or(Value::Null), "allowed": allowed});
    if let Some(status) = status {
        response["status"] = status;
    }
    if let Some(patch) = patch {
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(patch.to_string()));
    }
    Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}))
}

async fn mutate(Json(review): Json<Value>) -> Json<Value> {
    let has_labels = review.pointer("/request/object/metadata/labels").is_some_and(Value::is_object);
    let mut patch = Vec::new();
    if !has_labels {
        patch.push(json!({"op": "add", "path": "/metadata/labels", "value": {}}));
    }
    patch.push(json!({"op": "add", "path": "/metadata/labels/admission.kubeboot.test~1mutated", "value": "true"}));
    answer(&review, true, None, Some(Value::Array(patch)))
}

async fn copy(Json(review): Json<Value>) -> Json<Value> {
    let mutated = review.pointer("/request/object/metadata/labels/admission.kubeboot.test~1mutated").is_some();
    let patch = mutated
        .then(|| json!([{"op": "add", "path": "/metadata/labels/admission.kubeboot.test~1copied", "value": "true"}]));
    answer(&review, true, None, patch)
}

async fn validate(Json(review): Json<Value>) -> Json<Value> {
    let object = review.pointer("/request/object").filter(|o| !o.is_null()).or(review.pointer("/request/oldObject"));
    let name = object.and_then(|o| o.pointer("/metadata/name")).and_then(Value::as_str).unwrap_or_default();
    if name.starts_with("forbidden-") {
        let status = json!({"code": 403, "message": format!("the name {name:?} is refused by the test webhook")});
        return answer(&review, false, Some(status), None);
    }
    answer(&review, true, None, None)
}

async fn slow(Json(review): Json<Value>) -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    answer(&review, true, None, None)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, cert, key] = &args[..] else {
        eprintln!("usage: test-admission-webhook LISTEN_ADDR CERT_PEM_FILE KEY_PEM_FILE");
        std::process::exit(2);
    };
    let (cert, key) =
        (std::fs::read_to_string(cert).expect("the certificate"), std::fs::read_to_string(key).expect("the key"));
    let tls = kubeboot::https::server_config(&cert, &cert, &key, kubeboot::https::ClientCertificates::Optional)
        .expect("a TLS configuration");
    let app = Router::new()
        .route("/mutate", post(mutate))
        .route("/copy", post(copy))
        .route("/validate", post(validate))
        .route("/slow", post(slow))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(listen).await.expect("the listening address");
    eprintln!("test-admission-webhook: serving on {listen}");
    kubeboot::https::serve(listener, Arc::clone(&tls), app, std::future::pending()).await;
}
