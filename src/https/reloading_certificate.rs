//! A serving certificate that changes while the server runs: read again from its files when they change
//! (the API server's), or replaced in memory (the node API's, renewed through the API server). A renewed
//! certificate is served from the next handshake on, without a restart; connections made before keep
//! theirs. A pair that does not load (caught half-written by someone else's tool) keeps the previous one in
//! use until the files are whole.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::tls::{certified_key, TlsError};

#[derive(Debug)]
pub struct ReloadingCertificate {
    /// The certificate and key files it is read from (None: held in memory only).
    files: Option<(PathBuf, PathBuf)>,
    /// The certificate file's modification time when it was read, and what was read.
    current: RwLock<(Option<SystemTime>, Arc<CertifiedKey>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load(crt: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| TlsError::Config(format!("{}: {e}", p.display())));
    certified_key(&read(crt)?, &read(key)?)
}

impl ReloadingCertificate {
    pub fn load(crt: &Path, key: &Path) -> Result<Self, TlsError> {
        let stamp = modified(crt);
        let certified = load(crt, key)?;
        Ok(ReloadingCertificate { files: Some((crt.into(), key.into())), current: RwLock::new((stamp, certified)) })
    }

    /// A certificate held in memory only (replaced with `replace`).
    pub fn in_memory(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        Ok(ReloadingCertificate { files: None, current: RwLock::new((None, certified_key(cert_pem, key_pem)?)) })
    }

    /// Serve `cert_pem` with `key_pem` from the next handshake on.
    pub fn replace(&self, cert_pem: &str, key_pem: &str) -> Result<(), TlsError> {
        let new = certified_key(cert_pem, key_pem)?;
        self.current.write().expect("certificate lock").1 = new;
        Ok(())
    }

    /// Read the files again if the certificate changed since; whether a new one is now served.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let Some((crt, key)) = &self.files else { return Ok(false) };
        let stamp = modified(crt);
        if stamp == self.current.read().expect("certificate lock").0 {
            return Ok(false);
        }
        let certified = load(crt, key)?;
        *self.current.write().expect("certificate lock") = (stamp, certified);
        Ok(true)
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("certificate lock").1.clone())
    }
}
