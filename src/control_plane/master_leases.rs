//! Which masters are alive, as kube-apiserver's lease endpoint reconciler keeps it: every API server
//! renews a record of its own address every RENEW_EVERY, and the `kubernetes` Service's Endpoints and
//! EndpointSlice name the addresses whose record is younger than LEASE_TTL, sorted. A master that died
//! drops out of them within LEASE_TTL; its record is deleted by the next server that sees it expired.

use std::time::Duration;

use serde_json::{json, Value};

use super::registry::Registry;
use super::store::{Op, StoreError, Txn};

const PREFIX: &str = "/masterleases/";
/// How often each server renews its record and rewrites the endpoints.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);
/// A record older than this is a master that is gone.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// Renew `address`'s record at `now` (unix seconds) and return the live masters' addresses, sorted;
/// expired records are deleted on the way.
pub fn renew(registry: &Registry, address: &str, now: i64) -> Result<Vec<String>, StoreError> {
    let store = registry.store();
    let record = serde_json::to_vec(&json!({"renewed": now})).expect("json");
    store.txn(Txn { compares: Vec::new(), ops: vec![Op::Put(format!("{PREFIX}{address}"), record)] })?;
    let mut live = Vec::new();
    for item in store.list(PREFIX)?.0 {
        let renewed = serde_json::from_slice::<Value>(&item.value).ok().and_then(|v| v["renewed"].as_i64());
        let ip = item.key.trim_start_matches(PREFIX).to_string();
        if renewed.is_some_and(|r| now - r < LEASE_TTL.as_secs() as i64) {
            live.push(ip);
        } else {
            // Another server may have deleted it (or its master renewed it) meanwhile: either is fine.
            let _ = store.delete(&item.key, Some(item.revision));
        }
    }
    live.sort();
    Ok(live)
}
