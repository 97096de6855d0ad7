//! POST /kubeboot/v1/snapshots (admins): take a snapshot now into this master's snapshot folder and
//! answer where it is. The server takes it because it holds the store (redb allows one process); the
//! reader sees one revision while writes go on.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::identity::Identity;
use super::state::ApiState;
use super::status::status;
use crate::control_plane::backup::{self, SnapshotKind};

pub async fn save(State(state): State<Arc<ApiState>>, Extension(identity): Extension<Identity>) -> Response {
    if !matches!(identity, Identity::Admin { .. }) {
        let who = identity.user_name();
        return status(StatusCode::FORBIDDEN, "Forbidden", format!("{who} cannot take snapshots"));
    }
    let Some(place) = state.snapshots.get().cloned() else {
        return status(StatusCode::NOT_FOUND, "NotFound", "this server takes no snapshots");
    };
    super::off_workers::off_workers(move || match backup::save(state.store.as_ref(), &place, SnapshotKind::OnDemand) {
        Ok(saved) => (StatusCode::CREATED, Json(saved)).into_response(),
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    })
    .await
}
