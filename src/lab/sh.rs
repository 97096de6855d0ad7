//! Runs the system tools the lab is built from (ip, iptables, debootstrap, systemd-nspawn).

use std::process::{Command, Stdio};

use super::error::LabError;

/// Run a program, failing with its stderr when it exits non-zero.
pub fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing(program),
        _ => LabError::Io { context: format!("starting {program}"), source: e },
    })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run a program and say only whether it succeeded (for "does this exist" probes).
pub fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn missing(program: &str) -> LabError {
    let package = match program {
        "debootstrap" => "debootstrap",
        "systemd-nspawn" => "systemd-container",
        "iptables" => "iptables",
        "ssh-keygen" | "ssh" => "openssh-client",
        "docker-registry" => "docker-registry",
        "skopeo" => "skopeo",
        "busybox" => "busybox-static",
        "rpmbuild" => "rpm",
        "createrepo_c" => "createrepo-c",
        "python3" => "python3",
        _ => "iproute2",
    };
    LabError::MissingTool { tool: program.to_string(), package: package.to_string() }
}

pub fn require_tools(tools: &[&str]) -> Result<(), LabError> {
    for tool in tools {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Err(missing(tool));
        }
    }
    Ok(())
}
