//! Watch: every write through a `WatchedStore` becomes an event (ADDED, MODIFIED, DELETED) with its
//! revision, kept in a bounded in-memory history and sent to live watchers. A watch from resourceVersion R
//! replays the history after R, then follows live events; R older than the history reaches is 410 Gone and
//! the client lists again, as with Kubernetes' watch cache. The history starts empty at each server start:
//! the durable state is the store, the history is only what lets a client resume without relisting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::{Store, StoreError, Stored};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct Event {
    pub kind: EventKind,
    pub key: String,
    pub revision: u64,
    /// The object's stored bytes (for DELETED, its last value).
    pub value: Vec<u8>,
}

struct History {
    events: VecDeque<Arc<Event>>,
    /// The bytes the events hold (keys and values).
    bytes: usize,
    /// Every event with a revision above this is in `events`.
    floor: u64,
}

pub struct WatchHub {
    live: broadcast::Sender<Arc<Event>>,
    history: Mutex<History>,
    capacity: HistoryCapacity,
}

/// How much history a hub keeps: at most `events` events holding at most `bytes` of keys and values (the
/// older ones go first; a watch from before them gets 410 and lists again).
#[derive(Debug, Clone, Copy)]
pub struct HistoryCapacity {
    pub events: usize,
    pub bytes: usize,
}

/// How far a live watcher may fall behind before it is told to list again (each slot holds an event alive
/// after the history let go of it, so this bounds memory too).
const LIVE_BUFFER: usize = 1024;

fn event_bytes(event: &Event) -> usize {
    event.key.len() + event.value.len()
}

/// What a watch from a given revision gets: the events since, and the live feed after them.
pub struct Subscription {
    pub replay: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct Gone {
    pub requested: u64,
    pub oldest: u64,
}

impl WatchHub {
    fn new(floor: u64, capacity: HistoryCapacity) -> Self {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        WatchHub { live, history: Mutex::new(History { events: VecDeque::new(), bytes: 0, floor }), capacity }
    }

    /// Into the history and out to live watchers under one lock, so a subscriber gets each event once:
    /// in its replay or on its live feed.
    fn publish(&self, event: Event) {
        let event = Arc::new(event);
        let mut history = self.history.lock().expect("watch history");
        history.bytes += event_bytes(&event);
        history.events.push_back(event.clone());
        while history.events.len() > self.capacity.events
            || (history.bytes > self.capacity.bytes && history.events.len() > 1)
        {
            if let Some(old) = history.events.pop_front() {
                history.bytes -= event_bytes(&old);
                history.floor = old.revision;
            }
        }
        let _ = self.live.send(event);
    }

    /// Events after `from` (a resourceVersion) and the live feed; Gone if the history no longer reaches it.
    pub fn subscribe(&self, from: u64) -> Result<Subscription, Gone> {
        let history = self.history.lock().expect("watch history");
        if from < history.floor {
            return Err(Gone { requested: from, oldest: history.floor });
        }
        let live = self.live.subscribe();
        let replay = history.events.iter().filter(|e| e.revision > from).cloned().collect();
        Ok(Subscription { replay, live })
    }
}

/// A store whose writes are published to its hub, in revision order.
pub struct WatchedStore {
    inner: Arc<dyn Store>,
    hub: Arc<WatchHub>,
    /// Held across a write and its publishing, so events go out in revision order. The history lock is
    /// taken only to publish: a watch starting never waits for a commit (its fsync) to finish; an event
    /// committed but not yet published reaches it live, and watchers skip what they have already seen.
    writes: Mutex<()>,
}

impl WatchedStore {
    /// `capacity`: how much history watches can resume from.
    pub fn new(inner: Arc<dyn Store>, capacity: HistoryCapacity) -> Result<Self, StoreError> {
        let floor = inner.revision()?;
        Ok(WatchedStore { inner, hub: Arc::new(WatchHub::new(floor, capacity)), writes: Mutex::new(()) })
    }

    pub fn hub(&self) -> Arc<WatchHub> {
        self.hub.clone()
    }
}

impl Store for WatchedStore {
    fn get(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        self.inner.get(key)
    }
    fn list(&self, prefix: &str) -> Result<(Vec<Stored>, u64), StoreError> {
        self.inner.list(prefix)
    }
    fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        let _write = self.writes.lock().expect("store writes");
        let revision = self.inner.create(key, value)?;
        let event = Event { kind: EventKind::Added, key: key.into(), revision, value: value.to_vec() };
        self.hub.publish(event);
        Ok(revision)
    }
    fn update(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        let _write = self.writes.lock().expect("store writes");
        let revision = self.inner.update(key, value, expected)?;
        let event = Event { kind: EventKind::Modified, key: key.into(), revision, value: value.to_vec() };
        self.hub.publish(event);
        Ok(revision)
    }
    fn delete(&self, key: &str, expected: Option<u64>) -> Result<Stored, StoreError> {
        let _write = self.writes.lock().expect("store writes");
        let old = self.inner.delete(key, expected)?;
        let event =
            Event { kind: EventKind::Deleted, key: key.into(), revision: old.revision, value: old.value.clone() };
        self.hub.publish(event);
        Ok(old)
    }
    fn revision(&self) -> Result<u64, StoreError> {
        self.inner.revision()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn replays_history_follows_live_and_says_gone() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        inner.create("/x/before", b"{}").unwrap();
        let store = WatchedStore::new(inner, HistoryCapacity { events: 3, bytes: 1 << 20 }).unwrap();
        let hub = store.hub();
        let r1 = store.create("/x/a", b"1").unwrap();
        store.update("/x/a", b"2", None).unwrap();
        let sub = hub.subscribe(r1).unwrap();
        assert_eq!(sub.replay.iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::Modified]);
        let mut live = sub.live;
        let deleted = store.delete("/x/a", None).unwrap();
        let e = live.try_recv().unwrap();
        assert_eq!((e.kind, e.revision, e.value.as_slice()), (EventKind::Deleted, deleted.revision, &b"2"[..]));
        for i in 0..3 {
            store.create(&format!("/x/{i}"), b"{}").unwrap();
        }
        assert!(hub.subscribe(r1).is_err(), "the history of 3 no longer reaches r1");
        assert!(hub.subscribe(store.revision().unwrap()).is_ok());
    }

    #[test]
    fn history_is_bounded_by_bytes_too() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let store = WatchedStore::new(inner, HistoryCapacity { events: 100, bytes: 250 }).unwrap();
        let hub = store.hub();
        let first = store.create("/x/0", &[b'a'; 100]).unwrap();
        let second = store.create("/x/1", &[b'b'; 100]).unwrap();
        assert!(hub.subscribe(first - 1).is_ok(), "two events of ~104 bytes fit in 250");
        store.create("/x/2", &[b'c'; 100]).unwrap();
        assert!(hub.subscribe(first - 1).is_err(), "the oldest went when a third did not fit");
        assert_eq!(hub.subscribe(first).unwrap().replay.len(), 2);
        assert_eq!(hub.subscribe(second).unwrap().replay.len(), 1);
    }
}
