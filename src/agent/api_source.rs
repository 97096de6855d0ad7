//! The agent's source for the reflector: one collection of the API (a list URL with its selectors) listed
//! and watched over HTTPS, as client-go's ListWatch does. Objects are keyed `namespace/name`.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::apiclient::{ApiClient, ClientError};
use crate::reflector::{ListWatch, Listed, WatchEnd, WatchEvent};

pub struct ApiSource {
    pub client: Arc<ApiClient>,
    /// The list URL, e.g. `/api/v1/pods?fieldSelector=spec.nodeName%3Dn1`.
    pub path: String,
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub fn key_of(object: &Value) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    match object.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

fn revision_of(object: &Value) -> Option<u64> {
    object.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|v| v.parse().ok())
}

/// A spawned task that ends with its owner: a watch that is dropped closes its connection at once.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ListWatch for ApiSource {
    fn list(&self) -> BoxFuture<'_, Result<Listed, String>> {
        Box::pin(async move {
            let reply = self.client.request("GET", &self.path, None, None).await.map_err(|e| e.to_string())?;
            if reply.status != 200 {
                return Err(reply.message());
            }
            let mut list = reply.json();
            let revision = list
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|v| v.parse().ok())
                .ok_or("the list has no resourceVersion")?;
            let items = match list.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            Ok((items.into_iter().map(|o| (key_of(&o), Arc::new(o))).collect(), revision))
        })
    }

    fn watch(&self, from: u64, events: mpsc::Sender<WatchEvent>) -> BoxFuture<'_, WatchEnd> {
        Box::pin(async move {
            let separator = if self.path.contains('?') { '&' } else { '?' };
            let path = format!("{}{separator}watch=true&resourceVersion={from}", self.path);
            let (lines_tx, mut lines) = mpsc::channel::<String>(256);
            let client = self.client.clone();
            let mut stream = AbortOnDrop(tokio::spawn(async move { client.watch_lines(&path, lines_tx).await }));
            let mut last = from;
            while let Some(line) = lines.recv().await {
                let Ok(mut event) = serde_json::from_str::<Value>(&line) else { continue };
                let object = event.get_mut("object").map(Value::take).unwrap_or(Value::Null);
                let revision = revision_of(&object).unwrap_or(last);
                last = revision;
                let change = match event["type"].as_str().unwrap_or("") {
                    "ADDED" | "MODIFIED" => {
                        WatchEvent::Put { key: key_of(&object), object: Arc::new(object), revision }
                    }
                    "DELETED" => WatchEvent::Delete { key: key_of(&object), revision },
                    "BOOKMARK" => WatchEvent::Progress(revision),
                    "ERROR" if object["code"] == 410 => return WatchEnd::Expired,
                    "ERROR" => return WatchEnd::Failed(object["message"].as_str().unwrap_or("watch error").into()),
                    _ => continue,
                };
                if events.send(change).await.is_err() {
                    return WatchEnd::Closed;
                }
            }
            match (&mut stream.0).await {
                Ok(Ok(())) => WatchEnd::Resume,
                Ok(Err(ClientError::Status { status: 410, .. })) => WatchEnd::Expired,
                Ok(Err(e)) => WatchEnd::Failed(e.to_string()),
                Err(e) => WatchEnd::Failed(e.to_string()),
            }
        })
    }
}
