//! Kubernetes' streaming protocols, server side, as kubectl speaks them to exec, attach and port-forward:
//! SPDY/3.1 (spdy/: our own framing — no maintained Rust crate serves SPDY/3.1) and WebSocket channels
//! (websocket.rs, on tungstenite). Both feed the same shapes: `OutputChannel`s to write to and receivers to
//! read from, so the node API's handlers do not know which protocol the client chose.

pub mod remote_command;
pub mod spdy;
pub mod upgrade;
pub mod websocket;

use bytes::Bytes;
use tokio::sync::mpsc;

/// What a connection's writer task is asked to put on the wire.
#[derive(Debug)]
pub enum Outgoing {
    /// Bytes for a stream (SPDY) or channel (WebSocket); `fin` half-closes a SPDY stream.
    Data { target: u32, data: Bytes, fin: bool },
    /// SPDY: the empty SYN_REPLY accepting a stream.
    Reply { stream: u32 },
    /// SPDY: RST_STREAM.
    Reset { stream: u32, status: u32 },
    /// SPDY: the answer to a PING.
    Pong { id: u32 },
    /// Write nothing more; close the connection.
    Shutdown,
}

#[derive(Debug, thiserror::Error)]
#[error("the client's connection is closed")]
pub struct Closed;

/// One outgoing stream or channel of a connection.
#[derive(Clone, Debug)]
pub struct OutputChannel {
    target: u32,
    tx: mpsc::Sender<Outgoing>,
}

impl OutputChannel {
    pub fn new(target: u32, tx: mpsc::Sender<Outgoing>) -> Self {
        OutputChannel { target, tx }
    }

    pub async fn send(&self, data: Bytes) -> Result<(), Closed> {
        self.tx.send(Outgoing::Data { target: self.target, data, fin: false }).await.map_err(|_| Closed)
    }

    /// The last bytes of this stream (SPDY: with FIN).
    pub async fn send_last(&self, data: Bytes) -> Result<(), Closed> {
        self.tx.send(Outgoing::Data { target: self.target, data, fin: true }).await.map_err(|_| Closed)
    }

    pub async fn close(&self) -> Result<(), Closed> {
        self.send_last(Bytes::new()).await
    }

    pub async fn reset(&self, status: u32) {
        let _ = self.tx.send(Outgoing::Reset { stream: self.target, status }).await;
    }
}
