//! Bootstrap tokens, server side: kept in the store under /bootstrap-tokens/<id> with an optional expiry,
//! like kubeadm's bootstrap-token Secrets. A token authenticates only the request for a node certificate
//! and signs cluster-info; nothing else.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::store::{Store, StoreError};
use crate::bootstrap::pin::pins_match;
use crate::bootstrap::token::BootstrapToken;

const PREFIX: &str = "/bootstrap-tokens/";

#[derive(Clone, Serialize, Deserialize)]
struct TokenRecord {
    id: String,
    secret: String,
    /// Unix seconds; None never expires (`--ttl 0`).
    expires: Option<u64>,
}

/// What `token list` shows: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub expires: Option<u64>,
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn create(store: &dyn Store, token: &BootstrapToken, ttl_secs: Option<u64>) -> Result<(), StoreError> {
    let record = TokenRecord {
        id: token.id().into(),
        secret: token.secret().into(),
        expires: ttl_secs.map(|t| now_unix().saturating_add(t)),
    };
    store.create(&format!("{PREFIX}{}", token.id()), &serde_json::to_vec(&record).expect("plain data")).map(|_| ())
}

pub fn delete(store: &dyn Store, id: &str) -> Result<(), StoreError> {
    store.delete(&format!("{PREFIX}{id}"), None).map(|_| ())
}

fn records(store: &dyn Store, now: u64) -> Result<Vec<TokenRecord>, StoreError> {
    let (items, _) = store.list(PREFIX)?;
    Ok(items
        .iter()
        .filter_map(|s| serde_json::from_slice::<TokenRecord>(&s.value).ok())
        .filter(|r| r.expires.is_none_or(|e| e > now))
        .collect())
}

pub fn list(store: &dyn Store) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(records(store, now_unix())?.into_iter().map(|r| TokenInfo { id: r.id, expires: r.expires }).collect())
}

/// Tokens that are valid now (for signing cluster-info).
pub fn valid(store: &dyn Store) -> Result<Vec<BootstrapToken>, StoreError> {
    Ok(records(store, now_unix())?
        .into_iter()
        .filter_map(|r| BootstrapToken::parse(&format!("{}.{}", r.id, r.secret)).ok())
        .collect())
}

/// Is `presented` a valid, unexpired token? (Constant-time on the secret.)
pub fn authenticate(store: &dyn Store, presented: &BootstrapToken) -> Result<bool, StoreError> {
    Ok(records(store, now_unix())?.iter().any(|r| r.id == presented.id() && pins_match(&r.secret, presented.secret())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn create_authenticate_expire_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let live = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let expired = BootstrapToken::parse("zzzzzz.0123456789abcdef").unwrap();
        create(&store, &live, Some(3600)).unwrap();
        create(&store, &expired, Some(0)).unwrap();
        assert!(authenticate(&store, &live).unwrap());
        assert!(!authenticate(&store, &expired).unwrap(), "a token is dead at its expiry");
        assert!(!authenticate(&store, &BootstrapToken::parse("abcdef.ffffffffffffffff").unwrap()).unwrap());
        assert_eq!(list(&store).unwrap().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["abcdef"]);
        assert_eq!(valid(&store).unwrap(), vec![live.clone()]);
        delete(&store, "abcdef").unwrap();
        assert!(!authenticate(&store, &live).unwrap());
        // An admin's API request for the longest lifetime there is: lives (saturates), no overflow.
        let long = BootstrapToken::parse("longgg.0123456789abcdef").unwrap();
        create(&store, &long, Some(u64::MAX)).unwrap();
        assert!(authenticate(&store, &long).unwrap());
    }
}
