//! The lab's own image registry, as an air-gapped site has one: Debian's distribution registry
//! (`docker-registry`) on the lab bridge, which lab hosts' Docker uses as its registry mirror, holding
//! stand-ins for the walkthrough's images built here from busybox-static (images.rs) and pushed with
//! skopeo. Started once per `lab up` when not running; stopped by its PID on `lab down`.

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{io, LabError};
use super::network::GATEWAY;
use super::sh::run;

pub const PORT: u16 = 5000;

/// `10.88.0.1:5000`: what the lab inventory puts in daemon.json.
pub fn address() -> String {
    format!("{GATEWAY}:{PORT}")
}

fn dir(lab_dir: &Path) -> PathBuf {
    lab_dir.join("registry")
}

fn pid_path(lab_dir: &Path) -> PathBuf {
    dir(lab_dir).join("registry.pid")
}

fn is_registry(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|b| *b == 0).next().is_some_and(|a| a.ends_with(b"docker-registry")))
}

fn running_pid(lab_dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_path(lab_dir)).ok()?.trim().parse().ok()?;
    is_registry(pid).then_some(pid)
}

fn answers() -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address().parse().expect("address"), Duration::from_millis(500))
    else {
        return false;
    };
    use std::io::Write;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200")
}

/// Start the registry on the bridge address unless it runs; wait until it answers.
pub fn ensure(lab_dir: &Path) -> Result<(), LabError> {
    super::sh::require_tools(&["docker-registry", "skopeo", "busybox"])?;
    if running_pid(lab_dir).is_some() && answers() {
        return Ok(());
    }
    let dir = dir(lab_dir);
    std::fs::create_dir_all(dir.join("data")).map_err(io(format!("creating {}", dir.display())))?;
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
        dir.join("data").display(),
        address()
    );
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config).map_err(io("writing the registry configuration"))?;
    let log = std::fs::File::create(dir.join("registry.log")).map_err(io("creating the registry log"))?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io("registry log"))?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::Io { context: "starting docker-registry".into(), source: e })?;
    std::fs::write(pid_path(lab_dir), child.id().to_string()).map_err(io("writing the registry pid"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LabError::Command {
        command: format!("docker-registry serve {}", config_path.display()),
        status: -1,
        stderr: format!("did not answer on {} (see {})", address(), dir.join("registry.log").display()),
    })
}

/// Stop the registry we started (by its PID, checked to be docker-registry).
pub fn stop(lab_dir: &Path) {
    if let Some(pid) = running_pid(lab_dir) {
        let _ = run("kill", &[&pid.to_string()]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && is_registry(pid) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(pid_path(lab_dir));
}

/// Push a docker-save archive to the registry as `reference` (e.g. `kubetm/p8000:latest`).
pub fn push(lab_dir: &Path, reference: &str, archive: &[u8]) -> Result<(), LabError> {
    let file = dir(lab_dir).join("push.tar");
    std::fs::write(&file, archive).map_err(io("writing an image archive"))?;
    let result = run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--insecure-policy",
            "--dest-tls-verify=false",
            &format!("docker-archive:{}", file.display()),
            &format!("docker://{}/{reference}", address()),
        ],
    );
    let _ = std::fs::remove_file(&file);
    result.map(|_| ())
}
