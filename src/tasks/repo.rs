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

#[cfg(test)]
mod tests {
    use super::super::test_support::{module, plan};
    use super::super::Action;
    use crate::facts::{FactCache, FactKey, FactValue};

    #[test]
    fn yum_repo_file_on_el_and_apt_source_with_key_on_debian() {
        let el = module("repo: { name: docker-ce, template: docker-ce.repo }");
        let changes = plan(
            &el,
            FactCache::from([(FactKey::File("/etc/yum.repos.d/docker-ce.repo".into()), FactValue::File(None))]),
            "el",
        );
        assert!(
            matches!(&changes[0].actions[0], Action::Write { path, .. } if path == "/etc/yum.repos.d/docker-ce.repo")
        );

        let deb = module("repo: { name: docker-ce, template: docker-ce.list, key_url: \"https://k/gpg\", key_path: /etc/apt/keyrings/docker.asc }");
        let facts = FactCache::from([
            (FactKey::File("/etc/apt/sources.list.d/docker-ce.list".into()), FactValue::File(None)),
            (FactKey::File("/etc/apt/keyrings/docker.asc".into()), FactValue::File(None)),
        ]);
        let summaries: Vec<String> = plan(&deb, facts, "debian").into_iter().map(|c| c.summary).collect();
        assert_eq!(
            summaries,
            ["fetch signing key /etc/apt/keyrings/docker.asc", "create /etc/apt/sources.list.d/docker-ce.list"]
        );
    }
}
