//! Where playbooks come from: the ones embedded from playbooks/, overridable by name with `--playbooks DIR`,
//! or any file given to `kubeboot run`.

use std::path::Path;

use super::model::{parse, Playbook, PlaybookError};

pub const EMBEDDED_PLAYBOOKS: &[(&str, &str)] = &[("prepare.yaml", include_str!("../../playbooks/prepare.yaml"))];

/// An embedded playbook by name, or the file of that name in `override_dir`.
pub fn named(name: &str, override_dir: Option<&Path>) -> Result<Playbook, PlaybookError> {
    if let Some(dir) = override_dir {
        let path = dir.join(name);
        if path.exists() {
            return file(&path);
        }
    }
    let (_, text) = EMBEDDED_PLAYBOOKS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| PlaybookError { location: name.into(), message: "no such embedded playbook".into() })?;
    parse(&format!("playbooks/{name}"), text)
}

pub fn file(path: &Path) -> Result<Playbook, PlaybookError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PlaybookError { location: path.display().to_string(), message: format!("cannot read: {e}") })?;
    parse(&path.display().to_string(), &text)
}
