//! The sealed certificate bundle `kubeboot upload-certs` leaves for masters joining by hand (kubeadm's
//! kubeadm-certs Secret): one record in the store with its expiry, 2 h after the upload as kubeadm's. The
//! server never holds the key; an expired bundle is deleted when it is asked for.

use serde::{Deserialize, Serialize};

use super::store::{Store, StoreError};
use super::tokens::now_unix;

const KEY: &str = "/kubeboot.io/control-plane-certificates";
/// kubeadm's: the uploaded certificates are deleted after two hours.
pub const LIFETIME_SECS: u64 = 2 * 60 * 60;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uploaded {
    /// certificate_bundle::seal's output.
    pub sealed: String,
    /// Unix seconds.
    pub expires: u64,
}

/// Keep `sealed` (replacing an earlier upload) until `LIFETIME_SECS` from now.
pub fn put(store: &dyn Store, sealed: &str) -> Result<Uploaded, StoreError> {
    let record = Uploaded { sealed: sealed.into(), expires: now_unix() + LIFETIME_SECS };
    let bytes = serde_json::to_vec(&record).expect("plain data");
    match store.get(KEY)? {
        Some(old) => store.update(KEY, &bytes, Some(old.revision))?,
        None => store.create(KEY, &bytes)?,
    };
    Ok(record)
}

/// What asking for the bundle found.
pub enum Found {
    Valid(Uploaded),
    /// It expired at this time (and is deleted now).
    Expired(u64),
    None,
}

pub fn get(store: &dyn Store) -> Result<Found, StoreError> {
    let Some(stored) = store.get(KEY)? else { return Ok(Found::None) };
    let record: Uploaded = serde_json::from_slice(&stored.value).map_err(|e| StoreError::Backend(e.to_string()))?;
    if record.expires > now_unix() {
        return Ok(Found::Valid(record));
    }
    let _ = store.delete(KEY, Some(stored.revision));
    Ok(Found::Expired(record.expires))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn an_upload_lives_two_hours_and_an_expired_one_is_deleted_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        assert!(matches!(get(&store).unwrap(), Found::None));
        let put_now = put(&store, "sealed-1").unwrap();
        assert!(put_now.expires >= now_unix() + LIFETIME_SECS - 5);
        assert!(matches!(get(&store).unwrap(), Found::Valid(u) if u.sealed == "sealed-1"));
        put(&store, "sealed-2").unwrap();
        assert!(matches!(get(&store).unwrap(), Found::Valid(u) if u.sealed == "sealed-2"), "a new upload replaces");
        // One uploaded more than two hours ago.
        let old = Uploaded { sealed: "sealed-2".into(), expires: now_unix() - 1 };
        let current = store.get(KEY).unwrap().unwrap();
        store.update(KEY, &serde_json::to_vec(&old).unwrap(), Some(current.revision)).unwrap();
        assert!(matches!(get(&store).unwrap(), Found::Expired(_)));
        assert!(store.get(KEY).unwrap().is_none(), "deleted once found expired");
    }
}
