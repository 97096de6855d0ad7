//! `kubeboot up` (the embedded host preparation, then the cluster phases) and `kubeboot run PLAYBOOK`.

use std::path::Path;
use std::time::Duration;

use crate::cli::{OutputFormat, PlaybookArgs, UpArgs};
use crate::cluster::ClusterOptions;
use crate::inventory::{Host, Inventory};
use crate::playbook::{self, loader, Playbook, Recap, RunOptions};
use crate::render::Renderer;
use crate::{EXIT_FAILED, EXIT_OK};

pub async fn up(args: UpArgs) -> anyhow::Result<u8> {
    let playbook = loader::named("prepare.yaml", args.playbook.playbooks.as_deref())?;
    let (inventory, hosts, mut recap) = prepare_and_run(playbook, &args.playbook).await?;
    if let Some(warning) = inventory.quorum_warning() {
        eprintln!("warning: {warning}");
    }
    let mut nodes = None;
    if !args.prepare_only {
        // Hosts whose preparation failed stay out of the cluster phases; the recap already says why.
        let prepared: Vec<&Host> = hosts
            .iter()
            .filter(|h| recap.hosts.get(&h.name).is_some_and(|r| r.failed == 0 && !r.unreachable))
            .collect();
        let opts = ClusterOptions {
            check: args.playbook.check,
            forks: args.playbook.hosts.reach.forks as usize,
            wait_timeout: Duration::from_secs(args.wait_timeout),
        };
        nodes = crate::cluster::up(&inventory, &prepared, &mut recap, opts).await;
    }
    let code = print_recap(&recap, args.playbook.output, args.playbook.diff)?;
    if let (Some(nodes), OutputFormat::Text) = (nodes, args.playbook.output) {
        print!("\n{}", crate::resources::node_table::render(&nodes, time::OffsetDateTime::now_utc()));
    }
    Ok(code)
}

pub async fn run(path: &Path, args: PlaybookArgs) -> anyhow::Result<u8> {
    let playbook = loader::file(path)?;
    let (_, _, recap) = prepare_and_run(playbook, &args).await?;
    print_recap(&recap, args.output, args.diff)
}

async fn prepare_and_run(playbook: Playbook, args: &PlaybookArgs) -> anyhow::Result<(Inventory, Vec<Host>, Recap)> {
    let (inventory, hosts) = super::hosts::prepare(&args.hosts.inventory, &args.hosts.reach)?;
    let renderer = Renderer::new(args.templates.as_deref())?;
    // Bad playbooks and templates fail here, before any host is contacted.
    playbook::check(&playbook, &inventory, &hosts, &renderer)?;
    let opts = RunOptions { check: args.check, forks: args.hosts.reach.forks as usize };
    let recap = playbook::run(&inventory, &hosts, &playbook, &renderer, opts).await;
    Ok((inventory, hosts, recap))
}

/// The recap on stdout (text or JSON); the exit code it means.
pub fn print_recap(recap: &Recap, output: OutputFormat, diff: bool) -> anyhow::Result<u8> {
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(recap)?),
        OutputFormat::Text => print!("{}", recap.render_text(diff)),
    }
    Ok(if recap.success() { EXIT_OK } else { EXIT_FAILED })
}
