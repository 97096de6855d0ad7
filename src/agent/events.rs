//! kubelet's events about pods (Pulling, Pulled, Created, Started, Killing, BackOff, Unhealthy, Failed),
//! written through the API with the node's certificate, aggregated like every event (resources/event.rs).
//! Best effort: an event that cannot be written is dropped, never retried in the sync's way.

use serde_json::Value;

use crate::apiclient::ApiClient;
use crate::resources::event::{bump, EventReport};

pub async fn record(client: &ApiClient, node: &str, pod: &Value, warning: bool, reason: &str, message: &str) {
    let report =
        EventReport { object: pod, kind: "Pod", warning, reason, message, component: "kubelet", host: Some(node) };
    let path = format!("/api/v1/namespaces/{}/events", report.namespace());
    let existing = client.request("GET", &format!("{path}/{}", report.name()), None, None).await;
    let _ = match existing {
        Ok(reply) if reply.status == 200 => {
            let mut event = reply.json();
            bump(&mut event);
            let body = serde_json::to_vec(&event).expect("json");
            client.request("PUT", &format!("{path}/{}", report.name()), Some(body), None).await
        }
        _ => client.request("POST", &path, Some(serde_json::to_vec(&report.new_event()).expect("json")), None).await,
    };
}
