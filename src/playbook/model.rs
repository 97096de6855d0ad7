//! A playbook as users write it, Ansible-style: a list of plays, each with hosts, tasks and handlers; a task
//! is a mapping with `name`, one module key, and optional `when`, `loop`, `notify`, `ignore_errors`.
//! Parsed from YAML values by hand so every problem names file:line.

use crate::tasks::MODULE_NAMES;
use crate::yaml::locate::Locator;
use crate::yaml::{Mapping, Value};

#[derive(Debug, Clone)]
pub struct Playbook {
    /// The file name shown in messages (embedded playbooks: `playbooks/NAME`).
    pub source: String,
    pub plays: Vec<Play>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    All,
    Masters,
    Nodes,
    Names(Vec<String>),
}

impl HostPattern {
    pub fn matches(&self, name: &str, role: crate::inventory::Role) -> bool {
        use crate::inventory::Role;
        match self {
            HostPattern::All => true,
            HostPattern::Masters => role == Role::Master,
            HostPattern::Nodes => role == Role::Node,
            HostPattern::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub hosts: HostPattern,
    pub tasks: Vec<TaskDef>,
    pub handlers: Vec<TaskDef>,
}

#[derive(Debug, Clone)]
pub struct TaskDef {
    pub name: String,
    pub module: String,
    /// Unrendered arguments: strings may hold `{{ … }}`.
    pub args: Value,
    pub when: Option<String>,
    pub items: Option<Vec<Value>>,
    pub notify: Vec<String>,
    pub ignore_errors: bool,
    /// `file:line` of the task, for messages.
    pub location: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct PlaybookError {
    pub location: String,
    pub message: String,
}

const TASK_KEYS: &[&str] = &["name", "when", "loop", "notify", "ignore_errors"];

pub fn parse(source: &str, text: &str) -> Result<Playbook, PlaybookError> {
    let value: Value = crate::yaml::from_str(text)
        .map_err(|e| PlaybookError { location: format!("{source}:{}:{}", e.line, e.column), message: e.message })?;
    let locator = Locator::new(text);
    let at = |path: &str, message: String| {
        let p = locator.find(path);
        PlaybookError { location: format!("{source}:{}", p.line), message }
    };
    let Value::Sequence(plays) = value else {
        return Err(at("", "a playbook is a list of plays".into()));
    };
    let mut out = Vec::new();
    for (i, play) in plays.iter().enumerate() {
        let path = format!("[{i}]");
        let Value::Mapping(map) = play else {
            return Err(at(&path, "a play is a mapping".into()));
        };
        for key in map.keys() {
            let k = key.as_str().unwrap_or("");
            if !["name", "hosts", "tasks", "handlers"].contains(&k) {
                return Err(at(
                    &format!("{path}.{k}"),
                    format!("unknown play key `{k}` (expected name, hosts, tasks, handlers)"),
                ));
            }
        }
        let hosts = match map.get("hosts") {
            None => HostPattern::All,
            Some(Value::String(s)) => match s.as_str() {
                "all" => HostPattern::All,
                "masters" => HostPattern::Masters,
                "nodes" => HostPattern::Nodes,
                other => HostPattern::Names(other.split(',').map(|n| n.trim().to_string()).collect()),
            },
            Some(Value::Sequence(names)) => {
                HostPattern::Names(names.iter().filter_map(|n| n.as_str().map(String::from)).collect())
            }
            Some(_) => {
                return Err(at(&format!("{path}.hosts"), "hosts is all, masters, nodes or a list of names".into()))
            }
        };
        let tasks = parse_tasks(source, &locator, map, &format!("{path}.tasks"), "tasks")?;
        let handlers = parse_tasks(source, &locator, map, &format!("{path}.handlers"), "handlers")?;
        for task in &tasks {
            for n in &task.notify {
                if !handlers.iter().any(|h| &h.name == n) {
                    return Err(PlaybookError {
                        location: task.location.clone(),
                        message: format!("notify names no handler `{n}`"),
                    });
                }
            }
        }
        let name = map.get("name").and_then(Value::as_str).unwrap_or("play").to_string();
        out.push(Play { name, hosts, tasks, handlers });
    }
    Ok(Playbook { source: source.to_string(), plays: out })
}

fn parse_tasks(
    source: &str,
    locator: &Locator,
    play: &Mapping,
    path: &str,
    key: &str,
) -> Result<Vec<TaskDef>, PlaybookError> {
    let at = |path: &str, message: String| PlaybookError {
        location: format!("{source}:{}", locator.find(path).line),
        message,
    };
    let list = match play.get(key) {
        None => return Ok(Vec::new()),
        Some(Value::Sequence(list)) => list,
        Some(_) => return Err(at(path, format!("{key} is a list of tasks"))),
    };
    let mut tasks = Vec::new();
    for (i, task) in list.iter().enumerate() {
        let tpath = format!("{path}[{i}]");
        let location = format!("{source}:{}", locator.find(&tpath).line);
        let err = |message: String| PlaybookError { location: location.clone(), message };
        let Value::Mapping(map) = task else {
            return Err(err("a task is a mapping".into()));
        };
        let mut module = None;
        for (k, v) in map {
            let k = k.as_str().unwrap_or("");
            if TASK_KEYS.contains(&k) {
                continue;
            }
            if !MODULE_NAMES.contains(&k) {
                return Err(err(format!("unknown module `{k}` (modules: {})", MODULE_NAMES.join(", "))));
            }
            if module.is_some() {
                return Err(err(format!(
                    "a task runs one module; this one has `{}` and `{k}`",
                    module.as_ref().map(|(m, _): &(String, Value)| m.as_str()).unwrap_or("")
                )));
            }
            module = Some((k.to_string(), v.clone()));
        }
        let (module, args) = module.ok_or_else(|| err("the task names no module".into()))?;
        let name = map.get("name").and_then(Value::as_str).map(String::from).unwrap_or_else(|| module.clone());
        let when = match map.get("when") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => return Err(err("when is an expression string".into())),
        };
        let items = match map.get("loop") {
            None => None,
            Some(Value::Sequence(items)) => Some(items.clone()),
            Some(_) => return Err(err("loop is a list".into())),
        };
        let notify = match map.get("notify") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Sequence(v)) => v.iter().filter_map(|n| n.as_str().map(String::from)).collect(),
            Some(_) => return Err(err("notify is a handler name or a list of them".into())),
        };
        let ignore_errors = map.get("ignore_errors").and_then(Value::as_bool).unwrap_or(false);
        tasks.push(TaskDef { name, module, args, when, items, notify, ignore_errors, location });
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plays_tasks_and_handlers() {
        let text = "- name: prep\n  hosts: nodes\n  tasks:\n    - name: a\n      file: { path: /x, state: directory }\n      when: facts.family == \"el\"\n      notify: h\n  handlers:\n    - name: h\n      command: echo hi\n";
        let pb = parse("p.yaml", text).unwrap();
        let play = &pb.plays[0];
        assert_eq!(play.hosts, HostPattern::Nodes);
        assert_eq!(play.tasks[0].module, "file");
        assert_eq!(play.tasks[0].location, "p.yaml:4");
        assert_eq!(play.tasks[0].notify, vec!["h"]);
        assert_eq!(play.handlers[0].module, "command");
    }

    #[test]
    fn unknown_module_names_file_and_line() {
        let text = "- hosts: all\n  tasks:\n    - name: ok\n      file: { path: /x }\n    - name: bad\n      pakage: { name: x }\n";
        let err = parse("p.yaml", text).unwrap_err();
        assert_eq!(err.location, "p.yaml:5");
        assert!(err.message.starts_with("unknown module `pakage`"), "{}", err.message);
    }

    #[test]
    fn notify_must_name_a_handler() {
        let text = "- hosts: all\n  tasks:\n    - name: a\n      command: x\n      notify: nope\n";
        assert_eq!(parse("p.yaml", text).unwrap_err().message, "notify names no handler `nope`");
    }
}
