//! Node certificates: the TLS bootstrap's client certificate (a bootstrap token buys exactly that), and the
//! agent's serving certificate for its node API (asked for with the node's own certificate; its address is
//! the one the server sees the request come from, so a node cannot get a certificate for another's address).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::identity::Identity;
use super::serve::PeerAddress;
use super::state::ApiState;
use super::status::{status, unauthorized};
use crate::bootstrap::token::BootstrapToken;
use crate::control_plane::{node_credentials, tokens};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeCertificateRequest {
    node_name: String,
    csr: String,
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<BootstrapToken> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    BootstrapToken::parse(value.strip_prefix("Bearer ")?).ok()
}

/// TLS bootstrap: a valid bootstrap token buys exactly one thing, a client certificate for
/// system:node:<name> signed from the node's own CSR.
pub async fn client(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    super::off_workers::off_workers(move || issue_client(&state, &headers, &body)).await
}

fn issue_client(state: &ApiState, headers: &HeaderMap, body: &[u8]) -> Response {
    state.node_certificate_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(token) = bearer(headers) else { return unauthorized() };
    match tokens::authenticate(state.store.as_ref(), &token) {
        Ok(true) => {}
        Ok(false) => return unauthorized(),
        Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    }
    let request: NodeCertificateRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
    };
    // kubeadm refuses to join a name that is a Ready node: a second host would take over its identity.
    match state.store.get(&format!("/nodes/{}", request.node_name)) {
        Ok(Some(stored)) => {
            let node: serde_json::Value = serde_json::from_slice(&stored.value).unwrap_or_default();
            if crate::resources::node::ready_status(&node) == Some("True") {
                return status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    format!(
                        "a Ready node named {:?} is already in the cluster: join under another --node-name, or \
                         reset that node and delete its Node first",
                        request.node_name
                    ),
                );
            }
        }
        Ok(None) => {}
        Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
    }
    let cert = match state.ca.sign_node_csr(&request.csr, &request.node_name) {
        Ok(cert) => cert,
        Err(e) => return status(StatusCode::FORBIDDEN, "Forbidden", e.to_string()),
    };
    // From now on this is the node's only certificate: an earlier one (a host that left) is refused.
    let Some(fingerprint) = fingerprint(&cert) else {
        return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "the issued certificate does not parse");
    };
    if let Err(e) = node_credentials::record_issued(state.store.as_ref(), &request.node_name, &fingerprint) {
        return super::error_status::store_error(crate::resources::kinds::served("", "nodes"), &request.node_name, e);
    }
    (StatusCode::CREATED, Json(json!({"certificate": cert, "ca": state.ca.cert_pem()}))).into_response()
}

/// SHA-256 (hex) of a PEM certificate's DER, as the server sees it on a connection.
fn fingerprint(cert_pem: &str) -> Option<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    Some(crate::bootstrap::pin::sha256_hex(&pem.contents))
}

/// DELETE /kubeboot/v1/node-credentials/NAME (admins; what `reset -i` runs): no certificate of that node
/// is accepted until it joins again.
pub async fn revoke(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    if !matches!(identity, Identity::Admin { .. }) {
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("{} cannot revoke node credentials", identity.user_name()),
        );
    }
    super::off_workers::off_workers(move || match node_credentials::revoke(state.store.as_ref(), &name) {
        Ok(()) => Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Success",
            "message": format!("the credentials of node {name:?} are revoked")}))
        .into_response(),
        Err(e) => super::error_status::store_error(crate::resources::kinds::served("", "nodes"), &name, e),
    })
    .await
}

/// A node's CSR (for its serving certificate, or a renewed client certificate).
#[derive(Deserialize)]
struct CsrRequest {
    csr: String,
}

/// A node renewing its client certificate with the one it has (kubelet's certificate rotation): a new
/// certificate for the node the current one names, from the node's CSR.
pub async fn renew_client(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Extension(presented): Extension<super::identity::CertificateFingerprint>,
    body: axum::body::Bytes,
) -> Response {
    let Identity::Node { name } = identity else {
        return status(StatusCode::FORBIDDEN, "Forbidden", "only a node may renew a node client certificate");
    };
    let request: CsrRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
    };
    super::off_workers::off_workers(move || {
        let cert = match state.ca.sign_node_csr(&request.csr, &name) {
            Ok(cert) => cert,
            Err(e) => return status(StatusCode::FORBIDDEN, "Forbidden", e.to_string()),
        };
        let Some(fingerprint) = fingerprint(&cert) else {
            return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "the issued certificate does not parse");
        };
        if let Err(e) = node_credentials::record_renewed(state.store.as_ref(), &name, &presented.0, &fingerprint) {
            return super::error_status::store_error(crate::resources::kinds::served("", "nodes"), &name, e);
        }
        (StatusCode::CREATED, Json(json!({"certificate": cert}))).into_response()
    })
    .await
}

/// A node's serving certificate, for the node named by the client certificate, valid for the address the
/// request came from.
pub async fn serving(
    State(state): State<Arc<ApiState>>,
    Extension(identity): Extension<Identity>,
    Extension(PeerAddress(peer)): Extension<PeerAddress>,
    body: axum::body::Bytes,
) -> Response {
    let Identity::Node { name } = identity else {
        return status(StatusCode::FORBIDDEN, "Forbidden", "only a node may ask for a node serving certificate");
    };
    let request: CsrRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
    };
    match state.ca.sign_node_serving_csr(&request.csr, &name, peer.ip()) {
        Ok(cert) => {
            (StatusCode::CREATED, Json(json!({"certificate": cert, "address": peer.ip().to_string()}))).into_response()
        }
        Err(e) => status(StatusCode::FORBIDDEN, "Forbidden", e.to_string()),
    }
}
