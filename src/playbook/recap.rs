//! What happened on each host: counts like Ansible's PLAY RECAP, the changes made (or planned, with
//! `--check`) with their diffs, and each failure with its task, command and stderr tail.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct HostRecap {
    /// Tasks that ran fine, changed or not (as Ansible counts).
    pub ok: u32,
    pub changed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub unreachable: bool,
    pub changes: Vec<ChangeRecord>,
    pub failures: Vec<Failure>,
    pub elapsed_ms: u64,
}

impl HostRecap {
    /// Count a failure: a lost connection makes the host unreachable, anything else failed.
    pub fn record_failure(&mut self, failure: Failure, lost: bool) {
        if lost {
            self.unreachable = true;
        } else {
            self.failed += 1;
        }
        self.failures.push(failure);
    }

    /// Nothing failed here and the host stayed reachable.
    pub fn went_through(&self) -> bool {
        self.failed == 0 && !self.unreachable
    }

    /// Count a step that ran, with the change it made (or would make, in check mode) if any.
    pub fn record_step(&mut self, change: Option<ChangeRecord>) {
        self.ok += 1;
        if let Some(change) = change {
            self.changed += 1;
            self.changes.push(change);
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord {
    pub task: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub task: String,
    /// playbook file:line of the task.
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub message: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Recap {
    pub check: bool,
    pub hosts: BTreeMap<String, HostRecap>,
}

impl Recap {
    /// Put the outcomes of steps that ran before this recap's (on the same hosts) in front of its own.
    pub fn put_before(&mut self, earlier: Recap) {
        for (host, mut first) in earlier.hosts {
            let entry = self.hosts.entry(host).or_default();
            entry.ok += first.ok;
            entry.changed += first.changed;
            entry.failed += first.failed;
            entry.skipped += first.skipped;
            entry.unreachable |= first.unreachable;
            entry.elapsed_ms += first.elapsed_ms;
            first.changes.append(&mut entry.changes);
            entry.changes = first.changes;
            first.failures.append(&mut entry.failures);
            entry.failures = first.failures;
        }
    }

    pub fn success(&self) -> bool {
        self.hosts.values().all(HostRecap::went_through)
    }

    /// The host is in this recap and nothing failed on it.
    pub fn went_through(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(HostRecap::went_through)
    }

    /// The human report: planned/made changes (with diffs when asked), failures, then the recap table.
    pub fn render_text(&self, show_diff: bool) -> String {
        let mut out = String::new();
        for (name, h) in &self.hosts {
            for c in &h.changes {
                let verb = if self.check { "would change" } else { "changed" };
                out.push_str(&format!("{verb}: [{name}] {} — {}\n", c.task, c.summary));
                if show_diff {
                    if let Some(diff) = &c.diff {
                        out.push_str(diff);
                        if !diff.ends_with('\n') {
                            out.push('\n');
                        }
                    }
                }
            }
        }
        for (name, h) in &self.hosts {
            for f in &h.failures {
                out.push_str(&format!("FAILED: [{name}] {} ({})\n", f.task, f.location));
                if let Some(cmd) = &f.command {
                    out.push_str(&format!("  command: {cmd}\n"));
                }
                for line in f.message.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        out.push_str(if self.check { "\nRECAP (check mode: nothing was changed)\n" } else { "\nRECAP\n" });
        let mut rows = vec![vec!["HOST", "OK", "CHANGED", "FAILED", "SKIPPED", "UNREACHABLE", "TIME"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()];
        for (name, h) in &self.hosts {
            rows.push(vec![
                name.clone(),
                h.ok.to_string(),
                h.changed.to_string(),
                h.failed.to_string(),
                h.skipped.to_string(),
                if h.unreachable { "yes".into() } else { "no".into() },
                format!("{:.1}s", h.elapsed_ms as f64 / 1000.0),
            ]);
        }
        out.push_str(&crate::table::render(&rows));
        out
    }
}
