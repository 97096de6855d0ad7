//! One AdmissionReview sent to a webhook: an HTTPS POST trusting only the configuration's caBundle (the
//! machine's roots without one), the server name the webhook's certificate must carry, and the webhook's
//! timeout over the whole exchange. The registry is synchronous (it runs on blocking threads, and at start
//! on the server's own), so each call runs on a thread of its own with a one-request runtime: hyper's
//! HTTP/1 client over tokio-rustls, no pool (webhooks are few and calls short).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// Why a call did not get an answer (worded for Kubernetes' "failed calling webhook" message).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Tls(String),
    #[error("dial tcp {address}: {message}")]
    Connect { address: String, message: String },
    #[error("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")]
    Timeout,
    #[error("{0}")]
    Http(String),
    #[error("the server answered {code}: {body}")]
    Status { code: u16, body: String },
}

/// Where a call goes: the address to connect to, the name its certificate is checked against, the path.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub address: SocketAddr,
    pub server_name: String,
    pub path: String,
}

fn tls_config(ca_bundle: Option<&[u8]>) -> Result<ClientConfig, CallError> {
    let tls = |e: &dyn std::fmt::Display| CallError::Tls(format!("tls: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().map_err(|e| tls(&e))?;
    let mut roots = RootCertStore::empty();
    match ca_bundle {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots.add(cert.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
            }
        }
        None => {
            let system = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
            for cert in CertificateDer::pem_slice_iter(&system).flatten() {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// POST `body` to `endpoint`; the answer's body when it is a 200.
pub fn post(
    endpoint: &Endpoint,
    ca_bundle: Option<&[u8]>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, CallError> {
    let config = tls_config(ca_bundle)?;
    let endpoint = endpoint.clone();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| CallError::Http(e.to_string()))?;
                runtime.block_on(async move {
                    match tokio::time::timeout(timeout, exchange(&endpoint, config, body)).await {
                        Ok(answer) => answer,
                        Err(_) => Err(CallError::Timeout),
                    }
                })
            })
            .join()
            .unwrap_or_else(|_| Err(CallError::Http("the call's thread panicked".into())))
    })
}

async fn exchange(endpoint: &Endpoint, config: ClientConfig, body: Vec<u8>) -> Result<Vec<u8>, CallError> {
    let address = endpoint.address.to_string();
    let tcp = tokio::net::TcpStream::connect(endpoint.address)
        .await
        .map_err(|e| CallError::Connect { address: address.clone(), message: connect_message(&e) })?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(endpoint.server_name.clone())
        .map_err(|e| CallError::Tls(format!("tls: {:?}: {e}", endpoint.server_name)))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| CallError::Tls(format!("tls: failed to verify certificate: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .map_err(|e| CallError::Http(e.to_string()))?;
    tokio::spawn(connection);
    let request = hyper::Request::post(&endpoint.path)
        .header(hyper::header::HOST, endpoint.server_name.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| CallError::Http(e.to_string()))?;
    let answer = sender.send_request(request).await.map_err(|e| CallError::Http(e.to_string()))?;
    let code = answer.status().as_u16();
    let bytes = answer.into_body().collect().await.map_err(|e| CallError::Http(e.to_string()))?.to_bytes().to_vec();
    if code != 200 {
        return Err(CallError::Status { code, body: String::from_utf8_lossy(&bytes).chars().take(200).collect() });
    }
    Ok(bytes)
}

/// Go's wording of a failed dial (what kubectl users see in the message).
fn connect_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::TimedOut => "i/o timeout".into(),
        _ => format!("connect: {e}"),
    }
}
