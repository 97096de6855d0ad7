//! What a watch of the store delivers: each committed change with its revision, the changes since a
//! revision and then the live feed, or Gone when the retained history no longer reaches that revision
//! (Kubernetes' 410 "too old resource version": the client lists again).

use std::sync::Arc;

use tokio::sync::broadcast;

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

    /// The stored code of the kind (the history table keeps it as a byte).
    pub fn code(self) -> u8 {
        match self {
            EventKind::Added => 0,
            EventKind::Modified => 1,
            EventKind::Deleted => 2,
        }
    }

    pub fn from_code(code: u8) -> Self {
        match code {
            0 => EventKind::Added,
            1 => EventKind::Modified,
            _ => EventKind::Deleted,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub key: String,
    pub revision: u64,
    /// The object's stored bytes (for DELETED, its last value).
    pub value: Vec<u8>,
}

/// What a watch from a given revision gets: the events since, and the live feed after them. The feed may
/// repeat the last events of the replay: a reader skips the events it has seen (etcd gives all changes of
/// one transaction the same revision, so within a revision by key).
pub struct Subscription {
    pub replay: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct Gone {
    pub requested: u64,
    pub oldest: u64,
}

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Gone(#[from] Gone),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}
