//! admission.k8s.io/v1 AdmissionReview both ways: the request a webhook gets, and what its answer says
//! (allowed, the Status it refuses with, a base64 JSONPatch; its warnings are not passed on).

use base64::Engine;
use serde_json::{json, Value};

use super::Attributes;

/// The review sent for `request` (uid: the request's identifier, echoed in the answer).
pub fn request(uid: &str, request: &Attributes, object: Option<&Value>, old: Option<&Value>) -> Value {
    let kind = request.kind;
    let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
    let gvr = json!({"group": kind.group, "version": kind.version, "resource": kind.plural});
    let options = match request.operation.as_str() {
        "CREATE" => "CreateOptions",
        "UPDATE" => "UpdateOptions",
        _ => "DeleteOptions",
    };
    let mut body = json!({
        "uid": uid,
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": request.name,
        "operation": request.operation.as_str(),
        "userInfo": {"username": request.user.name, "groups": request.user.groups},
        "object": object.cloned().unwrap_or(Value::Null),
        "oldObject": old.cloned().unwrap_or(Value::Null),
        "dryRun": request.dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": options},
    });
    if !request.subresource.is_empty() {
        body["subResource"] = json!(request.subresource);
        body["requestSubResource"] = json!(request.subresource);
    }
    if let Some(namespace) = request.namespace {
        body["namespace"] = json!(namespace);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body})
}

/// A webhook's verdict.
#[derive(Debug, Default)]
pub struct Verdict {
    pub allowed: bool,
    /// The Status it refused with (code, reason, message), if it gave one.
    pub status: Option<Value>,
    /// The JSONPatch to apply (mutating webhooks only).
    pub patch: Option<Value>,
}

/// Read an answer to the review `uid`; an answer that is not one is an error worded as Kubernetes words it.
pub fn verdict(uid: &str, body: &[u8]) -> Result<Verdict, String> {
    let review: Value = serde_json::from_slice(body).map_err(|e| format!("received invalid webhook response: {e}"))?;
    if review.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return Err("received invalid webhook response: expected kind AdmissionReview".into());
    }
    let response = review.get("response").ok_or("webhook response was absent")?;
    if response.get("uid").and_then(Value::as_str) != Some(uid) {
        return Err(format!(
            "expected response.uid={uid:?}, got {:?}",
            response.get("uid").and_then(Value::as_str).unwrap_or_default()
        ));
    }
    let patch = match response.get("patch").and_then(Value::as_str) {
        Some(encoded) => {
            if response.get("patchType").and_then(Value::as_str) != Some("JSONPatch") {
                return Err("webhook returned a patch without patchType JSONPatch".into());
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("the webhook's patch is not base64: {e}"))?;
            Some(serde_json::from_slice(&bytes).map_err(|e| format!("the webhook's patch is not JSON: {e}"))?)
        }
        None => None,
    };
    Ok(Verdict {
        allowed: response.get("allowed").and_then(Value::as_bool).unwrap_or(false),
        status: response.get("status").cloned(),
        patch,
    })
}
