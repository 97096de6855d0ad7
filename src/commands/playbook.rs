//! `kubeboot up` (the embedded host preparation, then the cluster phases) and `kubeboot run PLAYBOOK`.

use std::path::Path;
use std::time::Duration;

use crate::cli::{OutputFormat, PlaybookArgs, UpArgs};
use crate::cluster::ClusterOptions;
use crate::inventory::{Host, Inventory};
use crate::playbook::{self, loader, Playbook, Recap, RunOptions};
use crate::render::Renderer;
use crate::{UsageError, EXIT_FAILED, EXIT_OK};

pub async fn up(args: UpArgs) -> anyhow::Result<u8> {
    let checked = check_up(&args.playbook)?;
    build(checked, &args.playbook, args.wait_timeout, args.prepare_only, None).await
}

/// `up`'s inventory and playbook, checked before any host is contacted.
pub struct CheckedUp {
    pub inventory: Inventory,
    hosts: Vec<Host>,
    playbook: Playbook,
    renderer: Renderer,
}

pub fn check_up(args: &PlaybookArgs) -> anyhow::Result<CheckedUp> {
    let playbook = loader::named("prepare.yaml", args.playbooks.as_deref())?;
    let (inventory, hosts, renderer) = check(&playbook, args)?;
    Ok(CheckedUp { inventory, hosts, playbook, renderer })
}

/// `up` after its checks (and `restore`'s): prepare the hosts, then the cluster phases.
pub async fn build(
    checked: CheckedUp,
    args: &PlaybookArgs,
    wait_timeout: u64,
    prepare_only: bool,
    restore: Option<&crate::cluster::restore::Restore>,
) -> anyhow::Result<u8> {
    let CheckedUp { inventory, hosts, playbook, renderer } = checked;
    let opts = RunOptions { check: args.check, forks: args.hosts.reach.forks as usize };
    // Air-gapped: the bundle checked here, every host checked against it (a misfit stops the run, exit 2,
    // before any host changes), then its repository and images pushed; a host the push failed on is not
    // prepared.
    let (airgap_recap, hosts) = match &inventory.airgap_bundle {
        Some(path) => {
            let bundle = crate::bundle::local::unpack(path).map_err(|e| UsageError(e.to_string()))?;
            let recap = crate::cluster::airgap::check_and_push(
                &inventory, &hosts, &playbook, &renderer, &bundle, args.check, opts.forks,
            )
            .await?;
            let pushed = hosts.into_iter().filter(|h| recap.went_through(&h.name)).collect();
            (Some(recap), pushed)
        }
        None => (None, hosts),
    };
    let (mut recap, install) = if prepare_only {
        let all: Vec<&Host> = hosts.iter().collect();
        let connecting = crate::cluster::install_only::connect(&all, opts.forks);
        let (recap, connected) =
            tokio::join!(playbook::run(&inventory, &hosts, &playbook, &renderer, opts), connecting);
        (recap, Some(connected))
    } else {
        (playbook::run(&inventory, &hosts, &playbook, &renderer, opts).await, None)
    };
    if let Some(earlier) = airgap_recap {
        recap.put_before(earlier);
    }
    if let Some(warning) = inventory.quorum_warning() {
        eprintln!("warning: {warning}");
    }
    // Hosts whose preparation failed stay out of the cluster phases; the recap already says why.
    let prepared: Vec<&Host> = hosts.iter().filter(|h| recap.went_through(&h.name)).collect();
    let opts = ClusterOptions {
        check: args.check,
        forks: args.hosts.reach.forks as usize,
        wait_timeout: Duration::from_secs(wait_timeout),
        airgapped: inventory.airgap_bundle.is_some(),
    };
    let nodes = match install {
        Some(connected) => {
            connected.install(&prepared, &mut recap, opts).await;
            None
        }
        None => crate::cluster::up(&inventory, &prepared, &mut recap, opts, restore).await,
    };
    let code = print_recap(&recap, args.output, args.diff)?;
    if let (Some(nodes), OutputFormat::Text) = (nodes, args.output) {
        print!("\n{}", crate::resources::node_table::render(&nodes, time::OffsetDateTime::now_utc()));
    }
    Ok(code)
}

pub async fn run(path: &Path, args: PlaybookArgs) -> anyhow::Result<u8> {
    let playbook = loader::file(path)?;
    let (_, _, recap) = prepare_and_run(playbook, &args).await?;
    print_recap(&recap, args.output, args.diff)
}

/// The inventory, hosts and templates; bad playbooks and templates fail here, before any host is contacted.
fn check(playbook: &Playbook, args: &PlaybookArgs) -> anyhow::Result<(Inventory, Vec<Host>, Renderer)> {
    let (inventory, hosts) = super::hosts::prepare(&args.hosts.inventory, &args.hosts.reach)?;
    let renderer = Renderer::new(args.templates.as_deref())?;
    playbook::check(playbook, &inventory, &hosts, &renderer)?;
    Ok((inventory, hosts, renderer))
}

async fn prepare_and_run(playbook: Playbook, args: &PlaybookArgs) -> anyhow::Result<(Inventory, Vec<Host>, Recap)> {
    let (inventory, hosts, renderer) = check(&playbook, args)?;
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
