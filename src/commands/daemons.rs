//! `kubeboot server` and `kubeboot agent`: the daemons the systemd units run.

use std::path::Path;

use crate::cli::DirArgs;
use crate::host::layout::Layout;
use crate::EXIT_OK;

pub async fn server(dirs: DirArgs, listen: Option<String>) -> anyhow::Result<u8> {
    let layout = Layout::new(&dirs.config_dir, &dirs.data_dir);
    crate::control_plane::server::run(&layout, listen.as_deref()).await?;
    Ok(EXIT_OK)
}

pub async fn agent(
    kubeconfig: &Path,
    node_name: Option<String>,
    address: Option<std::net::IpAddr>,
    master: bool,
) -> anyhow::Result<u8> {
    let name = node_name.unwrap_or_else(super::hostname);
    crate::agent::run::run(kubeconfig, &name, address, master).await?;
    Ok(EXIT_OK)
}
