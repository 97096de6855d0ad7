//! Answers in the form the client asked for: protobuf when its Accept names protobuf first (client-go's
//! typed clients) and the answer has a message in the table, else the JSON the handler made.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{fields, object_as_protobuf, ProtobufError, MEDIA_TYPE};
use crate::control_plane::api::{off_workers::off_workers, status::status};

/// Whether the client asks for protobuf first, as client-go's typed clients do
/// (`application/vnd.kubernetes.protobuf,application/json`).
pub fn asked_first(accept: Option<&str>) -> bool {
    let first = accept.and_then(|a| a.split(',').next()).map(str::trim).unwrap_or("");
    first.split(';').next() == Some(MEDIA_TYPE) && !first.contains("as=")
}

/// The answer as protobuf, or None for JSON. Kinds without a message (Table, APIResourceList) are JSON as
/// Kubernetes serves them; a served kind that cannot be written is a bug worth a log line (the field,
/// never the value), and the client still gets its answer.
fn as_protobuf(answer: &Value) -> Option<Vec<u8>> {
    match object_as_protobuf(answer) {
        Ok(encoded) => Some(encoded),
        Err(e) => {
            if !matches!(e, ProtobufError::Encode(ref name, _) if fields::message(name).is_none()) {
                let kind = answer.get("kind").and_then(Value::as_str).unwrap_or("");
                eprintln!("kubeboot server: answering a {kind} in JSON: {e}");
            }
            None
        }
    }
}

/// An object or list answered as the client asked. Read paths call this with the value in hand (no JSON
/// round trip); answer_as_asked does the same for handlers that only have their JSON answer.
pub fn answer(accept: Option<&str>, code: StatusCode, value: Value) -> Response {
    if asked_first(accept) {
        if let Some(encoded) = as_protobuf(&value) {
            return (code, [(CONTENT_TYPE, MEDIA_TYPE)], encoded).into_response();
        }
    }
    (code, axum::Json(value)).into_response()
}

/// `response` as the client asked for it: a JSON answer (an error's Status too) becomes protobuf when
/// `accept` asks for that first and the answer is of a kind the table has; anything else is returned as it is.
pub async fn answer_as_asked(accept: Option<HeaderValue>, response: Response) -> Response {
    let json = response.headers().get(CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !asked_first(accept.as_ref().and_then(|a| a.to_str().ok())) || !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        let why = "the answer could not be read back";
        return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", why);
    };
    off_workers(move || {
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match as_protobuf(&answer) {
            Some(encoded) => {
                parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
                parts.headers.remove(axum::http::header::CONTENT_LENGTH);
                Response::from_parts(parts, axum::body::Body::from(encoded))
            }
            None => Response::from_parts(parts, axum::body::Body::from(bytes)),
        }
    })
    .await
}

/// Middleware for handlers that answer one object (the reviews): their answers as the client asked.
pub async fn as_asked(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let accept = request.headers().get(axum::http::header::ACCEPT).cloned();
    answer_as_asked(accept, next.run(request).await).await
}
