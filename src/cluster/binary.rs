//! The kubeboot binary `up` installs on every host: this very executable, so the hosts run the same
//! version as the machine that drives them and nothing is downloaded on the hosts.

use crate::bootstrap::pin::sha256_hex;

pub struct LocalBinary {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl LocalBinary {
    pub fn current() -> std::io::Result<Self> {
        let bytes = std::fs::read(std::env::current_exe()?)?;
        let sha256 = sha256_hex(&bytes);
        Ok(LocalBinary { bytes, sha256 })
    }
}
