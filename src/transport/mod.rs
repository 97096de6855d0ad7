//! How kubeboot talks to a host: run a command, upload a file atomically, read a file.
//! `ssh` reaches remote hosts over one russh connection each (`init` and `join` on a host write their files
//! themselves: control_plane::layout).

mod become_sudo;
mod error;
mod host_keys;
pub mod secrets;
mod ssh;
mod target;

use std::future::Future;

pub use become_sudo::shell_quote;
pub use error::TransportError;
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

/// The name shared by every staged copy of `path`: beside the target (same filesystem, so installing is a
/// rename), or in /tmp when the login user cannot write there and sudo installs it (then named by a hash of
/// the target). The next upload of the same file removes what a killed run left under it.
fn staging_prefix(path: &str, in_tmp: bool) -> String {
    if in_tmp {
        let key = crate::checksum::sha256_hex(path.as_bytes());
        return format!("/tmp/.kubeboot-stage.{}.", &key[..16]);
    }
    let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
    format!("{}/.{name}.kubeboot-", if dir.is_empty() { "" } else { dir })
}

/// A fresh staging name for one upload of `path` (see staging_prefix).
pub(crate) fn staging_path(path: &str, in_tmp: bool) -> String {
    format!("{}{}-{}", staging_prefix(path, in_tmp), std::process::id(), crate::random_name::suffix())
}

/// The shell command that moves an uploaded temp file into place; shared by every transport so the
/// atomicity rules are written once: same folder, fsync, rename. `copy`: the file was staged in /tmp.
pub(crate) fn install_command(staged: &str, path: &str, mode: u32, copy: bool) -> String {
    let (staged_q, path_q) = (shell_quote(staged), shell_quote(path));
    let tmp = shell_quote(&format!("{path}.kubeboot-tmp"));
    let place = if copy {
        // The staged file may be on another filesystem (/tmp): copy next to the target first.
        format!("cp {staged_q} {tmp} && rm -f {staged_q} && ")
    } else {
        format!("mv -f {staged_q} {tmp} && ")
    };
    // Staged copies of this file an earlier run left when it was killed mid-upload go too.
    let leftovers = format!("{}*", shell_quote(&staging_prefix(path, copy)));
    format!(
        "set -e; umask 077; {place}chmod {mode:o} {tmp} && (sync {tmp} 2>/dev/null || true) && mv -f {tmp} {path_q} && rm -f {leftovers}"
    )
}
