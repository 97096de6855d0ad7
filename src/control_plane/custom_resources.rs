//! Every API server serves the kinds the store's CustomResourceDefinitions define (resources/custom_kinds.rs):
//! read at start, then followed through the server's watch hub, so a definition established on one
//! master is served by all. Lagging behind the feed (or a store that lost the history) means listing
//! them again.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::control_plane::store::{EventKind, Store, StoreError, WatchHub};
use crate::resources::custom_kinds;
use crate::resources::custom_resource_definition::served_versions;
use crate::resources::kinds::{served, ResourceKind};

fn definitions() -> &'static ResourceKind {
    served("apiextensions.k8s.io", "customresourcedefinitions")
}

fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or_default()
}

/// Serve what the stored definitions define now; returns the revision they were read at.
pub fn load(store: &dyn Store) -> Result<u64, StoreError> {
    let (items, revision) = store.list(&definitions().prefix(None))?;
    let mut names = Vec::new();
    for stored in items {
        let crd: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
        let name = name_of(&stored.key).to_string();
        custom_kinds::set_definition(&name, served_versions(&crd));
        names.push(name);
    }
    custom_kinds::retain_definitions(&names);
    Ok(revision)
}

/// What a definition's event changes in the served kinds.
fn apply(event: &crate::control_plane::store::Event) {
    let versions = match event.kind {
        EventKind::Deleted => Vec::new(),
        _ => served_versions(&serde_json::from_slice(&event.value).unwrap_or(Value::Null)),
    };
    custom_kinds::set_definition(name_of(&event.key), versions);
}

/// Serve the stored definitions and follow their changes for as long as the server runs.
pub async fn follow(store: Arc<dyn Store>, hub: Arc<WatchHub>) {
    let prefix = definitions().prefix(None);
    loop {
        let s = store.clone();
        let from = match tokio::task::spawn_blocking(move || load(s.as_ref())).await {
            Ok(Ok(revision)) => revision,
            Ok(Err(e)) => {
                eprintln!("kubeboot server: reading the custom resource definitions: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => return,
        };
        if let Ok(subscription) = hub.subscribe(from) {
            // The replay and the live feed may overlap: an event older than the last one applied is
            // skipped (one of the same revision is applied again, which changes nothing).
            let mut last = from;
            let mut live = subscription.live;
            for event in subscription.replay.iter().filter(|e| e.revision > from) {
                last = event.revision;
                if event.key.starts_with(&prefix) {
                    apply(event);
                }
            }
            loop {
                match live.recv().await {
                    Ok(event) if event.revision < last => {}
                    Ok(event) => {
                        last = event.revision;
                        if event.key.starts_with(&prefix) {
                            apply(&event);
                        }
                    }
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
        // Behind the feed, or its history gone: list again, then follow from there.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
