//! /kubeboot/v1/bootstrap-tokens: list, create and delete bootstrap tokens (admins only), for
//! `kubeboot token …` while the server holds the store. kubeadm keeps tokens as Secrets in kube-system; ours
//! live in the store under their own prefix, so this small admin API stands in for the Secrets API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::identity::Identity;
use super::state::ApiState;
use super::status::{status, unauthorized};
use crate::bootstrap::token::BootstrapToken;
use crate::control_plane::store::StoreError;
use crate::control_plane::tokens;

fn admin_only(identity: &Identity) -> Option<Response> {
    match identity {
        Identity::Admin { .. } => None,
        Identity::Anonymous => Some(unauthorized()),
        other => Some(status(StatusCode::FORBIDDEN, "Forbidden", format!("{other:?} cannot manage bootstrap tokens"))),
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string())
}

pub async fn list(State(state): State<Arc<ApiState>>, Extension(identity): Extension<Identity>) -> Response {
    if let Some(r) = admin_only(&identity) {
        return r;
    }
    match tokens::list(state.store.as_ref()) {
        Ok(items) => Json(json!({ "items": items })).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest {
    /// None: never expires.
    ttl_seconds: Option<u64>,
}

/// Creates a token and answers with its secret: the only time it leaves the server.
pub async fn create(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Json(request): Json<CreateRequest>,
) -> Response {
    if let Some(r) = admin_only(&identity) {
        return r;
    }
    let token = match BootstrapToken::generate() {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    super::off_workers::off_workers(move || match tokens::create(state.store.as_ref(), &token, request.ttl_seconds) {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({"token": token.expose(), "expires": request.ttl_seconds.map(|t| tokens::now_unix().saturating_add(t))})),
        )
            .into_response(),
        Err(e) => internal(e),
    })
    .await
}

pub async fn delete(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = admin_only(&identity) {
        return r;
    }
    super::off_workers::off_workers(move || match tokens::delete(state.store.as_ref(), &id) {
        Ok(()) => Json(json!({"deleted": id})).into_response(),
        Err(StoreError::NotFound(_)) => {
            status(StatusCode::NOT_FOUND, "NotFound", format!("bootstrap token {id:?} not found"))
        }
        Err(e) => internal(e),
    })
    .await
}
