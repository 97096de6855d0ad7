//! A lab host is a systemd-nspawn container booting systemd as PID 1 inside the host's network namespace.
//! It is started detached (its own process group) so it outlives `kubeboot lab up`; we track it by PID.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{io, LabError};
use super::state::LabHost;

pub fn start(host: &LabHost, root: &Path, log: &Path) -> Result<u32, LabError> {
    let log_file = std::fs::File::create(log).map_err(io(format!("creating {}", log.display())))?;
    let log_err = log_file.try_clone().map_err(io("duplicating log handle"))?;
    let child = Command::new("systemd-nspawn")
        .arg("-D")
        .arg(root)
        // Without these two nspawn needs a system bus, which this kind of machine does not run.
        .args(["--register=no", "--keep-unit"])
        .args(["-M", &host.name])
        .arg(format!("--network-namespace-path=/run/netns/{}", host.netns()))
        // Docker inside a host needs to create cgroups and use bpf/keyring (see LAB.md).
        .args(["--capability=all", "--system-call-filter=@keyring bpf", "--bind=/sys/fs/cgroup"])
        .args(["--console=read-only", "--link-journal=no", "--timezone=off", "--resolv-conf=off"])
        .arg("-b")
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => super::sh::missing("systemd-nspawn"),
            _ => LabError::Io { context: "starting systemd-nspawn".into(), source: e },
        })?;
    Ok(child.id())
}

/// Is `pid` the nspawn process of this host? Checked by command line so a recycled PID is never touched.
pub fn is_running(pid: u32, host: &LabHost) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_nspawn = args.first().is_some_and(|a| a.ends_with(b"systemd-nspawn"));
    let is_host = args.windows(2).any(|w| w[0] == b"-M" && w[1] == host.name.as_bytes());
    let is_zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false);
    is_nspawn && is_host && !is_zombie
}

/// The container's PID 1 (systemd), a child of nspawn. It outlives nspawn if nspawn is killed, so it is
/// tracked on its own.
pub fn find_init(nspawn_pid: u32, host: &LabHost) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let children =
            std::fs::read_to_string(format!("/proc/{nspawn_pid}/task/{nspawn_pid}/children")).unwrap_or_default();
        if let Some(pid) =
            children.split_whitespace().filter_map(|p| p.parse().ok()).find(|p| is_container_init(*p, host))
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Is `pid` this host's container init? Its environment says nspawn started it and its UTS namespace has the
/// host's name; a recycled PID fails both.
pub fn is_container_init(pid: u32, host: &LabHost) -> bool {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    if !environ.split(|b| *b == 0).any(|v| v == b"container=systemd-nspawn") || is_zombie(pid) {
        return false;
    }
    super::sh::run("nsenter", &["--target", &pid.to_string(), "--uts", "hostname"])
        .map(|name| name.trim() == host.name)
        .unwrap_or(false)
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

fn wait_gone(check: impl Fn() -> bool, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    !check()
}

/// Ask the container to power off (SIGTERM to nspawn), then kill what is left after `grace`: nspawn and,
/// since it survives nspawn, the container's init (which takes every process of the container with it).
pub fn stop(pid: Option<u32>, init: Option<u32>, host: &LabHost, grace: Duration) {
    let nspawn_alive = |p: u32| is_running(p, host);
    if let Some(p) = pid.filter(|p| nspawn_alive(*p)) {
        let _ = super::sh::run("kill", &["-TERM", &p.to_string()]);
        wait_gone(|| nspawn_alive(p), grace);
    }
    if let Some(i) = init.filter(|i| is_container_init(*i, host)) {
        let _ = super::sh::run("kill", &["-KILL", &i.to_string()]);
        wait_gone(|| is_container_init(i, host), Duration::from_secs(5));
    }
    if let Some(p) = pid.filter(|p| nspawn_alive(*p)) {
        let _ = super::sh::run("kill", &["-KILL", &p.to_string()]);
        wait_gone(|| nspawn_alive(p), Duration::from_secs(5));
    }
}

/// A power cut: the container's init (and with it every process of the host) and nspawn SIGKILLed at
/// once, nothing asked to shut down.
pub fn kill_now(pid: Option<u32>, init: Option<u32>, host: &LabHost) {
    if let Some(i) = init.filter(|i| is_container_init(*i, host)) {
        let _ = super::sh::run("kill", &["-KILL", &i.to_string()]);
    }
    if let Some(p) = pid.filter(|p| is_running(*p, host)) {
        let _ = super::sh::run("kill", &["-KILL", &p.to_string()]);
        wait_gone(|| is_running(p, host), Duration::from_secs(5));
    }
    if let Some(i) = init {
        wait_gone(|| is_container_init(i, host), Duration::from_secs(5));
    }
}

/// Wait until sshd on the host greets us.
pub fn wait_for_ssh(host: &LabHost, pid: u32, timeout: Duration, log: &Path) -> Result<(), LabError> {
    let addr: SocketAddr = format!("{}:22", host.address).parse().expect("lab addresses are IPv4 literals");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !is_running(pid, host) {
            break;
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(b"SSH-2.0-kubeboot-lab-probe\r\n");
            let mut banner = [0u8; 4];
            if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(LabError::BootTimeout {
        host: host.name.clone(),
        address: addr.to_string(),
        seconds: timeout.as_secs(),
        log: log.display().to_string(),
    })
}
