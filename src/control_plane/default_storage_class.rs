//! The StorageClass every cluster starts with, as k3s ships one: `local-path`, marked default, provisioned
//! by kubeboot's local-path provisioner, binding delayed to the first pod (the folder must be on its node)
//! and the data deleted with the claim. Made when missing at every start, so a deleted class comes back
//! as k3s' packaged manifests do; an edited one is left as it is.

use serde_json::json;

use super::registry::{Registry, RegistryError};
use crate::resources::kinds;
use crate::resources::storage::{DEFAULT_CLASS_ANNOTATION, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER};

pub fn ensure(registry: &Registry) -> Result<(), RegistryError> {
    let class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": LOCAL_PATH_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": false});
    registry.create_if_missing(kinds::served("storage.k8s.io", "storageclasses"), None, class).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::{RedbStore, Store};
    use std::sync::Arc;

    #[test]
    fn made_once_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let registry = Registry::new(store.clone());
        ensure(&registry).unwrap();
        let key = "/storage.k8s.io/storageclasses/local-path";
        let stored = store.get(key).unwrap().unwrap();
        let class: serde_json::Value = serde_json::from_slice(&stored.value).unwrap();
        assert!(crate::resources::storage::is_default_class(&class));
        assert!(crate::resources::storage::waits_for_consumer(&class));
        ensure(&registry).unwrap();
        assert_eq!(store.get(key).unwrap().unwrap().revision, stored.revision, "not rewritten");
    }
}
