//! Errors as Kubernetes `Status` objects, which kubectl and client libraries print.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// The Status object itself (also what a watch sends in an ERROR event).
pub fn status_object(code: StatusCode, reason: &str, message: impl Into<String>) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code.as_u16(),
    })
}

pub fn status(code: StatusCode, reason: &str, message: impl Into<String>) -> Response {
    (code, Json(status_object(code, reason, message))).into_response()
}

/// Kubernetes' answer for a path it does not serve.
pub fn not_found() -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource")
}

/// A request the server will not act on as sent (400 BadRequest).
pub fn bad_request(message: impl Into<String>) -> Response {
    status(StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub fn unauthorized() -> Response {
    status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
}

/// A body in a format other than JSON (kubectl 1.32+ tries protobuf first, then falls back to JSON on this).
pub fn unsupported_media_type(media: &str) -> Response {
    status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!("the body of the request was in an unknown format ({media}); accepted media types include: application/json"),
    )
}
