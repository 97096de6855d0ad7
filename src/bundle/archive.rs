//! The bundle file: one uncompressed tar (its packages and image layers are compressed already) whose first
//! member is manifest.json, then every file the manifest lists, in its order. Written under a temporary
//! name and renamed when complete, so a failed or killed `bundle create` never leaves a file that looks
//! whole; read in one pass that checks each member against the manifest as it goes by.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{io, BundleError};
use super::manifest::{FileEntry, Manifest, FORMAT, MANIFEST};
use crate::checksum::{sha256_file, Sha256Writer};

/// Every regular file under `staging`, as bundle paths (`/`-separated, sorted), with sizes and checksums.
pub fn file_entries(staging: &Path) -> Result<Vec<FileEntry>, BundleError> {
    let mut paths = Vec::new();
    walk(staging, staging, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let (sha256, size) = sha256_file(&staging.join(&path)).map_err(io(staging.join(&path)))?;
            Ok(FileEntry { path, size, sha256 })
        })
        .collect()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), BundleError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let relative = path.strip_prefix(root).expect("under the root");
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Write `manifest` and the files it lists (read from `staging`) to `output`, atomically.
pub fn write(output: &Path, manifest: &Manifest, staging: &Path) -> Result<(), BundleError> {
    let partial = partial_name(output);
    let result = write_to(&partial, manifest, staging).and_then(|()| {
        std::fs::rename(&partial, output).map_err(io(output))?;
        let dir = folder_of(output);
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// The folder a bundle is written in (the current one for a bare file name).
pub fn folder_of(output: &Path) -> &Path {
    output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn partial_name(output: &Path) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!(".{name}.partial"))
}

fn write_to(partial: &Path, manifest: &Manifest, staging: &Path) -> Result<(), BundleError> {
    let file = File::create(partial).map_err(io(partial))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    tar.mode(tar::HeaderMode::Deterministic);
    let text = serde_json::to_vec_pretty(manifest).expect("the manifest serializes");
    append(&mut tar, MANIFEST, &mut text.as_slice(), text.len() as u64, 0o644).map_err(io(partial))?;
    for entry in &manifest.files {
        let source = staging.join(&entry.path);
        let mut file = File::open(&source).map_err(io(&source))?;
        let mode = if entry.path == super::manifest::BINARY { 0o755 } else { 0o644 };
        append(&mut tar, &entry.path, &mut file, entry.size, mode).map_err(io(partial))?;
    }
    let mut writer = tar.into_inner().map_err(io(partial))?;
    writer.flush().map_err(io(partial))?;
    writer.into_inner().map_err(|e| io(partial)(e.into_error()))?.sync_all().map_err(io(partial))
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &mut impl Read,
    size: u64,
    mode: u32,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    tar.append_data(&mut header, path, data.take(size))
}

/// Read a bundle's manifest and check every file against it; with `extract_to`, also write each file
/// there (the folder must exist; files are written as they are checked, so a caller extracts into a
/// temporary folder and renames it once this returns Ok).
pub fn read(path: &Path, extract_to: Option<&Path>) -> Result<Manifest, BundleError> {
    let file = File::open(path).map_err(io(path))?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let mut entries = archive.entries().map_err(io(path))?;
    let (manifest, _) = first_member(path, &mut entries)?;
    let damaged = |file: &str, why: String| BundleError::Damaged { path: path.to_path_buf(), file: file.into(), why };
    let mut expected = manifest.files.iter();
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged("the archive", e.to_string()))?;
        let name = entry.path().map_err(io(path))?.to_string_lossy().into_owned();
        let Some(want) = expected.next() else {
            return Err(damaged(&name, "the manifest does not list it".into()));
        };
        if want.path != name {
            return Err(damaged(&name, format!("expected {} here", want.path)));
        }
        let mut hasher = Sha256Writer::default();
        let size = match extract_to {
            Some(dir) => {
                let target = dir.join(&name);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let mut out = BufWriter::new(File::create(&target).map_err(io(&target))?);
                let size = std::io::copy(&mut entry, &mut Tee(&mut hasher, &mut out))
                    .map_err(|e| damaged(&name, e.to_string()))?;
                out.flush().map_err(io(&target))?;
                if name == super::manifest::BINARY {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).map_err(io(&target))?;
                }
                size
            }
            None => std::io::copy(&mut entry, &mut hasher).map_err(|e| damaged(&name, e.to_string()))?,
        };
        if size < want.size {
            // The tar ended inside this member.
            let missing = 1 + expected.len();
            return Err(BundleError::Truncated { path: path.to_path_buf(), missing, first: name });
        }
        if size != want.size {
            return Err(damaged(&name, format!("{size} bytes, the manifest says {}", want.size)));
        }
        let sum = hasher.finish_hex();
        if sum != want.sha256 {
            return Err(damaged(&name, format!("sha256 {sum}, the manifest says {}", want.sha256)));
        }
    }
    let rest: Vec<&FileEntry> = expected.collect();
    if let Some(first) = rest.first() {
        return Err(BundleError::Truncated {
            path: path.to_path_buf(),
            missing: rest.len(),
            first: first.path.clone(),
        });
    }
    Ok(manifest)
}

/// The manifest alone (nothing else is read or checked) and the SHA-256 of its bytes, which names this
/// bundle's content.
pub fn read_manifest(path: &Path) -> Result<(Manifest, String), BundleError> {
    let file = File::open(path).map_err(io(path))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    let mut entries = archive.entries().map_err(io(path))?;
    first_member(path, &mut entries)
}

fn first_member<R: Read>(path: &Path, entries: &mut tar::Entries<'_, R>) -> Result<(Manifest, String), BundleError> {
    let not_bundle = |why: String| BundleError::NotABundle { path: path.to_path_buf(), why };
    let mut first = match entries.next() {
        Some(entry) => entry.map_err(|e| not_bundle(e.to_string()))?,
        None => return Err(not_bundle("it is empty".into())),
    };
    let name = first.path().map_err(io(path))?.to_string_lossy().into_owned();
    if name != MANIFEST {
        return Err(not_bundle(format!("its first member is {name}, not {MANIFEST}")));
    }
    let mut text = Vec::new();
    first.read_to_end(&mut text).map_err(io(path))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| not_bundle(format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(not_bundle(format!("format {} (this kubeboot reads format {FORMAT})", manifest.format)));
    }
    Ok((manifest, crate::checksum::sha256_hex(&text)))
}

/// Writes to both: a file checked while it is extracted.
struct Tee<'a, A: Write, B: Write>(&'a mut A, &'a mut B);

impl<A: Write, B: Write> Write for Tee<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged() -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        std::fs::create_dir_all(staging.join("packages/debian-12-x86_64")).unwrap();
        std::fs::write(staging.join("kubeboot"), b"#!/bin/sh\necho kubeboot\n").unwrap();
        std::fs::write(staging.join("packages/debian-12-x86_64/Packages"), b"Package: lvm2\n").unwrap();
        std::fs::write(staging.join("packages/debian-12-x86_64/lvm2.deb"), vec![7u8; 100_000]).unwrap();
        let manifest = Manifest {
            format: FORMAT,
            kubeboot_version: "0.1.0".into(),
            created: "2026-12-06T00:00:00Z".into(),
            cluster: "lab".into(),
            systems: Vec::new(),
            images: Vec::new(),
            files: file_entries(&staging).unwrap(),
        };
        (dir, manifest)
    }

    #[test]
    fn a_bundle_reads_back_checked_and_extracts_every_file() {
        let (dir, manifest) = staged();
        let bundle = dir.path().join("b.tar");
        write(&bundle, &manifest, &dir.path().join("staging")).unwrap();
        assert!(!dir.path().join(".b.tar.partial").exists());
        assert_eq!(read(&bundle, None).unwrap(), manifest);
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        read(&bundle, Some(&out)).unwrap();
        assert_eq!(std::fs::read(out.join("packages/debian-12-x86_64/lvm2.deb")).unwrap(), vec![7u8; 100_000]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(out.join("kubeboot")).unwrap().permissions().mode() & 0o777, 0o755);
    }

    #[test]
    fn a_changed_byte_a_cut_file_and_another_file_are_refused() {
        let (dir, manifest) = staged();
        let bundle = dir.path().join("b.tar");
        write(&bundle, &manifest, &dir.path().join("staging")).unwrap();
        let whole = std::fs::read(&bundle).unwrap();

        let mut flipped = whole.clone();
        let at = whole.windows(4).position(|w| w == [7, 7, 7, 7]).unwrap() + 500;
        flipped[at] = 8;
        std::fs::write(&bundle, &flipped).unwrap();
        let err = read(&bundle, None).unwrap_err().to_string();
        assert!(err.contains("packages/debian-12-x86_64/lvm2.deb does not match") && err.contains("sha256"), "{err}");

        // Cut inside the last member, then after a whole member.
        std::fs::write(&bundle, &whole[..at]).unwrap();
        let err = read(&bundle, None).unwrap_err().to_string();
        assert!(
            err.contains("incomplete: 1 of its files are missing (first: packages/debian-12-x86_64/lvm2.deb)"),
            "{err}"
        );
        let mut members = tar::Archive::new(whole.as_slice());
        let starts: Vec<u64> = members.entries().unwrap().map(|e| e.unwrap().raw_header_position()).collect();
        std::fs::write(&bundle, &whole[..starts[2] as usize]).unwrap(); // the manifest and kubeboot only
        let err = read(&bundle, None).unwrap_err().to_string();
        assert!(err.contains("incomplete: 2 of its files are missing"), "{err}");

        std::fs::write(&bundle, b"not a tar at all, just words").unwrap();
        assert!(matches!(read(&bundle, None), Err(BundleError::NotABundle { .. })));
    }
}
