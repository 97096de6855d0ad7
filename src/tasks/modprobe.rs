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
