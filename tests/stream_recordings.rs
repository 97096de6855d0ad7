//! The streaming framing against real kubectl sessions (tests/fixtures/streams, recorded from kubectl 1.20
//! and 1.33 on a lab cluster): kubectl's SPDY frames and WebSocket messages decode as Kubernetes' protocols
//! say, the server side built on them yields the streams kubectl opened with the bytes it sent, and what
//! our server answered (which kubectl accepted) decodes back to the replies, output and exit status.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use kubeboot::streaming::spdy::connection::SpdyConnection;
use kubeboot::streaming::spdy::frame::{Frame, FLAG_FIN};
use kubeboot::streaming::spdy::header_block::{header, HeaderDecompressor};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Message, WebSocket};

fn recording(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/streams").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (HTTP head, the bytes after it).
fn split_head(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP head") + 4;
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), bytes[end..].to_vec())
}

type Headers = Vec<(String, String)>;
/// A decoded frame and, for SYN_STREAM and SYN_REPLY, its headers.
type Decoded = (Frame, Headers);

/// Every frame in `bytes`, header blocks decompressed on one zlib stream: (frame, headers of a SYN_STREAM).
fn frames(bytes: &[u8]) -> Vec<Decoded> {
    let mut buf = BytesMut::from(bytes);
    let mut zlib = HeaderDecompressor::default();
    let mut out = Vec::new();
    while let Some(frame) = Frame::decode(&mut buf).expect("well-formed SPDY") {
        let headers = match &frame {
            Frame::SynStream { header_block, .. } | Frame::SynReply { header_block, .. } => {
                zlib.decompress(header_block).expect("a header block")
            }
            _ => Vec::new(),
        };
        out.push((frame, headers));
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

/// The data of one stream, and whether it ended with FIN.
fn stream_data(frames: &[Decoded], id: u32) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut fin = false;
    for (frame, _) in frames {
        if let Frame::Data { stream_id, flags, data: d } = frame {
            if *stream_id == id {
                data.extend_from_slice(d);
                fin |= flags & FLAG_FIN != 0;
            }
        }
    }
    (data, fin)
}

/// stream id -> streamtype of every SYN_STREAM.
fn opened(frames: &[Decoded]) -> Vec<(u32, String, Headers)> {
    frames
        .iter()
        .filter_map(|(f, h)| match f {
            Frame::SynStream { stream_id, .. } => {
                Some((*stream_id, header(h, "streamtype").unwrap_or("").to_string(), h.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn kubectl_1_20_exec_over_spdy() {
    let (head, body) = split_head(&recording("spdy-exec.client"));
    assert!(head.starts_with("POST /api/v1/namespaces/default/pods/talker/exec?command=cat&container=c1"), "{head}");
    assert!(head.contains("Upgrade: SPDY/3.1") && head.contains("X-Stream-Protocol-Version: v4.channel.k8s.io"));
    let sent = frames(&body);
    let streams = opened(&sent);
    let types: Vec<&str> = streams.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(types, ["error", "stdin", "stdout", "stderr"]);
    let stdin = streams.iter().find(|(_, t, _)| t == "stdin").unwrap().0;
    assert_eq!(stream_data(&sent, stdin), (b"through stdin\n".to_vec(), true), "stdin's bytes, then FIN");

    // Our answer, which kubectl accepted: a reply per stream, the output, the status, FIN on each.
    let (head, body) = split_head(&recording("spdy-exec.server"));
    assert!(head.starts_with("HTTP/1.1 101") && head.contains("x-stream-protocol-version: v4.channel.k8s.io"));
    let answer = frames(&body);
    let replied: Vec<u32> =
        answer.iter().filter(|(f, _)| matches!(f, Frame::SynReply { .. })).map(|(f, _)| stream_id(f)).collect();
    assert_eq!(replied, streams.iter().map(|(id, _, _)| *id).collect::<Vec<_>>());
    let id_of = |t: &str| streams.iter().find(|(_, ty, _)| ty == t).unwrap().0;
    assert_eq!(stream_data(&answer, id_of("stdout")), (b"through stdin\n".to_vec(), true));
    let (status, fin) = stream_data(&answer, id_of("error"));
    assert!(fin);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&status).unwrap()["status"], "Success");
}

fn stream_id(frame: &Frame) -> u32 {
    match frame {
        Frame::SynStream { stream_id, .. }
        | Frame::SynReply { stream_id, .. }
        | Frame::Data { stream_id, .. }
        | Frame::Headers { stream_id, .. }
        | Frame::RstStream { stream_id, .. }
        | Frame::WindowUpdate { stream_id, .. } => *stream_id,
        _ => 0,
    }
}

#[tokio::test]
async fn the_server_side_yields_the_streams_kubectl_opened() {
    let (_, body) = split_head(&recording("spdy-exec.client"));
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let mut connection = SpdyConnection::serve(server);
    client.write_all(&body).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        let mut stream = connection.streams.recv().await.expect("a stream");
        let kind = stream.header("streamtype").unwrap().to_string();
        let mut data = Vec::new();
        if kind == "stdin" {
            while let Some(chunk) = stream.inbound.recv().await {
                data.extend_from_slice(&chunk);
            }
        }
        got.push((kind, data));
    }
    assert_eq!(got[1], ("stdin".to_string(), b"through stdin\n".to_vec()));
    assert_eq!(got.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["error", "stdin", "stdout", "stderr"]);
}

/// A byte stream for tungstenite's blocking API: reads the recording, swallows what is written.
struct Recorded(Cursor<Vec<u8>>);

impl Read for Recorded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Recorded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The binary messages a client sent (tungstenite unmasks them, as the server side does).
fn client_messages(bytes: Vec<u8>) -> Vec<Bytes> {
    let mut ws = WebSocket::from_raw_socket(Recorded(Cursor::new(bytes)), Role::Server, None);
    let mut out = Vec::new();
    while let Ok(message) = ws.read() {
        match message {
            Message::Binary(b) => out.push(b),
            Message::Close(_) => break,
            _ => {}
        }
    }
    out
}

#[test]
fn kubectl_1_33_exec_over_websocket_v5() {
    let (head, body) = split_head(&recording("ws-exec.client"));
    assert!(head.contains("Sec-WebSocket-Protocol: v5.channel.k8s.io") && head.contains("Upgrade: websocket"));
    let messages = client_messages(body);
    // Channel 0 (stdin) carries the piped line; then v5's close signal for channel 0.
    let stdin: Vec<u8> = messages.iter().filter(|m| m[0] == 0).flat_map(|m| m[1..].to_vec()).collect();
    assert_eq!(stdin, b"through stdin\n");
    assert!(messages.iter().any(|m| m[..] == [255, 0]), "v5 closes stdin: {messages:?}");

    let (head, body) = split_head(&recording("ws-exec.server"));
    assert!(head.contains("sec-websocket-protocol: v5.channel.k8s.io"), "{head}");
    // Our frames are unmasked server frames: read them as a client would.
    let mut ws = WebSocket::from_raw_socket(Recorded(Cursor::new(body)), Role::Client, None);
    let mut stdout = Vec::new();
    let mut status = Vec::new();
    while let Ok(message) = ws.read() {
        if let Message::Binary(m) = message {
            match m[0] {
                1 => stdout.extend_from_slice(&m[1..]),
                3 => status.extend_from_slice(&m[1..]),
                _ => {}
            }
        }
    }
    assert_eq!(stdout, b"through stdin\n");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&status).unwrap()["status"], "Success");
}

fn check_port_forward_streams(spdy: &[u8], label: &str) {
    let frames = frames(spdy);
    let streams = opened(&frames);
    let error = streams.iter().find(|(_, t, _)| t == "error").unwrap_or_else(|| panic!("{label}: {streams:?}"));
    let data = streams.iter().find(|(_, t, _)| t == "data").unwrap();
    for (_, _, headers) in [error, data] {
        assert_eq!(header(headers, "port"), Some("8000"), "{label}");
        assert_eq!(header(headers, "requestid"), header(&error.2, "requestid"), "{label}: one pair");
    }
    let (request, _) = stream_data(&frames, data.0);
    assert!(request.starts_with(b"GET / HTTP/1.1\r\n"), "{label}: {}", String::from_utf8_lossy(&request));
}

#[test]
fn kubectl_port_forward_over_spdy_and_tunnelled_in_websocket() {
    let (head, body) = split_head(&recording("spdy-portforward.client"));
    assert!(head.contains("X-Stream-Protocol-Version: portforward.k8s.io"), "{head}");
    check_port_forward_streams(&body, "kubectl 1.20");

    let (head, body) = split_head(&recording("ws-portforward.client"));
    assert!(head.contains("Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io"), "{head}");
    // The tunnel: binary messages whose bytes, joined, are a SPDY connection.
    let spdy: Vec<u8> = client_messages(body).concat();
    check_port_forward_streams(&spdy, "kubectl 1.33");
}
