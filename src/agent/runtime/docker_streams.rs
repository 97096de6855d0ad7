//! The streaming side of Docker that the node API serves: a container's log as the json-file driver kept it,
//! interactive exec sessions and attach, each with its TTY resize. Kept apart from `ContainerRuntime`, which
//! is what the pod sync needs.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, LogsOptionsBuilder, ResizeContainerTTYOptionsBuilder, ResizeExecOptionsBuilder,
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use super::docker::DockerRuntime;
use super::RuntimeError;

/// What `kubectl logs` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    pub timestamps: bool,
    /// Only lines after this Unix time (seconds).
    pub since: Option<i64>,
    pub tail_lines: Option<u64>,
}

/// Which of the process's streams a chunk of output came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

pub type OutputStream = Pin<Box<dyn Stream<Item = Result<Output, RuntimeError>> + Send>>;
pub type InputSink = Pin<Box<dyn AsyncWrite + Send>>;

/// A started process the client is connected to.
pub struct Session {
    pub output: OutputStream,
    pub input: InputSink,
}

fn output(chunk: Result<LogOutput, bollard::errors::Error>) -> Result<Output, RuntimeError> {
    Ok(match chunk? {
        LogOutput::StdErr { message } => Output::Stderr(message),
        LogOutput::StdOut { message } | LogOutput::Console { message } | LogOutput::StdIn { message } => {
            Output::Stdout(message)
        }
    })
}

impl DockerRuntime {
    /// The container's log, stdout and stderr interleaved as written (the json-file driver's record).
    pub fn logs(&self, id: &str, options: &LogOptions) -> OutputStream {
        let mut builder = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(options.follow)
            .timestamps(options.timestamps)
            .tail(&options.tail_lines.map(|n| n.to_string()).unwrap_or_else(|| "all".into()));
        if let Some(since) = options.since {
            builder = builder.since(since.clamp(0, i32::MAX as i64) as i32);
        }
        Box::pin(self.docker.logs(id, Some(builder.build())).map(output))
    }

    /// Start `command` in the container, attached to its streams; returns the exec's id too (for resize
    /// and the exit code). A TTY gets `size` (width, height) from the start where the daemon takes it in the
    /// exec's config (API 1.42+), and a resize at once after the start for older daemons.
    pub async fn exec_session(
        &self,
        id: &str,
        command: Vec<String>,
        stdin: bool,
        tty: bool,
        size: Option<(u16, u16)>,
    ) -> Result<(String, Session), RuntimeError> {
        let config = ExecConfig {
            cmd: Some(command),
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            console_size: size.filter(|_| tty).map(|(w, h)| vec![h as usize, w as usize]),
            ..Default::default()
        };
        let created = self.docker.create_exec(id, config).await?;
        let start = StartExecOptions { detach: false, tty, output_capacity: None };
        match self.docker.start_exec(&created.id, Some(start)).await? {
            StartExecResults::Attached { output: out, input } => {
                if let Some((width, height)) = size.filter(|_| tty) {
                    let _ = self.resize_exec(&created.id, width, height).await;
                }
                Ok((created.id, Session { output: Box::pin(out.map(output)), input }))
            }
            StartExecResults::Detached => Err(RuntimeError::Docker("the exec started detached".into())),
        }
    }

    pub async fn resize_exec(&self, exec_id: &str, width: u16, height: u16) -> Result<(), RuntimeError> {
        let options = ResizeExecOptionsBuilder::new().w(width as i32).h(height as i32).build();
        Ok(self.docker.resize_exec(exec_id, options).await?)
    }

    /// The exit code of a finished exec.
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError> {
        Ok(self.docker.inspect_exec(exec_id).await?.exit_code)
    }

    /// Connect to the container's own process (its stdin only when the container was made with one).
    pub async fn attach(&self, id: &str, stdin: bool) -> Result<Session, RuntimeError> {
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .logs(false)
            .build();
        let attached = self.docker.attach_container(id, Some(options)).await?;
        Ok(Session { output: Box::pin(attached.output.map(output)), input: attached.input })
    }

    pub async fn resize_container(&self, id: &str, width: u16, height: u16) -> Result<(), RuntimeError> {
        let options = ResizeContainerTTYOptionsBuilder::new().w(width as i32).h(height as i32).build();
        Ok(self.docker.resize_container_tty(id, options).await?)
    }
}
