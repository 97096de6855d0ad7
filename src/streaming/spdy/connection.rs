//! The server side of a SPDY/3.1 connection, as Kubernetes' streaming uses it: the client opens every stream
//! (SYN_STREAM with headers such as `streamtype`), the server answers each with an empty SYN_REPLY, data flows
//! both ways, a FIN half-closes, PINGs are echoed. What the spec has and this does not: server-pushed streams,
//! priorities, SETTINGS (read, ignored), and flow control — spdystream, kubectl's side, neither sends nor
//! honours WINDOW_UPDATE, so this neither does.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::frame::{Frame, FLAG_FIN, MAX_FRAME_LEN, RST_PROTOCOL_ERROR, RST_REFUSED_STREAM};
use super::header_block::{HeaderCompressor, HeaderDecompressor, Headers};
use crate::streaming::{Outgoing, OutputChannel};

/// Frames of one stream waiting for its reader before the connection's reading pauses.
const STREAM_BUFFER: usize = 16;
/// Payload per data frame written (kubectl reads and writes 32 KiB at a time).
const DATA_CHUNK: usize = 32 * 1024;

/// A stream the client opened.
pub struct SpdyStream {
    pub id: u32,
    pub headers: Headers,
    /// The client's data; ends at its FIN, a reset or the connection's end.
    pub inbound: mpsc::Receiver<Bytes>,
    pub out: OutputChannel,
}

impl SpdyStream {
    pub fn header(&self, name: &str) -> Option<&str> {
        super::header_block::header(&self.headers, name)
    }
}

/// A served connection: the streams as the client opens them, and the way to end it.
pub struct SpdyConnection {
    pub streams: mpsc::Receiver<SpdyStream>,
    outgoing: mpsc::Sender<Outgoing>,
    closed: watch::Receiver<bool>,
}

impl SpdyConnection {
    /// Serve `io` (the upgraded HTTP connection) in two tasks, one reading, one writing.
    pub fn serve<IO: AsyncRead + AsyncWrite + Send + 'static>(io: IO) -> SpdyConnection {
        let (read, write) = tokio::io::split(io);
        let (outgoing, outgoing_rx) = mpsc::channel(64);
        let (streams_tx, streams) = mpsc::channel(16);
        let (closed_tx, closed) = watch::channel(false);
        tokio::spawn(write_frames(write, outgoing_rx, closed_tx));
        tokio::spawn(read_frames(read, streams_tx, outgoing.clone(), closed.clone()));
        SpdyConnection { streams, outgoing, closed }
    }

    /// A writer for frames of stream `id` (an OutputChannel's target is its stream).
    pub fn output(&self, id: u32) -> OutputChannel {
        OutputChannel::new(id, self.outgoing.clone())
    }

    /// Write what is queued, then close the connection.
    pub async fn shutdown(mut self) {
        let _ = self.outgoing.send(Outgoing::Shutdown).await;
        let _ = self.closed.wait_for(|c| *c).await;
    }
}

async fn write_frames<W: AsyncWrite + Unpin>(
    mut write: W,
    mut outgoing: mpsc::Receiver<Outgoing>,
    closed: watch::Sender<bool>,
) {
    let mut headers = HeaderCompressor::default();
    let mut buf = BytesMut::with_capacity(DATA_CHUNK + 64);
    while let Some(next) = outgoing.recv().await {
        buf.clear();
        match next {
            Outgoing::Data { target, data, fin } => {
                let mut rest = data;
                loop {
                    let chunk = rest.split_to(rest.len().min(DATA_CHUNK.min(MAX_FRAME_LEN)));
                    let last = rest.is_empty();
                    let flags = if last && fin { FLAG_FIN } else { 0 };
                    Frame::Data { stream_id: target, flags, data: chunk }.encode(&mut buf);
                    if last {
                        break;
                    }
                }
            }
            Outgoing::Reply { stream } => {
                Frame::SynReply { stream_id: stream, flags: 0, header_block: headers.compress(&[]) }.encode(&mut buf)
            }
            Outgoing::Reset { stream, status } => Frame::RstStream { stream_id: stream, status }.encode(&mut buf),
            Outgoing::Pong { id } => Frame::Ping { id }.encode(&mut buf),
            Outgoing::Shutdown => break,
        }
        if write.write_all(&buf).await.is_err() || write.flush().await.is_err() {
            break;
        }
    }
    let _ = write.shutdown().await;
    let _ = closed.send(true);
}

async fn read_frames<R: AsyncRead + Unpin>(
    mut read: R,
    new_streams: mpsc::Sender<SpdyStream>,
    outgoing: mpsc::Sender<Outgoing>,
    mut closed: watch::Receiver<bool>,
) {
    let mut headers = HeaderDecompressor::default();
    let mut open: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let frame = match Frame::decode(&mut buf) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                tokio::select! {
                    n = read.read_buf(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    },
                    _ = closed.wait_for(|c| *c) => break,
                }
            }
            // A peer that speaks something else: nothing more on this connection can be trusted.
            Err(_) => break,
        };
        match frame {
            Frame::SynStream { stream_id, flags, header_block, .. } => {
                let Ok(decoded) = headers.decompress(&header_block) else {
                    let _ = outgoing.send(Outgoing::Reset { stream: stream_id, status: RST_PROTOCOL_ERROR }).await;
                    break;
                };
                let (tx, inbound) = mpsc::channel(STREAM_BUFFER);
                if flags & FLAG_FIN == 0 {
                    open.insert(stream_id, tx);
                }
                let stream = SpdyStream {
                    id: stream_id,
                    headers: decoded,
                    inbound,
                    out: OutputChannel::new(stream_id, outgoing.clone()),
                };
                let _ = outgoing.send(Outgoing::Reply { stream: stream_id }).await;
                if new_streams.send(stream).await.is_err() {
                    open.remove(&stream_id);
                    let _ = outgoing.send(Outgoing::Reset { stream: stream_id, status: RST_REFUSED_STREAM }).await;
                }
            }
            Frame::Data { stream_id, flags, data } => {
                if let Some(tx) = open.get(&stream_id) {
                    if !data.is_empty() && tx.send(data).await.is_err() {
                        // Its reader is gone: what follows on this stream is dropped.
                        open.remove(&stream_id);
                    }
                }
                if flags & FLAG_FIN != 0 {
                    open.remove(&stream_id);
                }
            }
            Frame::RstStream { stream_id, .. } => {
                open.remove(&stream_id);
            }
            Frame::Headers { header_block, .. } => {
                // Decoded only to keep the zlib stream in step; no header after SYN_STREAM matters here.
                if headers.decompress(&header_block).is_err() {
                    break;
                }
            }
            Frame::Ping { id } => {
                let _ = outgoing.send(Outgoing::Pong { id }).await;
            }
            Frame::GoAway { .. } => break,
            Frame::SynReply { .. } | Frame::Settings { .. } | Frame::WindowUpdate { .. } | Frame::Unknown { .. } => {}
        }
    }
    // Readers see the end of their streams; the handler sees no more new ones.
    drop(open);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client written against the frame and header-block modules, over an in-memory pipe.
    struct Client {
        io: tokio::io::DuplexStream,
        headers: HeaderCompressor,
        replies: HeaderDecompressor,
        buf: BytesMut,
    }

    impl Client {
        async fn send(&mut self, frame: Frame) {
            let mut out = BytesMut::new();
            frame.encode(&mut out);
            self.io.write_all(&out).await.unwrap();
        }
        async fn open(&mut self, id: u32, headers: &[(&str, &str)]) {
            let header_block = self.headers.compress(headers);
            self.send(Frame::SynStream { stream_id: id, associated_to: 0, priority: 0, flags: 0, header_block }).await;
        }
        async fn next(&mut self) -> Option<Frame> {
            loop {
                if let Some(frame) = Frame::decode(&mut self.buf).unwrap() {
                    if let Frame::SynReply { header_block, .. } = &frame {
                        assert!(self.replies.decompress(header_block).unwrap().is_empty());
                    }
                    return Some(frame);
                }
                if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                    return None;
                }
            }
        }
    }

    #[tokio::test]
    async fn streams_open_carry_data_and_close() {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let mut conn = SpdyConnection::serve(server_io);
        let mut client =
            Client { io: client_io, headers: Default::default(), replies: Default::default(), buf: BytesMut::new() };
        client.open(1, &[("streamtype", "error")]).await;
        client.open(3, &[("streamtype", "stdin")]).await;
        let error = conn.streams.recv().await.unwrap();
        let mut stdin = conn.streams.recv().await.unwrap();
        assert_eq!((error.id, error.header("streamtype")), (1, Some("error")));
        assert_eq!(stdin.header("streamtype"), Some("stdin"));
        assert_eq!(client.next().await, Some(Frame::SynReply { stream_id: 1, flags: 0, header_block: reply_block() }));
        assert!(matches!(client.next().await, Some(Frame::SynReply { stream_id: 3, .. })));

        client.send(Frame::Ping { id: 7 }).await;
        assert_eq!(client.next().await, Some(Frame::Ping { id: 7 }));

        client.send(Frame::Data { stream_id: 3, flags: 0, data: Bytes::from_static(b"abc") }).await;
        client.send(Frame::Data { stream_id: 3, flags: FLAG_FIN, data: Bytes::from_static(b"def") }).await;
        assert_eq!(stdin.inbound.recv().await.unwrap(), "abc");
        assert_eq!(stdin.inbound.recv().await.unwrap(), "def");
        assert_eq!(stdin.inbound.recv().await, None, "FIN ends the stream");

        // 100 KiB out: split into 32 KiB frames, the last one carrying FIN.
        let big = Bytes::from(vec![b'x'; 100 * 1024]);
        error.out.send_last(big.clone()).await.unwrap();
        let mut got = Vec::new();
        loop {
            match client.next().await.unwrap() {
                Frame::Data { stream_id: 1, flags, data } => {
                    assert!(data.len() <= DATA_CHUNK);
                    got.extend_from_slice(&data);
                    if flags & FLAG_FIN != 0 {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, big);
        conn.shutdown().await;
        assert_eq!(client.next().await, None, "shutdown closes the connection");
    }

    fn reply_block() -> Bytes {
        HeaderCompressor::default().compress(&[])
    }

    #[tokio::test]
    async fn the_client_going_away_ends_every_stream() {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let mut conn = SpdyConnection::serve(server_io);
        let mut client =
            Client { io: client_io, headers: Default::default(), replies: Default::default(), buf: BytesMut::new() };
        client.open(1, &[("streamtype", "data"), ("port", "80"), ("requestid", "0")]).await;
        let mut data = conn.streams.recv().await.unwrap();
        assert_eq!(data.header("port"), Some("80"));
        drop(client);
        assert_eq!(data.inbound.recv().await, None);
        assert!(conn.streams.recv().await.is_none());
    }
}
