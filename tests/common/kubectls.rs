//! The kubectl binaries tests drive: the one on PATH, kubectl.1.27 … 1.33 beside it (the machine's), and
//! Debian's 1.20 that .ci/setup unpacks.

use std::path::{Path, PathBuf};

/// (label, path) of each kubectl to try. A missing one fails the test, named: a compatibility test that
/// cannot find its subject must not pass.
pub fn all() -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("kubectl")).find(|p| p.is_file()));
    match &on_path {
        Some(p) => found.push(("kubectl (PATH)".to_string(), p.clone())),
        None => missing.push("kubectl on PATH".to_string()),
    }
    let beside = on_path.and_then(|p| std::fs::canonicalize(p).ok()).and_then(|p| p.parent().map(Path::to_path_buf));
    for minor in 27..=33 {
        let name = format!("kubectl.1.{minor}");
        match beside.as_ref().map(|d| d.join(&name)).filter(|p| p.is_file()) {
            Some(p) => found.push((name, p)),
            None => missing.push(format!("{name} beside the kubectl on PATH")),
        }
    }
    let debian = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kubectl-1.20/usr/bin/kubectl");
    if debian.is_file() {
        found.push(("kubectl 1.20 (Debian kubernetes-client)".into(), debian));
    } else {
        missing.push("kubectl 1.20 in target/kubectl-1.20 (run .ci/setup to unpack Debian's kubernetes-client)".into());
    }
    assert!(missing.is_empty(), "kubectl binaries missing: {}", missing.join(", "));
    found
}

/// One of them by label (`kubectl.1.33`, `kubectl 1.20 …`): the first whose label starts with `label`.
#[allow(dead_code)]
pub fn by_label(label: &str) -> PathBuf {
    all().into_iter().find(|(l, _)| l.starts_with(label)).map(|(_, p)| p).unwrap_or_else(|| panic!("no {label}"))
}
