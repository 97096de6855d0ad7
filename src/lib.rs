//! kubeboot: provisioning over SSH (inventory, transport, facts), and local lab hosts.
//! `run` is the whole program; main.rs only maps its result to an exit code.

pub mod agent;
pub mod apiclient;
pub mod bootstrap;
pub mod bundle;
pub mod checksum;
pub mod cli;
pub mod cluster;
mod commands;
pub mod control_plane;
pub mod facts;
pub mod fanout;
pub mod host;
pub mod https;
pub mod image_archive;
pub mod inventory;
pub mod lab;
mod malloc_arenas;
pub mod playbook;
pub mod random_name;
pub mod reflector;
pub mod render;
pub mod resources;
pub mod streaming;
pub mod systemd_units;
pub mod table;
pub mod tasks;
pub mod transport;
pub mod version;
pub mod yaml;

use std::ffi::OsString;

use clap::{CommandFactory, Parser};

/// Exit codes, as in the CLI contract.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// Bad input found before any host was contacted (besides inventory errors, which carry their own type).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<u8> {
    let cli = cli::Cli::parse_from(args);
    malloc_arenas::limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        cli::Command::Up(args) => runtime.block_on(commands::playbook::up(args)),
        cli::Command::Run { playbook, args } => runtime.block_on(commands::playbook::run(&playbook, args)),
        cli::Command::Ping(args) => runtime.block_on(commands::ping::run(args)),
        cli::Command::Reset(args) => runtime.block_on(commands::reset::run(args)),
        cli::Command::Kubeconfig { hosts } => runtime.block_on(commands::kubeconfig::run(hosts)),
        cli::Command::Token(cmd) => runtime.block_on(commands::token::run(cmd)),
        cli::Command::Certs(cmd) => commands::certs::run(cmd),
        cli::Command::Backup(args) => runtime.block_on(commands::backup::run(args)),
        cli::Command::Restore(args) => runtime.block_on(commands::restore::run(args)),
        cli::Command::Snapshot(cmd) => runtime.block_on(commands::snapshot::run(cmd)),
        cli::Command::Upgrade(args) => runtime.block_on(commands::upgrade::run(args)),
        cli::Command::Drain { node, timeout, kubeconfig } => {
            runtime.block_on(commands::drain::drain(&node, &timeout, kubeconfig))
        }
        cli::Command::Uncordon { node, if_drained_by_kubeboot, kubeconfig } => {
            runtime.block_on(commands::drain::uncordon(&node, if_drained_by_kubeboot, kubeconfig))
        }
        cli::Command::Get { resource, output, kubeconfig } => {
            runtime.block_on(commands::get::run(resource, output, kubeconfig))
        }
        cli::Command::Delete { resource, names, ignore_not_found, revoke_credentials, kubeconfig } => {
            runtime.block_on(commands::delete::run(resource, &names, ignore_not_found, revoke_credentials, kubeconfig))
        }
        cli::Command::Bundle(cmd) => runtime.block_on(commands::bundle::run(cmd)),
        cli::Command::Init(args) => commands::init::run(args),
        cli::Command::Join(args) => runtime.block_on(commands::join::run(args)),
        cli::Command::UploadCerts(args) => runtime.block_on(commands::upload_certs::run(args)),
        cli::Command::Server { dirs, listen } => runtime.block_on(commands::daemons::server(dirs, listen)),
        cli::Command::Registry { images, listen } => {
            runtime.block_on(bundle::registry::serve(&images, listen))?;
            Ok(EXIT_OK)
        }
        cli::Command::Agent { kubeconfig, node_name, address, master } => {
            runtime.block_on(commands::daemons::agent(&kubeconfig, node_name, address, master))
        }
        cli::Command::Pause => {
            let single = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            single.block_on(agent::pause::wait_for_termination());
            Ok(EXIT_OK)
        }
        cli::Command::Lab(cmd) => runtime.block_on(commands::lab::run(cmd)),
        cli::Command::Completion { shell } => {
            clap_complete::generate(shell, &mut cli::Cli::command(), "kubeboot", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
    }
}

/// 2 for bad input (nothing was touched), 1 for everything else.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|cause| {
        cause.downcast_ref::<inventory::InventoryError>().is_some()
            || cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<playbook::PlaybookError>().is_some()
            || cause.downcast_ref::<render::RenderError>().is_some()
    });
    if bad_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILED
    }
}
