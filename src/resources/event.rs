//! The Event object both the control plane (scheduler) and the agent (kubelet's events) write: one object
//! per (involved object, reason, message), named `<object>.<digest>`, whose count and lastTimestamp grow
//! when it happens again — as Kubernetes' event recorder aggregates repeats.

use serde_json::{json, Value};

use super::meta::{self, now_rfc3339};

/// What happened, to which object, said by whom.
pub struct EventReport<'a> {
    pub object: &'a Value,
    pub kind: &'a str,
    pub warning: bool,
    pub reason: &'a str,
    pub message: &'a str,
    pub component: &'a str,
    /// The node that saw it (kubelet's source.host); None for the control plane.
    pub host: Option<&'a str>,
}

impl EventReport<'_> {
    pub fn namespace(&self) -> &str {
        self.object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default")
    }

    /// The aggregated event's name: the same for every repeat.
    pub fn name(&self) -> String {
        let uid = self.object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
        let digest =
            ring::digest::digest(&ring::digest::SHA256, format!("{uid}/{}/{}", self.reason, self.message).as_bytes());
        let suffix: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}.{suffix}", meta::name(self.object).unwrap_or_default())
    }

    /// A new Event object (count 1).
    pub fn new_event(&self) -> Value {
        let now = now_rfc3339();
        let namespace = self.namespace();
        let mut source = json!({"component": self.component});
        if let Some(host) = self.host {
            source["host"] = json!(host);
        }
        let mut event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": self.name(), "namespace": namespace},
            "involvedObject": {
                "kind": self.kind,
                "namespace": namespace,
                "name": meta::name(self.object).unwrap_or_default(),
                "uid": self.object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default(),
                "apiVersion": self.object.get("apiVersion").and_then(Value::as_str).unwrap_or("v1"),
            },
            "reason": self.reason,
            "message": self.message,
            "type": if self.warning { "Warning" } else { "Normal" },
            "source": source,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "reportingComponent": self.component,
        });
        meta::stamp_new(&mut event);
        event
    }
}

/// A repeat: one more in count, a new lastTimestamp.
pub fn bump(event: &mut Value) {
    event["count"] = json!(event["count"].as_u64().unwrap_or(1) + 1);
    event["lastTimestamp"] = json!(now_rfc3339());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_share_a_name_and_count_up() {
        let pod = json!({"metadata": {"name": "pod-1", "namespace": "ns", "uid": "u"}});
        let report = |reason| EventReport {
            object: &pod,
            kind: "Pod",
            warning: false,
            reason,
            message: "m",
            component: "kubelet",
            host: Some("n1"),
        };
        assert_eq!(report("Pulled").name(), report("Pulled").name());
        assert_ne!(report("Pulled").name(), report("Started").name());
        let mut event = report("Pulled").new_event();
        assert_eq!(
            (event["source"]["host"].clone(), event["involvedObject"]["namespace"].clone()),
            (json!("n1"), json!("ns"))
        );
        bump(&mut event);
        assert_eq!(event["count"], 2);
    }
}
