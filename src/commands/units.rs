//! What `init` and `join` do with kubeboot's systemd units: install and start them, unless told not to or
//! systemd is not this host's init.

use crate::cli::ServicesArg;
use crate::systemd_units;

/// Render each unit with `vars` (+ the running binary's path) and make it run. Returns whether any changed.
pub fn start(services: &ServicesArg, units: &[&str], vars: &serde_json::Value) -> anyhow::Result<bool> {
    if services.no_services {
        return Ok(false);
    }
    if !systemd_units::systemd_running() {
        eprintln!(
            "kubeboot: systemd is not running here: start the daemons yourself ({}), or pass --no-services",
            units.join(", ")
        );
        return Ok(false);
    }
    let mut vars = vars.clone();
    vars["binary"] = std::env::current_exe()?.display().to_string().into();
    let mut changed = false;
    for unit in units {
        let text = systemd_units::render(unit, &vars)?;
        changed |= systemd_units::ensure_running(unit, &text)?;
    }
    Ok(changed)
}
