//! Where API objects live: keys like `/nodes/k8s-node1` or `/pods/default/web-0` map to serialized objects.
//! Every write bumps one cluster-wide revision counter, which is the objects' resourceVersion, and writes can
//! be made conditional on the revision the writer read (optimistic concurrency, HTTP 409 on conflict).
//! The store is also where watches come from: its changes since a revision, then as they commit (the
//! contract etcd and kine give), which the API server's watch hub follows (watch_hub.rs).

mod etcd_store;
mod events;
mod redb_store;
pub mod snapshot;
mod txn;
mod watch_hub;

use std::sync::Arc;

pub use etcd_store::{
    connect_options as etcd_connect_options, EtcdConfig, EtcdStore, EtcdTls, COMPACT_EVERY as ETCD_COMPACT_EVERY,
    DEFAULT_PREFIX as DEFAULT_ETCD_PREFIX,
};
pub use events::{Event, EventKind, Gone, Subscription, WatchError};
pub use redb_store::{RedbStore, HISTORY_KEPT};
pub use txn::{Compare, Op, Txn};
pub use watch_hub::{HistoryCapacity, WatchHub};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision of the write that produced this value (its resourceVersion).
    pub revision: u64,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("{key} was changed (revision {actual}, expected {expected})")]
    Conflict { key: String, expected: u64, actual: u64 },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The disk is full: the write was not made (nothing acknowledged is lost); reads still work.
    #[error("store: no space left on the device: {0}")]
    NoSpace(String),
    #[error("store: {0}")]
    Backend(String),
}

/// The one event of a single-key write.
fn only(events: Vec<Arc<Event>>) -> Arc<Event> {
    events.into_iter().next().expect("a single-key write that succeeded made its change")
}

pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Stored>, StoreError>;
    /// Every object under `prefix`, in key order, and the store's revision at that moment.
    fn list(&self, prefix: &str) -> Result<(Vec<Stored>, u64), StoreError>;
    /// Make every op of `txn` in one atomic write if all its compares hold, else nothing: the first
    /// compare that fails is the error. The answer is an event per change made, in the ops' order (a
    /// deletion's carries the last value). Each change has its own revision here; etcd gives all of a
    /// transaction's changes one.
    fn txn(&self, txn: Txn) -> Result<Vec<Arc<Event>>, StoreError>;
    /// Fails with AlreadyExists if the key is taken.
    fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        Ok(only(self.txn(Txn::create(key, value.to_vec()))?).revision)
    }
    /// Replace; with `expected`, only if the stored revision is that one.
    fn update(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        Ok(only(self.txn(Txn::update(key, value.to_vec(), expected))?).revision)
    }
    /// The last value, with the revision of the deletion.
    fn delete(&self, key: &str, expected: Option<u64>) -> Result<Stored, StoreError> {
        let event = only(self.txn(Txn::delete(key, expected))?);
        Ok(Stored { key: event.key.clone(), value: event.value.clone(), revision: event.revision })
    }
    fn revision(&self) -> Result<u64, StoreError>;
    /// The changes after revision `from`, oldest first, then a feed of those committed after them, in
    /// revision order; Gone when the store's retained history no longer reaches `from`.
    fn watch(&self, from: u64) -> Result<Subscription, WatchError>;
    /// Forget the history up to and including `revision`: a watch from before it is Gone.
    fn compact(&self, revision: u64) -> Result<(), StoreError>;
}
