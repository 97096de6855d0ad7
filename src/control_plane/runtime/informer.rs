//! The controller manager's informer: the reflector (src/reflector) follows the watched kinds from the
//! API server's hub (hub_source.rs) into the cache, telling the controllers what changed. A listing —
//! the first, or after the watch could not resume (410 Gone: the history moved past it, or this reader
//! fell behind the live feed) — tells them about every object once more, as after a client-go relist.

use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::cache::Cache;
use super::hub_source::HubSource;
use crate::reflector::{Sink, WatchEvent};

pub use crate::resources::object_change::Change;

/// Called with each change and the cache it was applied to.
pub type Notify = dyn Fn(&Change, &Cache) + Send + Sync;

pub struct Informer {
    cache: Arc<RwLock<Cache>>,
    /// The revision the cache has reached, for writers waiting to read their own writes.
    observed: tokio::sync::watch::Sender<u64>,
    notify: Box<Notify>,
}

impl Informer {
    pub fn new(
        cache: Arc<RwLock<Cache>>,
        observed: tokio::sync::watch::Sender<u64>,
        notify: impl Fn(&Change, &Cache) + Send + Sync + 'static,
    ) -> Self {
        Informer { cache, observed, notify: Box::new(notify) }
    }

    /// Follow `source` until its hub closes (the server stops).
    pub async fn run(self, source: HubSource) {
        let label = "kubeboot controller-manager".to_string();
        crate::reflector::run(source, Arc::new(self), label, std::time::Duration::from_millis(200)).await
    }

    fn set(&self, cache: &mut Cache, key: String, new: Option<Arc<Value>>) {
        let old = cache.apply(&key, new.clone());
        if old.is_some() || new.is_some() {
            (self.notify)(&Change { key, old, new }, cache);
        }
    }
}

impl Sink for Informer {
    fn replace(&self, objects: Vec<(String, Arc<Value>)>, revision: u64) {
        {
            let mut cache = self.cache.write().expect("cache");
            let mut gone: std::collections::BTreeSet<String> = cache.keys().into_iter().collect();
            for (key, object) in objects {
                gone.remove(&key);
                let old = cache.apply(&key, Some(object.clone()));
                (self.notify)(&Change { key, old, new: Some(object) }, &cache);
            }
            for key in gone {
                self.set(&mut cache, key, None);
            }
            cache.revision = revision;
        }
        let _ = self.observed.send(revision);
    }

    fn apply(&self, event: WatchEvent) {
        let revision = event.revision();
        {
            let mut cache = self.cache.write().expect("cache");
            if revision <= cache.revision {
                return;
            }
            match event {
                WatchEvent::Put { key, object, .. } => self.set(&mut cache, key, Some(object)),
                WatchEvent::Delete { key, .. } => self.set(&mut cache, key, None),
                WatchEvent::Progress(_) => {}
            }
            cache.revision = revision;
        }
        let _ = self.observed.send(revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::{HistoryCapacity, RedbStore, Store, WatchHub};
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test]
    async fn the_cache_follows_the_hub_and_its_revision_follows_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let hub = WatchHub::follow(store.clone(), HistoryCapacity { events: 100, bytes: 1 << 20 }).unwrap();
        store.create("/pods/d/before", br#"{"metadata":{"name":"before"}}"#).unwrap();
        let cache = Arc::new(RwLock::new(Cache::default()));
        let (observed_tx, mut observed) = tokio::sync::watch::channel(0u64);
        let told = Arc::new(Mutex::new(Vec::new()));
        let record = told.clone();
        let informer = Informer::new(cache.clone(), observed_tx, move |change, _| {
            record.lock().unwrap().push((change.key.clone(), change.new.is_some()));
        });
        let source = HubSource::new(store.clone(), hub, vec!["/pods/".into()]);
        let task = tokio::spawn(informer.run(source));
        let reach = |observed: &mut tokio::sync::watch::Receiver<u64>, revision: u64| {
            let mut observed = observed.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(5), observed.wait_for(|r| *r >= revision))
                    .await
                    .unwrap()
                    .unwrap();
            }
        };
        reach(&mut observed, store.revision().unwrap()).await;
        let made = store.create("/pods/d/after", br#"{"metadata":{"name":"after"}}"#).unwrap();
        reach(&mut observed, made).await;
        assert!(cache.read().unwrap().get("/pods/d/after").is_some());
        // A write to a kind not followed still moves the revision a writer waits for.
        let other = store.create("/leases/x", b"{}").unwrap();
        reach(&mut observed, other).await;
        store.delete("/pods/d/before", None).unwrap();
        let gone = store.revision().unwrap();
        reach(&mut observed, gone).await;
        assert!(cache.read().unwrap().get("/pods/d/before").is_none());
        assert_eq!(
            *told.lock().unwrap(),
            [("/pods/d/before".to_string(), true), ("/pods/d/after".into(), true), ("/pods/d/before".into(), false)]
        );
        task.abort();
    }
}
