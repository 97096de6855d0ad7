//! kubeadm's certificate key: the files every master shares (the cluster CA, the etcd CA and the cluster's
//! settings), sealed with AES-256-GCM under a 32-byte key that only the operator holds (printed once, as
//! 64 hex digits), so that the sealed bundle can wait in the cluster's store for a master joining by hand
//! (`join --control-plane --certificate-key`). The store never sees the key; the key alone opens nothing.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::host::layout::{write_file, Layout, SHARED_BY_MASTERS};

/// Bound into the seal: a bundle opens only as what it is.
const AAD: &[u8] = b"kubeboot control-plane certificates v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("the uploaded certificates name {0:?}, which is not a file masters share: refused")]
    Unexpected(String),
    #[error("a certificate key is 64 hex digits (32 bytes), as `kubeboot upload-certs` prints it")]
    BadKey,
    #[error("this certificate key does not open the uploaded certificates (another upload's key, or mistyped)")]
    WrongKey,
    #[error("the uploaded certificates are damaged: {0}")]
    Corrupt(String),
    #[error("no randomness from the system")]
    Random,
}

/// One shared file: its path under the configuration folder, its mode and contents.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    pub path: String,
    pub mode: u32,
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

impl std::fmt::Debug for SharedFile {
    // Keys among them: the contents never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedFile {{ path: {:?}, mode: {:o}, .. }}", self.path, self.mode)
    }
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

fn file_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |e| BundleError::File { path: path.display().to_string(), message: e.to_string() }
}

/// The files this master shares with the others (SHARED_BY_MASTERS), named as a joining master keeps them.
pub fn read_shared(layout: &Layout) -> Result<Vec<SharedFile>, BundleError> {
    SHARED_BY_MASTERS
        .iter()
        .map(|(here, there, mode)| {
            let path = layout.config_dir.join(here);
            let data = std::fs::read(&path).map_err(file_error(&path))?;
            Ok(SharedFile { path: there.to_string(), mode: *mode, data })
        })
        .collect()
}

/// Write what `read_shared` gave on another master into this one's configuration folder; a path that is
/// not one of the shared files is refused before anything is written.
pub fn write_shared(layout: &Layout, files: &[SharedFile]) -> Result<(), BundleError> {
    if let Some(odd) = files.iter().find(|f| !SHARED_BY_MASTERS.iter().any(|(_, there, _)| *there == f.path)) {
        return Err(BundleError::Unexpected(odd.path.clone()));
    }
    for f in files {
        let path = layout.config_dir.join(&f.path);
        write_file(&path, &f.data, f.mode).map_err(file_error(&path))?;
    }
    Ok(())
}

/// A new random key, as the operator sees it.
pub fn generate_key() -> Result<String, BundleError> {
    let mut key = [0u8; 32];
    SystemRandom::new().fill(&mut key).map_err(|_| BundleError::Random)?;
    Ok(key.iter().map(|b| format!("{b:02x}")).collect())
}

fn parse_key(key: &str) -> Result<LessSafeKey, BundleError> {
    let key = key.trim();
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BundleError::BadKey);
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&key[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| BundleError::BadKey)?;
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| BundleError::BadKey)?))
}

/// Check a key's form without anything to open (bad input is refused before anything is contacted).
pub fn check_key(key: &str) -> Result<(), BundleError> {
    parse_key(key).map(|_| ())
}

/// The files sealed under `key`: base64 of nonce || ciphertext || tag.
pub fn seal(files: &[SharedFile], key: &str) -> Result<String, BundleError> {
    let key = parse_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| BundleError::Random)?;
    let mut data = serde_json::to_vec(files).map_err(|e| BundleError::Corrupt(e.to_string()))?;
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut data)
        .map_err(|_| BundleError::Corrupt("sealing failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// The files of a sealed bundle.
pub fn open(sealed: &str, key: &str) -> Result<Vec<SharedFile>, BundleError> {
    let key = parse_key(key)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed.trim())
        .map_err(|e| BundleError::Corrupt(e.to_string()))?;
    if bytes.len() < NONCE_LEN {
        return Err(BundleError::Corrupt("too short".into()));
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| BundleError::Corrupt("nonce".into()))?;
    let mut data = rest.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(AAD), &mut data).map_err(|_| BundleError::WrongKey)?;
    serde_json::from_slice(plain).map_err(|e| BundleError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_open_only_with_their_key() {
        let files = vec![
            SharedFile { path: "pki/ca.key".into(), mode: 0o600, data: b"-----BEGIN PRIVATE KEY-----".to_vec() },
            SharedFile { path: "cluster.yaml".into(), mode: 0o644, data: b"cluster_name: lab\n".to_vec() },
        ];
        let key = generate_key().unwrap();
        assert_eq!(key.len(), 64);
        let sealed = seal(&files, &key).unwrap();
        assert!(!String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap())
            .contains("PRIVATE KEY"));
        assert_eq!(open(&sealed, &key).unwrap(), files);
        assert_eq!(open(&sealed, &generate_key().unwrap()), Err(BundleError::WrongKey));
        assert_eq!(open(&sealed, "abc"), Err(BundleError::BadKey));
        let mut damaged = base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let damaged = base64::engine::general_purpose::STANDARD.encode(damaged);
        assert_eq!(open(&damaged, &key), Err(BundleError::WrongKey), "a changed byte fails the tag");
        assert!(!format!("{files:?}").contains("PRIVATE"), "Debug shows no contents");
    }

    #[test]
    fn only_the_shared_files_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("etc"), &dir.path().join("var"));
        let odd = vec![SharedFile { path: "../../root/.ssh/authorized_keys".into(), mode: 0o600, data: vec![] }];
        assert!(matches!(write_shared(&layout, &odd), Err(BundleError::Unexpected(_))));
        assert!(!layout.config_dir.exists(), "nothing written");
        let ok = vec![SharedFile { path: "pki/ca.key".into(), mode: 0o600, data: b"k".to_vec() }];
        write_shared(&layout, &ok).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(layout.pki("ca.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
