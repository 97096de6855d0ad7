//! Task modules: each reads facts and returns the changes it would make. An empty plan means "ok" and nothing
//! runs, so `--check` is simply the plan, and a rerun that finds everything right runs no command.

mod blockinfile;
mod command;
mod copy;
mod file;
mod file_write;
mod hostname;
mod lineinfile;
mod modprobe;
mod package;
mod repo;
mod service;
mod sysctl;
mod template;

pub use package::{spec as package_spec, Wanted as WantedPackage};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::facts::{FactCache, FactKey, FactValue, FileState, SystemFacts};
use crate::render::Renderer;
use crate::yaml::Value;

/// One step of a change, run in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A shell command (as root).
    Run(String),
    /// Write a file atomically with this mode and, if given, owner and group.
    Write { path: String, content: Vec<u8>, mode: u32, owner: Option<String>, group: Option<String> },
}

/// What a task would change, with a unified diff for file contents when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub summary: String,
    pub diff: Option<String>,
    pub actions: Vec<Action>,
}

impl Change {
    pub fn run(summary: impl Into<String>, command: impl Into<String>) -> Change {
        Change { summary: summary.into(), diff: None, actions: vec![Action::Run(command.into())] }
    }
}

/// What a module may look at while planning.
pub struct PlanContext<'a> {
    pub facts: &'a FactCache,
    pub system: &'a SystemFacts,
    pub renderer: &'a Renderer,
    pub vars: &'a tera::Context,
    /// This run wrote a systemd unit or drop-in since the last daemon-reload. systemd's own
    /// NeedDaemonReload misses drop-in files that did not exist when units were loaded.
    pub unit_files_changed: bool,
}

/// Paths whose change needs `systemctl daemon-reload`.
pub fn is_unit_file(path: &str) -> bool {
    ["/etc/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/", "/run/systemd/system/"]
        .iter()
        .any(|dir| path.starts_with(dir))
}

pub const DAEMON_RELOAD: &str = "systemctl daemon-reload";

impl PlanContext<'_> {
    pub fn file(&self, path: &str) -> Option<&FileState> {
        match self.facts.get(&FactKey::File(path.to_string())) {
            Some(FactValue::File(state)) => state.as_ref(),
            _ => None,
        }
    }
    pub fn fact(&self, key: &FactKey) -> Option<&FactValue> {
        self.facts.get(key)
    }
}

/// A task's module with its (rendered) arguments.
#[derive(Debug, Clone)]
pub enum Module {
    Package(package::Package),
    Repo(repo::Repo),
    Template(template::Template),
    File(file::File),
    Copy(copy::Copy),
    LineInFile(lineinfile::LineInFile),
    BlockInFile(blockinfile::BlockInFile),
    Hostname(hostname::Hostname),
    Service(service::Service),
    Command(command::Command),
    Sysctl(sysctl::Sysctl),
    Modprobe(modprobe::Modprobe),
}

pub const MODULE_NAMES: &[&str] = &[
    "package",
    "repo",
    "template",
    "file",
    "copy",
    "lineinfile",
    "blockinfile",
    "hostname",
    "service",
    "command",
    "sysctl",
    "modprobe",
];

fn args<T: DeserializeOwned>(module: &str, value: Value) -> Result<T, String> {
    crate::yaml::from_value(value).map_err(|e| format!("{module}: {e}"))
}

impl Module {
    /// Build a module from its name and rendered arguments. `command: "…"` is short for `command: {cmd: …}`.
    pub fn parse(name: &str, value: Value) -> Result<Module, String> {
        Ok(match name {
            "package" => Module::Package(args(name, value)?),
            "repo" => Module::Repo(args(name, value)?),
            "template" => Module::Template(args(name, value)?),
            "file" => Module::File(args(name, value)?),
            "copy" => Module::Copy(args(name, value)?),
            "lineinfile" => Module::LineInFile(args(name, value)?),
            "blockinfile" => Module::BlockInFile(args(name, value)?),
            "hostname" => Module::Hostname(args(name, value)?),
            "service" => Module::Service(args(name, value)?),
            "command" => Module::Command(match value {
                Value::String(cmd) => command::Command::from_cmd(cmd),
                other => args(name, other)?,
            }),
            "sysctl" => Module::Sysctl(args(name, value)?),
            "modprobe" => Module::Modprobe(args(name, value)?),
            other => return Err(format!("unknown module `{other}` (modules: {})", MODULE_NAMES.join(", "))),
        })
    }

    /// The facts the plan reads.
    pub fn fact_keys(&self, system: &SystemFacts) -> Vec<FactKey> {
        match self {
            Module::Package(m) => m.fact_keys(),
            Module::Repo(m) => m.fact_keys(system),
            Module::Template(m) => m.fact_keys(),
            Module::File(m) => m.fact_keys(),
            Module::Copy(m) => m.fact_keys(),
            Module::LineInFile(m) => m.fact_keys(),
            Module::BlockInFile(m) => m.fact_keys(),
            Module::Hostname(m) => m.fact_keys(),
            Module::Service(m) => m.fact_keys(),
            Module::Command(m) => m.fact_keys(),
            Module::Sysctl(m) => m.fact_keys(),
            Module::Modprobe(m) => m.fact_keys(),
        }
    }

    /// Templates the module renders (checked before any host is touched).
    pub fn templates(&self) -> Vec<&str> {
        match self {
            Module::Template(m) => vec![m.src.as_str()],
            Module::Repo(m) => vec![m.template.as_str()],
            _ => vec![],
        }
    }

    pub fn plan(&self, cx: &PlanContext) -> Result<Vec<Change>, String> {
        match self {
            Module::Package(m) => m.plan(cx),
            Module::Repo(m) => m.plan(cx),
            Module::Template(m) => m.plan(cx),
            Module::File(m) => m.plan(cx),
            Module::Copy(m) => m.plan(cx),
            Module::LineInFile(m) => m.plan(cx),
            Module::BlockInFile(m) => m.plan(cx),
            Module::Hostname(m) => m.plan(cx),
            Module::Service(m) => m.plan(cx),
            Module::Command(m) => m.plan(cx),
            Module::Sysctl(m) => m.plan(cx),
            Module::Modprobe(m) => m.plan(cx),
        }
    }
}

/// `name: x` or `name: [x, y]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// File modes as users write them: "0644", 644 (read as octal digits), or "u=rw" is not supported.
pub fn parse_mode(raw: &Value) -> Result<u32, String> {
    let text = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("mode must be like \"0644\", not {other:?}")),
    };
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("mode {text:?} is not an octal mode like \"0644\""))
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A plan context from literal facts, for the modules' table-driven tests.
    use super::*;

    pub fn system(family: &str) -> SystemFacts {
        let text = match family {
            "el" => "os_id=rocky\nos_like=rhel\nos_version=9\npackage_manager=dnf\ninit=systemd\narch=x86_64\nkernel=5\nhostname=h\nmemory_kb=1024000\ncpus=2\nuser=root\n",
            _ => "os_id=debian\nos_version=12\npackage_manager=apt-get\ninit=systemd\narch=x86_64\nkernel=6\nhostname=h\nmemory_kb=1024000\ncpus=2\nuser=root\n",
        };
        crate::facts::parse_system_facts(text).unwrap()
    }

    pub fn file(content: &str, mode: u32) -> FactValue {
        FactValue::File(Some(FileState {
            kind: crate::facts::FileKind::File,
            mode,
            owner: "root".into(),
            group: "root".into(),
            content: Some(content.as_bytes().to_vec()),
        }))
    }

    pub fn plan(module: &Module, facts: FactCache, family: &str) -> Vec<Change> {
        let system = system(family);
        let renderer = Renderer::new(None).unwrap();
        let mut vars = tera::Context::new();
        vars.insert("vars", &serde_json::json!({}));
        vars.insert("facts", &system);
        module
            .plan(&PlanContext {
                facts: &facts,
                system: &system,
                renderer: &renderer,
                vars: &vars,
                unit_files_changed: false,
            })
            .unwrap()
    }

    pub fn module(yaml: &str) -> Module {
        let value: Value = crate::yaml::from_str(yaml).unwrap();
        let map = value.as_mapping().unwrap();
        let (k, v) = map.iter().next().unwrap();
        Module::parse(k.as_str().unwrap(), v.clone()).unwrap()
    }
}
