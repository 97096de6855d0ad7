//! The official Kubernetes Python client (PyPI `kubernetes`, which .ci/setup installs into target/pyclient)
//! running one of the scripts under tests/python against a kubeconfig.

use std::path::Path;
use std::process::Command;

/// The command running tests/python/`script` with `kubeconfig` and `args`. A missing client fails, named.
pub fn script(script: &str, kubeconfig: &Path, home: &Path, args: &[&str]) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/pyclient/bin/python");
    let has_client = Command::new(&python).args(["-c", "import kubernetes"]).status().is_ok_and(|s| s.success());
    assert!(has_client, "no Python client at {} (run .ci/setup: pip install kubernetes into it)", python.display());
    let mut command = Command::new(&python);
    command.arg(root.join("tests/python").join(script)).arg(kubeconfig).args(args).env("HOME", home);
    command
}

/// Run tests/python/`script` with `kubeconfig`; returns the checks it passed (its `ok <check>` lines).
/// A missing client fails, named; a failing script fails with its output.
pub fn run_script(name: &str, kubeconfig: &Path, home: &Path) -> Vec<String> {
    let out = script(name, kubeconfig, home, &[]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name}: {stdout}{stderr}");
    stdout.lines().filter_map(|l| l.strip_prefix("ok ")).map(String::from).collect()
}
