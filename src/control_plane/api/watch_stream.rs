//! `?watch=1`: a chunked stream of events for one kind (and namespace), filtered by the request's
//! selectors: JSON lines — `{"type":"ADDED","object":{…}}` — Table-wrapped when kubectl asks for tables
//! (column definitions in the first event only, as Kubernetes does), or length-prefixed protobuf
//! WatchEvents for clients that ask for protobuf first. Without a resourceVersion the current objects come
//! first as ADDED; an expired one is answered with an ERROR event carrying 410 Expired, after which
//! clients list again. A watcher too slow for the live feed gets the same and relists.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::error_status::store_error;
use super::object_query::ObjectQuery;
use super::state::ApiState;
use super::status::status_object;
use crate::control_plane::registry::served;
use crate::control_plane::store::Event;
use crate::resources::kinds::ResourceKind;
use crate::resources::table::wants_table;
use crate::resources::tables;

/// Writes each event as the client asked: a JSON line (objects Table-wrapped for kubectl's tables), or a
/// length-prefixed protobuf frame for clients that ask for protobuf first (client-go's typed informers).
struct Encoder {
    kind: &'static ResourceKind,
    table: bool,
    protobuf: bool,
    include: Option<String>,
    first: bool,
}

impl Encoder {
    fn line(&mut self, event_type: &str, object: Value, revision: u64) -> Bytes {
        if self.protobuf {
            return match super::protobuf::watch_frame(event_type, &object) {
                Ok(frame) => Bytes::from(frame),
                Err(e) => {
                    eprintln!("kubeboot server: a {} watch event cannot be written as protobuf: {e}", self.kind.kind);
                    self.error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string())
                }
            };
        }
        let object = if self.table {
            let mut t = tables::table(self.kind, &[object], revision, self.include.as_deref());
            if !std::mem::take(&mut self.first) {
                t["columnDefinitions"] = json!([]);
            }
            t
        } else {
            object
        };
        let mut line = serde_json::to_vec(&json!({"type": event_type, "object": object})).expect("json");
        line.push(b'\n');
        Bytes::from(line)
    }

    /// An ERROR event carrying a Status: 410 Expired sends the client back to list again.
    fn error(&self, code: StatusCode, reason: &str, message: &str) -> Bytes {
        let status = status_object(code, reason, message);
        if self.protobuf {
            if let Ok(frame) = super::protobuf::watch_frame("ERROR", &status) {
                return Bytes::from(frame);
            }
        }
        let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": status})).expect("json");
        line.push(b'\n');
        Bytes::from(line)
    }

    fn expired(&self, message: &str) -> Bytes {
        self.error(StatusCode::GONE, "Expired", message)
    }

    fn content_type(&self) -> &'static str {
        match self.protobuf {
            true => super::protobuf::WATCH_MEDIA_TYPE,
            false => "application/json",
        }
    }
}

pub fn watch(
    state: &Arc<ApiState>,
    kind: &'static ResourceKind,
    namespace: Option<&str>,
    query: &ObjectQuery,
    accept: Option<&str>,
    slot: super::watch_quota::WatchSlot,
) -> Response {
    let filter = match query.list.filter() {
        Ok(f) => f,
        Err(e) => return super::list_query::bad_selector(e),
    };
    let prefix = kind.prefix(namespace);
    let table = wants_table(accept);
    let protobuf = !table && super::protobuf::asked_first(accept);
    let include = query.list.include_object.clone();
    let mut encoder = Encoder { kind, table, protobuf, include, first: true };
    let content_type = encoder.content_type();
    let from: Option<u64> =
        query.resource_version.as_deref().filter(|v| !v.is_empty() && *v != "0").and_then(|v| v.parse().ok());

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut initial = Vec::new();
    // Without a resourceVersion: the current objects as ADDED, then what happens after that list.
    let start = match from {
        Some(rv) => rv,
        None => match state.store.list(&prefix) {
            Ok((items, revision)) => {
                for s in items {
                    let object = served(kind, &s.value, s.revision);
                    if filter.keeps(&object) {
                        initial.push(encoder.line("ADDED", object, s.revision));
                    }
                }
                revision
            }
            Err(e) => return store_error(kind, "", e),
        },
    };
    let subscription = state.watch.subscribe(start);
    let open = super::request_metrics::OpenWatch::start(kind, namespace.is_some());
    let timeout = Duration::from_secs(query.timeout_seconds.unwrap_or(1800).clamp(1, 3600));
    tokio::spawn(async move {
        // Held for as long as the watch runs.
        let _slot = slot;
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
            open.sent();
        }
        let mut sub = match subscription {
            Ok(s) => s,
            Err(gone) => {
                let _ = tx.send(encoder.expired(&gone.to_string())).await;
                return;
            }
        };
        let mut last = start;
        let mut emit = |event: &Event, encoder: &mut Encoder| -> Option<Bytes> {
            if event.revision <= last || !event.key.starts_with(&prefix) {
                return None;
            }
            last = event.revision;
            let object = served(kind, &event.value, event.revision);
            filter.keeps(&object).then(|| encoder.line(event.kind.as_str(), object, event.revision))
        };
        for event in std::mem::take(&mut sub.replay) {
            if let Some(line) = emit(&event, &mut encoder) {
                if tx.send(line).await.is_err() {
                    return;
                }
                open.sent();
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                received = sub.live.recv() => match received {
                    Ok(event) => {
                        if let Some(line) = emit(&event, &mut encoder) {
                            if tx.send(line).await.is_err() {
                                return;
                            }
                            open.sent();
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(encoder.expired("the watcher fell behind; list again")).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response()
}
