//! A controller = a reconciler (plain functions over the cache) + its work queue + workers. The informer
//! tells every controller about each change; the controller maps it to the keys it concerns. A worker
//! takes a key, asks the reconciler for a plan, carries it out, retries failures with back-off, and before
//! it lets go of the key waits until the cache has seen its own writes (so the next pass never acts twice
//! on a state it already changed: what client-go's "expectations" are for).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::OffsetDateTime;

use super::actions::{execute, Plan};
use super::cache::Cache;
use super::informer::Change;
use super::local_api::LocalApi;
use super::queue::WorkQueue;

pub trait Reconciler: Send + Sync {
    fn name(&self) -> &'static str;
    /// The component its events name (kube-controller-manager's controllers share one).
    fn component(&self) -> &'static str {
        super::actions::COMPONENT
    }
    /// Workers working this controller's queue at once.
    fn workers(&self) -> usize {
        super::WORKERS
    }
    /// The keys of this controller a change concerns (its own objects, the owners of a changed dependent).
    fn keys_for(&self, change: &Change, cache: &Cache) -> Vec<String>;
    /// What to do about `key`, given everything the cache holds, at `now`.
    fn reconcile(&self, key: &str, cache: &Cache, now: OffsetDateTime) -> Plan;
}

pub struct Controller {
    pub reconciler: Arc<dyn Reconciler>,
    pub queue: WorkQueue,
}

/// How long a worker waits for the cache to catch up with its writes (the watch is in process: normally
/// microseconds; this only bounds a stall).
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

impl Controller {
    pub fn new(reconciler: Arc<dyn Reconciler>) -> Self {
        Controller { reconciler, queue: WorkQueue::default() }
    }

    pub fn notice(&self, change: &Change, cache: &Cache) {
        for key in self.reconciler.keys_for(change, cache) {
            self.queue.add(&key);
        }
    }

    /// One worker: runs until the task is aborted.
    pub async fn work(
        self: Arc<Self>,
        cache: Arc<RwLock<Cache>>,
        observed: tokio::sync::watch::Receiver<u64>,
        api: LocalApi,
    ) {
        let mut observed = observed;
        loop {
            let key = self.queue.next().await;
            let started = std::time::Instant::now();
            let plan = {
                let cache = cache.read().expect("cache");
                self.reconciler.reconcile(&key, &cache, OffsetDateTime::now_utc())
            };
            let took = started.elapsed();
            let planned = plan.actions.len();
            let mut written = 0;
            let mut failed = None;
            for action in plan.actions {
                match execute(&api, action, self.reconciler.component()).await {
                    Ok(revision) => written = written.max(revision),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            super::metrics::record(self.reconciler.name(), took, planned, failed.is_some());
            match failed {
                Some(e) => {
                    let delay = self.queue.add_rate_limited(&key);
                    // Conflicts are routine (a stale read): retried quietly.
                    if !e.is_conflict() {
                        eprintln!(
                            "kubeboot controller-manager: {} {key}: {e} (retry in {delay:?})",
                            self.reconciler.name()
                        );
                    }
                }
                None => self.queue.forget(&key),
            }
            if let Some(after) = plan.requeue_after {
                self.queue.add_after(&key, after);
            }
            if written > 0 {
                let _ = tokio::time::timeout(READ_YOUR_WRITES, observed.wait_for(|seen| *seen >= written)).await;
            }
            self.queue.done(&key);
        }
    }
}
