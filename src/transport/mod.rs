//! How kubeboot talks to a host: run a command, upload a file atomically, read a file.
//! `ssh` reaches remote hosts over one russh connection each; `local` runs on this machine (for `init` and
//! `join`, which run on the host itself).

mod become_sudo;
mod error;
mod host_keys;
mod local;
pub mod secrets;
mod ssh;
mod target;

use std::future::Future;

pub use become_sudo::shell_quote;
pub use error::TransportError;
pub use local::LocalTransport;
pub use ssh::SshSession;
pub use target::{HostKeyPolicy, SshTarget};

/// What a finished command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit status; 128 + signal number when killed by a signal, as shells report it.
    pub exit_status: u32,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_status == 0
    }
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// A failed command, for a recap: `exit N: ` and the last 12 lines of stderr (of stdout if stderr is
    /// empty).
    pub fn failure_summary(&self) -> String {
        let text = if self.stderr.is_empty() { self.stdout_text() } else { self.stderr_text() };
        let lines: Vec<&str> = text.trim_end().lines().collect();
        format!("exit {}: {}", self.exit_status, lines[lines.len().saturating_sub(12)..].join("\n"))
    }
}

pub trait Transport: Send + Sync {
    /// The host's inventory name, for messages.
    fn host_name(&self) -> &str;

    /// Run `command` with `/bin/sh -c` semantics (as root when the target says `become`), feeding `stdin`.
    fn exec_with_stdin(
        &self,
        command: &str,
        stdin: &[u8],
    ) -> impl Future<Output = Result<ExecOutput, TransportError>> + Send;

    fn exec(&self, command: &str) -> impl Future<Output = Result<ExecOutput, TransportError>> + Send {
        self.exec_with_stdin(command, &[])
    }

    /// Write `data` to `path` atomically (temp file in the same folder, fsync, rename) with `mode`.
    fn upload(&self, data: &[u8], path: &str, mode: u32) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// A file's bytes, or None when it does not exist.
    fn read(&self, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>, TransportError>> + Send;
}

/// The shell command that moves an uploaded temp file into place; shared by every transport so the
/// atomicity rules are written once: same folder, fsync, rename.
pub(crate) fn install_command(staged: &str, path: &str, mode: u32, copy: bool) -> String {
    let (staged_q, path_q) = (shell_quote(staged), shell_quote(path));
    let tmp = shell_quote(&format!("{path}.kubeboot-tmp"));
    let place = if copy {
        // The staged file may be on another filesystem (/tmp): copy next to the target first.
        format!("cp {staged_q} {tmp} && rm -f {staged_q} && ")
    } else {
        format!("mv -f {staged_q} {tmp} && ")
    };
    // Staged files of an earlier run that was killed mid-upload (same folder, same name) go too.
    let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
    let leftovers =
        format!("{}/.{}.kubeboot-*", shell_quote(if dir.is_empty() { "/" } else { dir }), shell_quote(name));
    format!(
        "set -e; umask 077; {place}chmod {mode:o} {tmp} && (sync {tmp} 2>/dev/null || true) && mv -f {tmp} {path_q} && rm -f {leftovers}"
    )
}
