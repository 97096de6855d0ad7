//! Events written by the control plane (the scheduler's Scheduled and FailedScheduling), straight to the
//! store; repeats are aggregated (resources/event.rs).

use serde_json::Value;

use super::store::{Store, StoreError};
use crate::resources::event::{bump, EventReport};

pub struct EventSource {
    pub component: &'static str,
}

impl EventSource {
    /// Record `reason`/`message` about `object` (kind `kind`); `warning` picks the event type.
    pub fn record(
        &self,
        store: &dyn Store,
        object: &Value,
        kind: &str,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let report = EventReport { object, kind, warning, reason, message, component: self.component, host: None };
        let key = format!("/events/{}/{}", report.namespace(), report.name());
        for _ in 0..3 {
            match store.get(&key)? {
                Some(stored) => {
                    let mut event: Value =
                        serde_json::from_slice(&stored.value).map_err(|e| StoreError::Backend(e.to_string()))?;
                    bump(&mut event);
                    match store.update(&key, &serde_json::to_vec(&event).expect("json"), Some(stored.revision)) {
                        Err(StoreError::Conflict { .. }) => continue,
                        other => return other.map(|_| ()),
                    }
                }
                None => match store.create(&key, &serde_json::to_vec(&report.new_event()).expect("json")) {
                    Err(StoreError::AlreadyExists(_)) => continue,
                    other => return other.map(|_| ()),
                },
            }
        }
        Ok(())
    }
}
