//! `service: {name, state: started|stopped|restarted|reloaded, enabled, daemon_reload}` on systemd.
//! `daemon_reload` runs when systemd says its unit files changed on disk (NeedDaemonReload) or this run
//! wrote one (systemd misses drop-ins that did not exist when it loaded the unit).

use serde::Deserialize;

use super::{Change, PlanContext};
use crate::facts::{FactKey, FactValue, ServiceState};
use crate::transport::shell_quote;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub state: Option<RunState>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub daemon_reload: bool,
}

impl Service {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::Service(self.name.clone())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let state = match cx.fact(&FactKey::Service(self.name.clone())) {
            Some(FactValue::Service(s)) => s.clone(),
            _ => ServiceState::default(),
        };
        let q = shell_quote(&self.name);
        let mut changes = Vec::new();
        if self.daemon_reload && (state.need_daemon_reload || cx.unit_files_changed) {
            changes.push(Change::run("systemd daemon-reload", super::DAEMON_RELOAD));
        }
        if state.load_state == "not-found" && (self.state.is_some() || self.enabled.is_some()) {
            return Err(format!("unit {} not found", self.name));
        }
        match self.enabled {
            Some(true) if !matches!(state.unit_file_state.as_str(), "enabled" | "static" | "enabled-runtime") => {
                changes.push(Change::run(format!("enable {}", self.name), format!("systemctl enable {q}")))
            }
            Some(false) if state.unit_file_state == "enabled" => {
                changes.push(Change::run(format!("disable {}", self.name), format!("systemctl disable {q}")))
            }
            _ => {}
        }
        let active = state.active_state == "active";
        match self.state {
            Some(RunState::Started) if !active => {
                changes.push(Change::run(format!("start {}", self.name), format!("systemctl start {q}")))
            }
            Some(RunState::Stopped) if active => {
                changes.push(Change::run(format!("stop {}", self.name), format!("systemctl stop {q}")))
            }
            Some(RunState::Restarted) => {
                changes.push(Change::run(format!("restart {}", self.name), format!("systemctl restart {q}")))
            }
            Some(RunState::Reloaded) => {
                changes.push(Change::run(format!("reload {}", self.name), format!("systemctl reload-or-restart {q}")))
            }
            _ => {}
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{module, plan};
    use crate::facts::{FactCache, FactKey, FactValue, ServiceState};

    fn svc(active: &str, enabled: &str, reload: bool) -> FactCache {
        FactCache::from([(
            FactKey::Service("docker".into()),
            FactValue::Service(ServiceState {
                load_state: "loaded".into(),
                active_state: active.into(),
                unit_file_state: enabled.into(),
                need_daemon_reload: reload,
            }),
        )])
    }

    #[test]
    fn enable_now_only_when_needed() {
        let m = module("service: { name: docker, state: started, enabled: true, daemon_reload: true }");
        let fresh: Vec<String> =
            plan(&m, svc("inactive", "disabled", true), "debian").into_iter().map(|c| c.summary).collect();
        assert_eq!(fresh, ["systemd daemon-reload", "enable docker", "start docker"]);
        assert!(plan(&m, svc("active", "enabled", false), "debian").is_empty());
    }
}
