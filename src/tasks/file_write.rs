//! The one way tasks change a file's contents: compare with the fact, produce a unified diff, write
//! atomically with mode and owner. Also mode/owner fixes for files whose contents are already right.

use similar::TextDiff;

use super::{Action, Change};
use crate::facts::FileState;

/// Desired properties of a managed file.
#[derive(Debug, Clone, Default)]
pub struct FileProps {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

pub const DEFAULT_FILE_MODE: u32 = 0o644;

/// Changes that make `path` hold `desired` with `props`; empty when it already does.
pub fn converge(path: &str, current: Option<&FileState>, desired: &[u8], props: &FileProps) -> Vec<Change> {
    let current_content = current.and_then(|f| f.content.as_deref());
    if current_content != Some(desired) {
        let mode = props.mode.or(current.map(|f| f.mode)).unwrap_or(DEFAULT_FILE_MODE);
        let summary = if current.is_some() { format!("update {path}") } else { format!("create {path}") };
        return vec![Change {
            summary,
            diff: Some(unified_diff(path, current_content.unwrap_or(b""), desired, current.is_none())),
            actions: vec![Action::Write {
                path: path.to_string(),
                content: desired.to_vec(),
                mode,
                owner: props.owner.clone(),
                group: props.group.clone(),
            }],
        }];
    }
    attributes(path, current, props)
}

/// chmod/chown for an existing path whose attributes differ.
pub fn attributes(path: &str, current: Option<&FileState>, props: &FileProps) -> Vec<Change> {
    let Some(current) = current else {
        return Vec::new();
    };
    let q = crate::transport::shell_quote(path);
    let mut changes = Vec::new();
    if let Some(mode) = props.mode.filter(|m| *m != current.mode) {
        changes.push(Change::run(
            format!("mode of {path}: {:04o} -> {mode:04o}", current.mode),
            format!("chmod {mode:o} {q}"),
        ));
    }
    let owner = props.owner.as_ref().filter(|o| **o != current.owner);
    let group = props.group.as_ref().filter(|g| **g != current.group);
    if owner.is_some() || group.is_some() {
        let spec = format!("{}:{}", owner.unwrap_or(&current.owner), group.unwrap_or(&current.group));
        changes.push(Change::run(
            format!("owner of {path}: {}:{} -> {spec}", current.owner, current.group),
            format!("chown {spec} {q}"),
        ));
    }
    changes
}

pub fn unified_diff(path: &str, old: &[u8], new: &[u8], created: bool) -> String {
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let before = if created { "/dev/null".to_string() } else { format!("{path} (before)") };
    TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&before, &format!("{path} (after)"))
        .to_string()
}

/// Whether an edit (a line, a block) should be in a file or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    #[default]
    Present,
    Absent,
}

/// The text of a file a task edits in place (lineinfile, blockinfile, sysctl): None when it does not exist.
pub fn existing_text(current: Option<&FileState>, path: &str) -> Result<Option<String>, String> {
    match current {
        None => Ok(None),
        Some(f) => match f.content.as_deref() {
            Some(bytes) => Ok(Some(String::from_utf8_lossy(bytes).into_owned())),
            None => Err(format!("{path} is not a regular file")),
        },
    }
}

/// The text an in-place edit starts from, or None when there is nothing to do (removing from a missing
/// file). A missing file is edited as empty only with `create`.
pub fn text_to_edit(
    current: Option<&FileState>,
    path: &str,
    state: Presence,
    create: bool,
) -> Result<Option<String>, String> {
    match existing_text(current, path)? {
        Some(text) => Ok(Some(text)),
        None if state == Presence::Absent => Ok(None),
        None if create => Ok(Some(String::new())),
        None => Err(format!("{path} does not exist (set create: true)")),
    }
}

/// `mode`/`owner`/`group` as written in a task.
pub fn props(
    mode: &Option<crate::yaml::Value>,
    owner: &Option<String>,
    group: &Option<String>,
) -> Result<FileProps, String> {
    Ok(FileProps {
        mode: mode.as_ref().map(super::parse_mode).transpose()?,
        owner: owner.clone(),
        group: group.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FileKind;

    fn state(content: &str, mode: u32) -> FileState {
        FileState {
            kind: FileKind::File,
            mode,
            owner: "root".into(),
            group: "root".into(),
            content: Some(content.into()),
        }
    }

    #[test]
    fn same_content_and_mode_is_no_change() {
        let props = FileProps { mode: Some(0o644), ..Default::default() };
        assert!(converge("/etc/x", Some(&state("a\n", 0o644)), b"a\n", &props).is_empty());
    }

    #[test]
    fn different_content_writes_with_a_diff() {
        let changes = converge("/etc/x", Some(&state("a\nb\n", 0o600)), b"a\nc\n", &FileProps::default());
        assert_eq!(changes.len(), 1);
        let diff = changes[0].diff.as_deref().unwrap();
        assert!(diff.contains("-b\n") && diff.contains("+c\n"), "{diff}");
        assert!(matches!(&changes[0].actions[0], Action::Write { mode: 0o600, .. }), "keeps the current mode");
    }

    #[test]
    fn only_mode_differs_is_a_chmod() {
        let props = FileProps { mode: Some(0o600), owner: Some("root".into()), ..Default::default() };
        let changes = converge("/etc/x", Some(&state("a\n", 0o644)), b"a\n", &props);
        assert_eq!(changes, vec![Change::run("mode of /etc/x: 0644 -> 0600", "chmod 600 /etc/x")]);
    }
}
