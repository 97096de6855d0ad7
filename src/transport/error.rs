use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{host}: cannot connect to {address}: {source}")]
    Connect {
        host: String,
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host}: no SSH answer from {address} within {seconds} s")]
    ConnectTimeout { host: String, address: String, seconds: u64 },
    #[error(
        "{host}: HOST KEY CHANGED for {address} ({file} line {line}): someone may be intercepting the connection, \
         or the host was reinstalled. Check the host's key, then remove the old one with `ssh-keygen -f {file} -R '{known_hosts_name}'`"
    )]
    HostKeyChanged { host: String, address: String, file: String, line: usize, known_hosts_name: String },
    #[error(
        "{host}: host key of {address} is not in {file} and known_hosts is strict: add it (ssh-keyscan) or use known_hosts: accept-new"
    )]
    HostKeyUnknown { host: String, address: String, file: String },
    #[error("{host}: cannot record host key in {}: {message}", file.display())]
    KnownHostsFile { host: String, file: PathBuf, message: String },
    #[error("{host}: authentication as {user} failed (tried: {tried}); check the key, agent or ${password_env}")]
    AuthFailed { host: String, user: String, tried: String, password_env: String },
    #[error("{host}: private key {}: {message}", path.display())]
    PrivateKey { host: String, path: PathBuf, message: String },
    #[error("{host}: become (sudo) failed: {message}")]
    Become { host: String, message: String },
    #[error("{host}: SSH error: {message}")]
    Protocol { host: String, message: String },
    #[error("{host}: SFTP error on {path}: {message}")]
    Sftp { host: String, path: String, message: String },
}

impl TransportError {
    /// Host-level problems that make the host "unreachable" in a recap rather than "failed".
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Connect { .. } | TransportError::ConnectTimeout { .. })
    }
}
