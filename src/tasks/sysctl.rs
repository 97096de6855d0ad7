//! `sysctl: {name, value, persist}`: the running value, and a line in /etc/sysctl.d/99-kubeboot.conf so it
//! survives a reboot.

use serde::Deserialize;

use super::file_write::{converge, existing_text, FileProps, Presence};
use super::lineinfile::apply;
use super::{Change, PlanContext};
use crate::facts::{FactKey, FactValue};
use crate::transport::shell_quote;

pub const SYSCTL_FILE: &str = "/etc/sysctl.d/99-kubeboot.conf";

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sysctl {
    pub name: String,
    pub value: String,
    #[serde(default = "yes")]
    pub persist: bool,
}

impl Sysctl {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::Sysctl(self.name.clone()), FactKey::File(SYSCTL_FILE.into())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let mut changes = Vec::new();
        let running = match cx.fact(&FactKey::Sysctl(self.name.clone())) {
            Some(FactValue::Sysctl(v)) => v.clone(),
            _ => None,
        };
        if running.is_none() {
            return Err(format!("no such sysctl {} on this kernel", self.name));
        }
        if running.as_deref() != Some(self.value.as_str()) {
            changes.push(Change::run(
                format!("{} = {} (was {})", self.name, self.value, running.unwrap_or_default()),
                format!("sysctl -q -w {}", shell_quote(&format!("{}={}", self.name, self.value))),
            ));
        }
        if self.persist {
            let current = cx.file(SYSCTL_FILE);
            let text = existing_text(current, SYSCTL_FILE)?.unwrap_or_default();
            let line = format!("{} = {}", self.name, self.value);
            let desired = apply(&text, &line, Some(&format!("{} ", self.name)), Presence::Present);
            changes.extend(converge(
                SYSCTL_FILE,
                current,
                desired.as_bytes(),
                &FileProps { mode: Some(0o644), ..Default::default() },
            ));
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{file, module, plan};
    use super::SYSCTL_FILE;
    use crate::facts::{FactCache, FactKey, FactValue};

    #[test]
    fn runtime_and_persisted_value() {
        let m = module("sysctl: { name: net.ipv4.ip_forward, value: \"1\" }");
        let facts = |running: &str, conf: &str| {
            FactCache::from([
                (FactKey::Sysctl("net.ipv4.ip_forward".into()), FactValue::Sysctl(Some(running.into()))),
                (FactKey::File(SYSCTL_FILE.into()), file(conf, 0o644)),
            ])
        };
        let both: Vec<String> = plan(&m, facts("0", ""), "debian").into_iter().map(|c| c.summary).collect();
        assert_eq!(both, ["net.ipv4.ip_forward = 1 (was 0)", format!("update {SYSCTL_FILE}").as_str()]);
        assert!(plan(&m, facts("1", "net.ipv4.ip_forward = 1\n"), "debian").is_empty());
    }
}
