//! The accept loop: TLS handshake per connection, the client's identity from its certificate put into every
//! request of that connection, then hyper serving the axum router. Guarded against clients that connect and
//! do nothing: a TLS handshake must finish within 10 s and a request's headers arrive within 30 s; one
//! source address may hold at most 128 connections that are still in their handshake, and the server at
//! most 4096 connections in all (further ones are closed at once, so file descriptors never run out); an
//! accept error (out of descriptors) backs off instead of spinning.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::identity::{CertificateFingerprint, Identity};

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub std::net::SocketAddr);

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_HANDSHAKES_PER_SOURCE: usize = 128;
const MAX_CONNECTIONS: usize = 4096;

/// Connections of one source address still in their TLS handshake.
#[derive(Default)]
struct Handshakes(Mutex<HashMap<IpAddr, usize>>);

/// One handshake slot of a source; given back when dropped.
struct HandshakeSlot<'a> {
    handshakes: &'a Handshakes,
    source: IpAddr,
}

impl Handshakes {
    fn take(&self, source: IpAddr) -> Option<HandshakeSlot<'_>> {
        let mut map = self.0.lock().expect("handshakes");
        let count = map.entry(source).or_default();
        if *count >= MAX_HANDSHAKES_PER_SOURCE {
            return None;
        }
        *count += 1;
        Some(HandshakeSlot { handshakes: self, source })
    }
}

impl Drop for HandshakeSlot<'_> {
    fn drop(&mut self) {
        let mut map = self.handshakes.0.lock().expect("handshakes");
        if let Some(count) = map.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.source);
            }
        }
    }
}

/// TLS handshakes completed, on /metrics: with clients that keep connections alive it grows with the
/// clients, not with their requests.
fn tls_handshakes() -> &'static prometheus::IntCounter {
    static COUNTER: std::sync::OnceLock<prometheus::IntCounter> = std::sync::OnceLock::new();
    COUNTER.get_or_init(|| {
        let counter = prometheus::IntCounter::new(
            "kubeboot_tls_handshakes_total",
            "TLS handshakes completed by this process' HTTPS servers.",
        )
        .expect("a valid metric");
        let _ = prometheus::default_registry().register(Box::new(counter.clone()));
        counter
    })
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let handshakes = Arc::new(Handshakes::default());
    let mut accept_backoff = Duration::from_millis(10);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => {
                        accept_backoff = Duration::from_millis(10);
                        a
                    }
                    // Out of file descriptors or similar: wait instead of spinning on the same error.
                    Err(_) => {
                        tokio::time::sleep(accept_backoff).await;
                        accept_backoff = (accept_backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else { continue };
                let _ = tcp.set_nodelay(true);
                let (acceptor, app, handshakes) = (acceptor.clone(), app.clone(), handshakes.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let Some(slot) = handshakes.take(peer.ip()) else { return };
                    // A failed or slow handshake (wrong CA, a port scan, an idle socket) only ends that connection.
                    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else { return };
                    drop(slot);
                    tls_handshakes().inc();
                    let leaf = stream.get_ref().1.peer_certificates().and_then(|certs| certs.first());
                    let identity = leaf.map(|leaf| Identity::from_cert_der(leaf)).unwrap_or(Identity::Anonymous);
                    let fingerprint = CertificateFingerprint(leaf.map(|l| crate::bootstrap::pin::sha256_hex(l)).unwrap_or_default());
                    let service = TowerToHyperService::new(
                        app.layer(Extension(identity)).layer(Extension(fingerprint)).layer(Extension(PeerAddress(peer))),
                    );
                    let mut builder = Builder::new(TokioExecutor::new());
                    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
                    let _ = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
}
