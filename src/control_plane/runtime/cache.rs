//! What the controllers read: every object of the watched kinds as of one store revision, kept current by
//! the informer, with the two indexes controllers ask for (object by uid, dependents by owner uid).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::resources::kinds::ResourceKind;

#[derive(Default)]
pub struct Cache {
    objects: BTreeMap<String, Arc<Value>>,
    by_uid: HashMap<String, String>,
    dependents: HashMap<String, BTreeSet<String>>,
    /// Keys of objects no controller owns: with `dependents`, all a controller may claim, so a sync need
    /// not walk every pod of a namespace.
    orphans: BTreeSet<String>,
    /// The last store revision applied (of any key: the watch carries every write).
    pub revision: u64,
}

pub use crate::resources::meta::uid;

/// The uids `object`'s ownerReferences name.
pub fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

impl Cache {
    pub fn get(&self, key: &str) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Objects of `kind` (in `namespace`, for namespaced kinds given one), in key order.
    pub fn list<'a>(
        &'a self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> impl Iterator<Item = &'a Arc<Value>> + 'a {
        let prefix = kind.prefix(namespace);
        self.objects.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix)).map(|(_, v)| v)
    }

    pub fn by_uid(&self, uid: &str) -> Option<&Arc<Value>> {
        self.by_uid.get(uid).and_then(|k| self.objects.get(k))
    }

    pub fn key_of_uid(&self, uid: &str) -> Option<&str> {
        self.by_uid.get(uid).map(String::as_str)
    }

    /// Objects whose ownerReferences name `owner_uid`.
    pub fn dependents(&self, owner_uid: &str) -> Vec<(&str, &Arc<Value>)> {
        self.dependents
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter_map(|k| self.objects.get_key_value(k).map(|(k, v)| (k.as_str(), v)))
            .collect()
    }

    /// Objects of `kind` in `namespace` that `owner_uid` may claim: those naming it in their
    /// ownerReferences, and those no controller owns; in key order.
    pub fn claimable<'a>(
        &'a self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        owner_uid: &str,
    ) -> Vec<&'a Arc<Value>> {
        let prefix = kind.prefix(namespace);
        let orphans = self.orphans.range(prefix.clone()..).take_while(|k| k.starts_with(&prefix));
        let keys: BTreeSet<&String> = self
            .dependents
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter(|k| k.starts_with(&prefix))
            .chain(orphans)
            .collect();
        keys.into_iter().filter_map(|k| self.objects.get(k)).collect()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Set (Some) or remove (None) `key`; returns what was there.
    pub fn apply(&mut self, key: &str, object: Option<Arc<Value>>) -> Option<Arc<Value>> {
        let old = match &object {
            Some(new) => self.objects.insert(key.to_string(), new.clone()),
            None => self.objects.remove(key),
        };
        self.orphans.remove(key);
        if let Some(old) = &old {
            if let Some(u) = uid(old) {
                self.by_uid.remove(u);
            }
            for owner in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(owner) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(owner);
                    }
                }
            }
        }
        if let Some(new) = &object {
            if let Some(u) = uid(new) {
                self.by_uid.insert(u.to_string(), key.to_string());
            }
            for owner in owner_uids(new) {
                self.dependents.entry(owner.to_string()).or_default().insert(key.to_string());
            }
            if crate::resources::pod::controller_uid(new).is_none() {
                self.orphans.insert(key.to_string());
            }
        }
        old
    }

    /// Every key held (for a relist to find what went away).
    pub fn keys(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indexes_follow_writes() {
        let pods = crate::resources::kinds::find("", "v1", "pods").unwrap();
        let mut cache = Cache::default();
        let owner = json!({"metadata": {"uid": "rs-1"}});
        let pod = json!({"metadata": {"uid": "p-1", "ownerReferences": [{"uid": "rs-1"}]}});
        cache.apply("/apps/replicasets/default/rs", Some(Arc::new(owner)));
        cache.apply("/pods/default/a", Some(Arc::new(pod)));
        cache.apply("/pods/other/b", Some(Arc::new(json!({"metadata": {"uid": "p-2"}}))));
        assert_eq!(cache.list(pods, Some("default")).count(), 1);
        assert_eq!(cache.list(pods, None).count(), 2);
        assert_eq!(cache.dependents("rs-1").len(), 1);
        assert_eq!(cache.key_of_uid("p-1"), Some("/pods/default/a"));
        // Owned without a controller reference counts as an orphan too (anyone's controller may adopt it).
        assert_eq!(cache.claimable(pods, Some("default"), "rs-1").len(), 1);
        assert_eq!(cache.claimable(pods, Some("default"), "rs-2").len(), 1);
        let controlled = json!({"metadata": {"uid": "p-3", "ownerReferences": [{"uid": "rs-9", "controller": true}]}});
        cache.apply("/pods/default/c", Some(Arc::new(controlled)));
        assert_eq!(cache.claimable(pods, Some("default"), "rs-1").len(), 1);
        assert_eq!(cache.claimable(pods, Some("default"), "rs-9").len(), 2);
        assert_eq!(cache.claimable(pods, Some("other"), "rs-9").len(), 1);
        // Released: the owner reference removed.
        cache.apply("/pods/default/a", Some(Arc::new(json!({"metadata": {"uid": "p-1"}}))));
        assert!(cache.dependents("rs-1").is_empty());
        cache.apply("/pods/default/a", None);
        assert!(cache.by_uid("p-1").is_none());
    }
}
