//! The lab's background servers on the bridge address (the image registry, the EL package repository):
//! started detached with their output in a log, recorded by PID in the lab folder, checked by command line
//! before being reused or stopped, so a recycled PID is never touched.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{io, LabError};

pub struct Background {
    /// The program's file name, as its command line starts (e.g. "docker-registry").
    pub program: &'static str,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
    pub address: SocketAddr,
}

impl Background {
    fn is_ours(&self, pid: u32) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            c.split(|b| *b == 0)
                .any(|a| Path::new(&*String::from_utf8_lossy(a)).file_name().is_some_and(|f| f == self.program))
        })
    }

    fn running_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(&self.pid_file).ok()?.trim().parse().ok()?;
        self.is_ours(pid).then_some(pid)
    }

    fn accepts(&self) -> bool {
        TcpStream::connect_timeout(&self.address, Duration::from_millis(300)).is_ok()
    }

    /// Start `program args` unless it runs and accepts connections; wait until it does.
    pub fn ensure(&self, args: &[&str]) -> Result<(), LabError> {
        if self.running_pid().is_some() && self.accepts() {
            return Ok(());
        }
        self.stop();
        let log = std::fs::File::create(&self.log_file).map_err(io(format!("creating {}", self.log_file.display())))?;
        let child = Command::new(self.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("duplicating a log handle"))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => super::sh::missing(self.program),
                _ => LabError::Io { context: format!("starting {}", self.program), source: e },
            })?;
        std::fs::write(&self.pid_file, child.id().to_string()).map_err(io("writing a pid file"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.accepts() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(LabError::Command {
            command: format!("{} {}", self.program, args.join(" ")),
            status: -1,
            stderr: format!("did not accept connections on {} (see {})", self.address, self.log_file.display()),
        })
    }

    /// Stop the server we started (SIGTERM by its PID), if it runs.
    pub fn stop(&self) {
        if let Some(pid) = self.running_pid() {
            let _ = super::sh::run("kill", &[&pid.to_string()]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && self.is_ours(pid) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}
