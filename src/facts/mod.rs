//! Facts: what a host is, read with one command and parsed by a pure function so parsers are tested from
//! fixtures (tests/fixtures/facts) without a host.

pub mod state;
mod system;

pub use state::{FactCache, FactKey, FactValue, FileKind, FileState, ServiceState};
pub use system::{parse_system_facts, OsFamily, PackageManager, SystemFacts, SYSTEM_FACTS_COMMAND};

use crate::transport::{Transport, TransportError};

#[derive(Debug, thiserror::Error)]
pub enum FactError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{host}: fact gathering failed (exit {status}): {stderr}")]
    Command { host: String, status: u32, stderr: String },
    #[error("{host}: cannot read facts: {message}")]
    Parse { host: String, message: String },
}

/// Gather the system facts of one host in one round trip.
pub async fn gather_system<T: Transport>(transport: &T) -> Result<SystemFacts, FactError> {
    let out = transport.exec(SYSTEM_FACTS_COMMAND).await?;
    let host = transport.host_name().to_string();
    if !out.success() {
        return Err(FactError::Command { host, status: out.exit_status, stderr: out.stderr_text().trim().to_string() });
    }
    parse_system_facts(&out.stdout_text()).map_err(|message| FactError::Parse { host, message })
}

/// Read `keys` in one round trip.
pub async fn gather_state<T: Transport>(
    transport: &T,
    keys: &[FactKey],
    system: &SystemFacts,
) -> Result<FactCache, FactError> {
    if keys.is_empty() {
        return Ok(FactCache::new());
    }
    let out = transport.exec(&state::script(keys, system)).await?;
    let host = transport.host_name().to_string();
    state::parse(keys, &out.stdout_text()).map_err(|message| FactError::Parse { host, message })
}

/// A fact command's recorded output from tests/fixtures/facts, for parser tests.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/facts/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
