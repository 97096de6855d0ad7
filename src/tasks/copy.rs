//! `copy: {content, dest, mode, owner, group}`: a file with literal (rendered) contents.

use serde::Deserialize;

use super::file_write::{converge, props};
use super::{Change, PlanContext};
use crate::facts::FactKey;
use crate::yaml::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Copy {
    pub content: String,
    pub dest: String,
    pub mode: Option<Value>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Copy {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::File(self.dest.clone())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        Ok(converge(
            &self.dest,
            cx.file(&self.dest),
            self.content.as_bytes(),
            &props(&self.mode, &self.owner, &self.group)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{file, module, plan};
    use crate::facts::{FactCache, FactKey};

    #[test]
    fn writes_only_differing_content() {
        let m = module("copy: { content: \"a\\n\", dest: /etc/x, mode: \"0600\" }");
        assert!(plan(&m, FactCache::from([(FactKey::File("/etc/x".into()), file("a\n", 0o600))]), "debian").is_empty());
        assert_eq!(
            plan(&m, FactCache::from([(FactKey::File("/etc/x".into()), file("b\n", 0o600))]), "debian")[0].summary,
            "update /etc/x"
        );
    }
}
