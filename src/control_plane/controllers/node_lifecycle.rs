//! Kubernetes' node lifecycle rule: a node whose agent has not posted a heartbeat for 40 s gets
//! Ready=Unknown. One pass = one read of all nodes and a conditional write per stale node (a heartbeat that
//! lands in between wins: the write conflicts and the node is left alone).

use time::{Duration, OffsetDateTime};

use crate::control_plane::store::{Store, StoreError};
use crate::resources::node::mark_unknown_if_stale;

pub const GRACE: Duration = Duration::seconds(40);

/// Returns the names of nodes marked Unknown.
pub fn reconcile(store: &dyn Store, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
    let (nodes, _) = store.list("/nodes/")?;
    let mut marked = Vec::new();
    for stored in nodes {
        let Ok(mut node) = serde_json::from_slice::<serde_json::Value>(&stored.value) else { continue };
        if mark_unknown_if_stale(&mut node, now, GRACE) {
            match store.update(&stored.key, &serde_json::to_vec(&node).expect("json"), Some(stored.revision)) {
                Ok(_) => marked.push(stored.key.trim_start_matches("/nodes/").to_string()),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(marked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;
    use crate::resources::meta::parse_rfc3339;
    use crate::resources::node::{ready_status, set_ready};

    #[test]
    fn marks_only_stale_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let t0 = parse_rfc3339("2026-11-26T18:00:00Z").unwrap();
        for (name, beat) in [("old", t0), ("fresh", t0 + Duration::seconds(30))] {
            let mut node = serde_json::json!({"metadata": {"name": name}});
            set_ready(&mut node, "True", "KubeletReady", "ready", Some(beat), beat);
            store.create(&format!("/nodes/{name}"), &serde_json::to_vec(&node).unwrap()).unwrap();
        }
        assert_eq!(reconcile(&store, t0 + Duration::seconds(45)).unwrap(), ["old"]);
        let old: serde_json::Value = serde_json::from_slice(&store.get("/nodes/old").unwrap().unwrap().value).unwrap();
        assert_eq!(ready_status(&old), Some("Unknown"));
        assert!(reconcile(&store, t0 + Duration::seconds(45)).unwrap().is_empty());
    }
}
