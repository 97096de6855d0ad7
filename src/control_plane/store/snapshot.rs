//! Snapshots of a store: every key and value at one revision, in a file of their own that either backend
//! restores (redb's from etcd's and the other way round), and the files a backup carries beside them (the
//! cluster's CA material, control_plane/backup.rs). The file is a JSON header line (format, revision, key
//! and file counts), then each file's name and bytes and each key and value, length-prefixed, then the
//! SHA-256 of all that came before: a truncated or altered snapshot is refused before anything is restored.

use std::io::{Read, Write};

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use super::{Op, Store, StoreError, Txn};

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

const FORMAT: &str = "kubeboot-store-snapshot/v1";
/// No key of a Kubernetes store is anywhere near this; a length beyond it is damage, not data.
const MAX_ENTRY: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The store's revision the entries are at.
    pub revision: u64,
    pub entries: Vec<(String, Vec<u8>)>,
    /// Files beside the store's keys (a backup's CA material: name relative to the config dir, bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the snapshot: {0}")]
    Write(std::io::Error),
    #[error("not a kubeboot store snapshot, or a damaged one: {0}")]
    Damaged(String),
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    revision: u64,
    keys: u64,
    #[serde(default)]
    files: u64,
}

/// Every key of `store` at one revision (a list of "/" is read at one revision by both backends).
pub fn take(store: &dyn Store) -> Result<Snapshot, StoreError> {
    let (items, revision) = store.list("/")?;
    Ok(Snapshot { revision, entries: items.into_iter().map(|s| (s.key, s.value)).collect(), files: Vec::new() })
}

/// Make `store` hold exactly the snapshot's keys and values (keys it has and the snapshot not are
/// deleted), so a restore that was killed halfway is finished by the next one, whatever it left. Its
/// revisions go on from its own: a client resuming a watch from the snapshot's revisions is told to list
/// again (watch_hub.rs). Growing one master onto etcd is a snapshot of its redb store restored into etcd.
pub fn restore(snapshot: &Snapshot, store: &dyn Store) -> Result<Copied, StoreError> {
    mirror_entries(&snapshot.entries, store)
}

/// Make `to` hold exactly `source`'s keys and values.
fn mirror_entries(source: &[(String, Vec<u8>)], to: &dyn Store) -> Result<Copied, StoreError> {
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

struct Hashing<W> {
    inner: W,
    hash: Context,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn write(snapshot: &Snapshot, out: impl Write) -> Result<(), SnapshotError> {
    let mut out = Hashing { inner: out, hash: Context::new(&SHA256) };
    let header = Header {
        format: FORMAT.into(),
        revision: snapshot.revision,
        keys: snapshot.entries.len() as u64,
        files: snapshot.files.len() as u64,
    };
    let mut line = serde_json::to_vec(&header).expect("plain data");
    line.push(b'\n');
    out.write_all(&line).map_err(SnapshotError::Write)?;
    for (key, value) in snapshot.files.iter().chain(&snapshot.entries) {
        for part in [key.as_bytes(), value.as_slice()] {
            out.write_all(&(part.len() as u64).to_be_bytes()).map_err(SnapshotError::Write)?;
            out.write_all(part).map_err(SnapshotError::Write)?;
        }
    }
    let digest = out.hash.clone().finish();
    out.inner.write_all(digest.as_ref()).map_err(SnapshotError::Write)?;
    out.inner.flush().map_err(SnapshotError::Write)
}

pub fn read(mut input: impl Read) -> Result<Snapshot, SnapshotError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(|e| SnapshotError::Damaged(e.to_string()))?;
    let damaged = |m: &str| SnapshotError::Damaged(m.to_string());
    if bytes.len() < 32 {
        return Err(damaged("too short"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if ring::digest::digest(&SHA256, body).as_ref() != digest {
        return Err(damaged("its checksum does not match (truncated or altered)"));
    }
    let newline = body.iter().position(|b| *b == b'\n').ok_or_else(|| damaged("no header"))?;
    let header: Header = serde_json::from_slice(&body[..newline]).map_err(|e| damaged(&e.to_string()))?;
    if header.format != FORMAT {
        return Err(damaged(&format!("format {:?}, not {FORMAT}", header.format)));
    }
    let mut rest = &body[newline + 1..];
    let mut take_part = || -> Result<Vec<u8>, SnapshotError> {
        if rest.len() < 8 {
            return Err(damaged("an entry is cut short"));
        }
        let len = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
        if len > MAX_ENTRY || (rest.len() as u64) < 8 + len {
            return Err(damaged("an entry is cut short"));
        }
        let part = rest[8..8 + len as usize].to_vec();
        rest = &rest[8 + len as usize..];
        Ok(part)
    };
    let mut pairs = |count: u64| -> Result<Vec<(String, Vec<u8>)>, SnapshotError> {
        let mut pairs = Vec::with_capacity(count.min(1 << 20) as usize);
        for _ in 0..count {
            let name = String::from_utf8(take_part()?).map_err(|_| damaged("a key is not UTF-8"))?;
            pairs.push((name, take_part()?));
        }
        Ok(pairs)
    };
    let files = pairs(header.files)?;
    let entries = pairs(header.keys)?;
    if !rest.is_empty() {
        return Err(damaged("bytes after the last entry"));
    }
    Ok(Snapshot { revision: header.revision, entries, files })
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
        let copied = restore(&take(&from).unwrap(), &to).unwrap();
        assert_eq!(copied, Copied { written: 249, unchanged: 1, deleted: 1 });
        let listed = |s: &RedbStore| -> Vec<(String, Vec<u8>)> {
            s.list("/").unwrap().0.into_iter().map(|s| (s.key, s.value)).collect()
        };
        assert_eq!(listed(&to), listed(&from));
        assert_eq!(restore(&take(&from).unwrap(), &to).unwrap(), Copied { written: 0, unchanged: 250, deleted: 0 });
    }

    #[test]
    fn a_snapshot_reads_back_and_damage_is_refused() {
        let snapshot = Snapshot {
            revision: 42,
            entries: vec![("/registry/a".into(), b"{\"a\":1}".to_vec()), ("/registry/b".into(), vec![0, 1, 2, 255])],
            files: vec![("pki/ca.crt".into(), b"-----BEGIN CERTIFICATE-----".to_vec())],
        };
        let mut bytes = Vec::new();
        write(&snapshot, &mut bytes).unwrap();
        assert_eq!(read(bytes.as_slice()).unwrap(), snapshot);
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(read(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut altered = bytes.clone();
        altered[bytes.len() / 2] ^= 1;
        assert!(matches!(read(altered.as_slice()), Err(SnapshotError::Damaged(_))));
    }
}
