//! Checks a playbook before any host is touched: every task's `when`, arguments and templates are built
//! with each selected host's variables and placeholder facts, so an unknown module or key, bad template
//! syntax or an undefined variable fails with file:line and nothing runs.

use super::context::{context, host_vars, placeholder_facts};
use super::model::{Playbook, PlaybookError};
use super::runner::render_value;
use crate::inventory::{Host, Inventory};
use crate::render::Renderer;
use crate::tasks::Module;

pub fn check(
    playbook: &Playbook,
    inventory: &Inventory,
    hosts: &[Host],
    renderer: &Renderer,
) -> Result<(), PlaybookError> {
    let facts = placeholder_facts();
    for host in hosts {
        let vars = host_vars(inventory, host);
        for play in playbook.plays.iter().filter(|p| p.hosts.matches(&host.name, host.role)) {
            for task in play.tasks.iter().chain(play.handlers.iter()) {
                let err = |message: String| PlaybookError {
                    location: task.location.clone(),
                    message: format!("task `{}`: {message}", task.name),
                };
                let items: Vec<Option<&crate::yaml::Value>> = match &task.items {
                    Some(items) => items.iter().map(Some).collect(),
                    None => vec![None],
                };
                for item in items {
                    let ctx = context(&vars, &facts, item);
                    if let Some(cond) = &task.when {
                        renderer.condition(cond, &ctx).map_err(|e| err(e.to_string()))?;
                    }
                    let args = render_value(&task.args, renderer, &ctx).map_err(&err)?;
                    let module = Module::parse(&task.module, args).map_err(&err)?;
                    for template in module.templates() {
                        renderer.render_template(template, &ctx).map_err(|e| err(e.to_string()))?;
                    }
                }
            }
        }
    }
    Ok(())
}
