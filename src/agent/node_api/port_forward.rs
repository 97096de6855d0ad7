//! `port-forward` (kubelet's `/portForward/{ns}/{pod}/{uid}`): over SPDY (`portforward.k8s.io`), directly or
//! tunnelled in WebSocket (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+). Each forwarded connection is a
//! pair of streams with one `requestid` — `error` and `data`, with the `port` header — and becomes a TCP
//! connection to localhost:port made inside the pod's network namespace, as kubelet does.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::{sandbox, PodRef};
use super::NodeApiState;
use crate::agent::runtime::ContainerRuntime;
use crate::streaming::spdy::connection::{SpdyConnection, SpdyStream};
use crate::streaming::upgrade::{negotiate, switching_protocols, Transport};
use crate::streaming::websocket;

const SPDY_PROTOCOLS: &[&str] = &["portforward.k8s.io"];
const WEBSOCKET_PROTOCOLS: &[&str] = &["SPDY/3.1+portforward.k8s.io"];
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn port_forward(
    State(state): State<Arc<NodeApiState>>,
    Path((namespace, pod, uid)): Path<(String, String, String)>,
    mut request: Request,
) -> Response {
    let pod_ref = PodRef { namespace: &namespace, pod: &pod, uid: Some(&uid) };
    let sandbox = match sandbox(&state.runtime, &pod_ref).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pid = match state.runtime.pid(&sandbox.id).await {
        Ok(p) => p,
        Err(e) => {
            return crate::control_plane::api::status::status(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            )
        }
    };
    let negotiated = match negotiate(request.headers(), SPDY_PROTOCOLS, WEBSOCKET_PROTOCOLS) {
        Ok(n) => n,
        Err(refusal) => return refusal.into_response(),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let transport = negotiated.transport.clone();
    let target = Target { pid, sandbox_id: sandbox.id, uid };
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let io = TokioIo::new(upgraded);
        let connection = match transport {
            Transport::Spdy => SpdyConnection::serve(io),
            Transport::WebSocket { .. } => SpdyConnection::serve(websocket::tunnel(websocket::accept(io).await)),
        };
        forward_streams(connection, Arc::new(target)).await;
    });
    switching_protocols(&negotiated)
}

/// Where forwarded connections go: the pod's network namespace (its sandbox's process).
struct Target {
    pid: i64,
    sandbox_id: String,
    uid: String,
}

/// Pair the client's streams by request id; each pair is one forwarded connection.
async fn forward_streams(mut connection: SpdyConnection, target: Arc<Target>) {
    let mut waiting: HashMap<String, SpdyStream> = HashMap::new();
    while let Some(stream) = connection.streams.recv().await {
        let id = stream.header("requestid").unwrap_or("").to_string();
        let Some(partner) = waiting.remove(&id) else {
            waiting.insert(id, stream);
            continue;
        };
        let (error, data) =
            if stream.header("streamtype") == Some("error") { (stream, partner) } else { (partner, stream) };
        tokio::spawn(forward(error, data, target.clone()));
    }
}

async fn forward(error: SpdyStream, data: SpdyStream, target: Arc<Target>) {
    let port = data.header("port").and_then(|p| p.parse::<u16>().ok());
    let connected = match port {
        Some(port) => connect_in_namespace(target.pid, port).await,
        None => Err(std::io::Error::other(format!("invalid port {:?}", data.header("port").unwrap_or("")))),
    };
    let tcp = match connected {
        Ok(tcp) => tcp,
        Err(e) => {
            let message = format!(
                "error forwarding port {} to pod {}, uid {}: failed to connect to localhost:{} inside the pod's network namespace: {e}",
                port.unwrap_or(0),
                target.sandbox_id,
                target.uid,
                port.unwrap_or(0),
            );
            let _ = error.out.send_last(Bytes::from(message)).await;
            let _ = data.out.close().await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = tcp.into_split();
    let SpdyStream { mut inbound, out, .. } = data;
    // The client's bytes to the pod; its end (FIN) half-closes the pod's connection.
    let upstream = tokio::spawn(async move {
        while let Some(chunk) = inbound.recv().await {
            if to_pod.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to_pod.shutdown().await;
    });
    // The pod's bytes to the client until the pod closes; then the pair is done, as with kubelet: kubectl
    // waits for the error stream's end before it closes its local connection, so waiting here for the
    // client's FIN as well would leave both sides waiting.
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from_pod.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                    break;
                }
            }
        }
    }
    upstream.abort();
    let _ = out.close().await;
    let _ = error.out.close().await;
}

/// A TCP connection to localhost:port made from inside the network namespace of process `pid`: a thread
/// of its own enters the namespace (setns changes only the calling thread) and ends after connecting.
async fn connect_in_namespace(pid: i64, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let namespace = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace descriptor; it affects only this thread, which ends below.
        let entered = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
        let result = if entered != 0 {
            Err(std::io::Error::last_os_error())
        } else {
            TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), CONNECT_TIMEOUT)
        };
        let _ = tx.send(result);
    });
    let stream = rx.await.map_err(|_| std::io::Error::other("the connecting thread ended"))??;
    stream.set_nonblocking(true)?;
    let _ = stream.set_nodelay(true);
    tokio::net::TcpStream::from_std(stream)
}
