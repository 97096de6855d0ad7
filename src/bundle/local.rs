//! A bundle checked and unpacked on this machine, once: `up` reads its files from there. The folder is
//! named by the SHA-256 of the bundle's manifest (so two copies of one bundle share it) under
//! $XDG_CACHE_HOME/kubeboot/bundles (~/.cache by default); it is made under a temporary name and renamed
//! when every file has passed its checksum, with a stamp of the bundle file's size and modification time.
//! A later run whose bundle file still has that size and time only reads the manifest; any other file is
//! checked whole again.

use std::path::{Path, PathBuf};

use super::archive;
use super::error::{io, BundleError};
use super::manifest::Manifest;

pub struct Unpacked {
    pub manifest: Manifest,
    /// The folder holding the bundle's files, as the manifest names them.
    pub root: PathBuf,
}

impl Unpacked {
    pub fn file(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

fn cache_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => crate::host::home_dir().join(".cache"),
    }
    .join("kubeboot/bundles")
}

const STAMP: &str = ".kubeboot-checked";

fn stamp_of(bundle: &Path) -> Result<String, BundleError> {
    let meta = std::fs::metadata(bundle).map_err(io(bundle))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(format!("{} {modified}\n", meta.len()))
}

/// The bundle at `bundle`, checked and unpacked (or found so from an earlier run).
pub fn unpack(bundle: &Path) -> Result<Unpacked, BundleError> {
    unpack_into(bundle, &cache_dir())
}

pub fn unpack_into(bundle: &Path, cache: &Path) -> Result<Unpacked, BundleError> {
    let (manifest, digest) = archive::read_manifest(bundle)?;
    let root = cache.join(&digest[..32]);
    let stamp = stamp_of(bundle)?;
    if std::fs::read_to_string(root.join(STAMP)).is_ok_and(|s| s == stamp) {
        return Ok(Unpacked { manifest, root });
    }
    std::fs::create_dir_all(cache).map_err(io(cache))?;
    let started = std::time::Instant::now();
    let partial = tempfile::Builder::new().prefix(".unpacking-").tempdir_in(cache).map_err(io(cache))?;
    let manifest = archive::read(bundle, Some(partial.path()))?;
    std::fs::write(partial.path().join(STAMP), &stamp).map_err(io(partial.path().join(STAMP)))?;
    // An older unpacking of the same manifest (another copy of the file, or one checked before it was
    // touched) is replaced.
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(io(&root))?;
    }
    std::fs::rename(partial.keep(), &root).map_err(io(&root))?;
    eprintln!(
        "bundle {}: {} files checked and unpacked into {} ({:.1} s)",
        bundle.display(),
        manifest.files.len(),
        root.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Unpacked { manifest, root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_is_unpacked_once_and_checked_again_when_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        std::fs::create_dir_all(staging.join("images/0")).unwrap();
        std::fs::write(staging.join("images/0/manifest.json"), b"{}").unwrap();
        let manifest = Manifest {
            format: super::super::manifest::FORMAT,
            kubeboot_version: "0.1.0".into(),
            created: "now".into(),
            cluster: "lab".into(),
            systems: vec![],
            images: vec![],
            files: archive::file_entries(&staging).unwrap(),
        };
        let bundle = dir.path().join("b.bundle");
        archive::write(&bundle, &manifest, &staging).unwrap();
        let cache = dir.path().join("cache");
        let first = unpack_into(&bundle, &cache).unwrap();
        assert_eq!(std::fs::read(first.file("images/0/manifest.json")).unwrap(), b"{}");
        // The same file again: found, not unpacked again (a file removed from the cache stays removed).
        std::fs::remove_file(first.file("images/0/manifest.json")).unwrap();
        let again = unpack_into(&bundle, &cache).unwrap();
        assert_eq!(again.root, first.root);
        assert!(!again.file("images/0/manifest.json").exists());
        // A file damaged in place (same size, new time) is checked whole and refused.
        let mut bytes = std::fs::read(&bundle).unwrap();
        let at = bytes.len() - 1024 - 512; // the last member's first byte of data, before the end blocks
        bytes[at] ^= 0xff;
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&bundle, &bytes).unwrap();
        assert!(unpack_into(&bundle, &cache).is_err());
    }
}
