//! A store error as the Status a client gets: 404 NotFound, 409 AlreadyExists or Conflict (in Kubernetes'
//! words), 507 when the disk is full, 500 otherwise.

use axum::http::StatusCode;
use axum::response::Response;

use super::status::status;
use crate::control_plane::store::StoreError;
use crate::resources::kinds::ResourceKind;

pub fn describe(kind: &ResourceKind, name: &str) -> String {
    if kind.group.is_empty() {
        format!("{} {name:?}", kind.plural)
    } else {
        format!("{}.{} {name:?}", kind.plural, kind.group)
    }
}

pub fn store_error(kind: &ResourceKind, name: &str, e: StoreError) -> Response {
    match e {
        StoreError::NotFound(_) => {
            status(StatusCode::NOT_FOUND, "NotFound", format!("{} not found", describe(kind, name)))
        }
        StoreError::AlreadyExists(_) => {
            status(StatusCode::CONFLICT, "AlreadyExists", format!("{} already exists", describe(kind, name)))
        }
        StoreError::Conflict { .. } => status(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {}: the object has been modified; please apply your changes to \
                 the latest version and try again",
                describe(kind, name)
            ),
        ),
        StoreError::NoSpace(m) => status(
            StatusCode::INSUFFICIENT_STORAGE,
            "InsufficientStorage",
            format!("the store has no space left on its device; the write was not made ({m})"),
        ),
        StoreError::Backend(m) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", m),
    }
}
