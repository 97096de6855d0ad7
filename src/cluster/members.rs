//! The hosts the cluster phases work on: connected once each (in parallel) and probed in the same step.

use super::probe::{self, HostState};
use crate::inventory::Host;
use crate::playbook::{ChangeRecord, Failure, Recap};
use crate::transport::{ExecOutput, SshSession, Transport, TransportError};

pub struct Member<'a> {
    pub host: &'a Host,
    pub session: SshSession,
    pub state: HostState,
}

/// Why a step failed on a host, as the recap shows it.
pub struct StepFailure {
    pub command: Option<String>,
    pub message: String,
    /// The connection is gone: the host is unreachable rather than failed.
    pub lost: bool,
}

impl From<TransportError> for StepFailure {
    fn from(e: TransportError) -> Self {
        StepFailure { command: None, message: e.to_string(), lost: true }
    }
}

/// A step's failure that is not a command's (a check, a wait): the host still answers.
pub fn failure(message: impl Into<String>) -> StepFailure {
    StepFailure { command: None, message: message.into(), lost: false }
}

impl Member<'_> {
    pub fn name(&self) -> &str {
        &self.host.name
    }

    /// Run `command` (as root when the host says become), feeding `stdin`; a non-zero exit is a failure
    /// carrying the command (which never holds a secret) and the end of its output.
    pub async fn run(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, StepFailure> {
        run_on(&self.session, command, stdin).await
    }
}

/// `Member::run` on a session of its own (before the cluster phases have their members).
pub async fn run_on(session: &SshSession, command: &str, stdin: &[u8]) -> Result<ExecOutput, StepFailure> {
    let out = session.exec_with_stdin(command, stdin).await?;
    if !out.success() {
        return Err(StepFailure {
            command: Some(command.to_string()),
            message: out.failure_summary(),
            lost: session.is_closed(),
        });
    }
    Ok(out)
}

/// Connect to and probe each host; a host that cannot be reached is recorded in `recap` and left out.
pub async fn connect<'a>(hosts: &[&'a Host], forks: usize, recap: &mut Recap) -> Vec<Member<'a>> {
    let results = crate::fanout::for_each_host(hosts, forks, |host| async move {
        let session = SshSession::connect(&host.ssh).await.map_err(StepFailure::from)?;
        let out = session.exec(&probe::script(&host.ssh.user)).await.map_err(StepFailure::from)?;
        let state = probe::parse(&out.stdout_text());
        Ok::<_, StepFailure>(Member { host, session, state })
    })
    .await;
    let mut members = Vec::new();
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(m) => members.push(m),
            Err(f) => record(recap, &host.name, "connect", Err(f)),
        }
    }
    members
}

/// Put a step's outcome in the host's recap: Ok(Some(summary)) changed, Ok(None) already right.
pub fn record(recap: &mut Recap, host: &str, task: &str, outcome: Result<Option<String>, StepFailure>) {
    let entry = recap.hosts.entry(host.to_string()).or_default();
    match outcome {
        Ok(summary) => {
            entry.record_step(summary.map(|summary| ChangeRecord { task: task.into(), summary, diff: None }))
        }
        Err(f) => entry.record_failure(
            Failure { task: task.into(), location: "cluster phase".into(), command: f.command, message: f.message },
            f.lost,
        ),
    }
}
