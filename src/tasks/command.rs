//! `command: {cmd, creates, removes, unless}` (or `command: "…"`): runs unless a guard says it is done.
//! Guards are facts: `creates`/`removes` are file checks, `unless` a command read with the other facts.

use serde::Deserialize;

use super::{Change, PlanContext};
use crate::facts::{FactKey, FactValue};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub cmd: String,
    pub creates: Option<String>,
    pub removes: Option<String>,
    pub unless: Option<String>,
}

impl Command {
    pub fn from_cmd(cmd: String) -> Self {
        Command { cmd, creates: None, removes: None, unless: None }
    }

    pub fn fact_keys(&self) -> Vec<FactKey> {
        let mut keys = Vec::new();
        keys.extend(self.creates.iter().chain(self.removes.iter()).map(|p| FactKey::File(p.clone())));
        keys.extend(self.unless.iter().map(|c| FactKey::Guard(c.clone())));
        keys
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        if self.creates.as_deref().is_some_and(|p| cx.file(p).is_some()) {
            return Ok(vec![]);
        }
        if self.removes.as_deref().is_some_and(|p| cx.file(p).is_none()) {
            return Ok(vec![]);
        }
        if let Some(guard) = &self.unless {
            if cx.fact(&FactKey::Guard(guard.clone())) == Some(&FactValue::Guard(true)) {
                return Ok(vec![]);
            }
        }
        Ok(vec![Change::run(format!("run: {}", self.cmd), self.cmd.clone())])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{module, plan};
    use crate::facts::{FactCache, FactKey, FactValue};

    #[test]
    fn guards_decide() {
        let creates = module("command: { cmd: make, creates: /out }");
        assert_eq!(
            plan(&creates, FactCache::from([(FactKey::File("/out".into()), FactValue::File(None))]), "debian").len(),
            1
        );
        let done = FactCache::from([(FactKey::File("/out".into()), super::super::test_support::file("", 0o644))]);
        assert!(plan(&creates, done, "debian").is_empty());
        let unless = module("command: { cmd: setup, unless: \"test -e /x\" }");
        assert!(plan(
            &unless,
            FactCache::from([(FactKey::Guard("test -e /x".into()), FactValue::Guard(true))]),
            "debian"
        )
        .is_empty());
        let plain = module("command: \"echo hi\"");
        assert_eq!(
            plan(&plain, FactCache::new(), "debian")[0].actions,
            vec![super::super::Action::Run("echo hi".into())]
        );
    }
}
