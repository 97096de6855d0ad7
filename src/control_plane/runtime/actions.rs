//! What a reconciler decides, as data: the writes to make, in order, and when to look again. The runtime
//! carries them out through the API (local_api.rs); reconcilers stay plain functions that tests call with
//! a cache and read the plan of.

use std::time::Duration;

use serde_json::Value;

use super::local_api::{delete_options, LocalApi};
use crate::control_plane::registry::{Part, RegistryError};
use crate::resources::event::{bump, EventReport};
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

/// An Event about an object, as kube-controller-manager's recorder writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventNote {
    /// The object it is about (its metadata and apiVersion are read).
    pub about: Value,
    pub kind: &'static str,
    pub warning: bool,
    pub reason: String,
    /// `{name}` is replaced with the name of the object a Create made (generateName).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create {
        kind: &'static ResourceKind,
        object: Value,
        event: Option<EventNote>,
    },
    /// PUT of the whole object; its resourceVersion is the precondition.
    Update {
        kind: &'static ResourceKind,
        object: Value,
    },
    UpdateStatus {
        kind: &'static ResourceKind,
        object: Value,
    },
    MergePatch {
        kind: &'static ResourceKind,
        namespace: Option<String>,
        name: String,
        patch: Value,
    },
    Delete {
        kind: &'static ResourceKind,
        namespace: Option<String>,
        name: String,
        /// Delete only this incarnation of the name.
        uid: Option<String>,
        propagation: Option<&'static str>,
        event: Option<EventNote>,
    },
    Event(EventNote),
    /// POST pods/NAME/binding: place an unbound pod on `node` (the scheduler's one write).
    Bind {
        namespace: String,
        name: String,
        node: String,
        event: Option<EventNote>,
    },
}

impl Action {
    /// Delete this incarnation (uid) of `object`, of kind `kind`.
    pub fn delete(
        kind: &'static ResourceKind,
        object: &Value,
        propagation: Option<&'static str>,
        event: Option<EventNote>,
    ) -> Action {
        Action::Delete {
            kind,
            namespace: object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from),
            name: meta::name(object).unwrap_or_default().to_string(),
            uid: object.pointer("/metadata/uid").and_then(Value::as_str).map(String::from),
            propagation,
            event,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Look at the key again after this long even if nothing changes (deadlines, minReadySeconds).
    pub requeue_after: Option<Duration>,
}

impl Plan {
    pub fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// Write `status` as `object`'s status if it differs from the stored one.
    pub fn update_status(&mut self, kind: &'static ResourceKind, object: &Value, status: Value) {
        if object.get("status") != Some(&status) {
            let mut updated = object.clone();
            updated["status"] = status;
            self.push(Action::UpdateStatus { kind, object: updated });
        }
    }

    /// The earlier of the current and `after`.
    pub fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }
}

pub const COMPONENT: &str = "kube-controller-manager";

/// Carry out one action; its events name `component`. Returns the store revision it wrote (0 when it
/// wrote nothing).
pub async fn execute(api: &LocalApi, action: Action, component: &'static str) -> Result<u64, RegistryError> {
    let written = |v: &Value| meta::resource_version(v).unwrap_or(0);
    match action {
        Action::Create { kind, object, event } => {
            let created = api.create(kind, &object).await?;
            let mut revision = written(&created);
            if let Some(mut note) = event {
                note.message = note.message.replace("{name}", meta::name(&created).unwrap_or_default());
                revision = revision.max(record(api, &note, component).await?);
            }
            Ok(revision)
        }
        Action::Update { kind, object } => api.update(kind, &object, Part::Object).await.map(|v| written(&v)),
        Action::UpdateStatus { kind, object } => api.update(kind, &object, Part::Status).await.map(|v| written(&v)),
        Action::MergePatch { kind, namespace, name, patch } => {
            api.merge_patch(kind, namespace.as_deref(), &name, &patch).await.map(|v| written(&v))
        }
        Action::Delete { kind, namespace, name, uid, propagation, event } => {
            let options = delete_options(uid, propagation);
            let revision = match api.delete(kind, namespace.as_deref(), &name, options).await {
                Ok(v) => written(&v),
                // Gone already, or a new object under the name: nothing of ours to delete.
                Err(e) if e.is_not_found() || e.is_precondition_failed() => 0,
                Err(e) => return Err(e),
            };
            match event {
                Some(note) => Ok(revision.max(record(api, &note, component).await?)),
                None => Ok(revision),
            }
        }
        Action::Event(note) => record(api, &note, component).await,
        Action::Bind { namespace, name, node, event } => {
            // The bound pod's revision: the worker waits for the cache to hold this placement before it
            // places the next pod.
            let revision = match api.bind(&namespace, &name, &node).await {
                Ok(pod) => written(&pod),
                // Deleted meanwhile: nothing to place.
                Err(e) if e.is_not_found() => return Ok(0),
                Err(e) => return Err(e),
            };
            match event {
                Some(note) => Ok(revision.max(record(api, &note, component).await?)),
                None => Ok(revision),
            }
        }
    }
}

/// Write an Event through the API, counting repeats up as the recorder aggregates them.
async fn record(api: &LocalApi, note: &EventNote, component: &'static str) -> Result<u64, RegistryError> {
    let events = crate::resources::kinds::find("", "v1", "events").expect("events are served");
    let report = EventReport {
        object: &note.about,
        kind: note.kind,
        warning: note.warning,
        reason: &note.reason,
        message: &note.message,
        component,
        host: None,
    };
    let namespace = report.namespace().to_string();
    for _ in 0..3 {
        match api.get(events, Some(&namespace), &report.name()).await {
            Ok(mut event) => {
                bump(&mut event);
                match api.update(events, &event, Part::Object).await {
                    Ok(v) => return Ok(meta::resource_version(&v).unwrap_or(0)),
                    Err(e) if e.is_conflict() => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.is_not_found() => match api.create(events, &report.new_event()).await {
                Ok(v) => return Ok(meta::resource_version(&v).unwrap_or(0)),
                Err(e) if e.already_exists() => continue,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}
