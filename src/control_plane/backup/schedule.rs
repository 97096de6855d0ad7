//! Scheduled snapshots (k3s's default: every 12 h, the newest 5 kept), taken by every master's server
//! into its own data dir: a master that dies takes only its own copies with it.

use std::sync::Arc;
use std::time::Duration;

use super::{save, SnapshotKind, SnapshotPlace};
use crate::control_plane::store::Store;

/// Take a snapshot every `every`, the first one `every` after start (a restart does not take one).
pub async fn keep_taking(store: Arc<dyn Store>, place: SnapshotPlace, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (store, place) = (store.clone(), place.clone());
        let saved = tokio::task::spawn_blocking(move || save(store.as_ref(), &place, SnapshotKind::Scheduled))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match saved {
            Ok(s) => eprintln!(
                "kubeboot server: scheduled snapshot {} (revision {}, {} keys, {} bytes, {} ms)",
                s.path, s.revision, s.keys, s.bytes, s.took_ms
            ),
            Err(e) => eprintln!("kubeboot server: scheduled snapshot failed: {e}"),
        }
    }
}
