//! `kubeboot kubeconfig -i INV`: print the admin kubeconfig from the first master.

use std::io::Write;

use crate::cli::HostArgs;
use crate::EXIT_OK;

pub async fn run(args: HostArgs) -> anyhow::Result<u8> {
    let (inventory, _) = super::hosts::prepare(&args.inventory, &args.reach)?;
    let conf = crate::cluster::kubeconfig::fetch_admin_conf(&inventory).await?;
    std::io::stdout().write_all(&conf)?;
    Ok(EXIT_OK)
}
