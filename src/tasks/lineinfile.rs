//! `lineinfile: {path, line, starts_with, state, create, mode}`: one line present (replacing the last line
//! that starts with `starts_with`, or equals `line`) or absent. A prefix rather than Ansible's regexp keeps a
//! regex engine out of the binary; every default playbook needs only a prefix.

use serde::Deserialize;

use super::file_write::{converge, props, text_to_edit, Presence};
use super::{Change, PlanContext};
use crate::facts::FactKey;
use crate::yaml::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineInFile {
    pub path: String,
    #[serde(default)]
    pub line: String,
    /// A line starting with this is the one to replace.
    pub starts_with: Option<String>,
    #[serde(default)]
    pub state: Presence,
    #[serde(default)]
    pub create: bool,
    pub mode: Option<Value>,
}

impl LineInFile {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::File(self.path.clone())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let current = cx.file(&self.path);
        let Some(text) = text_to_edit(current, &self.path, self.state, self.create)? else { return Ok(vec![]) };
        let desired = apply(&text, &self.line, self.starts_with.as_deref(), self.state);
        Ok(converge(&self.path, current, desired.as_bytes(), &props(&self.mode, &None, &None)?))
    }
}

pub fn apply(text: &str, line: &str, prefix: Option<&str>, state: Presence) -> String {
    let matches = |l: &str| l == line || prefix.is_some_and(|p| l.starts_with(p));
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    match state {
        Presence::Absent => lines.retain(|l| !matches(l)),
        Presence::Present => match lines.iter().rposition(|l| matches(l)) {
            Some(i) => lines[i] = line.to_string(),
            None => lines.push(line.to_string()),
        },
    }
    if lines.is_empty() {
        String::new()
    } else {
        lines.join("\n") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_by_prefix_appends_and_removes() {
        let t = "a=1\nnet.ipv4.ip_forward = 0\n";
        assert_eq!(
            apply(t, "net.ipv4.ip_forward = 1", Some("net.ipv4.ip_forward"), Presence::Present),
            "a=1\nnet.ipv4.ip_forward = 1\n"
        );
        assert_eq!(apply("a=1", "b=2", None, Presence::Present), "a=1\nb=2\n");
        assert_eq!(apply("a=1\nb=2\n", "b=2", None, Presence::Present), "a=1\nb=2\n");
        assert_eq!(apply("a=1\nb=2\n", "b=2", None, Presence::Absent), "a=1\n");
    }
}
