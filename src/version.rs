//! This build's kubeboot version. It is Cargo's package version, kept in the binary as a fixed-size stamp
//! (MARKER, the version, spaces) that is read at run time rather than folded into the code: a copy of the
//! binary with another version written into its stamp reports that version everywhere (`--version`, the
//! API server's gitVersion, the nodes' kubeletVersion). tests/upgrade_e2e.rs makes its "newer build" so.

use std::sync::OnceLock;

pub const MARKER: &str = "kubeboot-version-stamp:";
const STAMP_LEN: usize = 64;

const fn stamp() -> [u8; STAMP_LEN] {
    let mut out = [b' '; STAMP_LEN];
    let (marker, version) = (MARKER.as_bytes(), env!("CARGO_PKG_VERSION").as_bytes());
    let mut i = 0;
    while i < marker.len() {
        out[i] = marker[i];
        i += 1;
    }
    let mut j = 0;
    while j < version.len() {
        out[i + j] = version[j];
        j += 1;
    }
    out
}

#[used]
static STAMP: [u8; STAMP_LEN] = stamp();

/// The version in the stamp (e.g. "0.1.0").
pub fn current() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        // SAFETY: a read of a static's bytes; volatile so that the compiler keeps the stamp and reads it.
        let stamp = unsafe { std::ptr::read_volatile(&STAMP) };
        String::from_utf8_lossy(&stamp[MARKER.len()..]).trim().to_string()
    })
}

/// A version as MAJOR.MINOR.PATCH (a pre-release or build suffix ignored), ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().trim_start_matches('v').split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let version = Version { major: parts.next()??, minor: parts.next()??, patch: parts.next()?? };
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_holds_the_package_version_and_versions_order() {
        assert_eq!(current(), env!("CARGO_PKG_VERSION"));
        let v = |t| Version::parse(t).unwrap();
        assert!(v("0.2.0") > v("0.1.9") && v("1.0.0") > v("0.99.0") && v("v0.1.1-rc.1") == v("0.1.1"));
        assert_eq!(Version::parse("0.1"), None);
        assert_eq!(Version::parse("0.1.0.4"), None);
    }
}
