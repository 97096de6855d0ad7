//! Which node client certificate is the current one for each node name (issue 14): node certificates live
//! a year, so a host that left (`reset -i`) or was re-joined under the same name would otherwise keep a
//! working identity. Every certificate the TLS bootstrap issues is recorded here by its SHA-256; a node
//! request whose certificate is not the recorded one is refused (401). `reset -i` revokes the name (no
//! certificate is current until it joins again). A name with no record — a master's own agent, made by
//! `init`, or a cluster from before this check — is accepted, as before. A node renewing its certificate
//! (at two thirds of its lifetime) makes the new one current and keeps the one it renewed with accepted
//! beside it, so that its connections made before the renewal go on until that certificate expires.

use serde::{Deserialize, Serialize};

use super::store::{Store, StoreError};

const PREFIX: &str = "/kubeboot.io/node-credentials/";

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    /// SHA-256 (hex) of the current certificate's DER; None once revoked.
    current: Option<String>,
    /// The certificate the current one renewed (still accepted until it expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

fn key(node: &str) -> String {
    format!("{PREFIX}{node}")
}

fn put(store: &dyn Store, node: &str, record: &Record) -> Result<(), StoreError> {
    let value = serde_json::to_vec(record).expect("json");
    match store.create(&key(node), &value) {
        Err(StoreError::AlreadyExists(_)) => store.update(&key(node), &value, None).map(|_| ()),
        other => other.map(|_| ()),
    }
}

/// The certificate just issued to `node` is from now on its only one.
pub fn record_issued(store: &dyn Store, node: &str, fingerprint: &str) -> Result<(), StoreError> {
    put(store, node, &Record { current: Some(fingerprint.to_string()), previous: None })
}

/// `node` renewed its certificate `renewed` for `fingerprint`: the new one is current, the one it renewed
/// with still accepted.
pub fn record_renewed(store: &dyn Store, node: &str, renewed: &str, fingerprint: &str) -> Result<(), StoreError> {
    put(store, node, &Record { current: Some(fingerprint.to_string()), previous: Some(renewed.to_string()) })
}

/// No certificate of `node` is accepted until it joins again.
pub fn revoke(store: &dyn Store, node: &str) -> Result<(), StoreError> {
    put(store, node, &Record { current: None, previous: None })
}

/// No record of `node` (as a name never joined through the TLS bootstrap): what a master's own agent,
/// whose certificate `init` makes, starts from.
pub fn forget(store: &dyn Store, node: &str) -> Result<(), StoreError> {
    match store.delete(&key(node), None) {
        Err(StoreError::NotFound(_)) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// May a request made with the certificate of this fingerprint act as `node`?
pub fn is_current(store: &dyn Store, node: &str, fingerprint: &str) -> Result<bool, StoreError> {
    let Some(stored) = store.get(&key(node))? else { return Ok(true) };
    let record: Record = serde_json::from_slice(&stored.value).unwrap_or(Record { current: None, previous: None });
    Ok(record.current.as_deref() == Some(fingerprint) || record.previous.as_deref() == Some(fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn the_latest_certificate_only_and_none_after_a_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        assert!(is_current(&store, "n1", "aa").unwrap(), "no record: as before");
        record_issued(&store, "n1", "aa").unwrap();
        record_issued(&store, "n1", "bb").unwrap();
        assert!(!is_current(&store, "n1", "aa").unwrap(), "re-joined: the old certificate is out");
        assert!(is_current(&store, "n1", "bb").unwrap());
        revoke(&store, "n1").unwrap();
        assert!(!is_current(&store, "n1", "bb").unwrap());
        assert!(is_current(&store, "n2", "cc").unwrap(), "other names untouched");
        record_issued(&store, "n1", "dd").unwrap();
        record_renewed(&store, "n1", "dd", "ee").unwrap();
        assert!(is_current(&store, "n1", "dd").unwrap() && is_current(&store, "n1", "ee").unwrap());
        record_renewed(&store, "n1", "ee", "ff").unwrap();
        assert!(!is_current(&store, "n1", "dd").unwrap(), "two renewals back: out");
        forget(&store, "n1").unwrap();
        forget(&store, "n1").unwrap();
        assert!(is_current(&store, "n1", "zz").unwrap(), "forgotten: no record, as a master's own agent");
    }
}
