//! A real etcd (Debian's etcd-server, installed by .ci/setup) for the tests: one member or a cluster of
//! several, on loopback ports of their own, data and logs in a temporary folder; each member ended (by its
//! process id) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubeboot::bootstrap::etcd_pki::EtcdPkiPaths;

const BINARY: &str = "/usr/bin/etcd";

pub struct Etcd {
    child: Child,
    pub name: String,
    pub client_url: String,
    log: PathBuf,
    tls: Option<EtcdPkiPaths>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Etcd {
    /// One member serving plain http on loopback; waits until it answers.
    pub fn start(dir: &Path) -> Etcd {
        Etcd::cluster(dir, 1).pop().unwrap()
    }

    /// One member serving https on loopback with the etcd PKI `tls` (kubeadm's layout, as `init` makes
    /// it): clients and peers must show a certificate of its CA.
    pub fn start_tls(dir: &Path, tls: &EtcdPkiPaths) -> Etcd {
        Etcd::cluster_with(dir, 1, Some(tls)).pop().unwrap()
    }

    /// A cluster of `members` members (e0, e1, …) over plain http; waits until each answers healthy.
    pub fn cluster(dir: &Path, members: usize) -> Vec<Etcd> {
        Etcd::cluster_with(dir, members, None)
    }

    fn cluster_with(dir: &Path, members: usize, tls: Option<&EtcdPkiPaths>) -> Vec<Etcd> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        assert!(Path::new(BINARY).exists(), "{BINARY} is missing: install Debian's etcd-server (bash .ci/setup does)");
        let ports: Vec<(u16, u16)> = (0..members).map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> =
            ports.iter().enumerate().map(|(i, (_, peer))| format!("e{i}={scheme}://127.0.0.1:{peer}")).collect();
        let mut started: Vec<Etcd> = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                let (name, client_url, peer_url) =
                    (format!("e{i}"), format!("{scheme}://127.0.0.1:{client}"), format!("{scheme}://127.0.0.1:{peer}"));
                let log = dir.join(format!("{name}.log"));
                let mut command = Command::new(BINARY);
                if let Some(t) = tls {
                    command
                        .args(["--client-cert-auth", "--peer-client-cert-auth", "--trusted-ca-file"])
                        .arg(&t.ca_crt)
                        .arg("--cert-file")
                        .arg(&t.server_crt)
                        .arg("--key-file")
                        .arg(&t.server_key)
                        .arg("--peer-trusted-ca-file")
                        .arg(&t.ca_crt)
                        .arg("--peer-cert-file")
                        .arg(&t.peer_crt)
                        .arg("--peer-key-file")
                        .arg(&t.peer_key);
                }
                let child = command
                    .args(["--name", &name, "--data-dir"])
                    .arg(dir.join(format!("{name}-data")))
                    .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
                    .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
                    .args(["--initial-cluster", &initial.join(","), "--initial-cluster-state", "new"])
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .unwrap();
                Etcd { child, name, client_url, log, tls: tls.cloned() }
            })
            .collect();
        for member in &mut started {
            member.wait_healthy();
        }
        started
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let health = format!("{}/health", self.client_url);
        loop {
            let mut curl = Command::new("curl");
            curl.args(["-sf", "--max-time", "2", &health]);
            if let Some(t) = &self.tls {
                curl.arg("--cacert").arg(&t.ca_crt).arg("--cert").arg(&t.client_crt).arg("--key").arg(&t.client_key);
            }
            let ok = curl.output().unwrap();
            if ok.status.success() && String::from_utf8_lossy(&ok.stdout).contains("true") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("etcd {} exited ({status}): {}", self.name, std::fs::read_to_string(&self.log).unwrap());
            }
            assert!(Instant::now() < deadline, "etcd {} did not become healthy in 30 s", self.name);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL this member (a power cut of its host).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}
