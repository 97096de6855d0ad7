//! kubectl as the e2e suites drive it: one binary (1.20 or 1.33) against one cluster's kubeconfig.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

use serde_json::Value;

#[derive(Clone)]
pub struct Kubectl {
    pub path: PathBuf,
    pub label: String,
    pub kubeconfig: PathBuf,
    /// HOME for kubectl's discovery cache (each version must do its own); inherited when None.
    pub home: Option<PathBuf>,
    /// `-n` for every command; kubeconfig's namespace when None.
    pub namespace: Option<String>,
}

impl Kubectl {
    /// The kubectl labelled so (kubectls::by_label) against `kubeconfig`.
    pub fn new(label: &str, kubeconfig: &Path) -> Self {
        Self::at(label, &super::kubectls::by_label(label), kubeconfig)
    }

    /// A kubectl binary given by path (one the machine's list does not name), labelled for messages.
    pub fn at(label: &str, path: &Path, kubeconfig: &Path) -> Self {
        Kubectl {
            path: path.to_path_buf(),
            label: label.into(),
            kubeconfig: kubeconfig.to_path_buf(),
            home: None,
            namespace: None,
        }
    }

    /// The same kubectl with a HOME of its own.
    pub fn with_home(mut self, home: &Path) -> Self {
        self.home = Some(home.to_path_buf());
        self
    }

    /// The same kubectl working in `namespace`.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        if let Some(ns) = &self.namespace {
            cmd.args(["-n", ns]);
        }
        if let Some(home) = &self.home {
            cmd.env("HOME", home);
        }
        cmd.args(args);
        cmd
    }

    /// Its exit code and what it printed (stdout, then stderr).
    pub fn code(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.output(args);
        (out.status.code(), text(&out))
    }

    /// stdout of a command that must succeed (stderr only in the failure message).
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "{} {args:?}: {}", self.label, text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The whole output, stdout and stderr apart (no stdin).
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Whether it succeeded, and stdout then stderr.
    pub fn run(&self, args: &[&str]) -> (bool, String) {
        let out = self.output(args);
        (out.status.success(), text(&out))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.run(args);
        assert!(ok, "{} {}: {out}", self.label, args.join(" "));
        out
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let (ok, out) = self.run(&all);
        if !ok {
            return Value::Null;
        }
        serde_json::from_str(&out).unwrap_or(Value::Null)
    }

    /// Pods matching `selector` that are not being deleted.
    pub fn pods(&self, selector: &str) -> Vec<Value> {
        self.json(&["get", "pods", "-l", selector])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect()
    }
}

impl Kubectl {
    pub fn with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// A long-running kubectl whose stdout and stderr lines arrive on the channel.
    pub fn spawn(&self, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child =
            self.command(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        for stream in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        (child, rx)
    }
}

/// stdout then stderr, as text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn manifest(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

pub fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub fn image(pod: &Value) -> String {
    pod["spec"]["containers"][0]["image"].as_str().unwrap_or("").to_string()
}

/// A fresh three-host lab with a cluster `up` on it, and kubectl 1.20 and 1.33 pointed at it.
pub struct LabCluster {
    pub work: tempfile::TempDir,
    pub inventory: String,
    pub k20: Kubectl,
    pub k33: Kubectl,
}

pub fn lab_cluster() -> LabCluster {
    let work = tempfile::tempdir().unwrap();
    let inventory = work.path().join("lab.yaml").display().to_string();
    super::fresh_lab(3, &inventory);
    let kubeconfig = super::up_with_kubeconfig(&inventory, work.path());
    let (k20, k33) = (Kubectl::new("kubectl 1.20", &kubeconfig), Kubectl::new("kubectl.1.33", &kubeconfig));
    LabCluster { work, inventory, k20, k33 }
}
