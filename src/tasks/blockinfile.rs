//! `blockinfile: {path, block, marker, state, create, mode}`: a managed block between two marker lines,
//! e.g. every inventory host in /etc/hosts. Text outside the block is never touched.

use serde::Deserialize;

use super::file_write::{converge, props, text_to_edit, Presence};
use super::{Change, PlanContext};
use crate::facts::FactKey;
use crate::yaml::Value;

fn default_marker() -> String {
    "# {mark} KUBEBOOT MANAGED BLOCK".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockInFile {
    pub path: String,
    #[serde(default)]
    pub block: String,
    #[serde(default = "default_marker")]
    pub marker: String,
    #[serde(default)]
    pub state: Presence,
    #[serde(default)]
    pub create: bool,
    pub mode: Option<Value>,
}

impl BlockInFile {
    pub fn fact_keys(&self) -> Vec<FactKey> {
        vec![FactKey::File(self.path.clone())]
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        let current = cx.file(&self.path);
        let Some(text) = text_to_edit(current, &self.path, self.state, self.create)? else { return Ok(vec![]) };
        let desired = apply(&text, &self.marker, &self.block, self.state);
        Ok(converge(&self.path, current, desired.as_bytes(), &props(&self.mode, &None, &None)?))
    }
}

/// The text with the block set (or removed). A present block is replaced in place; a new one is appended.
pub fn apply(text: &str, marker: &str, block: &str, state: Presence) -> String {
    let begin = marker.replace("{mark}", "BEGIN");
    let end = marker.replace("{mark}", "END");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| *l == begin);
    let stop = start.and_then(|s| lines[s..].iter().position(|l| *l == end).map(|e| s + e));
    let mut out: Vec<String> = Vec::new();
    let new_block = || {
        let mut b = vec![begin.clone()];
        b.extend(block.lines().map(String::from));
        b.push(end.clone());
        b
    };
    match (start, stop) {
        (Some(s), Some(e)) => {
            out.extend(lines[..s].iter().map(|l| l.to_string()));
            if state == Presence::Present {
                out.extend(new_block());
            }
            out.extend(lines[e + 1..].iter().map(|l| l.to_string()));
        }
        _ => {
            out.extend(lines.iter().map(|l| l.to_string()));
            if state == Presence::Present {
                out.extend(new_block());
            }
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        out.join("\n") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "# {mark} KUBEBOOT MANAGED BLOCK";

    #[test]
    fn appends_then_replaces_in_place() {
        let hosts = "127.0.0.1 localhost\n";
        let once = apply(hosts, M, "10.0.0.1 a\n10.0.0.2 b", Presence::Present);
        assert_eq!(once, "127.0.0.1 localhost\n# BEGIN KUBEBOOT MANAGED BLOCK\n10.0.0.1 a\n10.0.0.2 b\n# END KUBEBOOT MANAGED BLOCK\n");
        assert_eq!(apply(&once, M, "10.0.0.1 a\n10.0.0.2 b", Presence::Present), once, "idempotent");
        let edited = format!("{once}10.9.9.9 mine\n");
        let changed = apply(&edited, M, "10.0.0.1 a", Presence::Present);
        assert_eq!(changed, "127.0.0.1 localhost\n# BEGIN KUBEBOOT MANAGED BLOCK\n10.0.0.1 a\n# END KUBEBOOT MANAGED BLOCK\n10.9.9.9 mine\n");
        assert_eq!(apply(&changed, M, "", Presence::Absent), "127.0.0.1 localhost\n10.9.9.9 mine\n");
    }
}
