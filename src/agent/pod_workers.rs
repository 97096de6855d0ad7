//! kubelet's pod workers: each pod of this node has its own task, which syncs the pod (decide from its
//! spec and its containers, then act) whenever the pod changes, and again every few seconds for what only
//! Docker shows (a container that exited, a probe that is due, a back-off that ran out). A slow image pull
//! or a long graceful stop holds only its own pod, and a pod's deletion interrupts its sync. The pods come from the node's pod watch
//! (watch_cache.rs); a worker ends when its pod is gone from it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::pod_sync::PodSync;
use super::runtime::ContainerRuntime;
use super::watch_cache::Change;
use crate::resources::meta::uid;

/// How often a worker looks at its pod's containers when nothing about the pod changed.
pub const RESYNC: Duration = Duration::from_secs(2);

/// A worker's input: the latest version of its pod (None: the pod is gone, stop).
type Latest = watch::Sender<Option<Arc<Value>>>;

pub struct PodWorkers<R: ContainerRuntime + 'static> {
    sync: Arc<PodSync<R>>,
    /// By pod uid.
    workers: Mutex<HashMap<String, Latest>>,
}

impl<R: ContainerRuntime + 'static> PodWorkers<R> {
    pub fn new(sync: Arc<PodSync<R>>) -> Self {
        PodWorkers { sync, workers: Mutex::new(HashMap::new()) }
    }

    /// Hand a change of the node's pods to the worker it concerns, starting one for a new pod.
    pub fn update(&self, change: &Change) {
        let mut workers = self.workers.lock().expect("pod workers");
        // A name reused by a new pod is a new uid: the old incarnation's worker is told it is gone.
        if let Some(old) = change.old.as_deref().and_then(uid) {
            if change.new.as_deref().and_then(uid) != Some(old) {
                if let Some(worker) = workers.remove(old) {
                    let _ = worker.send(None);
                }
            }
        }
        let Some(pod) = &change.new else { return };
        let Some(uid) = uid(pod) else { return };
        match workers.get(uid) {
            Some(worker) => {
                let _ = worker.send(Some(pod.clone()));
            }
            None => {
                let (latest, receiver) = watch::channel(Some(pod.clone()));
                workers.insert(uid.to_string(), latest);
                tokio::spawn(work(self.sync.clone(), receiver));
            }
        }
    }
}

/// One pod's worker: sync, then wait for a change of the pod or the resync period.
async fn work<R: ContainerRuntime>(sync: Arc<PodSync<R>>, mut latest: watch::Receiver<Option<Arc<Value>>>) {
    loop {
        let Some(pod) = latest.borrow_and_update().clone() else { return };
        let deleting = crate::resources::pod::is_deleting(&pod);
        // A deletion does not wait for the sync in hand (an image pull may hang for minutes): it is
        // dropped, and the next turn stops the pod, as kubelet cancels a pod worker's sync.
        let deleted = async {
            if deleting {
                return std::future::pending().await;
            }
            let _ = latest.wait_for(|p| p.as_deref().is_none_or(crate::resources::pod::is_deleting)).await;
        };
        tokio::select! {
            synced = sync.sync_one(&pod) => if let Err(e) = synced {
                let at = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
                eprintln!("kubeboot agent: pod {}/{}: {e}", at("/metadata/namespace"), at("/metadata/name"));
            },
            _ = deleted => continue,
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(RESYNC) => {}
        }
    }
}
