//! `hostname: {name}`: the running hostname and /etc/hostname, like `hostnamectl set-hostname`.

use serde::Deserialize;

use super::{Change, PlanContext};
use crate::facts::{FactKey, FactValue};
use crate::transport::shell_quote;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hostname {
    pub name: String,
}

const ETC_HOSTNAME: &str = "/etc/hostname";

impl Hostname {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::Hostname, FactKey::File(ETC_HOSTNAME.into())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let running = match cx.fact(&FactKey::Hostname) {
            Some(FactValue::Hostname(h)) => h.as_str(),
            _ => "",
        };
        let stored = cx
            .file(ETC_HOSTNAME)
            .and_then(|f| f.content.as_deref())
            .map(|c| String::from_utf8_lossy(c).trim().to_string());
        if running == self.name && stored.as_deref() == Some(self.name.as_str()) {
            return Ok(vec![]);
        }
        let q = shell_quote(&self.name);
        // hostnamectl needs systemd-hostnamed over D-Bus; without it, do what it would do.
        Ok(vec![Change::run(
            format!("hostname {running} -> {}", self.name),
            format!("hostnamectl set-hostname {q} 2>/dev/null || {{ echo {q} > {ETC_HOSTNAME} && hostname {q}; }}"),
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{file, module, plan};
    use crate::facts::{FactCache, FactKey, FactValue};

    #[test]
    fn set_only_when_running_or_stored_name_differs() {
        let m = module("hostname: { name: k8s-node1 }");
        let facts = |running: &str, stored: &str| {
            FactCache::from([
                (FactKey::Hostname, FactValue::Hostname(running.into())),
                (FactKey::File("/etc/hostname".into()), file(stored, 0o644)),
            ])
        };
        assert!(plan(&m, facts("k8s-node1", "k8s-node1\n"), "debian").is_empty());
        assert_eq!(plan(&m, facts("localhost", "localhost\n"), "debian")[0].summary, "hostname localhost -> k8s-node1");
        assert_eq!(plan(&m, facts("k8s-node1", "old\n"), "el").len(), 1);
    }
}
