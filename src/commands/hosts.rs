//! What every command that reaches hosts does first, before any host is contacted: load and validate the
//! inventory, pick the `--limit` hosts, ask for secrets.

use std::collections::BTreeSet;

use std::path::Path;

use crate::cli::ReachArgs;
use crate::inventory::{Host, Inventory};
use crate::transport::secrets;

pub fn prepare(inventory: &Path, args: &ReachArgs) -> anyhow::Result<(Inventory, Vec<Host>)> {
    let inventory = Inventory::load(inventory)?;
    let hosts: Vec<Host> = inventory.select(&args.limit)?.into_iter().cloned().collect();
    if args.ask_pass {
        for env in hosts.iter().map(|h| h.ssh.password_env.clone()).collect::<BTreeSet<_>>() {
            secrets::remember(&env, rpassword::prompt_password("SSH password: ")?);
        }
    }
    if args.ask_become_pass {
        for env in hosts.iter().map(|h| h.ssh.become_password_env.clone()).collect::<BTreeSet<_>>() {
            secrets::remember(&env, rpassword::prompt_password("BECOME password: ")?);
        }
    }
    Ok((inventory, hosts))
}
