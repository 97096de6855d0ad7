//! `kubeboot restore -i INV FILE [--force]`: the backup and the inventory checked, then the masters
//! (reachable, same CA, not serving unless --force), all before any host is changed; then `up` with the
//! snapshot restored onto the master holding the cluster.

use crate::cli::RestoreArgs;
use crate::cluster::restore::{preflight, Restore};
use crate::control_plane::backup::ca_pin;
use crate::UsageError;

pub async fn run(args: RestoreArgs) -> anyhow::Result<u8> {
    let (bytes, taken) = super::snapshot::read_checked(&args.snapshot)?;
    let pin = ca_pin(&taken).ok_or_else(|| {
        UsageError(format!(
            "{}: it carries no cluster CA: a bare store snapshot, not a kubeboot backup",
            args.snapshot.display()
        ))
    })?;
    let restore = Restore { bytes, pin, keys: taken.entries.len(), revision: taken.revision };
    drop(taken);
    let checked = super::playbook::check_up(&args.playbook)?;
    preflight(&checked.inventory, &restore, args.force).await.map_err(|e| UsageError(e.to_string()))?;
    eprintln!(
        "kubeboot restore: {} objects at revision {} (CA {}) onto cluster {}",
        restore.keys, restore.revision, restore.pin, checked.inventory.cluster.name
    );
    super::playbook::build(checked, &args.playbook, args.wait_timeout, false, Some(&restore)).await
}
