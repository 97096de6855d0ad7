//! `repo: {name, template, key_url, key_path}`: a package repository from a template, in the family's place:
//! /etc/yum.repos.d/NAME.repo on EL, /etc/apt/sources.list.d/NAME.list on Debian. For apt, the signing key is
//! fetched to `key_path` when it is not there yet.

use serde::Deserialize;

use super::file_write::{converge, FileProps};
use super::{Change, PlanContext};
use crate::facts::{FactKey, OsFamily, SystemFacts};
use crate::transport::shell_quote;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repo {
    pub name: String,
    pub template: String,
    pub key_url: Option<String>,
    pub key_path: Option<String>,
}

impl Repo {
    fn path(&self, system: &SystemFacts) -> Result<String, String> {
        match system.family {
            OsFamily::El => Ok(format!("/etc/yum.repos.d/{}.repo", self.name)),
            OsFamily::Debian => Ok(format!("/etc/apt/sources.list.d/{}.list", self.name)),
            OsFamily::Unknown => Err(format!("repository {}: unknown OS family", self.name)),
        }
    }

    pub fn fact_keys(&self, system: &SystemFacts) -> Vec<FactKey> {
        let mut keys: Vec<FactKey> = self.path(system).into_iter().map(FactKey::File).collect();
        keys.extend(self.key_path.iter().map(|p| FactKey::File(p.clone())));
        keys
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let mut changes = Vec::new();
        if let (Some(url), Some(path)) = (&self.key_url, &self.key_path) {
            if cx.file(path).is_none() {
                let (u, p) = (shell_quote(url), shell_quote(path));
                changes.push(Change::run(
                    format!("fetch signing key {path}"),
                    format!("mkdir -p \"$(dirname {p})\" && curl -fsSL {u} -o {p}.tmp && chmod 644 {p}.tmp && mv -f {p}.tmp {p}"),
                ));
            }
        }
        let path = self.path(cx.system)?;
        let text = cx.renderer.render_template(&self.template, cx.vars).map_err(|e| e.to_string())?;
        changes.extend(converge(
            &path,
            cx.file(&path),
            text.as_bytes(),
            &FileProps { mode: Some(0o644), ..Default::default() },
        ));
        Ok(changes)
    }
}
