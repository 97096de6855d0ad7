//! The russh client handler: checks the server's host key against known_hosts by the target's policy.
//! A verdict other than "trusted" is left in a shared slot so the connect error can say exactly why.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::keys::{check_known_hosts_path, PublicKey};
use russh::keys::{Error as KeyError, PublicKeyOrCertificate};

use super::target::HostKeyPolicy;

#[derive(Debug, Clone)]
pub enum Rejection {
    Changed { line: usize },
    Unknown,
    CannotRecord(String),
}

pub struct HostKeyChecker {
    pub address: String,
    pub port: u16,
    pub policy: HostKeyPolicy,
    pub file: PathBuf,
    pub rejection: Arc<Mutex<Option<Rejection>>>,
}

impl HostKeyChecker {
    /// The name known_hosts uses: `host` on port 22, `[host]:port` otherwise.
    pub fn known_hosts_name(address: &str, port: u16) -> String {
        if port == 22 {
            address.to_string()
        } else {
            format!("[{address}]:{port}")
        }
    }

    /// Append `key` in OpenSSH's format. russh's learn_known_hosts_path starts an empty file with a blank
    /// line, which shifts the line numbers we show when a key changes; this writes exactly one line.
    fn record(&self, key: &PublicKey) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let existing = std::fs::read(&self.file).unwrap_or_default();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.file)?;
        if !existing.is_empty() && !existing.ends_with(b"\n") {
            file.write_all(b"\n")?;
        }
        let encoded = key.to_openssh().map_err(std::io::Error::other)?;
        writeln!(file, "{} {}", Self::known_hosts_name(&self.address, self.port), encoded.trim())
    }

    fn verdict(&self, key: &PublicKey) -> Result<(), Rejection> {
        match check_known_hosts_path(&self.address, self.port, key, &self.file) {
            Ok(true) => Ok(()),
            // A recorded key that differs is refused whatever the policy: that is the attack to stop.
            Err(KeyError::KeyChanged { line }) => Err(Rejection::Changed { line }),
            Ok(false) | Err(_) => match self.policy {
                HostKeyPolicy::Off => Ok(()),
                HostKeyPolicy::Strict => Err(Rejection::Unknown),
                HostKeyPolicy::AcceptNew => self.record(key).map_err(|e| Rejection::CannotRecord(e.to_string())),
            },
        }
    }
}

impl russh::client::Handler for HostKeyChecker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            // Host certificates are checked as their plain key: russh has no @cert-authority support.
            PublicKeyOrCertificate::Certificate(cert) => PublicKey::new(cert.public_key().clone(), ""),
        };
        match self.verdict(&key) {
            Ok(()) => Ok(true),
            Err(rejection) => {
                *self.rejection.lock().expect("rejection lock") = Some(rejection);
                Ok(false)
            }
        }
    }
}
