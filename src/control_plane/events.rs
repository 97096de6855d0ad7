//! Events written by the control plane (the scheduler's FailedScheduling, …). A repeated event (same
//! object, reason and message) bumps the count and lastTimestamp of one object instead of adding another,
//! as Kubernetes' event recorder aggregates them.

use serde_json::{json, Value};

use super::store::{Store, StoreError};
use crate::resources::meta::{self, now_rfc3339};

pub struct EventSource {
    pub component: &'static str,
}

impl EventSource {
    /// Record `reason`/`message` about `object` (kind `kind`); `warning` picks the event type.
    pub fn record(
        &self,
        store: &dyn Store,
        object: &Value,
        kind: &str,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let name = meta::name(object).unwrap_or_default();
        let uid = object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA256, format!("{uid}/{reason}/{message}").as_bytes());
        let suffix: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
        let event_name = format!("{name}.{suffix}");
        let key = format!("/events/{namespace}/{event_name}");
        let now = now_rfc3339();
        for _ in 0..3 {
            match store.get(&key)? {
                Some(stored) => {
                    let mut event: Value =
                        serde_json::from_slice(&stored.value).map_err(|e| StoreError::Backend(e.to_string()))?;
                    event["count"] = json!(event["count"].as_u64().unwrap_or(1) + 1);
                    event["lastTimestamp"] = json!(now);
                    match store.update(&key, &serde_json::to_vec(&event).expect("json"), Some(stored.revision)) {
                        Err(StoreError::Conflict { .. }) => continue,
                        other => return other.map(|_| ()),
                    }
                }
                None => {
                    let mut event = json!({
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": {"name": event_name, "namespace": namespace},
                        "involvedObject": {"kind": kind, "namespace": namespace, "name": name, "uid": uid, "apiVersion": "v1"},
                        "reason": reason,
                        "message": message,
                        "type": if warning { "Warning" } else { "Normal" },
                        "source": {"component": self.component},
                        "count": 1,
                        "firstTimestamp": now,
                        "lastTimestamp": now,
                        "reportingComponent": self.component,
                    });
                    meta::stamp_new(&mut event);
                    match store.create(&key, &serde_json::to_vec(&event).expect("json")) {
                        Err(StoreError::AlreadyExists(_)) => continue,
                        other => return other.map(|_| ()),
                    }
                }
            }
        }
        Ok(())
    }
}
