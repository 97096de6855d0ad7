//! A real etcd (Debian's etcd-server, installed by .ci/setup) for the tests: one member or a cluster of
//! several, on loopback ports of their own, data and logs in a temporary folder; each member ended (by its
//! process id) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/etcd";

pub struct Etcd {
    child: Child,
    pub name: String,
    pub client_url: String,
    log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Etcd {
    /// One member serving plain http on loopback; waits until it answers.
    pub fn start(dir: &Path) -> Etcd {
        Etcd::cluster(dir, 1).pop().unwrap()
    }

    /// A cluster of `members` members (e0, e1, …); waits until each answers healthy.
    pub fn cluster(dir: &Path, members: usize) -> Vec<Etcd> {
        assert!(Path::new(BINARY).exists(), "{BINARY} is missing: install Debian's etcd-server (bash .ci/setup does)");
        let ports: Vec<(u16, u16)> = (0..members).map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> =
            ports.iter().enumerate().map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}")).collect();
        let mut started: Vec<Etcd> = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                let (name, client_url, peer_url) =
                    (format!("e{i}"), format!("http://127.0.0.1:{client}"), format!("http://127.0.0.1:{peer}"));
                let log = dir.join(format!("{name}.log"));
                let child = Command::new(BINARY)
                    .args(["--name", &name, "--data-dir"])
                    .arg(dir.join(format!("{name}-data")))
                    .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
                    .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
                    .args(["--initial-cluster", &initial.join(","), "--initial-cluster-state", "new"])
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .unwrap();
                Etcd { child, name, client_url, log }
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
            let ok = Command::new("curl").args(["-sf", "--max-time", "2", &health]).output().unwrap();
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
