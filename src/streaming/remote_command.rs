//! The remote command protocol of exec and attach (`channel.k8s.io` v4 over SPDY, v4/v5 over WebSocket):
//! which streams a request asks for, gathering them from either transport into one `CommandStreams`, the
//! terminal size messages, and the final status on the error stream that kubectl turns into its exit code.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::spdy::connection::SpdyConnection;
use super::upgrade::{Negotiated, Transport};
use super::websocket::{self, ChannelConnection};
use super::OutputChannel;

pub const SPDY_PROTOCOLS: &[&str] = &["v4.channel.k8s.io"];
pub const WEBSOCKET_PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// kubelet's limit on the wait for the client's streams.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

const CHANNEL_STDIN: u8 = 0;
const CHANNEL_STDOUT: u8 = 1;
const CHANNEL_STDERR: u8 = 2;
const CHANNEL_ERROR: u8 = 3;
const CHANNEL_RESIZE: u8 = 4;

/// Which streams the request asked for (its query: `stdin`, `stdout`, `stderr`, `tty`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl StreamOptions {
    pub fn from_query(pairs: &[(String, String)]) -> StreamOptions {
        let flag = |name: &str| {
            pairs.iter().any(|(k, v)| k == name && crate::resources::go_bool::query_flag(Some(v.as_str())))
        };
        let tty = flag("tty");
        // With a TTY, stderr is merged into stdout and has no stream of its own.
        StreamOptions { stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr") && !tty, tty }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

enum Connection {
    Spdy(SpdyConnection),
    WebSocket(ChannelConnection),
}

/// The client's streams, whichever transport carries them.
pub struct CommandStreams {
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    pub stdout: Option<OutputChannel>,
    pub stderr: Option<OutputChannel>,
    pub resize: Option<mpsc::Receiver<TerminalSize>>,
    error: OutputChannel,
    connection: Connection,
}

#[derive(Debug, thiserror::Error)]
#[error("the client did not open its {missing} stream within {STREAM_CREATION_TIMEOUT:?}")]
pub struct StreamsMissing {
    missing: String,
}

/// Terminal sizes from a stream of JSON objects (kubectl writes one per resize, newline-separated, and a
/// transport may cut them anywhere).
fn terminal_sizes(mut raw: mpsc::Receiver<Bytes>) -> mpsc::Receiver<TerminalSize> {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut pending = Vec::new();
        while let Some(chunk) = raw.recv().await {
            pending.extend_from_slice(&chunk);
            let mut sizes = serde_json::Deserializer::from_slice(&pending).into_iter::<TerminalSize>();
            let mut used = 0;
            while let Some(Ok(size)) = sizes.next() {
                used = sizes.byte_offset();
                if tx.send(size).await.is_err() {
                    return;
                }
            }
            pending.drain(..used);
        }
    });
    rx
}

impl CommandStreams {
    /// The streams of an upgraded connection: over WebSocket they exist at once; over SPDY the client
    /// opens them (by `streamtype`), and the ones `options` asks for must all arrive.
    pub async fn accept<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        io: IO,
        negotiated: &Negotiated,
        options: StreamOptions,
    ) -> Result<CommandStreams, StreamsMissing> {
        match negotiated.transport {
            Transport::WebSocket { .. } => {
                let ws = websocket::accept(io).await;
                let mut inputs = HashMap::new();
                let (stdin_tx, stdin) = mpsc::channel(16);
                if options.stdin {
                    inputs.insert(CHANNEL_STDIN, stdin_tx);
                }
                let (resize_tx, resize) = mpsc::channel(8);
                if options.tty {
                    inputs.insert(CHANNEL_RESIZE, resize_tx);
                }
                let connection = ChannelConnection::serve(ws, inputs);
                Ok(CommandStreams {
                    stdin: options.stdin.then_some(stdin),
                    stdout: options.stdout.then(|| connection.output(CHANNEL_STDOUT)),
                    stderr: options.stderr.then(|| connection.output(CHANNEL_STDERR)),
                    resize: options.tty.then(|| terminal_sizes(resize)),
                    error: connection.output(CHANNEL_ERROR),
                    connection: Connection::WebSocket(connection),
                })
            }
            Transport::Spdy => {
                let mut connection = SpdyConnection::serve(io);
                let mut expected: Vec<&str> = vec!["error"];
                for (wanted, name) in [
                    (options.stdin, "stdin"),
                    (options.stdout, "stdout"),
                    (options.stderr, "stderr"),
                    (options.tty, "resize"),
                ] {
                    if wanted {
                        expected.push(name);
                    }
                }
                let mut got = HashMap::new();
                let deadline = tokio::time::sleep(STREAM_CREATION_TIMEOUT);
                tokio::pin!(deadline);
                while expected.iter().any(|e| !got.contains_key(*e)) {
                    let stream = tokio::select! {
                        s = connection.streams.recv() => s,
                        _ = &mut deadline => None,
                    };
                    let Some(stream) = stream else {
                        let missing = expected.iter().filter(|e| !got.contains_key(**e)).cloned().collect::<Vec<_>>();
                        connection.shutdown().await;
                        return Err(StreamsMissing { missing: missing.join(", ") });
                    };
                    let kind = stream.header("streamtype").unwrap_or("").to_string();
                    got.insert(kind, stream);
                }
                let mut take = |name: &str| got.remove(name);
                let error = take("error").expect("waited for").out;
                let stdin = take("stdin").map(|s| s.inbound);
                let stdout = take("stdout").map(|s| s.out);
                let stderr = take("stderr").map(|s| s.out);
                let resize = take("resize").map(|s| terminal_sizes(s.inbound));
                Ok(CommandStreams { stdin, stdout, stderr, resize, error, connection: Connection::Spdy(connection) })
            }
        }
    }

    /// Report how the command ended (an exit code, or why it could not run), close the streams and the
    /// connection.
    pub async fn finish(self, outcome: Result<i64, String>) {
        let status = command_status(outcome);
        let _ = self.error.send_last(Bytes::from(status.to_string())).await;
        for out in [&self.stdout, &self.stderr].into_iter().flatten() {
            let _ = out.close().await;
        }
        match self.connection {
            Connection::Spdy(c) => c.shutdown().await,
            Connection::WebSocket(c) => c.shutdown().await,
        }
    }
}

/// The v4 status: Success, or Failure with the exit code as the cause kubectl reads.
pub fn command_status(outcome: Result<i64, String>) -> serde_json::Value {
    match outcome {
        Ok(0) => json!({"metadata": {}, "status": "Success"}),
        Ok(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Err(message) => json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "InternalError",
            "code": 500,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_the_query() {
        let q = |pairs: &[(&str, &str)]| {
            StreamOptions::from_query(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
        };
        assert_eq!(
            q(&[("command", "sh"), ("stdin", "true"), ("stdout", "true"), ("stderr", "true")]),
            StreamOptions { stdin: true, stdout: true, stderr: true, tty: false }
        );
        assert_eq!(
            q(&[("stdout", "1"), ("stderr", "1"), ("tty", "1")]),
            StreamOptions { stdin: false, stdout: true, stderr: false, tty: true },
            "a TTY has no stderr stream"
        );
    }

    #[test]
    fn statuses_kubectl_reads() {
        assert_eq!(command_status(Ok(0))["status"], "Success");
        let failed = command_status(Ok(3));
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
        assert_eq!(command_status(Err("no such container".into()))["message"], "no such container");
    }

    #[tokio::test]
    async fn sizes_cut_anywhere_arrive_whole() {
        let (tx, rx) = mpsc::channel(8);
        let mut sizes = terminal_sizes(rx);
        tx.send(Bytes::from_static(b"{\"Width\":80,\"Hei")).await.unwrap();
        tx.send(Bytes::from_static(b"ght\":24}\n{\"Width\":120,\"Height\":40}\n")).await.unwrap();
        assert_eq!(sizes.recv().await, Some(TerminalSize { width: 80, height: 24 }));
        assert_eq!(sizes.recv().await, Some(TerminalSize { width: 120, height: 40 }));
        drop(tx);
        assert_eq!(sizes.recv().await, None);
    }
}
