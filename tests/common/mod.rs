//! Test harness: a real OpenSSH sshd on loopback, started per test with its own host key, config and
//! authorized keys, and killed (by its PID) when dropped. Also test users and keys. Needs root, as CI is.

#![allow(dead_code)]

pub mod api;
pub mod etcd;
pub mod kubectl;
pub mod kubectls;
pub mod python_client;
pub mod webhook;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PASSWORD_USER: &str = "kbtest";
pub const PASSWORD: &str = "kbtest-Password-1";
pub const SUDO_USER: &str = "kbsudo";
pub const SUDO_PASSWORD: &str = "kbsudo-Password-1";

/// Poll `check` until it holds (every 200 ms), failing the test with `what` after `limit`; how long it took.
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Create the two test users once per process: one that logs in with a password, one with sudo rights
/// that needs its password for sudo.
pub fn ensure_test_users() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        for (user, password) in [(PASSWORD_USER, PASSWORD), (SUDO_USER, SUDO_PASSWORD)] {
            if Command::new("id").arg(user).output().map(|o| !o.status.success()).unwrap_or(true) {
                let _ = Command::new("useradd").args(["-m", "-s", "/bin/sh", user]).status();
            }
            let mut child = Command::new("chpasswd").stdin(Stdio::piped()).spawn().expect("chpasswd");
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{user}:{password}").unwrap();
            assert!(child.wait().unwrap().success(), "chpasswd for {user}");
        }
        std::fs::write("/etc/sudoers.d/kubeboot-test", format!("{SUDO_USER} ALL=(ALL:ALL) ALL\n")).unwrap();
        run("chmod", &["440", "/etc/sudoers.d/kubeboot-test"]);
    });
}

/// An ed25519 key pair in `dir`; `passphrase` empty for none.
pub fn make_key(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    run("ssh-keygen", &["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path.to_str().unwrap()]);
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub host_key: PathBuf,
    /// More HostKey lines (a host that has keys of several types).
    pub extra_host_keys: Vec<PathBuf>,
    child: Option<Child>,
}

impl Sshd {
    /// Start sshd on a free loopback port; `authorized` = (user, public key file) pairs.
    pub fn start(authorized: &[(&str, &Path)]) -> Sshd {
        let sshd = Self::prepare(free_port(), authorized);
        let mut sshd = sshd;
        sshd.launch();
        sshd
    }

    /// Everything but starting the daemon: for tests that start it later on a known port.
    pub fn prepare(port: u16, authorized: &[(&str, &Path)]) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let host_key = make_key(dir.path(), "ssh_host_ed25519_key", "");
        let sshd = Sshd { dir, port, host_key, extra_host_keys: Vec::new(), child: None };
        let keys_dir = sshd.dir.path().join("authorized_keys");
        std::fs::create_dir(&keys_dir).unwrap();
        for (user, public) in authorized {
            let path = keys_dir.join(user);
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            text.push_str(&std::fs::read_to_string(public).unwrap());
            std::fs::write(path, text).unwrap();
        }
        sshd
    }

    fn config(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\n{extra}PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys/%u\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin yes\n\
             AllowTcpForwarding yes\nSubsystem sftp internal-sftp\nLogLevel DEBUG\nMaxSessions 100\n\
             MaxStartups 100:30:200\n",
            port = self.port,
            key = self.host_key.display(),
            extra = self.extra_host_keys.iter().map(|k| format!("HostKey {}\n", k.display())).collect::<String>(),
        )
    }

    pub fn launch(&mut self) {
        std::fs::create_dir_all("/run/sshd").unwrap();
        let config = self.dir.path().join("sshd_config");
        std::fs::write(&config, self.config()).unwrap();
        let log = self.dir.path().join("sshd.log");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-f", config.to_str().unwrap(), "-E", log.to_str().unwrap()])
            .spawn()
            .expect("start /usr/sbin/sshd (apt-get install openssh-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        // Wait for the log line rather than probing the port, so every "Connection from" in the log is a client.
        while !self.log().contains("Server listening on") {
            assert!(Instant::now() < deadline, "sshd did not listen: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restart on the same port with a new host key (a reinstalled host, or an attacker).
    pub fn restart_with_new_host_key(&mut self) {
        self.stop();
        std::fs::remove_file(&self.host_key).unwrap();
        std::fs::remove_file(format!("{}.pub", self.host_key.display())).unwrap();
        make_key(self.dir.path(), "ssh_host_ed25519_key", "");
        self.launch();
    }

    /// Restart on the same port with fresh host keys of these types (`ed25519`, `rsa`, `ecdsa`), the first
    /// the main one.
    pub fn restart_with_host_key_types(&mut self, types: &[&str]) {
        self.stop();
        let keys: Vec<PathBuf> = types
            .iter()
            .map(|t| {
                let path = self.dir.path().join(format!("host_{t}_{}", free_port()));
                run("ssh-keygen", &["-q", "-t", t, "-N", "", "-f", path.to_str().unwrap()]);
                path
            })
            .collect();
        self.host_key = keys[0].clone();
        self.extra_host_keys = keys[1..].to_vec();
        self.launch();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An ssh-agent of the test's own, on a socket in `dir`, holding `key`.
pub struct Agent {
    pub socket: PathBuf,
    child: Child,
}

impl Agent {
    pub fn start(dir: &Path, key: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a", socket.to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = Command::new("ssh-add").arg(key).env("SSH_AUTH_SOCK", &socket).output().unwrap();
        assert!(out.status.success(), "ssh-add: {}", String::from_utf8_lossy(&out.stderr));
        Agent { socket, child }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write an inventory with one master at 127.0.0.1:`port` and the given extra `ssh:` lines.
pub fn write_inventory(dir: &Path, port: u16, ssh_lines: &str) -> PathBuf {
    let path = dir.join("inventory.yaml");
    let text = format!(
        "cluster: {{ name: test }}\nssh:\n  port: {port}\n  known_hosts_file: {kh}\n{ssh_lines}hosts:\n  - {{ name: m1, address: 127.0.0.1, role: master }}\n",
        kh = dir.join("known_hosts").display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Run the real kubeboot binary.
pub fn kubeboot(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    if args.first() == Some(&"lab") {
        hold_the_lab();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubeboot"));
    cmd.args(args).env_remove("SSH_AUTH_SOCK").stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The machine has one lab: a test process that touches it holds an exclusive lock on it until the process
/// ends, so suites run by any runner (cargo test's one binary at a time, nextest's process per test) wait
/// for each other instead of taking each other's hosts down.
fn hold_the_lab() {
    static HELD: OnceLock<std::fs::File> = OnceLock::new();
    HELD.get_or_init(|| {
        use std::os::fd::AsRawFd;
        let path = "/run/kubeboot-lab-tests.lock";
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
        let started = Instant::now();
        // SAFETY: flock on a descriptor this File owns; it stays open (and locked) for the process's life.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "flock {path}: {}", std::io::Error::last_os_error());
        if started.elapsed() > Duration::from_secs(1) {
            eprintln!("waited {:?} for another test process's lab", started.elapsed());
        }
        file
    });
}

/// Run a shell script on a lab host (as root, with the lab's key); its stdout.
pub fn lab_sh(host: &str, script: &str) -> String {
    let out = kubeboot(&["lab", "ssh", host, script], &[]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A control plane initialised in `dir` (etc/ and var/) for 127.0.0.1 on a free port, without services:
/// (config dir, data dir, port).
pub fn init_master(dir: &Path, node_name: &str) -> (PathBuf, PathBuf, String) {
    init_master_with(dir, node_name, &[])
}

/// `init_master` with more `kubeboot init` arguments (`--etcd-endpoints URL`).
pub fn init_master_with(dir: &Path, node_name: &str, extra: &[&str]) -> (PathBuf, PathBuf, String) {
    let (cfg, data) = (dir.join("etc"), dir.join("var"));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let init = Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["init", "--advertise-address", "127.0.0.1", "--port", &port, "--node-name", node_name, "--no-services"])
        .args(extra)
        .arg("--config-dir")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(init.status.success(), "init: {}", String::from_utf8_lossy(&init.stderr));
    (cfg, data, port)
}

/// `kubeboot server` for a master made by `init_master`; what it says goes to `server_log(data)`.
pub fn start_server(cfg: &Path, data: &Path, port: &str) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(server_log(data)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kubeboot"))
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--config-dir"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The change summaries `up --output json` gives for `host`.
#[allow(dead_code)]
pub fn change_summaries(json: &serde_json::Value, host: &str) -> Vec<String> {
    json["hosts"][host]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["summary"].as_str().unwrap().to_string())
        .collect()
}

/// Requests to `url` (a Service's NodePort) with curl, every 100 ms until stopped: (answered, failed).
/// A connection not made within 0.9 s counts as failed: its first SYN was dropped somewhere (a rule or
/// route missing for a moment), which TCP's retransmit at 1 s would otherwise hide.
#[allow(dead_code)]
pub fn serve_probe(
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u32, u32)> {
    std::thread::spawn(move || {
        let (mut ok, mut failed) = (0, 0);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let out = std::process::Command::new("curl")
                .args(["-sf", "--connect-timeout", "0.9", "-m", "2", "-o", "/dev/null", &url])
                .status();
            if out.as_ref().is_ok_and(|s| s.success()) {
                ok += 1;
            } else {
                failed += 1;
                // When, to set against the hosts' journals; curl's code says how (7 refused, 28 timed out).
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                eprintln!("probe of {url} failed at {:.3} (unix time): {out:?}", now.as_secs_f64());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (ok, failed)
    })
}

/// A copy of this build with `version` in its stamp (same length as the real one, padded).
#[allow(dead_code)]
pub fn build_with_version(dir: &Path, version: &str) -> PathBuf {
    let marker = "kubeboot-version-stamp:";
    let ours = format!("{marker}{}", env!("CARGO_PKG_VERSION"));
    let theirs = format!("{marker}{version}");
    assert_eq!(ours.len(), theirs.len(), "the test writes versions of the same length");
    let mut bytes = std::fs::read(env!("CARGO_BIN_EXE_kubeboot")).unwrap();
    let at = bytes.windows(ours.len()).position(|w| w == ours.as_bytes()).expect("the version stamp");
    bytes[at..at + theirs.len()].copy_from_slice(theirs.as_bytes());
    let path = dir.join(format!("kubeboot-{version}"));
    std::fs::write(&path, &bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let reported = Command::new(&path).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&reported.stdout).trim(), format!("kubeboot {version}"));
    path
}

/// The next minor version after `version` (0.1.0 -> 0.2.0).
#[allow(dead_code)]
pub fn next_minor(version: &str) -> String {
    let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    format!("{}.{}.{}", parts[0], parts[1] + 1, parts[2])
}

/// A process the test started, killed and reaped however the test ends (a failed assertion included).
#[allow(dead_code)]
pub struct Stopped(pub Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where `start_server` writes the server's output (beside its data folder, every start appended).
pub fn server_log(data: &Path) -> PathBuf {
    data.with_extension("server.log")
}

/// Wait until the server started by `start_server` listens; a failure quotes its log.
#[allow(dead_code)]
pub fn wait_listening(server: &mut Child, data: &Path, port: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        let log = || std::fs::read_to_string(server_log(data)).unwrap_or_default();
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the server exited ({status}) before it listened; its log:\n{}", log());
        }
        assert!(Instant::now() < deadline, "the server did not listen in 30 s; its log:\n{}", log());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `up` on the lab inventory `inv`, then its admin kubeconfig written into `dir`; the kubeconfig's path.
#[allow(dead_code)]
pub fn up_with_kubeconfig(inv: &str, dir: &Path) -> PathBuf {
    let up = kubeboot(&["up", "-i", inv], &[]);
    assert!(up.status.success(), "up: {}{}", String::from_utf8_lossy(&up.stdout), String::from_utf8_lossy(&up.stderr));
    let kubeconfig = dir.join("admin.conf");
    fetch_kubeconfig(inv, &kubeconfig);
    kubeconfig
}

/// The cluster's admin kubeconfig as `kubeboot kubeconfig -i` reads it from a master, written to `path`.
pub fn fetch_kubeconfig(inv: &str, path: &Path) {
    let conf = kubeboot(&["kubeconfig", "-i", inv], &[]);
    assert!(conf.status.success(), "kubeconfig: {}", String::from_utf8_lossy(&conf.stderr));
    std::fs::write(path, &conf.stdout).unwrap();
}

/// Add `setting` (`key: value`) to the `cluster:` section of the lab inventory at `inventory`.
pub fn add_cluster_setting(inventory: &Path, setting: &str) {
    let text = std::fs::read_to_string(inventory).unwrap();
    let changed = text.replacen("pod_network_cidr:", &format!("{setting}\n  pod_network_cidr:"), 1);
    assert_ne!(changed, text, "no cluster section to add {setting:?} to: {text}");
    std::fs::write(inventory, changed).unwrap();
}

/// The machine's lab taken down and `count` fresh Debian hosts booted; their inventory is written to
/// `inventory` (tests share the one lab of the machine, one test binary at a time).
pub fn fresh_lab(count: u32, inventory: &str) {
    fresh_lab_with_masters(count, 1, inventory);
}

/// `fresh_lab` with the first `masters` hosts masters (lab-master1..M when several).
pub fn fresh_lab_with_masters(count: u32, masters: u32, inventory: &str) {
    let _ = kubeboot(&["lab", "down"], &[]);
    let up =
        kubeboot(&["lab", "up", &count.to_string(), "--masters", &masters.to_string(), "--inventory", inventory], &[]);
    assert!(up.status.success(), "lab up: {}", String::from_utf8_lossy(&up.stderr));
}
