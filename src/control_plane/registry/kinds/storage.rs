//! PersistentVolumes, claims and StorageClasses: their defaults, and a new claim without a class gets the
//! default class (the DefaultStorageClass admission plugin).

use serde_json::Value;

use crate::control_plane::registry::strategy::Strategy;
use crate::control_plane::registry::Context;
use crate::control_plane::store::Store;

pub struct StorageStrategy;

impl Strategy for StorageStrategy {
    fn prepare_for_create(&self, ctx: &Context, object: &mut Value) {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        crate::resources::storage_defaults::apply(&kind, object);
        if kind == "PersistentVolumeClaim" {
            crate::resources::storage_defaults::default_class(object, &storage_classes(ctx.store));
        }
    }
}

/// Every StorageClass.
fn storage_classes(store: &dyn Store) -> Vec<Value> {
    let classes = crate::resources::kinds::served("storage.k8s.io", "storageclasses");
    store
        .list(&classes.prefix(None))
        .map(|(items, _)| items.iter().filter_map(|s| serde_json::from_slice(&s.value).ok()).collect())
        .unwrap_or_default()
}
