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
        // Many hosts connect at once: one writer at a time, and each line in a single write, so lines from
        // parallel connections never interleave.
        static KNOWN_HOSTS_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = KNOWN_HOSTS_WRITER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let existing = std::fs::read(&self.file).unwrap_or_default();
        let encoded = key.to_openssh().map_err(std::io::Error::other)?;
        let mut line = String::new();
        if !existing.is_empty() && !existing.ends_with(b"\n") {
            line.push('\n');
        }
        line.push_str(&format!("{} {}\n", Self::known_hosts_name(&self.address, self.port), encoded.trim()));
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.file)?;
        file.write_all(line.as_bytes())
    }

    fn verdict(&self, key: &PublicKey) -> Result<(), Rejection> {
        match check_known_hosts_path(&self.address, self.port, key, &self.file) {
            Ok(true) => Ok(()),
            // A recorded key that differs is refused whatever the policy: that is the attack to stop.
            Err(KeyError::KeyChanged { line }) => Err(Rejection::Changed { line }),
            // A known host presenting a key of a type it never showed (RSA where ed25519 is recorded) is
            // refused too, as OpenSSH does: accept-new is for hosts with nothing recorded.
            Ok(false) | Err(_) if self.policy != HostKeyPolicy::Off && !self.recorded().is_empty() => {
                Err(Rejection::Changed { line: self.recorded()[0].0 })
            }
            Ok(false) | Err(_) => match self.policy {
                HostKeyPolicy::Off => Ok(()),
                HostKeyPolicy::Strict => Err(Rejection::Unknown),
                HostKeyPolicy::AcceptNew => self.record(key).map_err(|e| Rejection::CannotRecord(e.to_string())),
            },
        }
    }
}

impl HostKeyChecker {
    /// (line, key type) of every key recorded for this host in the known_hosts file, plain or hashed names.
    pub fn recorded(&self) -> Vec<(usize, String)> {
        let name = Self::known_hosts_name(&self.address, self.port);
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let mut fields = line.split_whitespace();
                let hosts = fields.next().filter(|h| !h.starts_with('#') && !h.starts_with('@'))?;
                let key_type = fields.next()?;
                hosts.split(',').any(|h| host_matches(h, &name)).then(|| (i + 1, key_type.to_string()))
            })
            .collect()
    }
}

/// A known_hosts name: literal, or OpenSSH's hashed form `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
fn host_matches(pattern: &str, name: &str) -> bool {
    use base64::Engine;
    let Some(hashed) = pattern.strip_prefix("|1|") else { return pattern == name };
    let Some((salt, hash)) = hashed.split_once('|') else { return false };
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else { return false };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_keys_of_a_host_plain_and_hashed() {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        let salt = b"0123456789abcdefghij";
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
        let tag = ring::hmac::sign(&key, b"[10.0.0.1]:2222");
        let b64 = base64::engine::general_purpose::STANDARD;
        let hashed = format!("|1|{}|{}", b64.encode(salt), b64.encode(tag.as_ref()));
        std::fs::write(
            &file,
            format!("# comment\nother ssh-rsa AAAA\n10.0.0.9,[10.0.0.1]:2222 ssh-ed25519 AAAA\n{hashed} ecdsa-sha2-nistp256 AAAA\n"),
        )
        .unwrap();
        let checker = HostKeyChecker {
            address: "10.0.0.1".into(),
            port: 2222,
            policy: HostKeyPolicy::AcceptNew,
            file,
            rejection: Arc::new(Mutex::new(None)),
        };
        assert_eq!(checker.recorded(), [(3, "ssh-ed25519".to_string()), (4, "ecdsa-sha2-nistp256".to_string())]);
    }

    #[test]
    fn parallel_records_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        let public = russh::keys::parse_public_key_base64(
            "AAAAC3NzaC1lZDI1NTE5AAAAIANS03FSe9P1uX1b/snTJSgip6kysa7CbVRvDKKMUhBj",
        )
        .unwrap();
        std::thread::scope(|scope| {
            for i in 0..32 {
                let (file, public) = (file.clone(), public.clone());
                scope.spawn(move || {
                    let checker = HostKeyChecker {
                        address: format!("10.0.0.{i}"),
                        port: 22,
                        policy: HostKeyPolicy::AcceptNew,
                        file,
                        rejection: Arc::new(Mutex::new(None)),
                    };
                    checker.record(&public).unwrap();
                });
            }
        });
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count(), 32);
        assert!(text.lines().all(|l| l.split_whitespace().count() == 3 && l.starts_with("10.0.0.")), "{text}");
    }
}
