//! The accept loop: TLS handshake per connection, the client's identity from its certificate put into every
//! request of that connection, then hyper serving the axum router.

use std::future::Future;
use std::sync::Arc;

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::identity::Identity;

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let _ = tcp.set_nodelay(true);
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A failed handshake (wrong CA, a port scan) only ends that connection.
                    let Ok(stream) = acceptor.accept(tcp).await else { return };
                    let identity = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .map(|leaf| Identity::from_cert_der(leaf))
                        .unwrap_or(Identity::Anonymous);
                    let service = TowerToHyperService::new(app.layer(Extension(identity)));
                    let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
}
