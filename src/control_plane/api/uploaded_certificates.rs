//! The sealed certificate bundle for masters joining by hand: an admin uploads it (`kubeboot
//! upload-certs`), a bootstrap token downloads it (`join --control-plane --certificate-key`). Opening it
//! takes the key, which only the operator has.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::identity::Identity;
use super::state::ApiState;
use super::status::{status, unauthorized};
use crate::control_plane::tokens;
use crate::control_plane::uploaded_certificates::{self, Found};

pub async fn upload(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    body: axum::body::Bytes,
) -> Response {
    if !matches!(identity, Identity::Admin { .. }) {
        let who = identity.user_name();
        return status(StatusCode::FORBIDDEN, "Forbidden", format!("{who} cannot upload control-plane certificates"));
    }
    let Some(sealed) =
        serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|v| v["sealed"].as_str().map(String::from))
    else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "expected {\"sealed\": \"...\"}");
    };
    super::off_workers::off_workers(move || match uploaded_certificates::put(state.store.as_ref(), &sealed) {
        Ok(record) => (StatusCode::CREATED, Json(json!({"expires": record.expires}))).into_response(),
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    })
    .await
}

pub async fn download(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let Some(token) = super::node_certificates::bearer(&headers) else { return unauthorized() };
    super::off_workers::off_workers(move || {
        match tokens::authenticate(state.store.as_ref(), &token) {
            Ok(true) => {}
            Ok(false) => return unauthorized(),
            Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
        }
        match uploaded_certificates::get(state.store.as_ref()) {
            Ok(Found::Valid(record)) => Json(json!({"sealed": record.sealed, "expires": record.expires})).into_response(),
            Ok(Found::Expired(at)) => status(
                StatusCode::GONE,
                "Expired",
                format!(
                    "the uploaded control-plane certificates expired at {} (they live 2 h): run `kubeboot upload-certs` \
                     on a master again and use the key it prints",
                    crate::resources::meta::rfc3339_unix(at as i64)
                ),
            ),
            Ok(Found::None) => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "no control-plane certificates were uploaded: run `kubeboot upload-certs` on a master",
            ),
            Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
        }
    })
    .await
}
