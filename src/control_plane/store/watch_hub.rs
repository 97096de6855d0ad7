//! The API server's watch cache: it follows the store's own watch (every change, from whichever server
//! made it) on a thread of its own, keeps a bounded in-memory history of the events and sends them to live
//! watchers. A watch from resourceVersion R replays the history after R, then follows live events; R older
//! than the memory reaches is replayed from the store's history (which outlives a server restart), and R
//! older than that too is 410 Gone: the client lists again, as with Kubernetes' watch cache over etcd.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::broadcast;

use super::{Event, Gone, Store, StoreError, Subscription, WatchError};

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
    /// Where events come from, and what a watch from before the memory's history replays.
    store: Arc<dyn Store>,
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

impl WatchHub {
    /// A hub following `store` from its current revision; its feed runs until the hub or the store is
    /// dropped.
    pub fn follow(store: Arc<dyn Store>, capacity: HistoryCapacity) -> Result<Arc<Self>, StoreError> {
        let from = store.revision()?;
        let subscription = store.watch(from).map_err(|e| StoreError::Backend(format!("watching the store: {e}")))?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let history = Mutex::new(History { events: VecDeque::new(), bytes: 0, floor: from });
        let hub = Arc::new(WatchHub { live, history, capacity, store: store.clone() });
        let (weak_hub, weak_store) = (Arc::downgrade(&hub), Arc::downgrade(&store));
        std::thread::Builder::new()
            .name("watch-feed".into())
            .spawn(move || feed(weak_hub, weak_store, subscription, from))
            .map_err(|e| StoreError::Backend(format!("starting the watch feed: {e}")))?;
        Ok(hub)
    }

    /// Into the history and out to live watchers under one lock, so a subscriber gets each event once:
    /// in its replay or on its live feed.
    fn publish(&self, event: Arc<Event>) {
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

    /// The last revision the hub has published.
    pub fn published(&self) -> u64 {
        let history = self.history.lock().expect("watch history");
        history.events.back().map_or(history.floor, |e| e.revision)
    }

    /// Every event above this revision is in memory.
    pub fn oldest_in_memory(&self) -> u64 {
        self.history.lock().expect("watch history").floor
    }

    /// Events after `from` (a resourceVersion) and the live feed; Gone if neither the memory's history nor
    /// the store's reaches it.
    ///
    /// A `from` beyond the store's own revision was not given by this store (a store converted from
    /// another, whose revisions ran higher): Gone too, so that the client lists again instead of waiting,
    /// its events skipped, for the store's revisions to reach it.
    pub fn subscribe(&self, from: u64) -> Result<Subscription, Gone> {
        if from > self.published() && self.store.revision().is_ok_and(|current| from > current) {
            return Err(Gone { requested: from, oldest: self.oldest_in_memory() });
        }
        let history = self.history.lock().expect("watch history");
        let live = self.live.subscribe();
        if from >= history.floor {
            let replay = history.events.iter().filter(|e| e.revision > from).cloned().collect();
            return Ok(Subscription { replay, live });
        }
        let floor = history.floor;
        drop(history);
        // Joined the feed first: what the store commits after its replay arrives live (perhaps twice).
        match self.store.watch(from) {
            Ok(from_store) => Ok(Subscription { replay: from_store.replay, live }),
            Err(WatchError::Gone(gone)) => Err(gone),
            Err(WatchError::Store(e)) => {
                eprintln!("kubeboot server: reading the store's watch history: {e}");
                Err(Gone { requested: from, oldest: floor })
            }
        }
    }
}

/// Forward the store's events to the hub in revision order, watching the store again from the last one
/// whenever its feed was left behind. An event already forwarded (a replay and the live feed overlap) is
/// skipped: by its revision, and within a revision (etcd gives all of a transaction's changes one) by
/// its key.
fn feed(hub: Weak<WatchHub>, store: Weak<dyn Store>, mut subscription: Subscription, mut last: u64) {
    let mut keys_at_last: Vec<String> = Vec::new();
    loop {
        let mut publish = |event: Arc<Event>| -> bool {
            if event.revision < last || (event.revision == last && keys_at_last.contains(&event.key)) {
                return true;
            }
            let Some(hub) = hub.upgrade() else { return false };
            if event.revision > last {
                last = event.revision;
                keys_at_last.clear();
            }
            keys_at_last.push(event.key.clone());
            hub.publish(event);
            true
        };
        for event in std::mem::take(&mut subscription.replay) {
            if !publish(event) {
                return;
            }
        }
        loop {
            match subscription.live.blocking_recv() {
                Ok(event) => {
                    if !publish(event) {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
        let Some(store) = store.upgrade() else { return };
        // From the revision before the last: the rest of the last one's changes may be what was missed.
        subscription = loop {
            match store.watch(last.saturating_sub(1)) {
                Ok(s) => break s,
                // The store is out of reach for now (etcd has no quorum): try again.
                Err(WatchError::Store(e)) => {
                    eprintln!("kubeboot server: the watch feed cannot resume from {last} yet: {e}");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    if hub.strong_count() == 0 {
                        return;
                    }
                }
                Err(WatchError::Gone(e)) => {
                    // Never expected (the store keeps thousands of revisions): watchers would miss events.
                    eprintln!("kubeboot server: the watch feed cannot resume from {last}: {e}; stopping it");
                    return;
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::{EventKind, RedbStore};
    use std::time::{Duration, Instant};

    fn wait_published(hub: &WatchHub, revision: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while hub.published() < revision {
            assert!(Instant::now() < deadline, "the hub never reached {revision}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn replays_memory_then_the_stores_history_and_says_gone_past_both() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let before = store.create("/x/before", b"{}").unwrap();
        let hub = WatchHub::follow(store.clone(), HistoryCapacity { events: 3, bytes: 1 << 20 }).unwrap();
        let r1 = store.create("/x/a", b"1").unwrap();
        let r2 = store.update("/x/a", b"2", None).unwrap();
        wait_published(&hub, r2);
        let sub = hub.subscribe(r1).unwrap();
        assert_eq!(sub.replay.iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::Modified]);
        let mut live = sub.live;
        let deleted = store.delete("/x/a", None).unwrap();
        let e = live.blocking_recv().unwrap();
        assert_eq!((e.kind, e.revision, e.value.as_slice()), (EventKind::Deleted, deleted.revision, &b"2"[..]));
        for i in 0..3 {
            store.create(&format!("/x/{i}"), b"{}").unwrap();
        }
        wait_published(&hub, store.revision().unwrap());
        // The memory holds 3 events; the store's history has the rest, from before the hub started too.
        let from_store = hub.subscribe(before - 1).unwrap();
        let revisions: Vec<u64> = from_store.replay.iter().map(|e| e.revision).collect();
        assert_eq!(revisions, (before..=store.revision().unwrap()).collect::<Vec<_>>());
        store.compact(r1).unwrap();
        assert_eq!(hub.subscribe(r1 - 1).err(), Some(Gone { requested: r1 - 1, oldest: r1 }));
        assert!(hub.subscribe(r1).is_ok(), "compacted up to r1: a watch from r1 still resumes");
        // A revision this store never reached (another store's, before a conversion) is Gone: list again.
        let now = store.revision().unwrap();
        assert!(hub.subscribe(now).is_ok());
        assert!(hub.subscribe(now + 1000).is_err());
    }

    #[test]
    fn memory_is_bounded_by_bytes_too() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let hub = WatchHub::follow(store.clone(), HistoryCapacity { events: 100, bytes: 250 }).unwrap();
        let first = store.create("/x/0", &[b'a'; 100]).unwrap();
        store.create("/x/1", &[b'b'; 100]).unwrap();
        wait_published(&hub, first + 1);
        assert_eq!(hub.oldest_in_memory(), first - 1, "two events of ~104 bytes fit in 250");
        let third = store.create("/x/2", &[b'c'; 100]).unwrap();
        wait_published(&hub, third);
        assert_eq!(hub.oldest_in_memory(), first, "the oldest went when a third did not fit");
        assert_eq!(hub.subscribe(first).unwrap().replay.len(), 2);
    }
}
