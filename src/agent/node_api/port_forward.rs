//! `port-forward` (kubelet's `/portForward/{ns}/{pod}/{uid}`), in each protocol kubelet serves:
//! - SPDY (`portforward.k8s.io`), directly or tunnelled in WebSocket (`SPDY/3.1+portforward.k8s.io`,
//!   kubectl 1.31+): each forwarded connection is a pair of streams with one `requestid` — `error` and
//!   `data`, with the `port` header;
//! - WebSocket channels (`v4.channel.k8s.io`, the client libraries'): the ports are the query's `port`
//!   (or the API's `ports`), port i has data channel 2i and error channel 2i+1, each opened by the port
//!   number (2 bytes, little-endian), and the connection ends when the pod's connections have.
//!
//! Either way each becomes a TCP connection to localhost:port made inside the pod's network namespace, as
//! kubelet does.

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
use crate::https::status::bad_request;
use crate::streaming::spdy::connection::{SpdyConnection, SpdyStream};
use crate::streaming::upgrade::{negotiate, switching_protocols, Transport};
use crate::streaming::{websocket, OutputChannel};

const SPDY_PROTOCOLS: &[&str] = &["portforward.k8s.io"];
const SPDY_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
const CHANNELS: &str = "v4.channel.k8s.io";
const WEBSOCKET_PROTOCOLS: &[&str] = &[SPDY_TUNNEL, CHANNELS];
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
            return crate::https::status::status(
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
    let channels = negotiated.protocol == CHANNELS;
    let ports = match requested_ports(request.uri().query().unwrap_or("")) {
        Ok(ports) if !ports.is_empty() || !channels => ports,
        Ok(_) => return bad_request("query parameter \"port\" is required"),
        Err(message) => return bad_request(message),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let transport = negotiated.transport.clone();
    let target = Arc::new(Target { pid, sandbox_id: sandbox.id, uid });
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let io = TokioIo::new(upgraded);
        match transport {
            Transport::Spdy => forward_streams(SpdyConnection::serve(io), target).await,
            Transport::WebSocket { .. } if channels => {
                forward_channels(websocket::accept(io).await, ports, target).await
            }
            Transport::WebSocket { .. } => {
                let tunnel = websocket::tunnel(websocket::accept(io).await);
                forward_streams(SpdyConnection::serve(tunnel), target).await
            }
        }
    });
    switching_protocols(&negotiated)
}

/// The ports a WebSocket client asks for: kubelet's `port`, or `ports` as the API names it (repeated or
/// comma-separated).
fn requested_ports(query: &str) -> Result<Vec<u16>, String> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "port" || k == "ports")
        .flat_map(|(_, v)| v.split(',').map(|p| p.trim().to_string()).collect::<Vec<_>>())
        .map(|p| p.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| format!("invalid port {p:?}")))
        .collect()
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

/// Kubelet's words for a port the pod does not answer on.
fn connect_error(target: &Target, port: u16, e: &std::io::Error) -> Bytes {
    Bytes::from(format!(
        "error forwarding port {port} to pod {}, uid {}: failed to connect to localhost:{port} inside the pod's network namespace: {e}",
        target.sandbox_id, target.uid,
    ))
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
            let _ = error.out.send_last(connect_error(&target, port.unwrap_or(0), &e)).await;
            let _ = data.out.close().await;
            return;
        }
    };
    let SpdyStream { inbound, out, .. } = data;
    pump(tcp, inbound, &out).await;
    let _ = out.close().await;
    let _ = error.out.close().await;
}

/// The WebSocket channel protocol: every port's pair of channels, each opened with the port number.
async fn forward_channels<IO>(ws: tokio_tungstenite::WebSocketStream<IO>, ports: Vec<u16>, target: Arc<Target>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut inputs = HashMap::new();
    let mut receivers = Vec::new();
    for i in 0..ports.len() {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        inputs.insert((2 * i) as u8, tx);
        receivers.push(rx);
    }
    let connection = websocket::ChannelConnection::serve(ws, inputs);
    let mut forwards = Vec::new();
    for (i, (port, inbound)) in ports.into_iter().zip(receivers).enumerate() {
        let (data, error) = (connection.output((2 * i) as u8), connection.output((2 * i + 1) as u8));
        let target = target.clone();
        forwards.push(tokio::spawn(async move {
            let opening = Bytes::copy_from_slice(&port.to_le_bytes());
            if data.send(opening.clone()).await.is_err() || error.send(opening).await.is_err() {
                return;
            }
            match connect_in_namespace(target.pid, port).await {
                Ok(tcp) => pump(tcp, inbound, &data).await,
                Err(e) => {
                    let _ = error.send(connect_error(&target, port, &e)).await;
                }
            }
        }));
    }
    for forward in forwards {
        let _ = forward.await;
    }
    connection.shutdown().await;
}

/// The client's bytes to the pod and the pod's back, until the pod closes its end.
async fn pump(tcp: tokio::net::TcpStream, mut inbound: tokio::sync::mpsc::Receiver<Bytes>, out: &OutputChannel) {
    let (mut from_pod, mut to_pod) = tcp.into_split();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_either_name_repeated_or_listed() {
        assert_eq!(requested_ports("port=8000&port=80"), Ok(vec![8000, 80]));
        assert_eq!(requested_ports("ports=8000,9000"), Ok(vec![8000, 9000]));
        assert_eq!(requested_ports(""), Ok(vec![]));
        assert_eq!(requested_ports("ports=http"), Err("invalid port \"http\"".into()));
        assert_eq!(requested_ports("port=0"), Err("invalid port \"0\"".into()));
    }
}
