//! A client certificate that can be replaced while the process runs (an agent renewing its node
//! certificate): every client built on one identity presents the newest certificate on its next
//! connection; connections made before keep theirs, which the server accepts until they expire.

use std::sync::{Arc, RwLock};

use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use super::ClientError;

#[derive(Debug)]
pub struct ClientIdentity {
    current: RwLock<(String, Arc<CertifiedKey>)>,
}

fn certified(cert_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>, ClientError> {
    crate::https::tls::certified_key(cert_pem, key_pem).map_err(|e| ClientError::Tls(e.to_string()))
}

impl ClientIdentity {
    pub fn new(cert_pem: &str, key_pem: &str) -> Result<Arc<Self>, ClientError> {
        Ok(Arc::new(ClientIdentity { current: RwLock::new((cert_pem.to_string(), certified(cert_pem, key_pem)?)) }))
    }

    /// The certificate (PEM) presented now.
    pub fn certificate(&self) -> String {
        self.current.read().expect("identity lock").0.clone()
    }

    /// Present `cert_pem` with `key_pem` from the next connection on.
    pub fn replace(&self, cert_pem: &str, key_pem: &str) -> Result<(), ClientError> {
        let new = certified(cert_pem, key_pem)?;
        *self.current.write().expect("identity lock") = (cert_pem.to_string(), new);
        Ok(())
    }
}

impl ResolvesClientCert for ClientIdentity {
    fn resolve(&self, _issuers: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("identity lock").1.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
