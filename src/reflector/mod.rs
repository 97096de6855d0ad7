//! The one list-then-watch loop (client-go's reflector) under every informer here: the controller
//! manager's, over the API server's own watch hub, and the agent's, over HTTPS. It lists a source once,
//! hands the objects to its sink, then follows the source's watch from the listed revision, resuming from
//! the last revision it saw when a watch ends (a server's timeout, a dropped connection) and listing again
//! only when the source says that revision is gone (410). Sources and sinks differ; the loop does not.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;

/// One change a watch reports, at the revision it was made.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// Added or modified.
    Put {
        key: String,
        object: Arc<Value>,
        revision: u64,
    },
    Delete {
        key: String,
        revision: u64,
    },
    /// Nothing of ours changed up to this revision (a bookmark, a write to something not watched).
    Progress(u64),
}

impl WatchEvent {
    pub fn revision(&self) -> u64 {
        match self {
            WatchEvent::Put { revision, .. } | WatchEvent::Delete { revision, .. } => *revision,
            WatchEvent::Progress(revision) => *revision,
        }
    }
}

/// A listing: each object under its key, and the revision it was read at.
pub type Listed = (Vec<(String, Arc<Value>)>, u64);

/// Why a watch ended.
#[derive(Debug)]
pub enum WatchEnd {
    /// The stream ended: watch again from the last revision seen.
    Resume,
    /// The revision is gone (410), or this reader fell behind: list again.
    Expired,
    /// The source could not be watched: try again after a pause, from the last revision seen.
    Failed(String),
    /// The source is gone for good (the server is stopping): stop.
    Closed,
}

/// Where objects come from.
pub trait ListWatch: Send + Sync + 'static {
    fn list(&self) -> BoxFuture<'_, Result<Listed, String>>;
    /// Send every change after `from` on `events` until the watch ends.
    fn watch(&self, from: u64, events: mpsc::Sender<WatchEvent>) -> BoxFuture<'_, WatchEnd>;
}

impl<T: ListWatch> ListWatch for Arc<T> {
    fn list(&self) -> BoxFuture<'_, Result<Listed, String>> {
        self.as_ref().list()
    }
    fn watch(&self, from: u64, events: mpsc::Sender<WatchEvent>) -> BoxFuture<'_, WatchEnd> {
        self.as_ref().watch(from, events)
    }
}

/// Where they go: a cache.
pub trait Sink: Send + Sync + 'static {
    /// A fresh listing replaces everything held.
    fn replace(&self, objects: Vec<(String, Arc<Value>)>, revision: u64);
    fn apply(&self, event: WatchEvent);
}

/// Follow `source` into `sink` until the source closes. Failures are logged once per streak, with `label`.
pub async fn run(source: impl ListWatch, sink: Arc<impl Sink>, label: String, retry: Duration) {
    let mut resume_from: Option<u64> = None;
    let mut failing = false;
    loop {
        let from = match resume_from.take() {
            Some(revision) => revision,
            None => match source.list().await {
                Ok((objects, revision)) => {
                    sink.replace(objects, revision);
                    revision
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        eprintln!("{label}: listing: {e}; retrying");
                    }
                    tokio::time::sleep(retry).await;
                    continue;
                }
            },
        };
        let (last, end) = watch_once(&source, sink.as_ref(), from).await;
        match end {
            WatchEnd::Resume => {
                failing = false;
                resume_from = Some(last);
            }
            WatchEnd::Expired => {
                eprintln!("{label}: revision {last} is gone; listing again");
            }
            WatchEnd::Failed(e) => {
                if !std::mem::replace(&mut failing, true) {
                    eprintln!("{label}: watching: {e}; retrying");
                }
                // From where it was: the source answers Expired if that is too old by now.
                resume_from = Some(last);
                tokio::time::sleep(retry).await;
            }
            WatchEnd::Closed => return,
        }
    }
}

/// One watch from `from`, its events applied as they come; the last revision seen and why it ended.
async fn watch_once(source: &impl ListWatch, sink: &impl Sink, from: u64) -> (u64, WatchEnd) {
    let (events_tx, mut events) = mpsc::channel(256);
    let watching = source.watch(from, events_tx);
    tokio::pin!(watching);
    let mut last = from;
    let mut apply = |event: WatchEvent| {
        last = last.max(event.revision());
        sink.apply(event);
    };
    let end = loop {
        tokio::select! {
            biased;
            Some(event) = events.recv() => apply(event),
            end = &mut watching => break end,
        }
    };
    // What was sent before the watch ended is applied too.
    while let Ok(event) = events.try_recv() {
        apply(event);
    }
    (last, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    /// A scripted source: each watch call takes the next script (events, then how it ends).
    struct Scripted {
        lists: Mutex<Vec<Listed>>,
        watches: Mutex<Vec<(Vec<WatchEvent>, WatchEnd)>>,
        froms: Mutex<Vec<u64>>,
    }

    impl ListWatch for Scripted {
        fn list(&self) -> BoxFuture<'_, Result<Listed, String>> {
            Box::pin(async move { self.lists.lock().unwrap().pop().ok_or_else(|| "no list".to_string()) })
        }
        fn watch(&self, from: u64, events: mpsc::Sender<WatchEvent>) -> BoxFuture<'_, WatchEnd> {
            Box::pin(async move {
                self.froms.lock().unwrap().push(from);
                let next = self.watches.lock().unwrap().pop();
                let Some((script, end)) = next else { return WatchEnd::Closed };
                for event in script {
                    let _ = events.send(event).await;
                }
                end
            })
        }
    }

    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl Sink for Recorded {
        fn replace(&self, objects: Vec<(String, Arc<Value>)>, revision: u64) {
            self.0.lock().unwrap().push(format!("list {} at {revision}", objects.len()));
        }
        fn apply(&self, event: WatchEvent) {
            let line = match event {
                WatchEvent::Put { key, revision, .. } => format!("put {key} {revision}"),
                WatchEvent::Delete { key, revision } => format!("delete {key} {revision}"),
                WatchEvent::Progress(r) => format!("progress {r}"),
            };
            self.0.lock().unwrap().push(line);
        }
    }

    #[tokio::test]
    async fn resumes_from_the_last_revision_and_lists_again_only_when_it_is_gone() {
        let object = Arc::new(json!({}));
        let put = |key: &str, revision| WatchEvent::Put { key: key.into(), object: object.clone(), revision };
        // Scripts are popped from the end: the first watch is the last entry.
        let source = Scripted {
            lists: Mutex::new(vec![(vec![], 20), (vec![("a".into(), object.clone())], 5)]),
            watches: Mutex::new(vec![
                (vec![put("c", 21)], WatchEnd::Closed),
                (vec![], WatchEnd::Expired),
                (vec![WatchEvent::Progress(9)], WatchEnd::Failed("reset".into())),
                (vec![put("b", 7), WatchEvent::Delete { key: "a".into(), revision: 8 }], WatchEnd::Resume),
            ]),
            froms: Mutex::new(vec![]),
        };
        let sink = Arc::new(Recorded::default());
        let source = Arc::new(source);
        run(source.clone(), sink.clone(), "test".into(), Duration::from_millis(1)).await;
        assert_eq!(
            *sink.0.lock().unwrap(),
            ["list 1 at 5", "put b 7", "delete a 8", "progress 9", "list 0 at 20", "put c 21"]
        );
        assert_eq!(*source.froms.lock().unwrap(), [5, 8, 9, 20], "resumed from the last revision seen");
    }
}
