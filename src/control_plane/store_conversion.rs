//! Growing a one-master cluster to several: every key of the master's redb store copied into the new
//! etcd cluster, as k3s moves its SQLite into etcd. The copy makes etcd hold exactly what redb holds
//! (keys etcd has and redb not are deleted), so a copy that was killed halfway is finished by the next
//! one, whatever it left. The server is stopped meanwhile (redb allows one process, and nothing may write
//! to the old store after its copy). Revisions start anew in etcd: a client resuming a watch from a redb
//! revision is told to list again (watch_hub.rs).

use std::collections::HashMap;

use super::store::{Op, Store, StoreError, Txn};

/// etcd takes at most 128 operations and 1.5 MiB in one request by default.
const BATCH_OPS: usize = 100;
const BATCH_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Keys written (new or different in the target).
    pub written: usize,
    /// Keys the target already held as the source does.
    pub unchanged: usize,
    /// Keys only the target held, deleted.
    pub deleted: usize,
}

/// Make `to` hold exactly the keys and values of `from`.
pub fn mirror(from: &dyn Store, to: &dyn Store) -> Result<Copied, StoreError> {
    mirror_entries(&super::store::snapshot::take(from)?.entries, to)
}

/// Make `to` hold exactly `source`'s keys and values.
pub fn mirror_entries(source: &[(String, Vec<u8>)], to: &dyn Store) -> Result<Copied, StoreError> {
    let (target, _) = to.list("/")?;
    let held: HashMap<&str, &[u8]> = target.iter().map(|s| (s.key.as_str(), s.value.as_slice())).collect();
    let mut copied = Copied { written: 0, unchanged: 0, deleted: 0 };
    let mut ops = Vec::new();
    for (key, value) in source {
        if held.get(key.as_str()) == Some(&value.as_slice()) {
            copied.unchanged += 1;
        } else {
            copied.written += 1;
            ops.push(Op::Put(key.clone(), value.clone()));
        }
    }
    let kept: std::collections::HashSet<&str> = source.iter().map(|(key, _)| key.as_str()).collect();
    for t in target.iter().filter(|t| !kept.contains(t.key.as_str())) {
        copied.deleted += 1;
        ops.push(Op::Delete(t.key.clone()));
    }
    let mut batch = Txn::default();
    let mut bytes = 0;
    for op in ops {
        let size = match &op {
            Op::Put(key, value) => key.len() + value.len(),
            Op::Delete(key) => key.len(),
        };
        if !batch.ops.is_empty() && (batch.ops.len() == BATCH_OPS || bytes + size > BATCH_BYTES) {
            to.txn(std::mem::take(&mut batch))?;
            bytes = 0;
        }
        bytes += size;
        batch.ops.push(op);
    }
    if !batch.ops.is_empty() {
        to.txn(batch)?;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_plane::store::RedbStore;

    #[test]
    fn the_target_ends_as_the_source_and_a_second_copy_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let from = RedbStore::open(&dir.path().join("from.redb")).unwrap();
        let to = RedbStore::open(&dir.path().join("to.redb")).unwrap();
        for i in 0..250 {
            from.create(&format!("/registry/configmaps/default/c{i}"), format!("{{\"n\":{i}}}").as_bytes()).unwrap();
        }
        // What a killed copy may leave: part of it, an older value, a key deleted since.
        to.create("/registry/configmaps/default/c1", b"{\"n\":1}").unwrap();
        to.create("/registry/configmaps/default/c2", b"old").unwrap();
        to.create("/registry/configmaps/default/gone", b"{}").unwrap();
        let copied = mirror(&from, &to).unwrap();
        assert_eq!(copied, Copied { written: 249, unchanged: 1, deleted: 1 });
        let listed = |s: &RedbStore| -> Vec<(String, Vec<u8>)> {
            s.list("/").unwrap().0.into_iter().map(|s| (s.key, s.value)).collect()
        };
        assert_eq!(listed(&to), listed(&from));
        assert_eq!(mirror(&from, &to).unwrap(), Copied { written: 0, unchanged: 250, deleted: 0 });
    }
}
