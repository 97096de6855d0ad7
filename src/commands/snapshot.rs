//! `kubeboot snapshot save|restore` on a master: what `backup -i` and `restore -i` run there over SSH.

use crate::apiclient::admin;
use crate::cli::{OutputFormat, SnapshotCommand};
use crate::control_plane::backup::restore;
use crate::control_plane::store::snapshot::{self, Snapshot};
use crate::host::layout::Layout;
use crate::systemd_units::SERVER_UNIT;
use crate::{UsageError, EXIT_OK};

pub async fn run(command: SnapshotCommand) -> anyhow::Result<u8> {
    match command {
        SnapshotCommand::Save { output, kubeconfig } => {
            let client = admin::client(kubeconfig.kubeconfig.as_deref())?;
            let saved = admin::save_snapshot(&client).await?;
            match output {
                OutputFormat::Json => println!("{saved}"),
                OutputFormat::Text => println!(
                    "Snapshot {} taken: revision {}, {} keys, {} bytes, in {} ms.",
                    saved["path"].as_str().unwrap_or_default(),
                    saved["revision"],
                    saved["keys"],
                    saved["bytes"],
                    saved["tookMs"]
                ),
            }
            Ok(EXIT_OK)
        }
        SnapshotCommand::Restore { snapshot, force, dirs } => {
            let (_, taken) = read_checked(&snapshot)?;
            let layout = Layout::new(&dirs.config_dir, &dirs.data_dir);
            restore::check(&layout, &taken).map_err(|e| UsageError(format!("{}: {e}", snapshot.display())))?;
            let running = crate::systemd_units::is_active(SERVER_UNIT);
            if running && !force {
                return Err(UsageError(format!(
                    "this master's API server ({SERVER_UNIT}) is running: a restore replaces every object of the \
                     cluster with the snapshot's. Stop it first, or pass --force"
                ))
                .into());
            }
            if running {
                crate::systemd_units::stop(SERVER_UNIT)?;
            }
            let layout2 = layout.clone();
            let restored = tokio::task::spawn_blocking(move || restore::restore(&layout2, &taken)).await??;
            if !restored.files_written.is_empty() {
                println!("Wrote the cluster's {} from the snapshot.", restored.files_written.join(", "));
            }
            println!(
                "Restored {} keys (revision {} of the snapshot) into {}.",
                restored.keys, restored.revision, restored.into
            );
            if let Some(kept) = &restored.kept {
                println!("The store it replaced is kept as {}.", kept.display());
            }
            if layout.settings().exists() {
                if crate::systemd_units::unit_installed(SERVER_UNIT) {
                    crate::systemd_units::start(SERVER_UNIT)?;
                    println!("Started {SERVER_UNIT} again.");
                }
            } else {
                println!("This master is not initialised: `kubeboot init` next finds the restored store and CA.");
            }
            Ok(EXIT_OK)
        }
    }
}

/// A snapshot file read whole and its checksum verified: a damaged one is bad input (exit 2).
pub fn read_checked(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, Snapshot)> {
    let bytes = std::fs::read(path).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    let taken = snapshot::read(bytes.as_slice()).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    Ok((bytes, taken))
}
