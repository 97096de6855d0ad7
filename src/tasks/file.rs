//! `file: {path, state: directory|absent|touch|file, mode, owner, group}`.

use serde::Deserialize;

use super::file_write::{attributes, props, DEFAULT_FILE_MODE};
use super::{Change, PlanContext};
use crate::facts::{FactKey, FileKind};
use crate::transport::shell_quote;
use crate::yaml::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Only fix attributes of an existing file.
    #[default]
    File,
    Directory,
    Touch,
    Absent,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub path: String,
    #[serde(default)]
    pub state: FileState,
    pub mode: Option<Value>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl File {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::File(self.path.clone())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let p = props(&self.mode, &self.owner, &self.group)?;
        let current = cx.file(&self.path);
        let q = shell_quote(&self.path);
        Ok(match (self.state, current) {
            (FileState::Absent, None) => vec![],
            (FileState::Absent, Some(_)) => vec![Change::run(format!("remove {}", self.path), format!("rm -rf {q}"))],
            (FileState::Directory, Some(f)) if f.kind == FileKind::Directory => attributes(&self.path, current, &p),
            (FileState::Directory, Some(_)) => return Err(format!("{} exists and is not a directory", self.path)),
            (FileState::Directory, None) => {
                let mode = p.mode.unwrap_or(0o755);
                let mut cmd = format!("mkdir -p {q} && chmod {mode:o} {q}");
                if p.owner.is_some() || p.group.is_some() {
                    cmd.push_str(&format!(
                        " && chown {}:{} {q}",
                        p.owner.as_deref().unwrap_or("root"),
                        p.group.as_deref().unwrap_or("root")
                    ));
                }
                vec![Change::run(format!("create directory {}", self.path), cmd)]
            }
            (FileState::Touch, None) => {
                let mode = p.mode.unwrap_or(DEFAULT_FILE_MODE);
                vec![Change::run(format!("create {}", self.path), format!("touch {q} && chmod {mode:o} {q}"))]
            }
            (FileState::Touch | FileState::File, Some(_)) => attributes(&self.path, current, &p),
            (FileState::File, None) => {
                return Err(format!("{} does not exist (use state: touch to create it)", self.path))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{module, plan};
    use crate::facts::{FactCache, FactKey, FactValue, FileKind, FileState};

    #[test]
    fn directory_created_once() {
        let m = module("file: { path: /etc/docker, state: directory, mode: \"0755\" }");
        let key = FactKey::File("/etc/docker".into());
        let missing = plan(&m, FactCache::from([(key.clone(), FactValue::File(None))]), "debian");
        assert_eq!(
            missing[0].actions,
            vec![super::super::Action::Run("mkdir -p /etc/docker && chmod 755 /etc/docker".into())]
        );
        let dir = FactValue::File(Some(FileState {
            kind: FileKind::Directory,
            mode: 0o755,
            owner: "root".into(),
            group: "root".into(),
            content: None,
        }));
        assert!(plan(&m, FactCache::from([(key, dir)]), "debian").is_empty());
    }
}
