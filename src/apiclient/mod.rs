//! A small HTTPS client for the API server (hyper over rustls): used by `join` (discovery and the
//! certificate exchange), the agent and the admin commands. Requests share a pool of kept-alive
//! connections (hyper-util's pooled client): an agent's heartbeats, status writes and watches would
//! otherwise each pay a TLS handshake, which was the top of the server's profile at 1000 nodes. Upgraded
//! connections (exec, attach, port-forward) get one of their own.

pub mod admin;
pub mod client_identity;
pub mod drain;
mod insecure;
mod servers;

pub use client_identity::ClientIdentity;
pub use servers::Servers;

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// What the client calls itself: the API server names its writes' field manager by the product
/// (`kubeboot`), as it names kubectl's `kubectl`.
pub const USER_AGENT: &str = concat!("kubeboot/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0} is not an https://HOST:PORT URL")]
    Url(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot reach {server}: {message}")]
    Connect { server: String, message: String },
    #[error("{server}: {message}")]
    Http { server: String, message: String },
    #[error("{path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("{server} answered {status}: {message}")]
    Status { server: String, status: u16, message: String },
}

/// How the server's certificate is checked.
pub enum Trust {
    /// Verified against this CA (PEM).
    Ca(String),
    /// Not verified at all: only for kubeadm's first cluster-info fetch, whose contents are checked by JWS and
    /// CA pin before anything is trusted, and then fetched again verified.
    UnverifiedForDiscovery,
}

/// How long an idle connection is kept: long enough for a burst (a heartbeat's GET and PUT, a pod
/// worker's writes) to share one, far shorter than the 10 s between heartbeats: each connection an agent
/// keeps idle holds ~50 KiB of TLS and HTTP buffers in the API server (kept 20 s, 1000 agents' idle
/// connections took its RSS from 94 to 150 MiB; kept 1 s, 103-106 MiB).
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
/// Idle connections kept per client: enough for an agent's pod workers writing at once.
const POOL_MAX_IDLE: usize = 8;

type Pooled = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

#[derive(Clone)]
pub struct ApiClient {
    servers: Servers,
    connector: TlsConnector,
    pooled: Pooled,
}

/// How long a connection attempt may take before the next server is tried (a powered-off host answers
/// nothing at all).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long a connection may go without an acknowledgement from its server before it is given up.
const DEAD_PEER_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// A response: status code and body bytes.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The Status message of an error reply, or the body text.
    pub fn message(&self) -> String {
        self.json()
            .get("message")
            .and_then(|m| m.as_str())
            .map(String::from)
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned())
    }
}

/// An error and its causes, as one line (hyper-util's own message is only "client error (Connect)").
fn describe_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

fn tls_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Tls(e.to_string())
}

impl ApiClient {
    /// `server` is `https://HOST:PORT`; `identity` a client certificate and key (PEM) when we have one.
    pub fn new(server: &str, trust: Trust, identity: Option<(&str, &str)>) -> Result<Self, ClientError> {
        let identity = identity.map(|(cert, key)| ClientIdentity::new(cert, key)).transpose()?;
        Self::presenting(server, trust, identity)
    }

    /// A client presenting `identity`, which may be replaced while it runs (shared by several clients).
    pub fn presenting(server: &str, trust: Trust, identity: Option<Arc<ClientIdentity>>) -> Result<Self, ClientError> {
        servers::host_and_port(server)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let builder = match trust {
            Trust::Ca(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots.add(cert.map_err(tls_err)?).map_err(tls_err)?;
                }
                builder.with_root_certificates(roots)
            }
            Trust::UnverifiedForDiscovery => {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(insecure::AcceptAnyServer::new(provider)))
            }
        };
        let config = match identity {
            Some(identity) => builder.with_client_cert_resolver(identity),
            None => builder.with_no_client_auth(),
        };
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // A master that lost its power answers nothing, not even a reset: a watch on it (idle between
        // events) would wait forever. Keepalive probes and a send timeout end such a connection within
        // about DEAD_PEER_AFTER, and the client moves on to the next master.
        http.set_keepalive(Some(std::time::Duration::from_secs(2)));
        http.set_keepalive_interval(Some(std::time::Duration::from_secs(1)));
        http.set_keepalive_retries(Some(3));
        http.set_tcp_user_timeout(Some(DEAD_PEER_AFTER));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config.clone())
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        let pooled = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        Ok(ApiClient {
            servers: Servers::one(server.trim_end_matches('/').to_string()),
            connector: TlsConnector::from(Arc::new(config)),
            pooled,
        })
    }

    /// A client for the first cluster and user of a kubeconfig (admin.conf, agent.conf).
    pub fn from_kubeconfig(config: &crate::bootstrap::kubeconfig::Kubeconfig) -> Result<Self, ClientError> {
        let (server, ca) = config.first_cluster().map_err(tls_err)?;
        let (cert, key) = config.first_user_credentials().map_err(tls_err)?;
        Self::new(&server, Trust::Ca(ca), Some((&cert, &key)))
    }

    /// The server requests go to now.
    pub fn server(&self) -> String {
        self.servers.current()
    }

    /// The servers this client tries, shared with the clients that are given it (`sharing`).
    pub fn servers(&self) -> &Servers {
        &self.servers
    }

    /// The same client using `servers` (the list another client of this process keeps).
    pub fn sharing(mut self, servers: &Servers) -> Self {
        self.servers = servers.clone();
        self
    }

    fn http_error(&self, message: String) -> ClientError {
        ClientError::Http { server: self.server(), message }
    }

    /// Send one request on a pooled connection; the response's body is still to be read.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let json = body.is_some();
        let body = Bytes::from(body.unwrap_or_default());
        let mut unreachable = None;
        // The server that answered last first; the others when it cannot be reached.
        for (place, server) in self.servers.in_order() {
            let mut req =
                Request::builder().method(method).uri(format!("{server}{path}")).header("user-agent", USER_AGENT);
            if json {
                req = req.header("content-type", "application/json");
            }
            if let Some(token) = bearer {
                req = req.header("authorization", format!("Bearer {token}"));
            }
            let http_error = |message: String| ClientError::Http { server: server.clone(), message };
            let req = req.body(Full::new(body.clone())).map_err(|e| http_error(e.to_string()))?;
            match self.pooled.request(req).await {
                Ok(response) => {
                    self.servers.answered(place, &server);
                    return Ok(response);
                }
                Err(e) if e.is_connect() => {
                    unreachable.get_or_insert(ClientError::Connect { server, message: describe_chain(&e) });
                }
                Err(e) => return Err(http_error(describe_chain(&e))),
            }
        }
        Err(unreachable.expect("at least the kubeconfig's server was tried"))
    }

    /// Send `req` (its URI a path) on a new connection that may be upgraded (`hyper::upgrade::on` the
    /// response): the API server's proxy to a node's agent uses this for exec, attach and port-forward.
    pub async fn send_request(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let server = self.server();
        let (host, port) = servers::host_and_port(&server)?;
        let connect = |message: String| ClientError::Connect { server: server.clone(), message };
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host.clone()).map_err(|e| connect(e.to_string()))?;
        let tls = self.connector.connect(name, tcp).await.map_err(|e| connect(format!("TLS: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.http_error(e.to_string()))?;
        tokio::spawn(conn.with_upgrades());
        let host = hyper::header::HeaderValue::from_str(&host).map_err(|e| self.http_error(e.to_string()))?;
        req.headers_mut().insert(hyper::header::HOST, host);
        sender.send_request(req).await.map_err(|e| self.http_error(e.to_string()))
    }

    /// A watch (`path` with `watch=true`): each event line is sent to `events` until the server ends the
    /// stream or the receiver goes away.
    pub async fn watch_lines(&self, path: &str, events: tokio::sync::mpsc::Sender<String>) -> Result<(), ClientError> {
        let response = self.send("GET", path, None, None).await?;
        if !response.status().is_success() {
            return Err(ClientError::Status {
                server: self.server(),
                status: response.status().as_u16(),
                message: "watch refused".into(),
            });
        }
        let mut body = response.into_body();
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| self.http_error(e.to_string()))?;
            let Some(data) = frame.data_ref() else { continue };
            pending.extend_from_slice(data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if events.send(String::from_utf8_lossy(&line).trim().to_string()).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One request; `bearer` adds `Authorization: Bearer …` (never logged).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let response = self.send(method, path, body, bearer).await?;
        let status = response.status().as_u16();
        let body =
            response.into_body().collect().await.map_err(|e| self.http_error(e.to_string()))?.to_bytes().to_vec();
        Ok(Reply { status, body })
    }
}
