//! The local-path provisioner's node half: a volume provisioned on this node and being deleted (its claim
//! gone, Delete policy) loses its folder here, then its `kubeboot.io/local-path-data` finalizer, so the
//! object goes only once the data has. The folder itself is made on first use (a hostPath
//! DirectoryOrCreate, volumes.rs). Only folders under the provisioner's root are ever removed. The
//! volumes come from a watch, so an idle node asks nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::watch_cache::WatchCache;
use crate::apiclient::ApiClient;
use crate::resources::storage::{is_local_path, pinned_node, LOCAL_PATH_FINALIZER, LOCAL_PATH_ROOT};

/// How soon a volume whose folder or finalizer could not be dealt with is tried again.
const RETRY: Duration = Duration::from_secs(3);

/// The folder of a volume to remove, if it is safely one of the provisioner's.
fn folder_of(pv: &Value) -> Option<&str> {
    let path = pv.pointer("/spec/hostPath/path").and_then(Value::as_str)?;
    let inside = path.strip_prefix(LOCAL_PATH_ROOT)?.strip_prefix('/')?;
    (!inside.is_empty() && !inside.contains('/') && inside != "..").then_some(path)
}

/// Volumes of this node whose folder is to go now.
pub fn to_clean<'a>(volumes: &'a [Value], node: &str) -> Vec<&'a Value> {
    volumes
        .iter()
        .filter(|pv| is_local_path(pv) && pinned_node(pv) == Some(node))
        .filter(|pv| crate::resources::meta::is_deleting(pv))
        .filter(|pv| crate::resources::meta::has_finalizer(pv, LOCAL_PATH_FINALIZER))
        .collect()
}

async fn clean_once(client: &ApiClient, volumes: &WatchCache, node: &str) -> Result<(), String> {
    let volumes: Vec<Value> = volumes.list().iter().map(|v| (**v).clone()).collect();
    for pv in to_clean(&volumes, node) {
        let name = pv.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        if let Some(folder) = folder_of(pv) {
            match std::fs::remove_dir_all(folder) {
                Ok(()) => eprintln!("kubeboot agent: removed {folder}, the folder of deleted volume {name}"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("removing {folder}: {e}")),
            }
        } else {
            eprintln!("kubeboot agent: volume {name}: its path is not under {LOCAL_PATH_ROOT}; leaving the data alone");
        }
        let updated = crate::resources::meta::without_finalizer(pv, LOCAL_PATH_FINALIZER);
        let body = serde_json::to_vec(&updated).expect("json");
        let reply = client
            .request("PUT", &format!("/api/v1/persistentvolumes/{name}"), Some(body), None)
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(reply.status, 200 | 404 | 409) {
            return Err(format!("releasing volume {name}: {}", reply.message()));
        }
    }
    Ok(())
}

/// Runs for the agent's lifetime: on every change of the PersistentVolumes (a watch), and again after
/// RETRY while a folder or a finalizer could not be dealt with.
pub async fn run(client: ApiClient, node: String) {
    let _ = std::fs::create_dir_all(Path::new(LOCAL_PATH_ROOT));
    let client = Arc::new(client);
    let (volumes, _) = WatchCache::start(client.clone(), "/api/v1/persistentvolumes".into(), None);
    let mut changed = volumes.subscribe();
    loop {
        let wait = match clean_once(&client, &volumes, &node).await {
            Ok(()) => None,
            Err(e) => {
                eprintln!("kubeboot agent: local-path volumes: {e}");
                Some(RETRY)
            }
        };
        match wait {
            Some(retry) => {
                let _ = tokio::time::timeout(retry, changed.changed()).await;
            }
            None if changed.changed().await.is_err() => return,
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_this_nodes_deleted_volumes_inside_the_root() {
        let pv = |name: &str, node: &str, path: &str, deleting: bool| {
            let mut o = json!({"metadata": {"name": name, "finalizers": [LOCAL_PATH_FINALIZER],
                    "annotations": {"pv.kubernetes.io/provisioned-by": "kubeboot.io/local-path"}},
                "spec": {"hostPath": {"path": path}, "nodeAffinity": {"required": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}});
            if deleting {
                o["metadata"]["deletionTimestamp"] = json!("2026-12-04T00:00:00Z");
            }
            o
        };
        let volumes = [
            pv("a", "n1", "/var/lib/kubeboot/storage/a_default_data", true),
            pv("b", "n2", "/var/lib/kubeboot/storage/b_default_data", true),
            pv("c", "n1", "/var/lib/kubeboot/storage/c_default_data", false),
            pv("d", "n1", "/etc", true),
        ];
        let names: Vec<&str> =
            to_clean(&volumes, "n1").iter().map(|v| v["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "d"]);
        assert_eq!(folder_of(&volumes[0]), Some("/var/lib/kubeboot/storage/a_default_data"));
        assert_eq!(folder_of(&volumes[3]), None, "never outside the root: the finalizer goes, the data stays");
        assert_eq!(folder_of(&pv("e", "n1", "/var/lib/kubeboot/storage/../x", true)), None);
    }
}
