//! kubeboot's own systemd units on the host it runs on (`init`, `join`, `reset`): rendered from the embedded
//! templates, written only when different, then enabled and started. Idempotent: a host whose units are
//! right and running is left alone, so a rerun reports no change.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::host::layout::write_file;
use crate::render::{RenderError, Renderer};

pub const SERVER_UNIT: &str = "kubeboot-server.service";
pub const AGENT_UNIT: &str = "kubeboot-agent.service";
/// A master's etcd member (several masters): control_plane::etcd_member writes it.
pub const ETCD_UNIT: &str = "kubeboot-etcd.service";
const UNIT_DIR: &str = "/etc/systemd/system";

#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("`systemctl {args}` failed: {message}")]
    Systemctl { args: String, message: String },
}

/// Is systemd the init here? (Its runtime folder exists only then.) Without it the daemons are the
/// operator's to start.
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn systemctl(args: &[&str]) -> Result<String, UnitError> {
    let out = Command::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| UnitError::Systemctl { args: args.join(" "), message: e.to_string() })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(UnitError::Systemctl { args: args.join(" "), message });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn is_active(unit: &str) -> bool {
    Command::new("systemctl").args(["is-active", "--quiet", unit]).status().is_ok_and(|s| s.success())
}

fn is_enabled(unit: &str) -> bool {
    Command::new("systemctl").args(["is-enabled", "--quiet", unit]).status().is_ok_and(|s| s.success())
}

fn unit_path(unit: &str) -> PathBuf {
    Path::new(UNIT_DIR).join(unit)
}

/// Render `unit` from its template with `vars`.
pub fn render(unit: &str, vars: &serde_json::Value) -> Result<String, UnitError> {
    let ctx = tera::Context::from_value(vars.clone()).expect("an object");
    Ok(Renderer::new(None)?.render_template(unit, &ctx)?)
}

/// Write the unit when its text differs, then make it enabled and running (restarted when it changed).
/// Returns whether anything changed.
pub fn ensure_running(unit: &str, text: &str) -> Result<bool, UnitError> {
    let path = unit_path(unit);
    let written = std::fs::read_to_string(&path).ok().as_deref() != Some(text);
    if written {
        write_file(&path, text.as_bytes(), 0o644)
            .map_err(|source| UnitError::Write { path: path.display().to_string(), source })?;
        systemctl(&["daemon-reload"])?;
    }
    let mut changed = written;
    if !is_enabled(unit) {
        systemctl(&["enable", unit])?;
        changed = true;
    }
    if written && is_active(unit) {
        systemctl(&["restart", unit])?;
    } else if !is_active(unit) {
        systemctl(&["start", unit])?;
        changed = true;
    }
    Ok(changed)
}

/// Start an installed unit that was stopped (`stop` leaves it enabled).
pub fn start(unit: &str) -> Result<(), UnitError> {
    systemctl(&["start", unit]).map(|_| ())
}

/// Whether the unit file is installed here.
pub fn unit_installed(unit: &str) -> bool {
    unit_path(unit).exists()
}

/// Stop the unit (it stays enabled: `ensure_running` starts it again). Also one that is not active:
/// a unit waiting to be restarted after a failure would otherwise start again on its own.
pub fn stop(unit: &str) -> Result<(), UnitError> {
    if unit_path(unit).exists() {
        systemctl(&["stop", unit])?;
    }
    Ok(())
}

/// Stop, disable and remove the unit if it is there. Returns whether it was.
pub fn remove(unit: &str) -> Result<bool, UnitError> {
    let path = unit_path(unit);
    if !path.exists() {
        return Ok(false);
    }
    // A unit that failed to stop is still removed: reset must finish.
    let _ = systemctl(&["disable", "--now", unit]);
    std::fs::remove_file(&path).map_err(|source| UnitError::Write { path: path.display().to_string(), source })?;
    systemctl(&["daemon-reload"])?;
    Ok(true)
}
