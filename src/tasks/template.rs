//! `template: {src, dest, mode, owner, group}`: render a template (templates/ or --templates) to a file.

use serde::Deserialize;

use super::file_write::{converge, props};
use super::{Change, PlanContext};
use crate::facts::FactKey;
use crate::yaml::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub src: String,
    pub dest: String,
    pub mode: Option<Value>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Template {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::File(self.dest.clone())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let text = cx.renderer.render_template(&self.src, cx.vars).map_err(|e| e.to_string())?;
        Ok(converge(&self.dest, cx.file(&self.dest), text.as_bytes(), &props(&self.mode, &self.owner, &self.group)?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{file, module, plan};
    use crate::facts::{FactCache, FactKey};

    #[test]
    fn renders_daemon_json_and_is_idempotent() {
        let m = module("template: { src: daemon.json, dest: /etc/docker/daemon.json, mode: \"0644\" }");
        let first = plan(
            &m,
            FactCache::from([(FactKey::File("/etc/docker/daemon.json".into()), crate::facts::FactValue::File(None))]),
            "debian",
        );
        assert_eq!(first.len(), 1);
        let written = match &first[0].actions[0] {
            super::super::Action::Write { content, .. } => String::from_utf8(content.clone()).unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(
            written.contains("native.cgroupdriver=systemd") && written.contains("\"storage-driver\": \"overlay2\"")
        );
        let again = plan(
            &m,
            FactCache::from([(FactKey::File("/etc/docker/daemon.json".into()), file(&written, 0o644))]),
            "debian",
        );
        assert!(again.is_empty(), "{again:?}");
    }
}
