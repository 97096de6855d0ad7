//! `kubeboot backup -i INV [-o FILE]`: a snapshot of the cluster from its first answering master,
//! written here 0600 (it holds the cluster CA's key).

use std::path::PathBuf;

use crate::cli::BackupArgs;
use crate::control_plane::backup::ca_pin;
use crate::EXIT_OK;

pub async fn run(args: BackupArgs) -> anyhow::Result<u8> {
    let (inventory, _) = super::hosts::prepare(&args.hosts.inventory, &args.hosts.reach)?;
    let fetched = crate::cluster::backup::fetch(&inventory).await?;
    let path = args.output.unwrap_or_else(|| {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        PathBuf::from(format!("kubeboot-backup-{}-{stamp}", inventory.cluster.name))
    });
    crate::host::layout::write_file(&path, &fetched.bytes, 0o600)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    println!(
        "Backed up cluster {} from {}: {} objects at revision {}, CA {}, {} bytes (taken in {} ms; {} keeps a copy \
         at {}).",
        inventory.cluster.name,
        fetched.master,
        fetched.snapshot.entries.len(),
        fetched.snapshot.revision,
        ca_pin(&fetched.snapshot).unwrap_or_else(|| "missing".into()),
        fetched.bytes.len(),
        fetched.saved["tookMs"],
        fetched.master,
        fetched.saved["path"].as_str().unwrap_or_default(),
    );
    println!("Written to {} (sha256 {}).", path.display(), crate::checksum::sha256_hex(&fetched.bytes));
    Ok(EXIT_OK)
}
