//! Runs a playbook on hosts: in parallel across hosts (at most --forks), in order within a host.
//!
//! Per play, the facts every task will read are gathered in one round trip before the first task. Tasks
//! plan against those facts; only a task with changes runs commands. After a change the cache is stale, so
//! the next task re-reads its own facts (one more round trip) — a rerun with nothing to do therefore costs
//! one connection, one system-facts read and one state read per host.

use std::collections::BTreeSet;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value as Json;

use super::context::{context, host_vars};
use super::model::{Play, Playbook, TaskDef};
use super::recap::{ChangeRecord, Failure, HostRecap, Recap};
use crate::facts::{self, FactCache, FactKey, SystemFacts};
use crate::inventory::{Host, Inventory};
use crate::render::Renderer;
use crate::tasks::{is_unit_file, Action, Module, PlanContext, DAEMON_RELOAD};
use crate::transport::{shell_quote, SshSession, Transport, TransportError};
use crate::yaml::Value;

#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub check: bool,
    pub forks: usize,
}

/// Render every string in a task's arguments.
pub fn render_value(value: &Value, renderer: &Renderer, ctx: &tera::Context) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(renderer.render_str(s, ctx).map_err(|e| e.to_string())?),
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|v| render_value(v, renderer, ctx)).collect::<Result<_, _>>()?)
        }
        Value::Mapping(map) => {
            let mut out = crate::yaml::Mapping::new();
            for (k, v) in map {
                out.insert(k.clone(), render_value(v, renderer, ctx)?);
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    })
}

/// The module a task runs for one loop item, or None when `when` says skip.
pub fn instantiate(task: &TaskDef, renderer: &Renderer, ctx: &tera::Context) -> Result<Option<Module>, String> {
    if let Some(cond) = &task.when {
        if !renderer.condition(cond, ctx).map_err(|e| e.to_string())? {
            return Ok(None);
        }
    }
    let args = render_value(&task.args, renderer, ctx)?;
    Module::parse(&task.module, args).map(Some)
}

enum TaskOutcome {
    Ok { changed: bool },
    Skipped,
}

struct TaskFailure {
    command: Option<String>,
    message: String,
    /// The connection is gone: the host is unreachable rather than failed.
    lost: bool,
}

impl From<TransportError> for TaskFailure {
    fn from(e: TransportError) -> Self {
        TaskFailure { command: None, message: e.to_string(), lost: true }
    }
}

struct HostRun<'a> {
    session: &'a SshSession,
    system: SystemFacts,
    vars: Json,
    renderer: &'a Renderer,
    opts: RunOptions,
    recap: HostRecap,
    cache: FactCache,
    /// False once this run changed something the cache may describe.
    fresh: bool,
    /// A unit file was written since the last daemon-reload.
    unit_files_changed: bool,
    bar: ProgressBar,
    multi: MultiProgress,
    host: &'a str,
}

impl HostRun<'_> {
    async fn prefetch(&mut self, play: &Play) -> Result<(), TaskFailure> {
        let mut keys = BTreeSet::new();
        for task in play.tasks.iter().chain(play.handlers.iter()) {
            for item in items(task) {
                let ctx = context(&self.vars, &self.system, item.as_ref());
                // A task whose arguments cannot be built yet is skipped here; it reports its error when it runs.
                if let Ok(Some(module)) = instantiate(task, self.renderer, &ctx) {
                    keys.extend(module.fact_keys(&self.system));
                }
            }
        }
        let keys: Vec<FactKey> = keys.into_iter().collect();
        self.cache = facts::gather_state(self.session, &keys, &self.system).await.map_err(fact_failure)?;
        self.fresh = true;
        Ok(())
    }

    async fn run_task(&mut self, task: &TaskDef) -> Result<TaskOutcome, TaskFailure> {
        self.bar.set_message(task.name.clone());
        let mut any_ran = false;
        let mut changed = false;
        for item in items(task) {
            let ctx = context(&self.vars, &self.system, item.as_ref());
            let module = match instantiate(task, self.renderer, &ctx) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(message) => return Err(TaskFailure { command: None, message, lost: false }),
            };
            any_ran = true;
            let keys = module.fact_keys(&self.system);
            if !self.fresh || keys.iter().any(|k| !self.cache.contains_key(k)) {
                let fresh = facts::gather_state(self.session, &keys, &self.system).await.map_err(fact_failure)?;
                self.cache.extend(fresh);
            }
            let cx = PlanContext {
                facts: &self.cache,
                system: &self.system,
                renderer: self.renderer,
                vars: &ctx,
                unit_files_changed: self.unit_files_changed,
            };
            let changes = match module.plan(&cx) {
                Ok(c) => c,
                // In check mode an earlier planned change (a package not yet installed) can make a later
                // plan impossible; that is not a failure of the host.
                Err(message) if self.opts.check && self.recap.changed > 0 => {
                    self.multi.suspend(|| eprintln!("skipped: [{}] {} (check mode: {message})", self.host, task.name));
                    continue;
                }
                Err(message) => return Err(TaskFailure { command: None, message, lost: false }),
            };
            for change in changes {
                for action in &change.actions {
                    if !self.opts.check {
                        self.apply(action).await?;
                        self.fresh = false;
                    }
                    // Tracked in check mode too, so the plan shows the daemon-reload a real run would do.
                    match action {
                        Action::Write { path, .. } if is_unit_file(path) => self.unit_files_changed = true,
                        Action::Run(cmd) if cmd == DAEMON_RELOAD => self.unit_files_changed = false,
                        _ => {}
                    }
                }
                self.recap.changes.push(ChangeRecord {
                    task: task.name.clone(),
                    summary: change.summary,
                    diff: change.diff,
                });
                changed = true;
            }
        }
        Ok(if any_ran { TaskOutcome::Ok { changed } } else { TaskOutcome::Skipped })
    }

    async fn apply(&self, action: &Action) -> Result<(), TaskFailure> {
        match action {
            Action::Run(command) => {
                let out = self.session.exec(command).await?;
                if !out.success() {
                    return Err(TaskFailure {
                        command: Some(command.clone()),
                        message: out.failure_summary(),
                        lost: false,
                    });
                }
            }
            Action::Write { path, content, mode, owner, group } => {
                self.session.upload(content, path, *mode).await.map_err(|e| TaskFailure {
                    command: None,
                    message: e.to_string(),
                    lost: self.session.is_closed(),
                })?;
                if owner.is_some() || group.is_some() {
                    let spec = format!("{}:{}", owner.as_deref().unwrap_or(""), group.as_deref().unwrap_or(""));
                    let command = format!("chown {} {}", shell_quote(spec.trim_end_matches(':')), shell_quote(path));
                    Box::pin(self.apply(&Action::Run(command))).await?;
                }
            }
        }
        Ok(())
    }

    /// Run a play's tasks, then the handlers they notified (each once, in the order they are defined).
    async fn run_play(&mut self, play: &Play) -> Result<(), ()> {
        if let Err(f) = self.prefetch(play).await {
            self.fail("gather facts", "", f);
            return Err(());
        }
        let mut notified = BTreeSet::new();
        for task in &play.tasks {
            match self.run_task(task).await {
                Ok(TaskOutcome::Skipped) => self.recap.skipped += 1,
                Ok(TaskOutcome::Ok { changed }) => {
                    self.recap.ok += 1;
                    if changed {
                        self.recap.changed += 1;
                        notified.extend(task.notify.iter().cloned());
                    }
                }
                Err(f) if task.ignore_errors && !f.lost => {
                    self.multi.suspend(|| eprintln!("ignored: [{}] {}: {}", self.host, task.name, f.message));
                    self.recap.ok += 1;
                }
                Err(f) => {
                    self.fail(&task.name, &task.location, f);
                    return Err(());
                }
            }
        }
        for handler in play.handlers.iter().filter(|h| notified.contains(&h.name)) {
            match self.run_task(handler).await {
                Ok(TaskOutcome::Ok { changed }) => {
                    self.recap.ok += 1;
                    self.recap.changed += u32::from(changed);
                }
                Ok(TaskOutcome::Skipped) => self.recap.skipped += 1,
                Err(f) => {
                    self.fail(&handler.name, &handler.location, f);
                    return Err(());
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, task: &str, location: &str, mut f: TaskFailure) {
        f.lost |= self.session.is_closed();
        record_failure(&mut self.recap, task, location, f);
    }
}

/// Count a failure in the recap: a lost connection makes the host unreachable, anything else failed.
fn record_failure(recap: &mut HostRecap, task: &str, location: &str, f: TaskFailure) {
    let failure = Failure { task: task.into(), location: location.into(), command: f.command, message: f.message };
    recap.record_failure(failure, f.lost);
}

fn fact_failure(e: facts::FactError) -> TaskFailure {
    let lost = matches!(e, facts::FactError::Transport(_));
    TaskFailure { command: None, message: e.to_string(), lost }
}

/// One entry per `loop:` item, or a single None without a loop.
pub(super) fn items(task: &TaskDef) -> Vec<Option<Value>> {
    match &task.items {
        Some(items) => items.iter().cloned().map(Some).collect(),
        None => vec![None],
    }
}

/// Run `playbook` on `hosts`. Check the playbook first (`super::check`): this assumes it passed.
pub async fn run(
    inventory: &Inventory,
    hosts: &[Host],
    playbook: &Playbook,
    renderer: &Renderer,
    opts: RunOptions,
) -> Recap {
    let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {prefix:<16} {elapsed:>4} {wide_msg}").expect("valid template");
    let results = crate::fanout::for_each_host(hosts, opts.forks, |host| {
        let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(host.name.clone()));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let multi = multi.clone();
        async move {
            let recap = run_host(inventory, host, playbook, renderer, opts, bar.clone(), multi).await;
            bar.finish_and_clear();
            (host.name.clone(), recap)
        }
    })
    .await;
    Recap { check: opts.check, hosts: results.into_iter().collect() }
}

async fn run_host(
    inventory: &Inventory,
    host: &Host,
    playbook: &Playbook,
    renderer: &Renderer,
    opts: RunOptions,
    bar: ProgressBar,
    multi: MultiProgress,
) -> HostRecap {
    let started = Instant::now();
    let mut recap = HostRecap::default();
    bar.set_message("connecting");
    let session = match SshSession::connect(&host.ssh).await {
        Ok(s) => s,
        Err(e) => {
            record_failure(&mut recap, "connect", "", TaskFailure::from(e));
            recap.elapsed_ms = started.elapsed().as_millis() as u64;
            return recap;
        }
    };
    bar.set_message("gathering facts");
    let system = match facts::gather_system(&session).await {
        Ok(s) => s,
        Err(e) => {
            record_failure(&mut recap, "gather facts", "", fact_failure(e));
            recap.elapsed_ms = started.elapsed().as_millis() as u64;
            return recap;
        }
    };
    let mut run = HostRun {
        session: &session,
        system,
        vars: host_vars(inventory, host),
        renderer,
        opts,
        recap,
        cache: FactCache::new(),
        fresh: false,
        unit_files_changed: false,
        bar,
        multi,
        host: &host.name,
    };
    for play in playbook.plays.iter().filter(|p| p.hosts.matches(&host.name, host.role)) {
        if run.run_play(play).await.is_err() {
            break;
        }
    }
    let mut recap = run.recap;
    session.close().await;
    recap.elapsed_ms = started.elapsed().as_millis() as u64;
    recap
}
