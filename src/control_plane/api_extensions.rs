//! What extends each API server, kept from the store: the kinds CustomResourceDefinitions define
//! (resources/custom_kinds.rs) and the admission webhooks the webhook configurations list
//! (admission/configuration.rs). Read at start, then followed through the server's watch hub, so a
//! definition or a webhook written through one master is served and called by all; falling behind the
//! feed (or a store that lost the history) means reading them all again.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::control_plane::admission::configuration::{self as webhooks, Phase};
use crate::control_plane::store::{Event, EventKind, Store, StoreError, WatchHub};
use crate::resources::custom_kinds;
use crate::resources::custom_resource_definition::served_versions;
use crate::resources::kinds::{served, ResourceKind};

fn definitions() -> &'static ResourceKind {
    served("apiextensions.k8s.io", "customresourcedefinitions")
}

fn configurations(phase: Phase) -> &'static ResourceKind {
    served("admissionregistration.k8s.io", phase.plural())
}

const PHASES: [Phase; 2] = [Phase::Mutating, Phase::Validating];

fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or_default()
}

/// Serve and call what the store holds now; returns the revision it was read at (the lowest of the reads).
pub fn load(store: &dyn Store) -> Result<u64, StoreError> {
    let (items, mut revision) = store.list(&definitions().prefix(None))?;
    let mut names = Vec::new();
    for stored in items {
        let crd: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
        let name = name_of(&stored.key).to_string();
        custom_kinds::set_definition(&name, served_versions(&crd));
        names.push(name);
    }
    custom_kinds::retain_definitions(&names);
    for phase in PHASES {
        let (items, read_at) = store.list(&configurations(phase).prefix(None))?;
        revision = revision.min(read_at);
        let mut names = Vec::new();
        for stored in items {
            let configuration: Value = serde_json::from_slice(&stored.value).unwrap_or(Value::Null);
            let name = name_of(&stored.key).to_string();
            webhooks::set_configuration(phase, &name, webhooks::webhooks_of(phase, &configuration));
            names.push(name);
        }
        webhooks::retain_configurations(phase, &names);
    }
    Ok(revision)
}

/// What one store event changes, if it is of a definition or a webhook configuration.
/// A deleted object reads as null: it defines no kind and lists no webhook.
fn apply(event: &Event) {
    let is_definition = event.key.starts_with(&definitions().prefix(None));
    let phase = PHASES.into_iter().find(|p| event.key.starts_with(&configurations(*p).prefix(None)));
    if !is_definition && phase.is_none() {
        return;
    }
    let value = match event.kind {
        EventKind::Deleted => Value::Null,
        _ => serde_json::from_slice(&event.value).unwrap_or(Value::Null),
    };
    match phase {
        Some(phase) => webhooks::set_configuration(phase, name_of(&event.key), webhooks::webhooks_of(phase, &value)),
        None => {
            custom_kinds::set_definition(name_of(&event.key), served_versions(&value));
        }
    }
}

/// Keep what is served and called current for as long as the server runs.
pub async fn follow(store: Arc<dyn Store>, hub: Arc<WatchHub>) {
    loop {
        let s = store.clone();
        let from = match tokio::task::spawn_blocking(move || load(s.as_ref())).await {
            Ok(Ok(revision)) => revision,
            Ok(Err(e)) => {
                eprintln!("kubeboot server: reading the API's extensions: {e}");
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
                apply(event);
            }
            loop {
                match live.recv().await {
                    Ok(event) if event.revision < last => {}
                    Ok(event) => {
                        last = event.revision;
                        apply(&event);
                    }
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
        // Behind the feed, or its history gone: read everything again, then follow from there.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
