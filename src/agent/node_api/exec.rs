//! `exec` and `attach` (kubelet's `/exec/{ns}/{pod}/{uid}/{container}` and `/attach/…`): the container is
//! found before the upgrade (so a wrong one is a plain HTTP error kubectl prints), then the client's streams
//! are joined to a Docker exec session or to the container's own process, resizes follow, and the exit code
//! goes back on the error stream.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use super::containers::{running_container, PodRef};
use super::{query_pairs, NodeApiState};
use crate::agent::runtime::docker_streams::{Output, Session};
use crate::https::status::status;
use crate::streaming::remote_command::{CommandStreams, StreamOptions, SPDY_PROTOCOLS, WEBSOCKET_PROTOCOLS};
use crate::streaming::upgrade::{negotiate, switching_protocols};

enum Target {
    Exec { command: Vec<String> },
    Attach,
}

pub async fn exec(
    State(state): State<Arc<NodeApiState>>,
    Path((namespace, pod, uid, container)): Path<(String, String, String, String)>,
    request: Request,
) -> Response {
    let command: Vec<String> =
        query_pairs(&request).into_iter().filter(|(k, _)| k == "command").map(|(_, v)| v).collect();
    if command.is_empty() {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "you must specify at least 1 command");
    }
    serve(
        state,
        PodRef { namespace: &namespace, pod: &pod, uid: Some(&uid) },
        &container,
        Target::Exec { command },
        request,
    )
    .await
}

pub async fn attach(
    State(state): State<Arc<NodeApiState>>,
    Path((namespace, pod, uid, container)): Path<(String, String, String, String)>,
    request: Request,
) -> Response {
    serve(state, PodRef { namespace: &namespace, pod: &pod, uid: Some(&uid) }, &container, Target::Attach, request)
        .await
}

async fn serve(
    state: Arc<NodeApiState>,
    pod: PodRef<'_>,
    container: &str,
    target: Target,
    mut request: Request,
) -> Response {
    let options = StreamOptions::from_query(&query_pairs(&request));
    let instance = match running_container(&state.runtime, &pod, container).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let negotiated = match negotiate(request.headers(), SPDY_PROTOCOLS, WEBSOCKET_PROTOCOLS) {
        Ok(n) => n,
        Err(refusal) => return refusal.into_response(),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let answer = negotiated.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let Ok(streams) = CommandStreams::accept(TokioIo::new(upgraded), &negotiated, options).await else { return };
        run(state, &instance.id, target, options, streams).await;
    });
    switching_protocols(&answer)
}

/// Join the client's streams to the process until its output ends; then report how it ended.
async fn run(
    state: Arc<NodeApiState>,
    container_id: &str,
    target: Target,
    options: StreamOptions,
    mut streams: CommandStreams,
) {
    let runtime = &state.runtime;
    // kubectl sends the terminal's size as soon as its streams are open: start the process with it.
    let mut first_size = None;
    if let Some(sizes) = streams.resize.as_mut() {
        if let Ok(Some(size)) = tokio::time::timeout(Duration::from_secs(1), sizes.recv()).await {
            first_size = Some((size.width, size.height));
        }
    }
    let started = match &target {
        Target::Exec { command } => runtime
            .exec_session(container_id, command.clone(), options.stdin, options.tty, first_size)
            .await
            .map(|(exec_id, session)| (Some(exec_id), session)),
        Target::Attach => {
            if let Some((width, height)) = first_size {
                let _ = runtime.resize_container(container_id, width, height).await;
            }
            runtime.attach(container_id, options.stdin).await.map(|session| (None, session))
        }
    };
    let (exec_id, Session { mut output, mut input }) = match started {
        Ok(s) => s,
        Err(e) => return streams.finish(Err(e.to_string())).await,
    };
    if let Some(mut stdin) = streams.stdin.take() {
        tokio::spawn(async move {
            while let Some(chunk) = stdin.recv().await {
                if input.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            // The client's end of stdin is the process's.
            let _ = input.shutdown().await;
        });
    }
    if let Some(mut sizes) = streams.resize.take() {
        let (state, container_id, exec_id) = (state.clone(), container_id.to_string(), exec_id.clone());
        tokio::spawn(async move {
            while let Some(size) = sizes.recv().await {
                let _ = match &exec_id {
                    Some(exec) => state.runtime.resize_exec(exec, size.width, size.height).await,
                    None => state.runtime.resize_container(&container_id, size.width, size.height).await,
                };
            }
        });
    }
    use futures::StreamExt;
    while let Some(chunk) = output.next().await {
        let sent = match chunk {
            Ok(Output::Stdout(b)) => match &streams.stdout {
                Some(out) => out.send(b).await,
                None => Ok(()),
            },
            Ok(Output::Stderr(b)) => match streams.stderr.as_ref().or(streams.stdout.as_ref()) {
                Some(out) => out.send(b).await,
                None => Ok(()),
            },
            Err(_) => break,
        };
        // The client went away: the process goes on, as with kubelet.
        if sent.is_err() {
            return;
        }
    }
    let outcome = match exec_id {
        Some(exec) => exit_code(runtime, &exec).await,
        None => Ok(0),
    };
    streams.finish(outcome).await;
}

/// The exec's exit code; Docker may take a moment after the output ends to record it.
async fn exit_code(runtime: &crate::agent::runtime::docker::DockerRuntime, exec_id: &str) -> Result<i64, String> {
    for _ in 0..50 {
        match runtime.exec_exit_code(exec_id).await {
            Ok(Some(code)) => return Ok(code),
            Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("the exit code of exec {exec_id} was not recorded"))
}
