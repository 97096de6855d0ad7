//! `kubeboot reset`: on this host, or with -i on every inventory host over SSH.

use crate::cli::{OutputFormat, ResetArgs};
use crate::control_plane::etcd_member::{self, Left};
use crate::host::layout::Layout;
use crate::EXIT_OK;

pub async fn run(args: ResetArgs) -> anyhow::Result<u8> {
    if let Some(path) = &args.inventory {
        let (inventory, hosts) = super::hosts::prepare(path, &args.reach)?;
        let selected: Vec<&crate::inventory::Host> = hosts.iter().collect();
        let recap = crate::cluster::reset::reset(&inventory, &selected, args.reach.forks as usize).await;
        return super::playbook::print_recap(&recap, OutputFormat::Text, false);
    }
    if !args.reach.limit.is_empty() {
        return Err(crate::UsageError("--limit needs -i INVENTORY".into()).into());
    }
    let layout = Layout::new(&args.dirs.config_dir, &args.dirs.data_dir);
    // A master's etcd member leaves the cluster first, or the others would count it in their quorum
    // forever; when the cluster cannot take the change, nothing here is touched.
    match etcd_member::leave(&layout).await {
        Ok(Left::Removed) => println!("removed this master's etcd member from the cluster"),
        Ok(Left::Last | Left::NotAMember) => {}
        Err(e) => anyhow::bail!(
            "cannot take this master's etcd member out of the cluster, so nothing was reset: {e} \
             (the other masters' members must be running: a majority of them)"
        ),
    }
    let removed = crate::host::reset::reset_host(
        &layout,
        crate::systemd_units::systemd_running(),
        crate::agent::node_cleanup::remove_pods_and_network,
    )?;
    if removed.is_empty() {
        println!("Nothing to reset on this host.");
    }
    for line in &removed {
        println!("removed {line}");
    }
    Ok(EXIT_OK)
}
