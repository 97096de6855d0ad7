//! Choosing the protocol of an upgrade request, as kubelet does: SPDY/3.1 with `X-Stream-Protocol-Version`
//! (the first version the client offers that we serve; none offered means the legacy one), or WebSocket
//! with `Sec-WebSocket-Protocol`; and the 101 answer that confirms the choice.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

pub const STREAM_PROTOCOL_HEADER: &str = "x-stream-protocol-version";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Spdy,
    WebSocket { accept_key: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub transport: Transport,
    /// The chosen sub-protocol, e.g. `v4.channel.k8s.io`.
    pub protocol: String,
}

/// Every value of a header that may be repeated and/or comma-separated.
fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Why an upgrade was refused (kubelet's 400 / 403 wording); a response of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    status: StatusCode,
    message: String,
    /// The versions we serve, for a client that offered none of them.
    accepted: Option<String>,
}

impl Refusal {
    fn bad_request(message: &str) -> Refusal {
        Refusal { status: StatusCode::BAD_REQUEST, message: message.into(), accepted: None }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message).into_response();
        if let Some(v) = self.accepted.and_then(|a| HeaderValue::from_str(&a).ok()) {
            response.headers_mut().insert("x-accepted-stream-protocol-versions", v);
        }
        response
    }
}

/// The protocol for this request, or why not.
pub fn negotiate(headers: &HeaderMap, spdy: &[&str], websocket: &[&str]) -> Result<Negotiated, Refusal> {
    let upgrade = headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let pick = |offered: Vec<String>, served: &[&str]| {
        offered.iter().find(|p| served.contains(&p.as_str())).cloned().ok_or_else(|| Refusal {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports {served:?}"
            ),
            accepted: Some(served.join(", ")),
        })
    };
    if upgrade == "websocket" {
        let key = headers.get("sec-websocket-key").and_then(|v| v.to_str().ok()).unwrap_or("");
        if key.is_empty() {
            return Err(Refusal::bad_request("unable to upgrade: missing Sec-WebSocket-Key"));
        }
        let protocol = pick(values(headers, "sec-websocket-protocol"), websocket)?;
        return Ok(Negotiated {
            transport: Transport::WebSocket { accept_key: derive_accept_key(key.as_bytes()) },
            protocol,
        });
    }
    if upgrade.starts_with("spdy/3.1") {
        let offered = values(headers, STREAM_PROTOCOL_HEADER);
        let protocol = if offered.is_empty() { String::new() } else { pick(offered, spdy)? };
        return Ok(Negotiated { transport: Transport::Spdy, protocol });
    }
    Err(Refusal::bad_request("unable to upgrade: missing upgrade headers in request"))
}

/// 101 Switching Protocols for `negotiated`.
pub fn switching_protocols(negotiated: &Negotiated) -> Response {
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let protocol = HeaderValue::from_str(&negotiated.protocol).unwrap_or(HeaderValue::from_static(""));
    match &negotiated.transport {
        Transport::Spdy => {
            headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            if !negotiated.protocol.is_empty() {
                headers.insert(STREAM_PROTOCOL_HEADER, protocol);
            }
        }
        Transport::WebSocket { accept_key } => {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            if let Ok(v) = HeaderValue::from_str(accept_key) {
                headers.insert("sec-websocket-accept", v);
            }
            headers.insert("sec-websocket-protocol", protocol);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(*k, HeaderValue::from_static(v));
        }
        headers
    }

    const SPDY: &[&str] = &["v4.channel.k8s.io"];
    const WS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

    #[test]
    fn spdy_takes_the_first_version_the_client_offers_that_we_serve() {
        // kubectl 1.20's exec offers v4, v3, v2, v1 as separate header lines.
        let h = request(&[
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
            ("x-stream-protocol-version", "v3.channel.k8s.io"),
            ("x-stream-protocol-version", "channel.k8s.io"),
        ]);
        let n = negotiate(&h, SPDY, WS).unwrap();
        assert_eq!(n, Negotiated { transport: Transport::Spdy, protocol: "v4.channel.k8s.io".into() });
        let answer = switching_protocols(&n);
        assert_eq!(answer.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(answer.headers()["upgrade"], "SPDY/3.1");
        assert_eq!(answer.headers()["x-stream-protocol-version"], "v4.channel.k8s.io");
    }

    #[test]
    fn websocket_subprotocols_and_the_accept_key() {
        let h = request(&[
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "v5.channel.k8s.io, v4.channel.k8s.io"),
        ]);
        let n = negotiate(&h, SPDY, WS).unwrap();
        assert_eq!(n.protocol, "v5.channel.k8s.io");
        let answer = switching_protocols(&n);
        // RFC 6455's own example key and answer.
        assert_eq!(answer.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(answer.headers()["sec-websocket-protocol"], "v5.channel.k8s.io");
    }

    #[test]
    fn refusals() {
        let h = request(&[("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", "v9.channel.k8s.io")]);
        let refused = negotiate(&h, SPDY, WS).unwrap_err().into_response();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(refused.headers()["x-accepted-stream-protocol-versions"], "v4.channel.k8s.io");
        assert_eq!(negotiate(&HeaderMap::new(), SPDY, WS).unwrap_err().status, StatusCode::BAD_REQUEST);
        let no_key = request(&[("upgrade", "websocket"), ("sec-websocket-protocol", "v5.channel.k8s.io")]);
        assert_eq!(negotiate(&no_key, SPDY, WS).unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
