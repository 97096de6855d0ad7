//! Node-local network changes are made with the node's own tools (iproute2, nsenter, iptables): they are on
//! every host Docker runs on, and they are what an operator reads back to check our work.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{command}: {message}")]
    Command { command: String, message: String },
}

pub async fn run(program: &str, args: &[&str]) -> Result<String, NetworkError> {
    run_with_stdin(program, args, "").await
}

pub async fn run_with_stdin(program: &str, args: &[&str], stdin: &str) -> Result<String, NetworkError> {
    let command = format!("{program} {}", args.join(" "));
    let fail = |message: String| NetworkError::Command { command: command.clone(), message };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_empty() { Stdio::null() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
    }
    let output = child.wait_with_output().await.map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        return Err(fail(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
