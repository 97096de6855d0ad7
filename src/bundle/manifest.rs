//! A bundle's manifest (manifest.json, its first file): which systems' packages it holds and what each was
//! asked for, which images, the kubeboot binary's version, and every file's size and SHA-256.

use serde::{Deserialize, Serialize};

use crate::facts::{OsFamily, PackageManager, SystemFacts};
use crate::tasks::WantedPackage;

/// The manifest's own name inside the bundle; it comes first.
pub const MANIFEST: &str = "manifest.json";
/// The kubeboot binary's name inside the bundle.
pub const BINARY: &str = "kubeboot";
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub kubeboot_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub cluster: String,
    pub systems: Vec<SystemPackages>,
    pub images: Vec<ImageEntry>,
    pub files: Vec<FileEntry>,
}

/// One OS release's package repository in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemPackages {
    pub system: System,
    /// The host the packages were downloaded on.
    pub collected_on: String,
    /// What the preparation installs on the inventory's hosts of this system (the repository also holds
    /// their dependencies).
    pub packages: Vec<WantedPackage>,
    /// The repository's folder in the bundle: packages and the package manager's index.
    pub folder: String,
    /// How many package files it holds.
    pub package_files: usize,
}

/// What a repository fits: hosts with the same OS, major release and architecture.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct System {
    pub family: String,
    pub os_id: String,
    /// The major release (VERSION_ID up to its first dot): 12, 9.
    pub release: String,
    /// Debian's codename (bookworm), empty on EL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub codename: String,
    pub arch: String,
    pub package_manager: String,
}

impl System {
    pub fn of(facts: &SystemFacts) -> System {
        let family = match facts.family {
            OsFamily::Debian => "debian",
            OsFamily::El => "el",
            OsFamily::Unknown => "unknown",
        };
        let package_manager = match facts.package_manager {
            PackageManager::Apt => "apt",
            PackageManager::Dnf => "dnf",
            PackageManager::Yum => "yum",
            PackageManager::None => "none",
        };
        System {
            family: family.into(),
            os_id: facts.os_id.clone(),
            release: facts.os_version.split('.').next().unwrap_or_default().to_string(),
            codename: facts.os_codename.clone(),
            arch: facts.arch.clone(),
            package_manager: package_manager.into(),
        }
    }

    /// The repository's folder name: `debian-12-x86_64`.
    pub fn folder(&self) -> String {
        format!("packages/{}-{}-{}", self.os_id, self.release, self.arch)
    }
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.os_id, self.release)?;
        if !self.codename.is_empty() {
            write!(f, " ({})", self.codename)?;
        }
        write!(f, " {}", self.arch)
    }
}

/// One image, as copied from its registry (the manifest and its blobs, unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageEntry {
    /// As given (`kubetm/p8000`).
    pub requested: String,
    /// Fully qualified (`docker.io/kubetm/p8000:latest`).
    pub reference: String,
    /// The manifest's digest (`sha256:…`): what a registry serving it answers with.
    pub digest: String,
    /// Where it was copied from.
    pub source: String,
    pub folder: String,
    /// The manifest and every blob, in bytes.
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn system_for(&self, system: &System) -> Option<&SystemPackages> {
        self.systems.iter().find(|s| &s.system == system)
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_is_keyed_by_os_major_release_and_architecture() {
        let facts = |name: &str| crate::facts::parse_system_facts(&crate::facts::fixture(name)).unwrap();
        let rocky = facts("rocky9.txt");
        let system = System::of(&rocky);
        assert_eq!((system.family.as_str(), system.release.as_str()), ("el", "9"));
        assert_eq!(system.folder(), "packages/rocky-9-x86_64");
        assert_eq!(system.to_string(), "rocky 9 x86_64");
        let debian = facts("debian12.txt");
        assert_eq!(System::of(&debian).to_string(), "debian 12 x86_64");
        assert_ne!(System::of(&debian), system);
    }
}
