//! Runs on this machine: `kubeboot init` / `join` act on the host they run on.

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{install_command, ExecOutput, Transport, TransportError};

pub struct LocalTransport {
    name: String,
}

impl LocalTransport {
    pub fn new(name: &str) -> Self {
        LocalTransport { name: name.to_string() }
    }

    fn err(&self, message: String) -> TransportError {
        TransportError::Local { host: self.name.clone(), message }
    }
}

impl Transport for LocalTransport {
    fn host_name(&self) -> &str {
        &self.name
    }

    async fn exec_with_stdin(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| self.err(format!("cannot start /bin/sh: {e}")))?;
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // A command that does not read its stdin closes it early: that is not an error.
        let _ = pipe.write_all(stdin).await;
        drop(pipe);
        let out = child.wait_with_output().await.map_err(|e| self.err(format!("waiting for command: {e}")))?;
        use std::os::unix::process::ExitStatusExt;
        let exit_status =
            out.status.code().map(|c| c as u32).unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0) as u32);
        Ok(ExecOutput { stdout: out.stdout, stderr: out.stderr, exit_status })
    }

    async fn upload(&self, data: &[u8], path: &str, mode: u32) -> Result<(), TransportError> {
        let staged = format!("{path}.kubeboot-staged-{}", std::process::id());
        tokio::fs::write(&staged, data).await.map_err(|e| self.err(format!("writing {staged}: {e}")))?;
        let out = self.exec(&install_command(&staged, path, mode, false)).await?;
        if !out.success() {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(self.err(format!("installing {path}: {}", out.stderr_text().trim())));
        }
        Ok(())
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(format!("reading {path}: {e}"))),
        }
    }
}
