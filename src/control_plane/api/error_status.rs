//! A registry error as the Status a client gets: its code, reason and message, and for a validation
//! failure the details naming each field.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::status::status_object;
use crate::control_plane::registry::RegistryError;
use crate::control_plane::store::StoreError;
use crate::resources::kinds::ResourceKind;

pub fn error_status(e: &RegistryError) -> Response {
    let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = status_object(code, e.reason(), e.to_string());
    if let Some(details) = e.details() {
        body["details"] = details;
    }
    (code, Json(body)).into_response()
}

/// A store error about `name` of `kind` (404, 409, 507 or 500, in Kubernetes' words).
pub fn store_error(kind: &'static ResourceKind, name: &str, e: StoreError) -> Response {
    error_status(&RegistryError::from_store(kind, name, e))
}
