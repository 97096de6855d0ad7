//! `kubeboot up` (the embedded host preparation) and `kubeboot run PLAYBOOK`.

use std::path::Path;

use crate::cli::{OutputFormat, PlaybookArgs};
use crate::playbook::{self, loader, Playbook, RunOptions};
use crate::render::Renderer;
use crate::{EXIT_FAILED, EXIT_OK};

pub async fn up(args: PlaybookArgs) -> anyhow::Result<u8> {
    let playbook = loader::named("prepare.yaml", args.playbooks.as_deref())?;
    execute(playbook, args).await
}

pub async fn run(path: &Path, args: PlaybookArgs) -> anyhow::Result<u8> {
    let playbook = loader::file(path)?;
    execute(playbook, args).await
}

async fn execute(playbook: Playbook, args: PlaybookArgs) -> anyhow::Result<u8> {
    let (inventory, hosts) = super::hosts::prepare(&args.hosts)?;
    let renderer = Renderer::new(args.templates.as_deref())?;
    // Bad playbooks and templates fail here, before any host is contacted.
    playbook::check(&playbook, &inventory, &hosts, &renderer)?;
    let opts = RunOptions { check: args.check, forks: args.hosts.forks as usize };
    let recap = playbook::run(&inventory, &hosts, &playbook, &renderer, opts).await;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&recap)?),
        OutputFormat::Text => print!("{}", recap.render_text(args.diff)),
    }
    Ok(if recap.success() { EXIT_OK } else { EXIT_FAILED })
}
