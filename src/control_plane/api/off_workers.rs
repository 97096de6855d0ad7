//! Handlers whose work commits to the store (an fsync, perhaps a wait for redb's one writer) or signs a
//! certificate run it on tokio's blocking pool: a burst of writes then never holds the few async workers
//! (one per core) that answer health checks, watches and reads.

use axum::http::StatusCode;
use axum::response::Response;

use super::status::status;

/// `work`'s answer, computed off the async workers; a panic in it is a 500, not a dropped connection.
pub async fn off_workers(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()))
}
