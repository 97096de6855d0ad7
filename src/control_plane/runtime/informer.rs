//! The informer: list the watched kinds, then follow the server's watch from the listed revision, applying
//! every event to the cache and telling the controllers what changed. A watch that can no longer resume
//! (410 Gone: the history moved past it, or this reader fell behind the live feed) lists again, and the
//! controllers hear about every object once more, as after a client-go relist.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::cache::Cache;
use crate::control_plane::store::{Event, EventKind, Store, StoreError, WatchHub};
use crate::resources::meta;

pub use crate::resources::object_change::Change;

pub struct Informer {
    pub store: Arc<dyn Store>,
    pub hub: Arc<WatchHub>,
    /// Store prefixes of the watched kinds.
    pub prefixes: Vec<String>,
    pub cache: Arc<RwLock<Cache>>,
    /// The revision the cache has reached, for writers waiting to read their own writes.
    pub observed: tokio::sync::watch::Sender<u64>,
}

fn decode(value: &[u8], revision: u64) -> Option<Arc<Value>> {
    let mut object: Value = serde_json::from_slice(value).ok()?;
    meta::set_resource_version(&mut object, revision);
    Some(Arc::new(object))
}

/// Called with each change and the cache it was applied to.
pub type Notify = dyn Fn(&Change, &Cache) + Send + Sync;

/// Each prefix's objects and the revision it was listed at.
type Listed = BTreeMap<String, (Vec<(String, Arc<Value>)>, u64)>;

fn list(store: &dyn Store, prefixes: &[String]) -> Result<Listed, StoreError> {
    let mut out = BTreeMap::new();
    for prefix in prefixes {
        let (items, revision) = store.list(prefix)?;
        let objects = items.into_iter().filter_map(|s| decode(&s.value, s.revision).map(|o| (s.key, o))).collect();
        out.insert(prefix.clone(), (objects, revision));
    }
    Ok(out)
}

impl Informer {
    /// Runs until the watch feed closes (the server stops). `notify` is called with the cache after each change.
    pub async fn run(self, notify: impl Fn(&Change, &Cache) + Send + Sync + 'static) {
        let notify = Arc::new(notify);
        loop {
            match self.list_and_watch(notify.clone()).await {
                Ok(()) => return,
                Err(reason) => {
                    eprintln!("kubeboot controller-manager: listing again ({reason})");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Ok(()) when the feed is closed; Err(why) to list again.
    async fn list_and_watch(&self, notify: Arc<Notify>) -> Result<(), String> {
        let (store, prefixes) = (self.store.clone(), self.prefixes.clone());
        let listed = tokio::task::spawn_blocking(move || list(store.as_ref(), &prefixes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let floor = listed.values().map(|(_, r)| *r).min().unwrap_or(0);
        let subscription = self.hub.subscribe(floor).map_err(|e| e.to_string())?;
        let listed_at: BTreeMap<String, u64> = listed.iter().map(|(p, (_, r))| (p.clone(), *r)).collect();
        {
            let mut cache = self.cache.write().expect("cache");
            let mut gone: std::collections::BTreeSet<String> = cache.keys().into_iter().collect();
            for (key, object) in listed.into_values().flat_map(|(objects, _)| objects) {
                gone.remove(&key);
                let old = cache.apply(&key, Some(object.clone()));
                notify(&Change { key, old, new: Some(object) }, &cache);
            }
            for key in gone {
                let old = cache.apply(&key, None);
                notify(&Change { key, old, new: None }, &cache);
            }
            cache.revision = floor;
        }
        let _ = self.observed.send(floor);
        for event in subscription.replay {
            self.apply(&event, &listed_at, notify.as_ref());
        }
        let mut live = subscription.live;
        loop {
            match live.recv().await {
                Ok(event) => self.apply(&event, &listed_at, notify.as_ref()),
                Err(RecvError::Lagged(n)) => return Err(format!("fell {n} events behind the watch")),
                Err(RecvError::Closed) => return Ok(()),
            }
        }
    }

    fn apply(&self, event: &Event, listed_at: &BTreeMap<String, u64>, notify: &Notify) {
        let mut cache = self.cache.write().expect("cache");
        if event.revision <= cache.revision {
            return;
        }
        let watched = listed_at.iter().find(|(p, _)| event.key.starts_with(p.as_str()));
        if watched.is_some_and(|(_, listed)| event.revision > *listed) {
            let new = match event.kind {
                EventKind::Deleted => None,
                _ => decode(&event.value, event.revision),
            };
            let old = cache.apply(&event.key, new.clone());
            if old.is_some() || new.is_some() {
                notify(&Change { key: event.key.clone(), old, new }, &cache);
            }
        }
        cache.revision = event.revision;
        drop(cache);
        let _ = self.observed.send(event.revision);
    }
}
