//! The agent's informer: one collection (a list URL with its selectors) kept current by list-then-watch
//! over the API, as client-go's reflector and store do. It lists once, then watches from the listed
//! resourceVersion, resuming from the last version it saw when a watch ends (the server's timeout, a
//! restart) and listing again only when the server answers that version is gone (410). Readers get the
//! objects from memory; an optional channel hears about each change. Nothing is re-listed on a timer.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::apiclient::ApiClient;

/// How long to wait before trying again after the server could not be reached or refused.
const RETRY: Duration = Duration::from_secs(1);

pub use crate::resources::object_change::Change;

pub struct WatchCache {
    /// What it follows, for log lines.
    path: String,
    objects: RwLock<BTreeMap<String, Arc<Value>>>,
    /// Bumped on every change; 0 until the first list is in.
    generation: watch::Sender<u64>,
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub fn key_of(object: &Value) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    match object.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

fn resource_version(object: &Value) -> Option<String> {
    object.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(String::from)
}

/// A spawned task that ends with its owner: a watch cache that is stopped (its task aborted) closes its
/// watch connection at once instead of leaving it open until the server's timeout.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a watch stopped.
enum Ended {
    /// The stream ended or broke: watch again from the last version seen.
    Resume(String),
    /// The version is gone (410): list again.
    Expired,
}

impl WatchCache {
    /// Follow `path` (a list URL, e.g. `/api/v1/pods?fieldSelector=spec.nodeName%3Dn1`) until the returned
    /// task is aborted; each change is also sent on `changes` when one is given.
    pub fn start(
        client: Arc<ApiClient>,
        path: String,
        changes: Option<mpsc::UnboundedSender<Change>>,
    ) -> (Arc<WatchCache>, tokio::task::JoinHandle<()>) {
        let cache = Arc::new(WatchCache {
            path: path.clone(),
            objects: RwLock::new(BTreeMap::new()),
            generation: watch::channel(0).0,
        });
        let task = tokio::spawn(cache.clone().follow(client, changes));
        (cache, task)
    }

    pub fn list(&self) -> Vec<Arc<Value>> {
        self.objects.read().expect("watch cache").values().cloned().collect()
    }

    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.objects.read().expect("watch cache").get(key).cloned()
    }

    /// Whether the first list is in.
    pub fn synced(&self) -> bool {
        *self.generation.borrow() > 0
    }

    /// Wait (at most `limit`) for the first list; whether it came.
    pub async fn wait_synced(&self, limit: Duration) -> bool {
        let mut generation = self.generation.subscribe();
        tokio::time::timeout(limit, generation.wait_for(|g| *g > 0)).await.is_ok_and(|r| r.is_ok())
    }

    /// A receiver whose value changes with every change of the collection.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn apply(&self, key: String, new: Option<Arc<Value>>, changes: &Option<mpsc::UnboundedSender<Change>>) {
        let old = {
            let mut objects = self.objects.write().expect("watch cache");
            match &new {
                Some(object) => objects.insert(key.clone(), object.clone()),
                None => objects.remove(&key),
            }
        };
        if old.is_none() && new.is_none() {
            return;
        }
        self.generation.send_modify(|g| *g += 1);
        if let Some(changes) = changes {
            let _ = changes.send(Change { key, old, new });
        }
    }

    /// Replace everything with a fresh list: changed and new objects, and those gone, are told.
    fn replace(&self, items: Vec<Value>, changes: &Option<mpsc::UnboundedSender<Change>>) {
        let listed: BTreeMap<String, Arc<Value>> = items.into_iter().map(|o| (key_of(&o), Arc::new(o))).collect();
        let gone: Vec<String> =
            self.objects.read().expect("watch cache").keys().filter(|k| !listed.contains_key(*k)).cloned().collect();
        for key in gone {
            self.apply(key, None, changes);
        }
        for (key, object) in listed {
            if self.get(&key).as_deref() != Some(&*object) {
                self.apply(key, Some(object), changes);
            }
        }
        // Synced, even when the list was empty.
        self.generation.send_modify(|g| *g += 1);
    }

    async fn list_once(&self, client: &ApiClient) -> Result<(Vec<Value>, String), String> {
        let reply = client.request("GET", &self.path, None, None).await.map_err(|e| e.to_string())?;
        if reply.status != 200 {
            return Err(format!("listing: {}", reply.message()));
        }
        let mut list = reply.json();
        let version = list.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let items = match list.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        Ok((items, version))
    }

    /// One watch from `version`: events applied until the stream ends.
    async fn watch_from(
        &self,
        client: &Arc<ApiClient>,
        version: String,
        changes: &Option<mpsc::UnboundedSender<Change>>,
    ) -> Result<Ended, String> {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        let path = format!("{}{separator}watch=true&resourceVersion={version}", self.path);
        let (lines_tx, mut lines) = mpsc::channel::<String>(256);
        let watcher = client.clone();
        let mut stream = AbortOnDrop(tokio::spawn(async move { watcher.watch_lines(&path, lines_tx).await }));
        let mut last = version;
        while let Some(line) = lines.recv().await {
            let Ok(mut event) = serde_json::from_str::<Value>(&line) else { continue };
            let kind = event["type"].as_str().unwrap_or("").to_string();
            let object = event.get_mut("object").map(Value::take).unwrap_or(Value::Null);
            match kind.as_str() {
                "ADDED" | "MODIFIED" => {
                    last = resource_version(&object).unwrap_or(last);
                    self.apply(key_of(&object), Some(Arc::new(object)), changes);
                }
                "DELETED" => {
                    last = resource_version(&object).unwrap_or(last);
                    self.apply(key_of(&object), None, changes);
                }
                "BOOKMARK" => last = resource_version(&object).unwrap_or(last),
                "ERROR" if object["code"] == 410 => return Ok(Ended::Expired),
                "ERROR" => return Err(object["message"].as_str().unwrap_or("watch error").to_string()),
                _ => {}
            }
        }
        match (&mut stream.0).await {
            Ok(Ok(())) => Ok(Ended::Resume(last)),
            Ok(Err(crate::apiclient::ClientError::Status { status: 410, .. })) => Ok(Ended::Expired),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn follow(self: Arc<Self>, client: Arc<ApiClient>, changes: Option<mpsc::UnboundedSender<Change>>) {
        let mut version: Option<String> = None;
        let mut failing = false;
        loop {
            let from = match version.take() {
                Some(v) => v,
                None => match self.list_once(&client).await {
                    Ok((items, listed)) => {
                        self.replace(items, &changes);
                        listed
                    }
                    Err(e) => {
                        if !failing {
                            eprintln!("kubeboot agent: {}: {e}; retrying", self.path);
                            failing = true;
                        }
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                },
            };
            match self.watch_from(&client, from.clone(), &changes).await {
                Ok(Ended::Resume(last)) => {
                    failing = false;
                    version = Some(last);
                }
                Ok(Ended::Expired) => {}
                Err(e) => {
                    if !failing {
                        eprintln!("kubeboot agent: watching {}: {e}; retrying", self.path);
                        failing = true;
                    }
                    // Resume from where it was: the server answers 410 if that is too old by now.
                    version = Some(from);
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache() -> WatchCache {
        WatchCache {
            path: "/api/v1/pods".into(),
            objects: RwLock::new(BTreeMap::new()),
            generation: watch::channel(0).0,
        }
    }

    #[test]
    fn a_relist_tells_what_changed_and_what_went() {
        let c = cache();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let pod = |name: &str, v: &str| json!({"metadata": {"name": name, "namespace": "d", "resourceVersion": v}});
        assert!(!c.synced());
        c.replace(vec![pod("a", "1"), pod("b", "2")], &Some(tx.clone()));
        assert!(c.synced());
        assert_eq!(c.list().len(), 2);
        let first: Vec<Change> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|ch| ch.old.is_none()));
        c.replace(vec![pod("a", "1"), pod("c", "3")], &Some(tx));
        let second: Vec<Change> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        let keys: Vec<(&str, bool)> = second.iter().map(|ch| (ch.key.as_str(), ch.new.is_some())).collect();
        assert_eq!(keys, [("d/b", false), ("d/c", true)], "an unchanged object is not told again");
        assert!(c.get("d/a").is_some() && c.get("d/b").is_none());
        assert_eq!(key_of(&json!({"metadata": {"name": "n1"}})), "n1");
    }
}
