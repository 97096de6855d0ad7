//! WebSocket, server side, the two ways kubectl 1.30+ uses it (framing by tungstenite):
//! - channels (`v5.channel.k8s.io`, `v4.channel.k8s.io`): every binary message starts with its channel
//!   (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5 adds `[255, channel]`, the client closing that
//!   channel (how stdin's end is told);
//! - a tunnel (`SPDY/3.1+portforward.k8s.io`): binary messages carry the bytes of a SPDY connection.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{Outgoing, OutputChannel};

/// v5's "the client closed this channel" marker.
const CLOSE_CHANNEL: u8 = 255;
const TUNNEL_BUFFER: usize = 256 * 1024;

pub async fn accept<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: IO) -> WebSocketStream<IO> {
    WebSocketStream::from_raw_socket(io, Role::Server, None).await
}

/// A served channel connection: outgoing channels by number, and the way to end it.
pub struct ChannelConnection {
    outgoing: mpsc::Sender<Outgoing>,
    closed: watch::Receiver<bool>,
}

impl ChannelConnection {
    /// Serve `ws`: the client's messages on channel N go to `inputs[N]` (a channel the client closes, or a
    /// channel nobody asked for, is dropped), the writer task puts outgoing channels on the wire.
    pub fn serve<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        ws: WebSocketStream<IO>,
        mut inputs: HashMap<u8, mpsc::Sender<Bytes>>,
    ) -> ChannelConnection {
        let (mut sink, mut stream) = ws.split();
        let (outgoing, mut outgoing_rx) = mpsc::channel::<Outgoing>(64);
        let (closed_tx, closed) = watch::channel(false);
        tokio::spawn(async move {
            while let Some(next) = outgoing_rx.recv().await {
                let message = match next {
                    Outgoing::Data { target, data, .. } => {
                        let mut framed = Vec::with_capacity(data.len() + 1);
                        framed.push(target as u8);
                        framed.extend_from_slice(&data);
                        Message::Binary(framed.into())
                    }
                    Outgoing::Shutdown => break,
                    Outgoing::Reply { .. } | Outgoing::Reset { .. } | Outgoing::Pong { .. } => continue,
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.send(Message::Close(Some(CloseFrame { code: 1000.into(), reason: "".into() }))).await;
            let _ = sink.close().await;
            let _ = closed_tx.send(true);
        });
        let mut reader_closed = closed.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    m = stream.next() => m,
                    _ = reader_closed.wait_for(|c| *c) => break,
                };
                match message {
                    Some(Ok(Message::Binary(data))) if !data.is_empty() => {
                        let channel = data[0];
                        if channel == CLOSE_CHANNEL {
                            if let Some(closing) = data.get(1) {
                                inputs.remove(closing);
                            }
                            continue;
                        }
                        let payload = data.slice(1..);
                        if payload.is_empty() {
                            continue;
                        }
                        if let Some(tx) = inputs.get(&channel) {
                            if tx.send(payload).await.is_err() {
                                inputs.remove(&channel);
                            }
                        }
                    }
                    // Pings are answered by tungstenite as it reads; text and empty messages carry nothing.
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                }
            }
        });
        ChannelConnection { outgoing, closed }
    }

    pub fn output(&self, channel: u8) -> OutputChannel {
        OutputChannel::new(channel as u32, self.outgoing.clone())
    }

    /// Send what is queued, then the close handshake.
    pub async fn shutdown(mut self) {
        let _ = self.outgoing.send(Outgoing::Shutdown).await;
        let _ = self.closed.wait_for(|c| *c).await;
    }
}

/// The tunnel: a byte stream whose bytes travel in binary messages of `ws`, for a SPDY connection over it.
pub fn tunnel<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(ws: WebSocketStream<IO>) -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(TUNNEL_BUFFER);
    let (mut read_half, mut write_half) = tokio::io::split(ours);
    let (mut sink, mut stream) = ws.split();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match read_half.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sink.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(Some(CloseFrame { code: 1000.into(), reason: "".into() }))).await;
        let _ = sink.close().await;
    });
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Binary(data) if write_half.write_all(&data).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = write_half.shutdown().await;
    });
    theirs
}
