//! The agent's informer: one collection (a list URL with its selectors) kept current by the reflector
//! (src/reflector) from api_source.rs: listed once, then watched from the listed resourceVersion, resumed
//! from the last version seen when a watch ends and listed again only when that version is gone (410).
//! Readers get the objects from memory; an optional channel hears about each change. Nothing is re-listed
//! on a timer.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::apiclient::ApiClient;
use crate::reflector::WatchEvent;

/// How long to wait before trying again after the server could not be reached or refused.
const RETRY: Duration = Duration::from_secs(1);

pub use crate::resources::object_change::Change;

pub struct WatchCache {
    objects: RwLock<BTreeMap<String, Arc<Value>>>,
    /// Bumped on every change; 0 until the first list is in.
    generation: watch::Sender<u64>,
}

impl Default for WatchCache {
    fn default() -> Self {
        WatchCache { objects: RwLock::new(BTreeMap::new()), generation: watch::channel(0).0 }
    }
}

pub use super::api_source::key_of;

impl WatchCache {
    /// Follow `path` (a list URL, e.g. `/api/v1/pods?fieldSelector=spec.nodeName%3Dn1`) until the returned
    /// task is aborted; each change is also sent on `changes` when one is given.
    pub fn start(
        client: Arc<ApiClient>,
        path: String,
        changes: Option<mpsc::UnboundedSender<Change>>,
    ) -> (Arc<WatchCache>, tokio::task::JoinHandle<()>) {
        let cache = Arc::new(WatchCache::default());
        let sink = Arc::new(Sink { cache: cache.clone(), changes });
        let label = format!("kubeboot agent: {path}");
        let source = super::api_source::ApiSource { client, path };
        let task = tokio::spawn(crate::reflector::run(source, sink, label, RETRY));
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

    /// Replace everything with a fresh list, in one step: a reader never sees half of it (the first list
    /// half in would look like nodes or endpoints gone). Changed and new objects, and those gone, are told.
    fn replace(&self, items: Vec<(String, Arc<Value>)>, changes: &Option<mpsc::UnboundedSender<Change>>) {
        let listed: BTreeMap<String, Arc<Value>> = items.into_iter().collect();
        let told: Vec<Change> = {
            let mut objects = self.objects.write().expect("watch cache");
            let gone = objects.iter().filter(|(k, _)| !listed.contains_key(*k)).map(|(k, o)| Change {
                key: k.clone(),
                old: Some(o.clone()),
                new: None,
            });
            let changed = listed.iter().filter(|(k, o)| objects.get(*k) != Some(*o)).map(|(k, o)| Change {
                key: k.clone(),
                old: objects.get(k).cloned(),
                new: Some(o.clone()),
            });
            let told = gone.chain(changed).collect();
            *objects = listed;
            told
        };
        // Synced, even when the list was empty.
        self.generation.send_modify(|g| *g += 1);
        if let Some(changes) = changes {
            for change in told {
                let _ = changes.send(change);
            }
        }
    }
}

/// The reflector's sink: the cache, and the channel its changes are told on.
struct Sink {
    cache: Arc<WatchCache>,
    changes: Option<mpsc::UnboundedSender<Change>>,
}

impl crate::reflector::Sink for Sink {
    fn replace(&self, objects: Vec<(String, Arc<Value>)>, _revision: u64) {
        self.cache.replace(objects, &self.changes);
    }

    fn apply(&self, event: WatchEvent) {
        match event {
            WatchEvent::Put { key, object, .. } => self.cache.apply(key, Some(object), &self.changes),
            WatchEvent::Delete { key, .. } => self.cache.apply(key, None, &self.changes),
            WatchEvent::Progress(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache() -> WatchCache {
        WatchCache::default()
    }

    #[test]
    fn a_relist_tells_what_changed_and_what_went() {
        let c = cache();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let pod = |name: &str, v: &str| {
            let object = json!({"metadata": {"name": name, "namespace": "d", "resourceVersion": v}});
            (key_of(&object), Arc::new(object))
        };
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
