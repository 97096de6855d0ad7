//! The configMaps, secrets, claims and volumes this node's pods use, each followed by its own watch
//! (`fieldSelector=metadata.name=…`, what kubelet's watch-based manager does, and the one kind of list a
//! node may make of them): a pod's volumes and environment are read from memory, and a changed secret
//! reaches the node without anybody asking for it again. Watches of objects no pod uses any more are
//! stopped by `retain`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::watch_cache::WatchCache;
use crate::apiclient::ApiClient;

/// How long a pod's first sync waits for an object's first list before it goes on without it.
const FIRST_LIST: Duration = Duration::from_secs(5);

/// A followed object: its cache and the task that keeps it current.
type Followed = (Arc<WatchCache>, tokio::task::JoinHandle<()>);

pub struct ReferencedObjects {
    client: Arc<ApiClient>,
    /// By watch path.
    watched: Mutex<HashMap<String, Followed>>,
}

/// The list URL that names one object: `collection` is `/api/v1/namespaces/NS/configmaps` and the like.
pub fn object_path(collection: &str, name: &str) -> String {
    let selector: String = form_urlencoded::byte_serialize(format!("metadata.name={name}").as_bytes()).collect();
    format!("{collection}?fieldSelector={selector}")
}

impl ReferencedObjects {
    pub fn new(client: Arc<ApiClient>) -> Self {
        ReferencedObjects { client, watched: Mutex::new(HashMap::new()) }
    }

    /// The object `name` of `collection`, from its watch (started now if it is new); None when it does
    /// not exist, or its first list has not come in time.
    pub async fn get(&self, collection: &str, name: &str) -> Option<Value> {
        let path = object_path(collection, name);
        let cache = {
            let mut watched = self.watched.lock().expect("referenced objects");
            let (cache, _) = watched
                .entry(path.clone())
                .or_insert_with(|| WatchCache::start(self.client.clone(), path.clone(), None));
            cache.clone()
        };
        if !cache.synced() && !cache.wait_synced(FIRST_LIST).await {
            return None;
        }
        cache.list().into_iter().next().map(|o| (*o).clone())
    }

    /// Stop following every object whose path is not in `wanted` (no pod of this node uses it now).
    pub fn retain(&self, wanted: &HashSet<String>) {
        self.watched.lock().expect("referenced objects").retain(|path, (_, task)| {
            let keep = wanted.contains(path);
            if !keep {
                task.abort();
            }
            keep
        });
    }
}

/// The watch paths of every object `pods` use: configMaps, secrets and claims in their namespaces, and the
/// volumes their claims are bound to (as the claims' watches see them).
pub fn paths_used_by(pods: &[Arc<Value>], objects: &ReferencedObjects) -> HashSet<String> {
    let mut wanted = HashSet::new();
    for pod in pods {
        let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let (config_maps, secrets) = crate::resources::pod::referenced_objects(pod);
        let claims = crate::resources::storage::pod_claims(pod);
        for (kind, names) in [("configmaps", &config_maps), ("secrets", &secrets), ("persistentvolumeclaims", &claims)]
        {
            for name in names.iter() {
                wanted.insert(object_path(&format!("/api/v1/namespaces/{namespace}/{kind}"), name));
            }
        }
    }
    // Volumes: those the followed claims name.
    let watched = objects.watched.lock().expect("referenced objects");
    for (path, (cache, _)) in watched.iter() {
        if !wanted.contains(path) || !path.contains("/persistentvolumeclaims?") {
            continue;
        }
        for claim in cache.list() {
            if let Some(volume) = claim.pointer("/spec/volumeName").and_then(Value::as_str).filter(|v| !v.is_empty()) {
                wanted.insert(object_path("/api/v1/persistentvolumes", volume));
            }
        }
    }
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_by_its_name() {
        assert_eq!(
            object_path("/api/v1/namespaces/d/secrets", "db-pass"),
            "/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%3Ddb-pass"
        );
    }
}
