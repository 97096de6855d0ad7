//! The controller manager's source for the reflector: the watched kinds listed from the store, and the
//! API server's own watch hub followed from there, in process. Every write is reported (a write to a kind
//! not watched as progress), so the cache's revision follows the store's and a controller waiting to read
//! its own write sees it arrive.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::control_plane::store::{Event, EventKind, Store, WatchHub};
use crate::reflector::{ListWatch, Listed, WatchEnd, WatchEvent};
use crate::resources::meta;

pub struct HubSource {
    pub store: Arc<dyn Store>,
    pub hub: Arc<WatchHub>,
    /// Store prefixes of the watched kinds.
    pub prefixes: Vec<String>,
    /// The revision each prefix was last listed at: its events up to there are in the listing already.
    listed_at: Mutex<BTreeMap<String, u64>>,
}

impl HubSource {
    pub fn new(store: Arc<dyn Store>, hub: Arc<WatchHub>, prefixes: Vec<String>) -> Self {
        HubSource { store, hub, prefixes, listed_at: Mutex::default() }
    }

    /// The event as the reflector hears it.
    fn translate(&self, event: &Event) -> WatchEvent {
        let listed_at = self.listed_at.lock().expect("listed revisions");
        let watched = listed_at.iter().find(|(p, _)| event.key.starts_with(p.as_str()));
        match watched {
            Some((_, listed)) if event.revision > *listed => match event.kind {
                EventKind::Deleted => WatchEvent::Delete { key: event.key.clone(), revision: event.revision },
                _ => match decode(&event.value, event.revision) {
                    Some(object) => WatchEvent::Put { key: event.key.clone(), object, revision: event.revision },
                    None => WatchEvent::Progress(event.revision),
                },
            },
            _ => WatchEvent::Progress(event.revision),
        }
    }
}

/// A stored object as the controllers' cache keeps it: without its managedFields, which no controller
/// reads (kube-controller-manager's informers drop them too; at 1000 nodes they would double the cache).
fn decode(value: &[u8], revision: u64) -> Option<Arc<Value>> {
    let mut object: Value = serde_json::from_slice(value).ok()?;
    meta::set_resource_version(&mut object, revision);
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    Some(Arc::new(object))
}

impl ListWatch for HubSource {
    /// Each prefix listed; the listing's revision is the lowest of theirs, so the watch misses nothing.
    fn list(&self) -> BoxFuture<'_, Result<Listed, String>> {
        Box::pin(async move {
            let (store, prefixes) = (self.store.clone(), self.prefixes.clone());
            let listed = tokio::task::spawn_blocking(move || {
                let mut objects = Vec::new();
                let mut listed_at = BTreeMap::new();
                for prefix in prefixes {
                    let (items, revision) = store.list(&prefix).map_err(|e| e.to_string())?;
                    objects.extend(items.into_iter().filter_map(|s| decode(&s.value, s.revision).map(|o| (s.key, o))));
                    listed_at.insert(prefix, revision);
                }
                Ok::<_, String>((objects, listed_at))
            })
            .await
            .map_err(|e| e.to_string())??;
            let (objects, listed_at) = listed;
            let floor = listed_at.values().copied().min().unwrap_or(0);
            *self.listed_at.lock().expect("listed revisions") = listed_at;
            Ok((objects, floor))
        })
    }

    fn watch(&self, from: u64, events: mpsc::Sender<WatchEvent>) -> BoxFuture<'_, WatchEnd> {
        Box::pin(async move {
            let Ok(subscription) = self.hub.subscribe(from) else { return WatchEnd::Expired };
            // The replay and the live feed may overlap: each revision is reported once.
            let mut last = from;
            for event in subscription.replay {
                if event.revision > last {
                    last = event.revision;
                    if events.send(self.translate(&event)).await.is_err() {
                        return WatchEnd::Closed;
                    }
                }
            }
            let mut live = subscription.live;
            loop {
                match live.recv().await {
                    Ok(event) if event.revision <= last => {}
                    Ok(event) => {
                        last = event.revision;
                        if events.send(self.translate(&event)).await.is_err() {
                            return WatchEnd::Closed;
                        }
                    }
                    // Behind the live feed: what was missed is only in a new listing.
                    Err(RecvError::Lagged(_)) => return WatchEnd::Expired,
                    Err(RecvError::Closed) => return WatchEnd::Closed,
                }
            }
        })
    }
}
