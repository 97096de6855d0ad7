//! `modprobe: {name, persist}`: a kernel module loaded now and at boot (/etc/modules-load.d).

use serde::Deserialize;

use super::file_write::{converge, FileProps};
use super::{Change, PlanContext};
use crate::facts::{FactKey, FactValue};
use crate::transport::shell_quote;

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modprobe {
    pub name: String,
    #[serde(default = "yes")]
    pub persist: bool,
}

impl Modprobe {
    fn conf(&self) -> String {
        format!("/etc/modules-load.d/kubeboot-{}.conf", self.name)
    }

    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::KernelModule(self.name.clone()), FactKey::File(self.conf())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let mut changes = Vec::new();
        if cx.fact(&FactKey::KernelModule(self.name.clone())) != Some(&FactValue::KernelModule(true)) {
            changes.push(Change::run(
                format!("load module {}", self.name),
                format!("modprobe {}", shell_quote(&self.name)),
            ));
        }
        if self.persist {
            let conf = self.conf();
            let desired = format!("{}\n", self.name);
            changes.extend(converge(
                &conf,
                cx.file(&conf),
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
    use crate::facts::{FactCache, FactKey, FactValue};

    #[test]
    fn loads_and_persists_once() {
        let m = module("modprobe: { name: br_netfilter }");
        let conf = FactKey::File("/etc/modules-load.d/kubeboot-br_netfilter.conf".into());
        let missing = FactCache::from([
            (FactKey::KernelModule("br_netfilter".into()), FactValue::KernelModule(false)),
            (conf.clone(), FactValue::File(None)),
        ]);
        assert_eq!(plan(&m, missing, "debian").len(), 2);
        let done = FactCache::from([
            (FactKey::KernelModule("br_netfilter".into()), FactValue::KernelModule(true)),
            (conf, file("br_netfilter\n", 0o644)),
        ]);
        assert!(plan(&m, done, "debian").is_empty());
    }
}
